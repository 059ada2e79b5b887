//! A recording's copy of a session's RTP: forwarding goes on untouched, and each packet of
//! either side is copied into a bounded queue for the recording's writer (never waited on:
//! a full queue loses the copy, counted with when). While no recording runs, only the
//! telephone events of the payload types asked (`events`) are copied: an on-demand
//! recording code is being watched for.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

/// One packet copied: from the caller's side or the callee's, when (milliseconds of the
/// session), the datagram.
pub struct Tapped {
    pub caller: bool,
    pub at_ms: u64,
    pub data: Vec<u8>,
}

pub struct RecTap {
    tx: tokio::sync::mpsc::Sender<Tapped>,
    /// Every packet (a recording runs), not only events.
    pub all: AtomicBool,
    /// The telephone-event payload type of the caller's and the callee's side (0: none).
    pub events: [AtomicU8; 2],
    lost: AtomicU64,
    first_lost: AtomicU64,
    last_lost: AtomicU64,
}

impl RecTap {
    pub fn new(queue: usize) -> (RecTap, tokio::sync::mpsc::Receiver<Tapped>) {
        let (tx, rx) = tokio::sync::mpsc::channel(queue.max(1));
        let t = RecTap {
            tx,
            all: AtomicBool::new(false),
            events: Default::default(),
            lost: AtomicU64::new(0),
            first_lost: AtomicU64::new(u64::MAX),
            last_lost: AtomicU64::new(0),
        };
        (t, rx)
    }

    /// A packet the relay accepted from the caller's side (or the callee's).
    pub(super) fn offer(&self, caller: bool, p: &[u8], now_ms: u64) {
        let wanted = self.all.load(Ordering::Relaxed) || {
            let e = self.events[usize::from(!caller)].load(Ordering::Relaxed);
            e != 0 && p.get(1).map(|b| b & 0x7f) == Some(e)
        };
        if !wanted {
            return;
        }
        let copy = Tapped {
            caller,
            at_ms: now_ms,
            data: p.to_vec(),
        };
        if self.tx.try_send(copy).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            self.first_lost.fetch_min(now_ms, Ordering::Relaxed);
            self.last_lost.fetch_max(now_ms, Ordering::Relaxed);
        }
    }

    /// Copies lost so far, and the session times of the first and last (ms).
    pub fn lost(&self) -> Option<(u64, u64, u64)> {
        let n = self.lost.load(Ordering::Relaxed);
        (n > 0).then(|| {
            (
                n,
                self.first_lost.load(Ordering::Relaxed),
                self.last_lost.load(Ordering::Relaxed),
            )
        })
    }

    /// Forgets the losses counted (a new recording of the same call starts).
    pub fn reset_lost(&self) {
        self.lost.store(0, Ordering::Relaxed);
        self.first_lost.store(u64::MAX, Ordering::Relaxed);
        self.last_lost.store(0, Ordering::Relaxed);
    }
}

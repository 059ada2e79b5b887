//! The driver of the call core: each call lives in a `CallCell` next to what the core
//! must not own (the relay session, a playback, its entry in the timer queue); an event
//! is handed to the core under the call's lock (`drive`), and the actions it returns are
//! performed here — bytes to a leg (reopening a connection to a friend or carrier),
//! responses (remembered for retransmitted requests), relay operations, the call record —
//! then the call's next deadline (`poll_timeout`) is queued to the calls' timer thread
//! (`alarms.rs`).

use super::actions::{Action, Actions};
use super::call::{Call, Event, Phase};
use super::leg::Dest;
use super::B2bua;
use crate::media::MediaSession;
use crate::model::Cdr;
use crate::sip::transport::SendError;
use crate::store::writer::{Done, Op};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::time::Instant;

/// What a call's lock guards: the core and the I/O objects that belong to it.
pub struct Slot {
    pub call: Call,
    /// The relay session (its ports go back when it is dropped); taken by a playback.
    pub media: Option<MediaSession>,
    /// A locution or notification being played (stopped when the call ends).
    playback: Option<tokio::task::AbortHandle>,
    /// An external call's places in its brand's and client's max calls, given back when
    /// the call ends (`Action::Ended`) or, were it never to end, when it is dropped.
    pub permit: Option<crate::policy::calls::Permit>,
    /// The application (voicemail) to start when the core answers the caller itself.
    pub app: Option<super::app::AppStart>,
    /// Keys of the caller's INFO requests, to the running application; dropped when the
    /// call ends (the application sees its caller gone).
    pub keys: Option<tokio::sync::mpsc::UnboundedSender<char>>,
    /// The call's recorder (a DDI that records, a client with on-demand recording), from
    /// the answer to the end.
    pub recorder: Option<crate::recording::call::Handle>,
    /// What the recorder said of the call when it stopped, for the record.
    record_note: Option<String>,
    /// Its places in its users' own max calls (given back when dropped).
    pub lines: Option<super::lines::Held>,
    /// Its place among the calls being set up, from its branches' INVITEs to its answer.
    pub setting_up: Option<super::setting_up::Place>,
    /// The call was forgotten (left the map): its timer is over.
    forgotten: bool,
    /// Its entry in the calls' timer queue, at or before its next deadline (or taken
    /// out by the timer thread and not served yet: `alarms::claim`).
    queued: Option<super::alarms::Key>,
}

pub type CallRef = Arc<CallCell>;

/// A call behind its own lock: calls never wait for each other.
pub struct CallCell {
    slot: Mutex<Slot>,
}

impl CallCell {
    pub fn new(
        call: Call,
        media: Option<MediaSession>,
        permit: Option<crate::policy::calls::Permit>,
    ) -> CallCell {
        CallCell {
            slot: Mutex::new(Slot {
                call,
                media,
                permit,
                playback: None,
                app: None,
                keys: None,
                recorder: None,
                record_note: None,
                lines: None,
                setting_up: None,
                forgotten: false,
                queued: None,
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Slot> {
        // A panic while holding the lock leaves a call whose state is still consistent
        // enough to be ended; never propagate the poison to other requests.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl B2bua {
    /// Branches handed to a call, their Call-IDs entered in the map before: those the call
    /// did not take (it ended, or gave them up meanwhile) leave the map, and `permit` (the
    /// places of an external branch) goes with the call when it took any. The map is never
    /// touched under the call's lock.
    pub(super) fn settle_branches(
        &self,
        cell: &CallRef,
        ids: &[String],
        permit: Option<crate::policy::calls::Permit>,
    ) {
        let taken: Vec<bool> = {
            let slot = cell.lock();
            ids.iter()
                .map(|id| slot.call.forks.iter().any(|f| &f.leg.call_id == id))
                .collect()
        };
        for (id, taken) in ids.iter().zip(&taken) {
            if !taken {
                self.calls.remove(id);
            }
        }
        if let Some(p) = permit.filter(|_| taken.iter().any(|t| *t)) {
            let mut slot = cell.lock();
            if slot.permit.is_none() {
                slot.permit = Some(p);
            }
        }
    }

    /// Hands the call of `cell` to `f` (the core, at `now`) and performs what it returns.
    pub(super) fn drive(
        self: &Arc<Self>,
        cell: &CallRef,
        f: impl FnOnce(&mut Call, Instant, &mut Actions),
    ) {
        self.drive_slot(cell, |slot, now, out| f(&mut slot.call, now, out))
    }

    /// `drive`, `f` given the whole slot.
    fn drive_slot(
        self: &Arc<Self>,
        cell: &CallRef,
        f: impl FnOnce(&mut Slot, Instant, &mut Actions),
    ) {
        let now = Instant::now();
        let mut out = Actions::default();
        let forget = {
            let mut slot = cell.lock();
            f(&mut slot, now, &mut out);
            let forget = self.perform(cell, &mut slot, out.take());
            self.arm(cell, &mut slot, forget);
            forget
        };
        if forget {
            self.forget_now(cell);
        }
    }

    /// Performs `actions` in order; whether the call is to be forgotten.
    fn perform(self: &Arc<Self>, cell: &CallRef, slot: &mut Slot, actions: Vec<Action>) -> bool {
        let mut forget = false;
        for a in actions {
            match a {
                Action::Send { dest, bytes } => self.send(&dest, bytes),
                Action::Reply { sent, key } => self.out.transmit(&sent, key),
                Action::MediaPeer {
                    facing,
                    adv,
                    signalling,
                } => {
                    if let Some(m) = &slot.media {
                        m.set_peer(facing, adv, signalling);
                    }
                }
                Action::MediaAnswered => {
                    slot.setting_up = None;
                    if let Some(m) = &slot.media {
                        m.answered();
                    }
                    self.start_recorder(slot);
                    if let Phase::Answered { at, .. } = slot.call.phase {
                        let setup = at.saturating_duration_since(slot.call.started);
                        self.stats.answered_after(setup);
                    }
                }
                Action::Play { prompt, pt } => {
                    let (me, weak) = (self.clone(), Arc::downgrade(cell));
                    let done = move || {
                        if let Some(cell) = weak.upgrade() {
                            me.drive(&cell, |c, now, out| c.handle(now, Event::PlaybackDone, out));
                        }
                    };
                    match slot.media.take() {
                        Some(session) => slot.playback = Some(session.play(prompt, pt, done)),
                        // No relay session left to play from: the playback is over at once
                        // (told after this call's lock is released).
                        None => {
                            self.rt.spawn(async move { done() });
                        }
                    }
                }
                Action::Forward { ty } => {
                    // routed with no call locked (it reads the location service and may
                    // open connections), then handed back to the call
                    let (me, weak) = (self.clone(), Arc::downgrade(cell));
                    self.rt.spawn(async move {
                        if let Some(cell) = weak.upgrade() {
                            me.forward(&cell, ty);
                        }
                    });
                }
                Action::FailOver { next, round } => {
                    // resolved with no call locked (it may open a connection or wait
                    // for DNS), then handed back to the call
                    let (me, weak) = (self.clone(), Arc::downgrade(cell));
                    self.rt.spawn(async move {
                        if let Some(cell) = weak.upgrade() {
                            me.fail_over(&cell, next, round).await;
                        }
                    });
                }
                Action::App => self.start_app(cell, slot),
                Action::Transfer(ask) => {
                    // carried out with no call locked (routing, the other call's lock),
                    // then handed back to the call (`refer.rs`)
                    let (me, weak) = (self.clone(), Arc::downgrade(cell));
                    self.rt.spawn(async move {
                        if let Some(cell) = weak.upgrade() {
                            me.transfer(&cell, *ask);
                        }
                    });
                }
                Action::Segment {
                    cdr,
                    billing,
                    lines: (from, to),
                } => {
                    if let Some(h) = &mut slot.lines {
                        h.shift(from.as_deref(), to);
                    }
                    self.stats.recorded(&cdr.direction, &cdr.disposition);
                    let more = self.charge(billing.as_deref(), &cdr);
                    self.write_cdr(*cdr, more, None);
                }
                Action::Recording { on, caller } => {
                    if let Some(r) = &slot.recorder {
                        let who = format!("{} (INFO)", if caller { "caller" } else { "callee" });
                        r.send(if on {
                            crate::recording::call::Cmd::Start(who)
                        } else {
                            crate::recording::call::Cmd::Stop(who)
                        });
                    }
                }
                Action::RecordKey { caller, k } => {
                    if let Some(r) = &slot.recorder {
                        r.send(crate::recording::call::Cmd::Key { caller, k });
                    }
                }
                Action::Key(k) => {
                    if let Some(keys) = &slot.keys {
                        let _ = keys.send(k);
                    }
                }
                Action::MediaStop => {
                    // the recorder first: its file is completed with what came
                    if let Some(r) = slot.recorder.take() {
                        slot.record_note = r.note();
                    }
                    slot.media = None;
                    slot.keys = None;
                    slot.app = None;
                    if let Some(p) = slot.playback.take() {
                        p.abort();
                    }
                }
                Action::Record { mut cdr, then } => {
                    // what its recorder kept of the call, or why it kept nothing
                    cdr.recording = slot
                        .recorder
                        .as_ref()
                        .and_then(|r| r.note())
                        .or_else(|| slot.record_note.clone());
                    self.stats.recorded(&cdr.direction, &cdr.disposition);
                    let more = self.charge(slot.call.info.billing.as_deref(), &cdr);
                    let done = then.map(|a| {
                        let me = self.clone();
                        let done: Done = Box::new(move |_| {
                            if let Action::Reply { sent, key } = *a {
                                me.out.transmit(&sent, key);
                            }
                        });
                        done
                    });
                    self.write_cdr(*cdr, more, done);
                }
                Action::Ended => self.count_ended(slot),
                Action::Uncount => slot.permit = None,
                Action::Forget => forget = true,
            }
        }
        forget
    }

    /// A call is over (`Action::Ended`): its places go back, it leaves the calls counted
    /// in progress.
    fn count_ended(&self, slot: &mut Slot) {
        slot.permit = None;
        slot.lines = None;
        slot.setting_up = None;
        self.active.fetch_sub(1, Ordering::Relaxed);
        self.stats.left(slot.call.info.direction.as_str());
    }

    /// Points the call's entry in the timer queue at its next deadline (none once it is
    /// to be forgotten, or was).
    fn arm(&self, cell: &CallRef, slot: &mut Slot, forget: bool) {
        let next = if forget || slot.forgotten {
            None
        } else {
            slot.call.poll_timeout()
        };
        self.alarms
            .set(&mut slot.queued, next, || Arc::downgrade(cell));
    }

    /// Starts the thread that serves the calls' timer queue (until the B2BUA is dropped).
    pub fn start_alarms(self: &Arc<Self>) -> std::io::Result<()> {
        let (me, alarms, rt) = (Arc::downgrade(self), self.alarms.clone(), self.rt.clone());
        std::thread::Builder::new()
            .name("vozbox-alarms".into())
            .spawn(move || {
                // what a call's actions start may spawn tasks
                let _rt = rt.enter();
                while let Some(due) = alarms.wait(|| me.strong_count() > 0) {
                    let Some(me) = me.upgrade() else { return };
                    for (key, cell) in due {
                        let Some(cell) = cell.upgrade() else { continue };
                        // one call's failure ends neither the thread nor the others' timers
                        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            me.alarm(&cell, key)
                        }));
                        if served.is_err() {
                            // its entry is gone and would not come back
                            tracing::error!("a call's timeout failed (see the panic above)");
                            me.hang_up_or_let_go(&cell);
                        }
                    }
                }
            })
            .map(|_| ())
    }

    /// A call whose timeout failed: hung up the ordinary way (BYE both ways, its record;
    /// its timers then run again) or, should that fail too, let go: counted as ended, its
    /// places given back, forgotten (its ports go with it).
    fn hang_up_or_let_go(self: &Arc<Self>, cell: &CallRef) {
        let hung = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ended = cell.lock().call.is_ended();
            if !ended {
                self.drive(cell, |c, now, out| c.handle(now, Event::HangUp, out));
            } else {
                // ended already: only its lingering timer is lost
                self.forget_now(cell);
            }
        }));
        if hung.is_err() {
            {
                let mut slot = cell.lock();
                if !slot.call.is_ended() {
                    self.count_ended(&mut slot);
                }
            }
            self.forget_now(cell);
        }
    }

    /// The timer thread served the call's entry `key`: unless the call has another since
    /// (its deadline moved sooner meanwhile) or was forgotten, it is told `Event::Timeout`
    /// when its deadline is due, and queued again at its next one.
    fn alarm(self: &Arc<Self>, cell: &CallRef, key: super::alarms::Key) {
        self.drive_slot(cell, |slot, now, out| {
            if slot.forgotten || !super::alarms::claim(&mut slot.queued, key) {
                return;
            }
            if slot.call.poll_timeout().is_some_and(|d| d <= now) {
                slot.call.handle(now, Event::Timeout, out)
            }
        });
    }

    /// Sends bytes to a leg's destination (errors are logged, timers handle the rest).
    pub(super) fn send(&self, dest: &Dest, bytes: Arc<Vec<u8>>) {
        let t = &self.out.transports;
        match t.send_to(&dest.flow, dest.to, &bytes) {
            Ok(()) => {}
            // The connection to a friend or carrier was closed (peer restart): reach the
            // same address over a new or another open connection. A connection a phone
            // or PBX opened to us is never opened again from our side (RFC 5626): its
            // binding waits for the next REGISTER.
            Err(SendError::ConnectionGone) if dest.reconnect => {
                match t.flow_to(dest.flow.proto, dest.to, dest.tls.as_ref()) {
                    Some(flow) => {
                        if let Err(e) = t.send_to(&flow, dest.to, &bytes) {
                            tracing::info!("send to {}: {}", dest.to, e);
                        }
                    }
                    None => tracing::info!("send to {}: no connection", dest.to),
                }
            }
            Err(e) => tracing::info!("send to {}: {}", dest.to, e),
        }
    }

    /// Queues a call record to the store's writer, with what it changes besides (the
    /// charge of its price, a notification) in the same job: one transaction; `after`
    /// runs once all is durable.
    pub(super) fn write_cdr(&self, cdr: Cdr, more: Vec<Op>, after: Option<Done>) {
        // Every call's one line in the log (answered or not; a 407 is no call yet).
        tracing::info!(
            "call ended: client {}, {} → {}, {} ({}), {} s",
            if cdr.client.is_empty() {
                "-"
            } else {
                &cdr.client
            },
            cdr.caller,
            cdr.callee,
            cdr.disposition,
            cdr.sip_code,
            cdr.duration
        );
        // Never wait under a call lock or on a receive thread: a full queue hands the record
        // to a blocking thread that waits for room.
        let mut ops = vec![Op::Cdr(Box::new(cdr))];
        ops.extend(more);
        if let Err((ops, done)) = self.writer.try_queue(ops, after) {
            let writer = self.writer.clone();
            self.rt
                .spawn_blocking(move || writer.submit_wait(ops, done));
        }
    }

    /// Records a call refused before any branch was tried.
    pub(super) fn record(
        &self,
        call_id: &str,
        mut info: super::call::Info,
        disposition: super::record::Disposition,
        code: u16,
        now: u64,
    ) {
        info.disposition = disposition.as_str().to_string();
        info.code = code;
        let direction = info.direction.as_str();
        self.stats.started(direction, false);
        self.stats.recorded(direction, &info.disposition);
        self.write_cdr(
            super::record::cdr(call_id, info, now * 1000),
            Vec::new(),
            None,
        );
    }

    /// Forgets a call at once (it lingered long enough, or its Call-ID is being reused).
    pub(super) fn forget_now(&self, cell: &CallRef) {
        let ids: Vec<String> = {
            let mut slot = cell.lock();
            slot.forgotten = true;
            self.alarms.set(&mut slot.queued, None, Weak::new);
            let c = &slot.call;
            std::iter::once(c.a.call_id.clone())
                .chain(c.forks.iter().map(|f| f.leg.call_id.clone()))
                .collect()
        };
        for id in ids {
            self.calls.remove_if(&id, |_, v| Arc::ptr_eq(v, cell));
        }
    }
}

impl B2bua {
    /// A TCP/TLS connection closed (or never opened: refused, handshake failed). A branch
    /// still waiting for its final answer over it fails at once (`Event::BranchesLost`). A
    /// branch to a fixed address (friend, carrier) is reached over whichever connection to
    /// that peer is open, so it fails when the connection to its address fails and its
    /// own is gone too.
    pub fn on_connection_closed(self: &Arc<Self>, closed: &crate::sip::transport::Flow) {
        let t = self.out.transports.clone();
        let over = |d: &Dest| {
            d.flow.conn == closed.conn
                || (d.reconnect
                    && d.to == closed.remote
                    && d.flow.proto == closed.proto
                    && !t.is_open(&d.flow))
        };
        // Collected first: no call lock is taken while a map shard is held.
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        for cell in cells {
            self.drive(&cell, |c, now, out| {
                let lost = c.waiting_branches(over);
                if !lost.is_empty() {
                    c.handle(now, Event::BranchesLost(lost), out);
                }
            });
        }
    }

    /// Once a second (from the housekeeping loop): an answered call whose relay carried no
    /// packet either way for `[media] timeout` is told so (`Event::MediaIdle`); with the
    /// kernel fast path, each answered call's kernel counters are read and its rules
    /// checked against the routes. Every other
    /// limit of a call is a deadline of its own core.
    pub fn sweep(self: &Arc<Self>) {
        let answered = self.answered();
        self.sweep_credit(&answered);
        self.mwi_sweep();
        // (with the kernel fast path the sweep also adds what the kernel forwarded to each
        // call's counters, and makes its rules follow the routes: `idle` does both)
        let kernel = self.media.kernel_forwarding();
        if self.media.timeout == 0 && !kernel {
            return;
        }
        let limit =
            (self.media.timeout != 0).then(|| std::time::Duration::from_secs(self.media.timeout));
        for cell in answered {
            let idle = {
                let slot = cell.lock();
                matches!(slot.call.phase, Phase::Answered { .. })
                    && slot.media.as_ref().is_some_and(|m| {
                        let idle = m.idle();
                        limit.is_some_and(|l| idle >= l)
                    })
            };
            if idle {
                self.drive(&cell, |c, now, out| c.handle(now, Event::MediaIdle, out));
            }
        }
    }

    /// The answered calls, each once (under its caller's Call-ID), for the sweeps. Most of
    /// the map under load is calls that ended and linger for retransmissions: each call is
    /// looked at with `try_lock` while its shard is read (never a wait for a call's lock
    /// under a shard lock), and only one whose lock is held elsewhere is copied out and
    /// looked at again after.
    pub(super) fn answered(&self) -> Vec<CallRef> {
        fn is(slot: &Slot, id: &str) -> bool {
            slot.call.a.call_id == id && matches!(slot.call.phase, Phase::Answered { .. })
        }
        let (mut out, mut busy) = (Vec::new(), Vec::new());
        for e in self.calls.iter() {
            let take = match e.value().slot.try_lock() {
                Ok(slot) => is(&slot, e.key()),
                Err(TryLockError::Poisoned(p)) => is(&p.into_inner(), e.key()),
                Err(TryLockError::WouldBlock) => {
                    busy.push((e.key().clone(), e.value().clone()));
                    false
                }
            };
            if take {
                out.push(e.value().clone());
            }
        }
        for (id, cell) in busy {
            if is(&cell.lock(), &id) {
                out.push(cell);
            }
        }
        out
    }
}

//! Nonces that carry their own birth time, a sequence number and a keyed MAC, so any of
//! them can be checked without a table. The nonce-counts used with each live nonce are kept
//! in a fixed ring of slots indexed by the sequence number (like Kamailio's nonce-id pool):
//! memory is bounded whatever the load, and a nonce whose slot was taken by a newer one is
//! simply treated as stale (the phone retries with a fresh one).

use crate::sip::hex::push_hex;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Slots in the ring: nonces issued more than this many challenges ago count as stale.
/// 262,144 slots of ~56 bytes: 15 MB, half a minute of challenges at 8,000/s.
const SLOTS: usize = 1 << 18;

/// How far behind the highest count a count may arrive (requests run in parallel).
const WINDOW: u32 = 64;

pub struct Nonces {
    /// Two SipHash keys drawn at start: a 128-bit keyed MAC, cheap enough for every
    /// challenge (nonces only need to be unforgeable by others and to expire).
    keys: [std::hash::RandomState; 2],
    ttl_secs: u64,
    next_id: AtomicU64,
    slots: Vec<Mutex<Slot>>,
}

#[derive(Default, Clone, Copy)]
struct Slot {
    /// Which nonce owns the slot (its id + 1; 0 = free).
    owner: u64,
    /// Highest count accepted, and which of the `WINDOW` counts below it were used.
    max: u32,
    used: u64,
    /// The last two (count, transaction) accepted: a retransmission is not a replay.
    recent: [(u32, u64); 2],
}

#[derive(Debug, PartialEq, Eq)]
pub enum NonceState {
    /// Ours, alive.
    Fresh,
    /// Ours, older than the lifetime (or its slot reused): answer `stale=true` if the
    /// response is right.
    Stale,
    /// Not made by this server (or mangled).
    Forged,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    Accepted,
    Replayed,
    /// The slot belongs to a newer nonce now: ask for a fresh one.
    Stale,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Nonces {
    pub fn new(ttl_secs: u64) -> Nonces {
        Nonces {
            keys: [std::hash::RandomState::new(), std::hash::RandomState::new()],
            ttl_secs,
            next_id: AtomicU64::new(rand::random::<u32>() as u64),
            slots: (0..SLOTS).map(|_| Mutex::new(Slot::default())).collect(),
        }
    }

    fn mac(&self, ts: u64, id: u64, realm: &str) -> String {
        let mut out = String::with_capacity(32);
        self.mac_into(&mut out, ts, id, realm);
        out
    }

    fn mac_into(&self, out: &mut String, ts: u64, id: u64, realm: &str) {
        let [a, b] = [&self.keys[0], &self.keys[1]].map(|k| {
            let mut h = k.build_hasher();
            h.write_u64(ts);
            h.write_u64(id);
            h.write(realm.as_bytes());
            h.finish()
        });
        push_hex(out, a, 16);
        push_hex(out, b, 16);
    }

    pub fn issue(&self, realm: &str) -> String {
        let ts = now_secs();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.slots[id as usize % SLOTS].lock() {
            *s = Slot {
                owner: id + 1,
                ..Slot::default()
            };
        }
        let mut out = String::with_capacity(64);
        push_hex(&mut out, ts, 16);
        push_hex(&mut out, id, 16);
        self.mac_into(&mut out, ts, id, realm);
        out
    }

    fn parts(nonce: &str) -> Option<(u64, u64)> {
        if nonce.len() != 64 || !nonce.is_ascii() {
            return None;
        }
        Some((
            u64::from_str_radix(&nonce[..16], 16).ok()?,
            u64::from_str_radix(&nonce[16..32], 16).ok()?,
        ))
    }

    pub fn check(&self, nonce: &str, realm: &str) -> NonceState {
        let Some((ts, id)) = Self::parts(nonce) else {
            return NonceState::Forged;
        };
        if !super::digest::same(&self.mac(ts, id, realm), &nonce[32..]) {
            return NonceState::Forged;
        }
        if now_secs().saturating_sub(ts) > self.ttl_secs {
            NonceState::Stale
        } else {
            NonceState::Fresh
        }
    }

    /// Records a use of a fresh nonce (already `check`ed) with its count (None without
    /// qop: single use) by the transaction `txn` (a hash of its branch). A count used
    /// before by another transaction is a replay; by the same transaction, a retransmission
    /// the transaction memory missed. Counts may arrive out of order, up to `WINDOW` behind.
    pub fn record(&self, nonce: &str, nc: Option<u32>, txn: u64) -> Use {
        let Some((_, id)) = Self::parts(nonce) else {
            return Use::Replayed;
        };
        let Ok(mut slot) = self.slots[id as usize % SLOTS].lock() else {
            return Use::Stale;
        };
        if slot.owner != id + 1 {
            return Use::Stale;
        }
        // A nonce without qop is good for one use: count 0, and nothing may follow it.
        let count = nc.unwrap_or(0);
        if slot
            .recent
            .iter()
            .any(|&(n, t)| n == count && t == txn && slot.used != 0)
        {
            return Use::Accepted;
        }
        let seen = |s: &Slot, n: u32| -> bool {
            s.used != 0 && n <= s.max && (s.max - n >= WINDOW || s.used & (1 << (s.max - n)) != 0)
        };
        if seen(&slot, count) || (nc.is_none() && slot.used != 0) {
            return Use::Replayed;
        }
        if slot.used == 0 || count > slot.max {
            let shift = if slot.used == 0 { 64 } else { count - slot.max };
            slot.used = if shift >= 64 { 0 } else { slot.used << shift };
            slot.used |= 1;
            slot.max = count;
        } else {
            slot.used |= 1 << (slot.max - count);
        }
        slot.recent = [(count, txn), slot.recent[0]];
        Use::Accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_check_and_replays_are_refused() {
        let n = Nonces::new(30);
        let x = n.issue("r");
        assert_eq!(n.check(&x, "r"), NonceState::Fresh);
        assert_eq!(n.check(&x, "other"), NonceState::Forged);
        assert_eq!(n.check("abc", "r"), NonceState::Forged);
        assert_eq!(n.record(&x, Some(1), 10), Use::Accepted);
        assert_eq!(n.record(&x, Some(2), 11), Use::Accepted);
        // the same transaction again: a retransmission
        assert_eq!(n.record(&x, Some(2), 11), Use::Accepted);
        // the same count from another transaction: a replay
        assert_eq!(n.record(&x, Some(2), 12), Use::Replayed);
        assert_eq!(n.record(&x, Some(1), 13), Use::Replayed);
        // out of order is fine, within the window
        assert_eq!(n.record(&x, Some(5), 14), Use::Accepted);
        assert_eq!(n.record(&x, Some(4), 15), Use::Accepted);
        assert_eq!(n.record(&x, Some(4), 16), Use::Replayed);
        for i in 6..100 {
            assert_eq!(n.record(&x, Some(i), 100 + i as u64), Use::Accepted);
        }
        assert_eq!(n.record(&x, Some(3), 16), Use::Replayed);
        let y = n.issue("r");
        assert_eq!(n.record(&y, None, 20), Use::Accepted);
        assert_eq!(n.record(&y, None, 21), Use::Replayed);
    }

    #[test]
    fn a_nonce_whose_slot_was_reused_is_stale() {
        let n = Nonces::new(30);
        let x = n.issue("r");
        for _ in 0..SLOTS {
            n.issue("r");
        }
        assert_eq!(n.check(&x, "r"), NonceState::Fresh);
        assert_eq!(n.record(&x, Some(1), 1), Use::Stale);
    }

    #[test]
    fn old_nonces_are_stale() {
        let n = Nonces::new(0);
        let ts = now_secs() - 5;
        let x = format!("{:016x}{:016x}{}", ts, 7u64, n.mac(ts, 7, "r"));
        assert_eq!(n.check(&x, "r"), NonceState::Stale);
    }
}

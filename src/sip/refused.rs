//! A memory of the new requests refused with a stateless `503` over UDP (issue 22), fixed
//! in size so that refusing more costs no more: a retransmission of a refused INVITE or
//! REGISTER gets its 503 again rather than being admitted later (an INVITE admitted by a
//! late copy would ring a callee for a caller that has given up). The transaction memory
//! (`transaction.rs`) keeps everything else; it would grow by an entry and a stored
//! response per refusal.
//!
//! Each refused transaction is a 64-bit keyed hash (SipHash with a key drawn at start:
//! nobody can aim collisions at it; 48 of its bits tell entries apart: 16 choose the
//! bucket, 32 are kept, so a false match is about 4 in 2^32 per lookup) of its branch, sent-by and method, kept for `LIFE`
//! (34 s: Timer J, 64 × T1, and the second it began in) in a bucket of `WAYS` slots chosen
//! by the low bits of the hash, its high 32 bits kept beside the second; a full bucket
//! gives up its oldest entry. 65,536 buckets (2 MB) hold 262,144 refusals; at 4,000 a
//! second (half full) about 1 % leave early, each the oldest of its bucket. Time is
//! whole seconds given by the caller, so the rules are tested in virtual time. Two receive
//! threads racing on one bucket may lose an entry: its retransmission is then refused (or
//! admitted) afresh, as it would be with no memory.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Slots per bucket.
const WAYS: usize = 4;
/// How long a refusal is remembered, in whole seconds: at least Timer J (32 s, when the
/// last retransmission of an INVITE or REGISTER comes, at +31.5 s) once the second it was
/// refused in and a moment in the socket are counted.
pub const LIFE: u64 = 34;
/// The low bits of a slot hold 1 + the second of the refusal; the high bits the key's.
const STAMP_BITS: u32 = 32;
const STAMP_MASK: u64 = (1 << STAMP_BITS) - 1;

pub struct Refused {
    slots: Box<[AtomicU64]>,
    /// Buckets − 1 (a power of two).
    mask: usize,
    hasher: std::collections::hash_map::RandomState,
    started: Instant,
    /// 1 + the second of the latest refusal; 0: none yet.
    latest: AtomicU64,
}

impl Default for Refused {
    fn default() -> Self {
        Refused::new(1 << 16)
    }
}

impl Refused {
    /// A memory of `buckets` (rounded up to a power of two) × `WAYS` refusals.
    pub fn new(buckets: usize) -> Refused {
        let buckets = buckets.max(1).next_power_of_two();
        Refused {
            slots: (0..buckets * WAYS).map(|_| AtomicU64::new(0)).collect(),
            mask: buckets - 1,
            hasher: Default::default(),
            started: Instant::now(),
            latest: AtomicU64::new(0),
        }
    }

    /// Whole seconds since this memory was made: the clock of `insert` and `contains`.
    pub fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The key of a transaction: its top Via's sent-by and branch as written, and its
    /// method.
    pub fn key(&self, sent_by: &str, branch: &str, method: &str) -> u64 {
        self.hasher.hash_one((sent_by, branch, method))
    }

    fn bucket(&self, key: u64) -> &[AtomicU64] {
        // usize is at least 32 bits on every target vozbox builds for
        let i = (key as usize & self.mask) * WAYS;
        &self.slots[i..i + WAYS]
    }

    /// What a slot holds for `key` refused at `now`: the key's high bits and 1 + the second
    /// (never 0: an empty slot is 0).
    fn entry(key: u64, now: u64) -> u64 {
        (key & !STAMP_MASK) | (now.wrapping_add(1) & STAMP_MASK).max(1)
    }

    /// How old a slot's entry is at `now`, in seconds; an entry stamped later than `now`
    /// (another thread's clock read a moment after) is new.
    fn age(slot: u64, now: u64) -> u64 {
        let stamped = (slot & STAMP_MASK).saturating_sub(1);
        (now & STAMP_MASK).saturating_sub(stamped)
    }

    /// Remembers a refusal at `now`.
    pub fn insert(&self, key: u64, now: u64) {
        let bucket = self.bucket(key);
        let mut oldest = 0;
        let mut oldest_age = 0;
        for (i, slot) in bucket.iter().enumerate() {
            let v = slot.load(Ordering::Relaxed);
            let age = Self::age(v, now);
            if v == 0 || age >= LIFE {
                oldest = i;
                break;
            }
            if age >= oldest_age {
                oldest = i;
                oldest_age = age;
            }
        }
        bucket[oldest].store(Self::entry(key, now), Ordering::Relaxed);
        self.latest.fetch_max(now + 1, Ordering::Relaxed);
    }

    /// Whether `key` was refused less than `LIFE` seconds before `now`.
    pub fn contains(&self, key: u64, now: u64) -> bool {
        let want = key & !STAMP_MASK;
        self.bucket(key).iter().any(|slot| {
            let v = slot.load(Ordering::Relaxed);
            v != 0 && v & !STAMP_MASK == want && Self::age(v, now) < LIFE
        })
    }

    /// Whether anything was refused in the last `LIFE` seconds (else nothing needs looking
    /// up).
    pub fn active(&self, now: u64) -> bool {
        let latest = self.latest.load(Ordering::Relaxed);
        latest > 0 && now < latest - 1 + LIFE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_remembered_for_timer_j_only() {
        let r = Refused::new(16);
        let k = r.key("10.0.0.1:5060", "z9hG4bK1", "INVITE");
        assert!(!r.active(0) && !r.contains(k, 0));
        r.insert(k, 100);
        assert!(r.contains(k, 100) && r.contains(k, 133) && r.active(133));
        assert!(!r.contains(k, 134) && !r.active(134));
        // another thread's clock a second behind: still new
        assert!(r.contains(k, 99));
        // it does not come back 2^16 s later (18 h: a 16-bit stamp would wrap there)
        assert!(!r.contains(k, 100 + (1 << 16)));
        // another branch, sent-by or method is another transaction
        for other in [
            r.key("10.0.0.1:5060", "z9hG4bK2", "INVITE"),
            r.key("10.0.0.2:5060", "z9hG4bK1", "INVITE"),
            r.key("10.0.0.1:5061", "z9hG4bK1", "INVITE"),
            r.key("10.0.0.1:5060", "z9hG4bK1", "REGISTER"),
        ] {
            assert!(!r.contains(other, 100));
        }
    }

    #[test]
    fn a_full_bucket_gives_up_its_oldest_and_the_size_stays_fixed() {
        // one bucket: every key lands in it
        let r = Refused::new(1);
        let keys: Vec<u64> = (0..5)
            .map(|i| r.key("h:1", &format!("z9hG4bK{i}"), "INVITE"))
            .collect();
        for (t, k) in keys.iter().enumerate() {
            r.insert(*k, t as u64);
        }
        assert!(!r.contains(keys[0], 4), "the oldest went");
        assert!(keys[1..].iter().all(|k| r.contains(*k, 4)));
        // an expired slot is reused before a live one
        let late = r.key("h:1", "z9hG4bKlate", "INVITE");
        r.insert(late, 35); // keys[1] (second 1) expired at 35
        assert!(r.contains(late, 35) && !r.contains(keys[1], 35));
        assert!(keys[2..].iter().all(|k| r.contains(*k, 35)));
        // a slot stamped a second ahead of the inserting thread's clock is not taken as
        // expired: the oldest goes
        let r = Refused::new(1);
        for (t, k) in keys[..4].iter().enumerate() {
            r.insert(*k, 10 + t as u64); // keys[3] at 13
        }
        r.insert(late, 12);
        assert!(r.contains(keys[3], 12) && !r.contains(keys[0], 12));
        assert_eq!(r.slots.len(), WAYS);
    }

    #[test]
    fn a_busy_memory_forgets_nothing_young_below_its_size() {
        // a third full (4,096 slots, 1,280 refusals over 32 s): the buckets that overflow
        // are few, and give up only their oldest (about 1 % on average; the hash key is
        // drawn anew each run, so the bound is loose)
        let r = Refused::new(1024);
        let mut all = Vec::new();
        for t in 0..32u64 {
            for i in 0..40 {
                let k = r.key("127.0.0.3:5060", &format!("z9hG4bK{t}.{i}"), "INVITE");
                r.insert(k, t);
                all.push(k);
            }
        }
        let kept = all.iter().filter(|k| r.contains(**k, 31)).count();
        assert!(kept * 100 >= all.len() * 95, "{kept} of {}", all.len());
    }
}

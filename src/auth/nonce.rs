//! Nonces that carry their own birth time and a keyed MAC, so any of them can be checked
//! without state; the only state is the highest nonce-count seen per live nonce, which
//! refuses a replayed Authorization.

use dashmap::DashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Nonces {
    /// Two SipHash keys drawn at start: a 128-bit keyed MAC, cheap enough for every
    /// challenge (nonces only need to be unforgeable by others and to expire).
    keys: [std::hash::RandomState; 2],
    ttl_secs: u64,
    /// nonce → the nonce-counts used with it (0 without qop), each with a hash of the
    /// transaction that used it, so that a retransmission is not a replay.
    seen: DashMap<String, Vec<(u32, u64)>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum NonceState {
    /// Ours, alive.
    Fresh,
    /// Ours, older than the lifetime: answer `stale=true` if the response is right.
    Stale,
    /// Not made by this server (or mangled).
    Forged,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    Accepted,
    Replayed,
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
            seen: DashMap::new(),
        }
    }

    fn mac(&self, ts: u64, salt: u64, realm: &str) -> String {
        let [a, b] = [&self.keys[0], &self.keys[1]].map(|k| {
            let mut h = k.build_hasher();
            h.write_u64(ts);
            h.write_u64(salt);
            h.write(realm.as_bytes());
            h.finish()
        });
        format!("{:016x}{:016x}", a, b)
    }

    pub fn issue(&self, realm: &str) -> String {
        let ts = now_secs();
        let salt: u64 = rand::random();
        format!("{:016x}{:016x}{}", ts, salt, self.mac(ts, salt, realm))
    }

    pub fn check(&self, nonce: &str, realm: &str) -> NonceState {
        if nonce.len() != 64 || !nonce.is_ascii() {
            return NonceState::Forged;
        }
        let (Ok(ts), Ok(salt)) = (
            u64::from_str_radix(&nonce[..16], 16),
            u64::from_str_radix(&nonce[16..32], 16),
        ) else {
            return NonceState::Forged;
        };
        if !super::digest::same(&self.mac(ts, salt, realm), &nonce[32..]) {
            return NonceState::Forged;
        }
        if now_secs().saturating_sub(ts) > self.ttl_secs {
            NonceState::Stale
        } else {
            NonceState::Fresh
        }
    }

    /// Records a use of a fresh nonce with its count (None without qop: single use) by the
    /// transaction `txn` (a hash of its branch). A count used before by another transaction
    /// is a replay; the same transaction again is a retransmission the transaction memory
    /// missed. Counts may arrive out of order (requests are processed in parallel), but not
    /// more than `WINDOW` behind the highest.
    pub fn record(&self, nonce: &str, nc: Option<u32>, txn: u64) -> Use {
        const WINDOW: usize = 64;
        let count = nc.unwrap_or(0);
        let mut entry = self.seen.entry(nonce.to_string()).or_default();
        let used = entry.value_mut();
        if let Some(&(_, t)) = used.iter().find(|(n, _)| *n == count) {
            return if t == txn {
                Use::Accepted
            } else {
                Use::Replayed
            };
        }
        if nc.is_none() && !used.is_empty() {
            return Use::Replayed;
        }
        if used.len() >= WINDOW {
            let lowest = used.iter().map(|(n, _)| *n).min().unwrap_or(0);
            if count < lowest {
                return Use::Replayed;
            }
            used.retain(|(n, _)| *n != lowest);
        }
        used.push((count, txn));
        Use::Accepted
    }

    /// Forgets counts of nonces past their lifetime (they can only be stale now).
    pub fn purge(&self) {
        let now = now_secs();
        self.seen.retain(|n, _| {
            u64::from_str_radix(n.get(..16).unwrap_or("0"), 16)
                .map(|ts| now.saturating_sub(ts) <= self.ttl_secs + 1)
                .unwrap_or(false)
        });
        if self.seen.capacity() > 4 * self.seen.len() + 1024 {
            self.seen.shrink_to_fit();
        }
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
        for i in 6..100 {
            assert_eq!(n.record(&x, Some(i), 100 + i as u64), Use::Accepted);
        }
        assert_eq!(n.record(&x, Some(3), 16), Use::Replayed);
        let y = n.issue("r");
        assert_eq!(n.record(&y, None, 20), Use::Accepted);
        assert_eq!(n.record(&y, None, 21), Use::Replayed);
    }

    #[test]
    fn old_nonces_are_stale() {
        let n = Nonces::new(0);
        let ts = now_secs() - 5;
        let x = format!("{:016x}{:016x}{}", ts, 7u64, n.mac(ts, 7, "r"));
        assert_eq!(n.check(&x, "r"), NonceState::Stale);
    }
}

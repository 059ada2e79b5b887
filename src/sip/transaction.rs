//! Memory of server transactions (RFC 3261 §17.2.2): a retransmitted request gets the same
//! response again without being processed twice. Bounded in count and time: finished
//! entries are forgotten after Timer J (32 s; `purge` walks the memory every 4 s, so up to
//! 36 s), and beyond `capacity` new transactions are simply not remembered (a
//! retransmission is then processed again).
//!
//! A transaction is kept under its identity hashed with a secret seed of the process
//! (`TxKey`, SipHash 1-3 with random keys): one word to hash, store and compare instead of
//! a string, and no text a peer wrote kept in the memory. The map is sized for `capacity`
//! (up to `PRESIZE`) when it is made, so that it seldom grows under load (a shard filled
//! more than the others may still double once).

use super::headers::Via;
use super::message::Message;
use super::transport::Flow;
use dashmap::DashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most entries the map is sized for when it is made (about 100 bytes each).
const PRESIZE: usize = 1 << 18;

/// Timer J for unreliable transports: 64 × T1.
pub const TIMER_J: Duration = Duration::from_secs(32);

enum State {
    Proceeding,
    Completed {
        response: Arc<Vec<u8>>,
        flow: Flow,
        to: SocketAddr,
    },
}

struct Entry {
    state: State,
    at: Instant,
}

pub enum Begin {
    /// A new transaction: process it.
    New,
    /// A retransmission while the first copy is being processed: ignore it.
    InProgress,
    /// A retransmission of a finished transaction: send this again.
    Completed {
        response: Arc<Vec<u8>>,
        flow: Flow,
        to: SocketAddr,
    },
}

/// A server transaction's identity (RFC 3261 §17.2.3), hashed with the process's seed.
/// Two different identities share a key only by a 64-bit collision of a keyed hash, which
/// a peer cannot aim for without the seed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TxKey(u64);

/// The map's hasher: a `TxKey` is already a keyed hash, used as it is.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write(&mut self, bytes: &[u8]) {
        // only `write_u64` is used (by `TxKey`'s `Hash`); anything else is still hashed
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

pub struct Transactions {
    map: DashMap<TxKey, Entry, BuildHasherDefault<KeyHasher>>,
    seed: RandomState,
    capacity: usize,
    /// Entries in `map`, kept beside it: `DashMap::len` locks every shard in turn, and
    /// under load, when the memory is full, every new request would ask it.
    count: AtomicUsize,
}

impl Transactions {
    pub fn new(capacity: usize) -> Transactions {
        Transactions {
            map: DashMap::with_capacity_and_hasher(
                capacity.min(PRESIZE),
                BuildHasherDefault::default(),
            ),
            seed: RandomState::new(),
            capacity,
            count: AtomicUsize::new(0),
        }
    }

    /// The key of a request's server transaction (RFC 3261 §17.2.3); an ACK maps to its
    /// INVITE's. A request without an RFC 3261 branch is known by its Call-ID, CSeq
    /// number and method (an ACK's its INVITE's: a CANCEL is a transaction of its own),
    /// From and top Via as written.
    pub fn key(&self, msg: &Message, via: &Via) -> Option<TxKey> {
        let method = msg.method()?;
        match self.branch_key(via, method) {
            Some(k) => Some(k),
            None => Some(TxKey(self.seed.hash_one((
                msg.call_id()?,
                msg.get("CSeq")?.split_whitespace().next()?,
                if method == "ACK" { "INVITE" } else { method },
                msg.get("From")?,
                msg.get("Via")?,
            )))),
        }
    }

    /// The key of an RFC 3261 transaction (a `z9hG4bK` branch): branch, sent-by and
    /// method, an ACK's being its INVITE's; `None` for an older client's branch.
    pub fn branch_key(&self, via: &Via, method: &str) -> Option<TxKey> {
        let m = if method == "ACK" { "INVITE" } else { method };
        let b = via.branch().filter(|b| b.starts_with("z9hG4bK"))?;
        let port = via.port.unwrap_or(0);
        Some(TxKey(self.seed.hash_one((b, via.host.as_str(), port, m))))
    }

    pub fn begin(&self, key: TxKey) -> Begin {
        if let Some(e) = self.map.get(&key) {
            return Self::seen(&e.state);
        }
        if self.count.load(Ordering::Relaxed) >= self.capacity {
            return Begin::New;
        }
        // Two receive threads may race on a retransmission: only one of them creates it.
        match self.map.entry(key) {
            dashmap::Entry::Occupied(e) => Self::seen(&e.get().state),
            dashmap::Entry::Vacant(v) => {
                self.count.fetch_add(1, Ordering::Relaxed);
                v.insert(Entry {
                    state: State::Proceeding,
                    at: Instant::now(),
                });
                Begin::New
            }
        }
    }

    /// Whether `key` is a transaction remembered (nothing is created).
    pub fn contains(&self, key: TxKey) -> bool {
        self.map.contains_key(&key)
    }

    fn seen(state: &State) -> Begin {
        match state {
            State::Proceeding => Begin::InProgress,
            State::Completed { response, flow, to } => Begin::Completed {
                response: response.clone(),
                flow: flow.clone(),
                to: *to,
            },
        }
    }

    pub fn complete(&self, key: TxKey, response: Arc<Vec<u8>>, flow: &Flow, to: SocketAddr) {
        if let Some(mut e) = self.map.get_mut(&key) {
            e.state = State::Completed {
                response,
                flow: flow.clone(),
                to,
            };
            e.at = Instant::now();
        }
    }

    pub fn purge(&self) {
        self.purge_at(Instant::now());
    }

    fn purge_at(&self, now: Instant) {
        self.map.retain(|_, e| {
            let keep = now.duration_since(e.at) < TIMER_J;
            if !keep {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, via: &str, cseq: &str) -> (Message, Via) {
        let raw = format!(
            "{method} sip:b@h SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@h>;tag=1\r\n\
             To: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        );
        let msg = Message::parse(raw.as_bytes()).unwrap();
        let via = Via::parse(via).unwrap();
        (msg, via)
    }

    #[test]
    fn a_key_is_the_transaction_s_identity() {
        let t = Transactions::new(8);
        let key = |m: &str, v: &str, c: &str| {
            let (msg, via) = req(m, v, c);
            t.key(&msg, &via).unwrap()
        };
        let v = "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa1";
        let invite = key("INVITE", v, "1 INVITE");
        // a retransmission (the CSeq is not part of an RFC 3261 key), an ACK of a failure
        assert_eq!(key("INVITE", v, "1 INVITE"), invite);
        assert_eq!(key("ACK", v, "1 ACK"), invite);
        // another method, branch, host or port is another transaction
        assert_ne!(key("CANCEL", v, "1 CANCEL"), invite);
        assert_ne!(
            key(
                "INVITE",
                "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa2",
                "1 INVITE"
            ),
            invite
        );
        assert_ne!(
            key(
                "INVITE",
                "SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKa1",
                "1 INVITE"
            ),
            invite
        );
        assert_ne!(
            key(
                "INVITE",
                "SIP/2.0/UDP 10.0.0.1:5071;branch=z9hG4bKa1",
                "1 INVITE"
            ),
            invite
        );
        assert_eq!(
            t.branch_key(&Via::parse(v).unwrap(), "INVITE"),
            Some(invite)
        );
        // an older client's branch: known by Call-ID, CSeq number, From and top Via
        let old = "SIP/2.0/UDP 10.0.0.1:5070;branch=1";
        assert_eq!(t.branch_key(&Via::parse(old).unwrap(), "INVITE"), None);
        assert_eq!(
            key("OPTIONS", old, "7 OPTIONS"),
            key("OPTIONS", old, "7 OPTIONS")
        );
        assert_ne!(
            key("OPTIONS", old, "7 OPTIONS"),
            key("OPTIONS", old, "8 OPTIONS")
        );
        assert_ne!(key("OPTIONS", old, "7 OPTIONS"), invite);
        assert_eq!(key("ACK", old, "7 ACK"), key("INVITE", old, "7 INVITE"));
        assert_ne!(
            key("CANCEL", old, "7 CANCEL"),
            key("INVITE", old, "7 INVITE")
        );
        // another process (seed) keys the same request differently
        let (msg, via) = req("INVITE", v, "1 INVITE");
        assert_ne!(Transactions::new(8).key(&msg, &via), Some(invite));
    }

    #[test]
    fn beyond_capacity_a_transaction_is_processed_but_not_remembered() {
        let t = Transactions::new(2);
        let (a, b, c, d) = (TxKey(1), TxKey(2), TxKey(3), TxKey(4));
        assert!(matches!(t.begin(a), Begin::New));
        assert!(matches!(t.begin(a), Begin::InProgress));
        assert!(matches!(t.begin(b), Begin::New));
        assert!(matches!(t.begin(c), Begin::New));
        assert!(!t.contains(c));
        assert!(matches!(t.begin(c), Begin::New));
        assert_eq!(t.len(), 2);
        // what is still in time stays, and keeps its place counted
        t.purge();
        assert_eq!(t.len(), 2);
        assert!(matches!(t.begin(d), Begin::New));
        assert!(!t.contains(d));
        // after Timer J the places are free again
        t.purge_at(Instant::now() + TIMER_J);
        assert_eq!(t.len(), 0);
        assert!(matches!(t.begin(d), Begin::New));
        assert!(t.contains(d));
        assert_eq!(t.len(), 1);
    }
}

//! Memory of server transactions (RFC 3261 §17.2.2): a retransmitted request gets the same
//! response again without being processed twice. Bounded in count and time: finished
//! entries are forgotten after Timer J (32 s; `purge` walks the memory every 4 s, so up to
//! 36 s), and beyond `capacity` new transactions are simply not remembered (a
//! retransmission is then processed again).

use super::transport::Flow;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

pub struct Transactions {
    map: DashMap<String, Entry>,
    capacity: usize,
    /// Entries in `map`, kept beside it: `DashMap::len` locks every shard in turn, and
    /// under load, when the memory is full, every new request would ask it.
    count: AtomicUsize,
}

impl Transactions {
    pub fn new(capacity: usize) -> Transactions {
        Transactions {
            map: DashMap::new(),
            capacity,
            count: AtomicUsize::new(0),
        }
    }

    pub fn begin(&self, key: &str) -> Begin {
        if let Some(e) = self.map.get(key) {
            return Self::seen(&e.state);
        }
        if self.count.load(Ordering::Relaxed) >= self.capacity {
            return Begin::New;
        }
        // Two receive threads may race on a retransmission: only one of them creates it.
        match self.map.entry(key.to_string()) {
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
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
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

    pub fn complete(&self, key: &str, response: Arc<Vec<u8>>, flow: &Flow, to: SocketAddr) {
        if let Some(mut e) = self.map.get_mut(key) {
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
        if self.map.capacity() > 4 * self.len() + 1024 {
            self.map.shrink_to_fit();
        }
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

    #[test]
    fn beyond_capacity_a_transaction_is_processed_but_not_remembered() {
        let t = Transactions::new(2);
        assert!(matches!(t.begin("a"), Begin::New));
        assert!(matches!(t.begin("a"), Begin::InProgress));
        assert!(matches!(t.begin("b"), Begin::New));
        assert!(matches!(t.begin("c"), Begin::New));
        assert!(!t.contains("c"));
        assert!(matches!(t.begin("c"), Begin::New));
        assert_eq!(t.len(), 2);
        // what is still in time stays, and keeps its place counted
        t.purge();
        assert_eq!(t.len(), 2);
        assert!(matches!(t.begin("d"), Begin::New));
        assert!(!t.contains("d"));
        // after Timer J the places are free again
        t.purge_at(Instant::now() + TIMER_J);
        assert_eq!(t.len(), 0);
        assert!(matches!(t.begin("d"), Begin::New));
        assert!(t.contains("d"));
        assert_eq!(t.len(), 1);
    }
}

//! Memory of server transactions (RFC 3261 §17.2.2): a retransmitted request gets the same
//! response again without being processed twice. Bounded in count and time: finished
//! entries are forgotten after Timer J (32 s), and beyond `capacity` new transactions are
//! simply not remembered (a retransmission is then processed again).

use super::transport::Flow;
use dashmap::DashMap;
use std::net::SocketAddr;
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
}

impl Transactions {
    pub fn new(capacity: usize) -> Transactions {
        Transactions {
            map: DashMap::new(),
            capacity,
        }
    }

    pub fn begin(&self, key: &str) -> Begin {
        if let Some(e) = self.map.get(key) {
            return Self::seen(&e.state);
        }
        if self.map.len() >= self.capacity {
            return Begin::New;
        }
        // Two receive threads may race on a retransmission: only one of them creates it.
        match self.map.entry(key.to_string()) {
            dashmap::Entry::Occupied(e) => Self::seen(&e.get().state),
            dashmap::Entry::Vacant(v) => {
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
        let now = Instant::now();
        self.map.retain(|_, e| now.duration_since(e.at) < TIMER_J);
        if self.map.capacity() > 4 * self.map.len() + 1024 {
            self.map.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

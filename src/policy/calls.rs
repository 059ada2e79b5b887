//! Max calls (the seed's "limits both incoming and outgoing external calls, 0 for
//! unlimited"): one counter of external calls in progress per brand and per client.
//!
//! The decision is `admits(in_progress, limit)`; `Counters::acquire` applies it to the
//! brand first, then to the client, each with a compare-and-swap, so two calls racing for
//! the last place never both get it. What it returns is a `Permit`: the call holds it, and
//! dropping it (the call ended, however it ended, or was never set up) gives the places
//! back — a call is counted exactly once and released exactly once.

use dashmap::DashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Whether one more call fits: `limit` 0 is unlimited.
pub fn admits(in_progress: u32, limit: u32) -> bool {
    limit == 0 || in_progress < limit
}

/// Which limit a call was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Brand,
    Client,
}

/// What a call is counted against: its client and that client's brand, with their limits
/// as provisioned now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub brand: String,
    pub brand_limit: u32,
    pub client: String,
    pub client_limit: u32,
}

/// The external calls in progress per brand and per client. Sharded maps of atomics: no
/// lock is held while a call is counted.
#[derive(Default)]
pub struct Counters {
    brands: DashMap<String, Arc<AtomicU32>>,
    clients: DashMap<String, Arc<AtomicU32>>,
}

/// A call's places in its brand's and client's counters, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    held: [Arc<AtomicU32>; 2],
}

impl Drop for Permit {
    fn drop(&mut self) {
        for c in &self.held {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn counter(map: &DashMap<String, Arc<AtomicU32>>, name: &str) -> Arc<AtomicU32> {
    if let Some(c) = map.get(name) {
        return c.clone();
    }
    map.entry(name.to_string()).or_default().clone()
}

/// Takes a place in `c` if `limit` allows one more.
fn take(c: &AtomicU32, limit: u32) -> bool {
    let mut now = c.load(Ordering::Acquire);
    loop {
        if !admits(now, limit) {
            return false;
        }
        match c.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(seen) => now = seen,
        }
    }
}

impl Counters {
    /// Counts one more call against `what` (brand first, then client), or says which
    /// limit it is over (and counts nothing).
    pub fn acquire(&self, what: &Counted) -> Result<Permit, Over> {
        let brand = counter(&self.brands, &what.brand);
        if !take(&brand, what.brand_limit) {
            return Err(Over::Brand);
        }
        let client = counter(&self.clients, &what.client);
        if !take(&client, what.client_limit) {
            brand.fetch_sub(1, Ordering::AcqRel);
            return Err(Over::Client);
        }
        Ok(Permit {
            held: [brand, client],
        })
    }

    /// External calls of `brand` in progress.
    pub fn brand(&self, brand: &str) -> u32 {
        self.brands
            .get(brand)
            .map(|c| c.load(Ordering::Acquire))
            .unwrap_or(0)
    }

    /// External calls of `client` in progress.
    pub fn client(&self, client: &str) -> u32 {
        self.clients
            .get(client)
            .map(|c| c.load(Ordering::Acquire))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(brand_limit: u32, client: &str, client_limit: u32) -> Counted {
        Counted {
            brand: "acme".into(),
            brand_limit,
            client: client.into(),
            client_limit,
        }
    }

    #[test]
    fn zero_is_unlimited_and_a_limit_admits_that_many() {
        assert!(admits(1_000_000, 0));
        assert!(admits(1, 2));
        assert!(!admits(2, 2));
    }

    #[test]
    fn the_brand_is_checked_first_and_a_refusal_counts_nothing() {
        let c = Counters::default();
        let a = c.acquire(&counted(2, "bluebird", 1)).unwrap();
        assert_eq!(
            c.acquire(&counted(2, "bluebird", 1)).unwrap_err(),
            Over::Client
        );
        assert_eq!(
            c.brand("acme"),
            1,
            "the refused call gave its brand place back"
        );
        let b = c.acquire(&counted(2, "redwing", 5)).unwrap();
        assert_eq!(
            c.acquire(&counted(2, "redwing", 5)).unwrap_err(),
            Over::Brand
        );
        assert_eq!((c.brand("acme"), c.client("redwing")), (2, 1));
        drop(a);
        drop(b);
        assert_eq!(
            (c.brand("acme"), c.client("bluebird"), c.client("redwing")),
            (0, 0, 0)
        );
    }

    #[test]
    fn racing_threads_never_take_more_places_than_the_limit() {
        let c = Arc::new(Counters::default());
        let won = Arc::new(AtomicU32::new(0));
        let held = Arc::new(std::sync::Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (c, won, held) = (c.clone(), won.clone(), held.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if let Ok(p) = c.acquire(&counted(0, "bluebird", 5)) {
                            won.fetch_add(1, Ordering::Relaxed);
                            held.lock().unwrap().push(p);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(won.load(Ordering::Relaxed), 5);
        assert_eq!(c.client("bluebird"), 5);
        held.lock().unwrap().clear();
        assert_eq!(c.client("bluebird"), 0);
    }
}

//! A per-source message rate limit, like Kamailio's pike: an address that sends more than
//! `limit` messages within one second is ignored (its packets dropped before parsing, its
//! new connections refused) until it has been quiet below the limit for `block`. Other
//! addresses are not affected. Carriers, DDI providers and password-less direct friends
//! (the trust rule) are never limited: the caller decides that before asking.

use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Pike {
    /// Messages per second per address; 0 turns the limit off.
    limit: u32,
    block: Duration,
    start: Instant,
    state: DashMap<IpAddr, Window>,
    /// When the table was last swept because it was full (ms since `start`).
    last_sweep: AtomicU64,
    /// Times an address went over the limit and was blocked, and messages dropped because
    /// their source was blocked (for `GET /metrics`).
    blocks: AtomicU64,
    dropped: AtomicU64,
}

struct Window {
    /// Start of the current one-second window (ms since `start`).
    since: u64,
    count: u32,
    /// Ignored until then (ms since `start`); 0 = not blocked.
    blocked_until: u64,
}

/// Addresses tracked at most; past that, the table is swept of quiet ones first (a flood
/// of spoofed sources cannot grow it without bound).
const MAX_TRACKED: usize = 100_000;

impl Pike {
    pub fn new(limit: u32, block: Duration) -> Pike {
        Pike {
            limit,
            block,
            start: Instant::now(),
            state: DashMap::new(),
            last_sweep: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether a limit is set (`rate_limit` above 0).
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Counts one message from `ip`; false when the address is over its limit (drop it).
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.limit == 0 {
            return true;
        }
        let now = self.now_ms();
        let mut w = match self.state.get_mut(&ip) {
            Some(w) => w,
            None => {
                // A new address: the table is bounded. When full it is swept at most once
                // a second; still full, the address goes uncounted (a flood of spoofed
                // sources costs neither memory nor a sweep per packet).
                if self.state.len() >= MAX_TRACKED {
                    let last = self.last_sweep.load(Ordering::Relaxed);
                    if now.saturating_sub(last) >= 1000
                        && self
                            .last_sweep
                            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                    {
                        self.purge();
                    }
                    if self.state.len() >= MAX_TRACKED {
                        return true;
                    }
                }
                self.state.entry(ip).or_insert(Window {
                    since: now,
                    count: 0,
                    blocked_until: 0,
                })
            }
        };
        if now.saturating_sub(w.since) >= 1000 {
            w.since = now;
            w.count = 0;
        }
        w.count = w.count.saturating_add(1);
        if w.count > self.limit {
            if w.blocked_until <= now {
                self.blocks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "{} sends over {} messages a second: ignored for {}s",
                    ip,
                    self.limit,
                    self.block.as_secs()
                );
            }
            // Still flooding: the block runs from the last excess.
            w.blocked_until = now + self.block.as_millis() as u64;
        }
        let allowed = w.blocked_until <= now;
        if !allowed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// Times an address was blocked since the start.
    pub fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }

    /// Messages (and connections) refused because their source was blocked.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Forgets addresses that are neither blocked nor counted in the current second.
    pub fn purge(&self) {
        let now = self.now_ms();
        self.state
            .retain(|_, w| w.blocked_until > now || now.saturating_sub(w.since) < 1000);
    }

    pub fn blocked(&self) -> usize {
        let now = self.now_ms();
        self.state
            .iter()
            .filter(|e| e.value().blocked_until > now)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_address_is_blocked_and_others_are_not() {
        let p = Pike::new(10, Duration::from_secs(60));
        let bad: IpAddr = "127.0.0.2".parse().unwrap();
        let good: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..10 {
            assert!(p.allow(bad));
        }
        assert!(!p.allow(bad));
        assert!(!p.allow(bad));
        assert!(p.allow(good));
        assert_eq!(p.blocked(), 1);
        p.purge();
        assert!(!p.allow(bad), "a purge keeps a blocked address blocked");
    }

    #[test]
    fn off_means_off() {
        let p = Pike::new(0, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..10_000).all(|_| p.allow(ip)));
    }
}

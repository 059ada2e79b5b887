//! Bans an address that fails authentication too often (like fail2ban, in process).

use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Bans {
    threshold: u32,
    window: Duration,
    duration: Duration,
    state: DashMap<IpAddr, Entry>,
    /// Failures counted and bans made since the start (for `GET /metrics`).
    failures: AtomicU64,
    /// Only ever grows: `is_banned` looks nothing up while it is 0.
    bans: AtomicU64,
}

struct Entry {
    failures: u32,
    since: Instant,
    banned_until: Option<Instant>,
}

impl Bans {
    pub fn new(threshold: u32, window: Duration, duration: Duration) -> Bans {
        Bans {
            threshold,
            window,
            duration,
            state: DashMap::new(),
            failures: AtomicU64::new(0),
            bans: AtomicU64::new(0),
        }
    }

    /// How long a ban lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    pub fn is_banned(&self, ip: IpAddr) -> bool {
        // No ban made yet: nothing to look up (`DashMap::is_empty` would lock every shard
        // in turn, on every message).
        if self.bans.load(Ordering::Relaxed) == 0 {
            return false;
        }
        match self.state.get(&ip) {
            Some(e) => e.banned_until.is_some_and(|t| Instant::now() < t),
            None => false,
        }
    }

    /// Counts one failure; returns true when this failure bans the address.
    pub fn fail(&self, ip: IpAddr) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.threshold == 0 {
            return false;
        }
        let now = Instant::now();
        let mut e = self.state.entry(ip).or_insert(Entry {
            failures: 0,
            since: now,
            banned_until: None,
        });
        if now.duration_since(e.since) > self.window {
            e.failures = 0;
            e.since = now;
        }
        e.failures += 1;
        if e.failures >= self.threshold && e.banned_until.is_none_or(|t| t <= now) {
            e.banned_until = Some(now.checked_add(self.duration).unwrap_or(now));
            e.failures = 0;
            self.bans.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "banning {} for {}s after {} authentication failures",
                ip,
                self.duration.as_secs(),
                self.threshold
            );
            return true;
        }
        false
    }

    /// Authentication failures counted since the start (also with bans switched off).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Bans made since the start.
    pub fn bans(&self) -> u64 {
        self.bans.load(Ordering::Relaxed)
    }

    /// Addresses banned now (walks the table: for a scrape, not per message).
    pub fn banned(&self) -> usize {
        let now = Instant::now();
        self.state
            .iter()
            .filter(|e| e.banned_until.is_some_and(|t| now < t))
            .count()
    }

    pub fn purge(&self) {
        let now = Instant::now();
        self.state.retain(|_, e| {
            e.banned_until.is_some_and(|t| t > now) || now.duration_since(e.since) <= self.window
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_after_threshold_only_that_address() {
        let b = Bans::new(3, Duration::from_secs(60), Duration::from_secs(60));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(!b.fail(a));
        assert!(!b.fail(a));
        assert!(b.fail(a));
        assert!(b.is_banned(a));
        assert!(!b.is_banned(c));
    }
}

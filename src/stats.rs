//! A lock-free histogram of durations that any layer may own for the metrics exporter
//! (`metrics.rs` reads it at scrape time). It imports nothing of the crate, so owning one
//! makes no layer depend on the exporter.
//!
//! `observe` is two relaxed atomic additions (the bucket's count and the sum): no lock,
//! unlike `prometheus_client::metrics::histogram::Histogram`, which takes a mutex.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Call setup time (INVITE to answer), seconds: ringing lasts seconds.
pub const SETUP_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// A store commit, seconds: a durable commit takes about a millisecond, more when the disk
/// is slow.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram of durations with fixed buckets.
pub struct Histogram {
    /// Upper bounds of the buckets, seconds, ascending.
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is above every bound.
    counts: Box<[AtomicU64]>,
    /// The sum of every observation, nanoseconds.
    sum_ns: AtomicU64,
}

/// What a histogram holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// (upper bound in seconds, observations in that bucket alone), the last bound being
    /// infinity.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    /// Seconds.
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The buckets, their total and the sum. Read without a lock while others observe:
    /// an observation may be in its bucket and not yet in the sum (the count is the sum of
    /// the buckets, so the `+Inf` bucket always equals it).
    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        Snapshot {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(Duration::from_millis(100)); // on the bound: that bucket
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(7));
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.1, 1), (1.0, 1), (f64::INFINITY, 1)]);
        assert_eq!(s.count, 3);
        assert!((s.sum - 7.6).abs() < 1e-9, "{}", s.sum);
    }
}

//! RTP port pairs of one relay set: even ports of its range (RTP on the even port, RTCP on
//! the next), handed out and returned once per call — never per packet. A lease returns
//! its port when dropped, so every path that ends a call (or fails to set one up) gives
//! the port back — with its two sockets still bound, up to `KEEP_BOUND` pairs, so the next
//! call on that port needs no `socket`/`bind`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An RTP and an RTCP socket, bound and non-blocking.
pub type Sockets = (std::net::UdpSocket, std::net::UdpSocket);

/// Pairs kept bound while free: saves the set-up of four sockets per call, bounded so an
/// idle server does not hold thousands of descriptors.
const KEEP_BOUND: usize = 1024;

pub struct PortPool {
    free: Mutex<VecDeque<(u16, Option<Sockets>)>>,
    total: usize,
    bound: AtomicUsize,
}

/// One RTP/RTCP port pair, back in its pool when dropped (with `sockets`, if set).
pub struct Lease {
    pool: Arc<PortPool>,
    pub port: u16,
    pub sockets: Option<Sockets>,
}

impl PortPool {
    /// The even ports p of [min, max] with p + 1 ≤ max (p < max, as the range ends there).
    pub fn new(min: u16, max: u16) -> PortPool {
        let first = u32::from(min) + u32::from(min % 2);
        let free: VecDeque<(u16, Option<Sockets>)> = (first..u32::from(max))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .map(|p| (p, None))
            .collect();
        let total = free.len();
        PortPool {
            free: Mutex::new(free),
            total,
            bound: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u16, Option<Sockets>)>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next free pair (least recently used first), if any, with its sockets if they
    /// were kept bound.
    pub fn take(self: &Arc<Self>) -> Option<Lease> {
        let (port, sockets) = self.lock().pop_front()?;
        if sockets.is_some() {
            self.bound.fetch_sub(1, Ordering::Relaxed);
        }
        Some(Lease {
            pool: self.clone(),
            port,
            sockets,
        })
    }

    /// Pairs currently handed out.
    pub fn in_use(&self) -> usize {
        self.total - self.lock().len()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut sockets = self.sockets.take();
        if sockets.is_some() && self.pool.bound.fetch_add(1, Ordering::Relaxed) >= KEEP_BOUND {
            self.pool.bound.fetch_sub(1, Ordering::Relaxed);
            sockets = None;
        }
        self.pool.lock().push_back((self.port, sockets));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_come_back() {
        let pool = Arc::new(PortPool::new(20001, 20007));
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_eq!((a.port, b.port), (20002, 20004));
        assert!(pool.take().is_some_and(|c| c.port == 20006));
        // 20006 came back when `c` dropped; only three pairs fit in the range
        assert_eq!(pool.in_use(), 2);
        drop(a);
        drop(b);
        assert_eq!(pool.in_use(), 0);
        // the top of the port space does not overflow
        assert_eq!(PortPool::new(65535, 65535).in_use(), 0);
        assert!(Arc::new(PortPool::new(65534, 65535))
            .take()
            .is_some_and(|l| l.port == 65534));
    }
}

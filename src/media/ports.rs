//! RTP port pairs of one relay set: even ports of its range (RTP on the even port, RTCP on
//! the next), handed out and returned once per call — never per packet. A lease returns
//! its port when dropped, so every path that ends a call (or fails to set one up) gives
//! the port back — with its two sockets still bound, up to `KEEP_BOUND` pairs.
//!
//! A port just given back is not handed out again at once: a peer that missed its BYE
//! and still sends would reach the next call on it (from the same IP as that call's party,
//! e.g. the same carrier, it passes the strict source check while the relay learns). A
//! pair kept bound is handed out first once it has rested `REST`; before that the
//! unbound pair least recently given back is (when there is one), as the pool did for
//! all pairs before it kept any bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An RTP and an RTCP socket, bound and non-blocking.
pub type Sockets = (std::net::UdpSocket, std::net::UdpSocket);

/// Pairs kept bound while free: saves the set-up of four sockets per call, bounded so an
/// idle server does not hold thousands of descriptors.
const KEEP_BOUND: usize = 1024;

/// How long a pair kept bound rests before it is handed out first.
const REST: Duration = Duration::from_secs(2);

pub struct PortPool {
    free: Mutex<Free>,
    total: usize,
}

/// The free pairs: those still bound (with when they came back), and the others. Each
/// queue is taken least recently returned first (a bound pair's sockets are drained when
/// it is taken again: `forward.rs`).
struct Free {
    bound: VecDeque<(u16, Sockets, Instant)>,
    unbound: VecDeque<u16>,
}

impl Free {
    /// The bound pair rested `REST`, else the unbound one, else the bound one however
    /// fresh (the range is all bound or in use).
    fn take(&mut self, now: Instant) -> Option<(u16, Option<Sockets>)> {
        let rested = self
            .bound
            .front()
            .is_some_and(|(_, _, at)| now.duration_since(*at) >= REST);
        if !rested {
            if let Some(port) = self.unbound.pop_front() {
                return Some((port, None));
            }
        }
        self.bound.pop_front().map(|(port, s, _)| (port, Some(s)))
    }
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
        let unbound: VecDeque<u16> = (first..u32::from(max))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        let total = unbound.len();
        PortPool {
            free: Mutex::new(Free {
                bound: VecDeque::new(),
                unbound,
            }),
            total,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Free> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free pair, if any (see `Free::take`), with its sockets if it was kept bound.
    pub fn take(self: &Arc<Self>) -> Option<Lease> {
        let (port, sockets) = self.lock().take(Instant::now())?;
        Some(Lease {
            pool: self.clone(),
            port,
            sockets,
        })
    }

    /// Pairs currently handed out.
    pub fn in_use(&self) -> usize {
        let free = self.lock();
        self.total - free.bound.len() - free.unbound.len()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut sockets = self.sockets.take();
        let mut free = self.pool.lock();
        if free.bound.len() >= KEEP_BOUND {
            // closed before the port is free again (out of the lock: two system calls)
            drop(free);
            sockets = None;
            free = self.pool.lock();
        }
        match sockets {
            Some(s) => free.bound.push_back((self.port, s, Instant::now())),
            None => free.unbound.push_back(self.port),
        }
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

    #[test]
    fn a_pair_kept_bound_is_handed_out_first_once_it_has_rested() {
        let s = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let t0 = Instant::now();
        let mut free = Free {
            bound: VecDeque::new(),
            unbound: VecDeque::from([20000, 20002]),
        };
        // two pairs come back bound, a second apart
        free.bound.push_back((20004, (s(), s()), t0));
        free.bound
            .push_back((20006, (s(), s()), t0 + Duration::from_secs(1)));
        // before the first has rested: the unbound ones, least recently given back first
        let took = |f: &mut Free, at: Duration| f.take(t0 + at).map(|(p, s)| (p, s.is_some()));
        assert_eq!(took(&mut free, Duration::ZERO), Some((20000, false)));
        // rested: the bound ones in the order they came back, then (the second still
        // fresh) the unbound one left
        assert_eq!(took(&mut free, REST), Some((20004, true)));
        assert_eq!(took(&mut free, REST), Some((20002, false)));
        // nothing else free: the bound one however fresh
        assert_eq!(took(&mut free, REST), Some((20006, true)));
        assert_eq!(took(&mut free, REST), None);
    }

    #[test]
    fn a_lease_comes_back_with_its_sockets() {
        let pool = Arc::new(PortPool::new(20000, 20001));
        let mut a = pool.take().unwrap();
        a.sockets = Some((
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
        ));
        let addr = a.sockets.as_ref().map(|(r, _)| r.local_addr().unwrap());
        drop(a);
        assert_eq!(pool.in_use(), 0);
        // the only pair of the range: handed out again, fresh, with its sockets
        let again = pool.take().unwrap();
        assert_eq!(again.port, 20000);
        assert_eq!(
            again.sockets.as_ref().map(|(r, _)| r.local_addr().unwrap()),
            addr
        );
    }
}

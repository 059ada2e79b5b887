//! RTP port pairs of one relay set: even ports of its range (RTP on the even port, RTCP on
//! the next), handed out and returned once per call — never per packet. A lease returns
//! its port when dropped, so every path that ends a call (or fails to set one up) gives
//! the port back — with its two sockets still bound, up to `KEEP_BOUND` pairs, and the
//! pairs kept bound are handed out first, so that calls need no `socket`/`bind`/`close`
//! while fewer than `KEEP_BOUND` are in progress.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// An RTP and an RTCP socket, bound and non-blocking.
pub type Sockets = (std::net::UdpSocket, std::net::UdpSocket);

/// Pairs kept bound while free: saves the set-up of four sockets per call, bounded so an
/// idle server does not hold thousands of descriptors.
const KEEP_BOUND: usize = 1024;

pub struct PortPool {
    free: Mutex<Free>,
    total: usize,
}

/// The free pairs: those still bound, handed out first, and the others. Each queue is
/// taken least recently returned first, so a pair rests while the others of its queue are
/// used (and its sockets are drained when it is taken again: `forward.rs`).
struct Free {
    bound: VecDeque<(u16, Sockets)>,
    unbound: VecDeque<u16>,
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

    /// A free pair, if any: one kept bound (with its sockets) when there is one, the least
    /// recently returned first.
    pub fn take(self: &Arc<Self>) -> Option<Lease> {
        let (port, sockets) = {
            let mut free = self.lock();
            match free.bound.pop_front() {
                Some((port, sockets)) => (port, Some(sockets)),
                None => (free.unbound.pop_front()?, None),
            }
        };
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
        let sockets = self.sockets.take();
        let mut free = self.pool.lock();
        match sockets {
            Some(s) if free.bound.len() < KEEP_BOUND => free.bound.push_back((self.port, s)),
            // closed (after the lock: `close` is a system call) beyond KEEP_BOUND
            other => {
                free.unbound.push_back(self.port);
                drop(free);
                drop(other);
            }
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

    fn bound() -> Sockets {
        let s = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        (s(), s())
    }

    #[test]
    fn pairs_kept_bound_are_handed_out_first_least_recently_returned_first() {
        let pool = Arc::new(PortPool::new(20000, 20009));
        let (mut a, mut b, c) = (
            pool.take().unwrap(),
            pool.take().unwrap(),
            pool.take().unwrap(),
        );
        assert_eq!((a.port, b.port, c.port), (20000, 20002, 20004));
        a.sockets = Some(bound());
        b.sockets = Some(bound());
        let a_addr = a.sockets.as_ref().map(|(r, _)| r.local_addr().unwrap());
        drop(c); // unbound: after the two pairs still unused
        drop(a);
        drop(b);
        // bound first, in the order they came back, with their sockets
        let a2 = pool.take().unwrap();
        assert_eq!(a2.port, 20000);
        assert_eq!(
            a2.sockets.as_ref().map(|(r, _)| r.local_addr().unwrap()),
            a_addr
        );
        let b2 = pool.take().unwrap();
        assert!(b2.port == 20002 && b2.sockets.is_some());
        // then the unbound ones, least recently returned first
        let rest: Vec<Lease> = (0..3).map(|_| pool.take().unwrap()).collect();
        assert!(rest.iter().all(|l| l.sockets.is_none()));
        let ports: Vec<u16> = rest.iter().map(|l| l.port).collect();
        assert_eq!(ports, [20006, 20008, 20004]);
        assert!(pool.take().is_none());
        assert_eq!(pool.in_use(), 5);
    }
}

//! RTP port pairs of one relay set: even ports of its range (RTP on the even port, RTCP on
//! the next), handed out and returned once per call — never per packet. A lease returns
//! its port when dropped, so every path that ends a call (or fails to set one up) gives
//! the port back — with its two sockets still bound while the process's budget of kept
//! pairs (`Kept`, shared by every relay set) has room, so the next call on that port needs
//! no `socket`/`bind`/`setsockopt` and its last call no `close`. Pairs are still handed
//! out least recently given back first, bound or not: a port just freed is not reused at
//! once (a peer that missed its BYE and still sends would reach the next call).

use std::collections::VecDeque;
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An RTP and an RTCP socket, bound and non-blocking.
pub type Sockets = (UdpSocket, UdpSocket);

/// How many free pairs all the pools together keep bound: two descriptors each, so that an
/// idle server's descriptors stay bounded by what the process may open.
pub struct Kept {
    most: usize,
    now: AtomicUsize,
}

impl Kept {
    pub fn new(most: usize) -> Arc<Kept> {
        Arc::new(Kept {
            most,
            now: AtomicUsize::new(0),
        })
    }

    /// A budget of a quarter of `open_files` in pairs: half the descriptors for free pairs,
    /// the other half for the calls in progress (four sockets each), connections and files.
    /// With the limits of a systemd unit (65,536) or of a container (1,048,576) every pair
    /// of the default range stays bound; with 1,024, 256 pairs do.
    pub fn for_open_files(open_files: u64) -> Arc<Kept> {
        Kept::new(usize::try_from(open_files / 4).unwrap_or(usize::MAX))
    }

    /// Pairs kept bound now, in every pool.
    pub fn len(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct PortPool {
    free: Mutex<VecDeque<(u16, Option<Sockets>)>>,
    total: usize,
    kept: Arc<Kept>,
    /// Set once another pool took over some of its ports (`retire`): it keeps none bound.
    retired: AtomicBool,
}

/// One RTP/RTCP port pair, back in its pool when dropped (with `sockets`, if set).
pub struct Lease {
    pool: Arc<PortPool>,
    pub port: u16,
    pub sockets: Option<Sockets>,
}

impl PortPool {
    /// The even ports p of [min, max] with p + 1 ≤ max (p < max, as the range ends there).
    pub fn new(min: u16, max: u16, kept: Arc<Kept>) -> PortPool {
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
            kept,
            retired: AtomicBool::new(false),
        }
    }

    /// Closes the sockets it keeps bound and keeps none from now on: another pool may bind
    /// these ports (`clash`). The sockets close after the pool is unlocked.
    pub fn retire(&self) {
        let mut closing = Vec::new();
        {
            let mut free = self.lock();
            self.retired.store(true, Ordering::Relaxed);
            for (_, sockets) in free.iter_mut() {
                if let Some(s) = sockets.take() {
                    closing.push(s);
                }
            }
        }
        self.kept.now.fetch_sub(closing.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u16, Option<Sockets>)>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next free pair (least recently used first), if any, with its sockets if they
    /// were kept bound.
    pub fn take(self: &Arc<Self>) -> Option<Lease> {
        let (port, sockets) = self.lock().pop_front()?;
        if sockets.is_some() {
            self.kept.now.fetch_sub(1, Ordering::Relaxed);
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

/// Whether pools of ranges `a` and `b` (bind address, first and last port) may bind the
/// same port: their ranges meet, on the same address, or one of them a wildcard of the
/// other's family (`::` takes IPv4 too).
pub fn clash(a: (IpAddr, u16, u16), b: (IpAddr, u16, u16)) -> bool {
    let meet = a.1 <= b.2 && b.1 <= a.2;
    let covers = |x: IpAddr, y: IpAddr| x.is_unspecified() && (x.is_ipv6() || y.is_ipv4());
    meet && (a.0 == b.0 || covers(a.0, b.0) || covers(b.0, a.0))
}

/// Connects an idle socket to its own address: until a call opens it to everyone again
/// (`connect_unspec`), the kernel queues nothing a stranger sends it. A socket bound to a
/// wildcard address is left as it is (connecting would pin its address to one, and let
/// another socket bind the port on another address meanwhile): what it queues is drained
/// when a call takes it.
fn shut_out(s: &UdpSocket) -> bool {
    match s.local_addr() {
        Ok(own) if own.ip().is_unspecified() => true,
        Ok(own) => s.connect(own).is_ok(),
        Err(_) => false,
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let pool = &self.pool;
        let mut sockets = self.sockets.take();
        let keep = sockets.as_ref().is_some_and(|(rtp, rtcp)| {
            if pool.retired.load(Ordering::Relaxed) {
                return false;
            }
            let room = pool.kept.now.fetch_add(1, Ordering::Relaxed) < pool.kept.most;
            if !(room && shut_out(rtp) && shut_out(rtcp)) {
                pool.kept.now.fetch_sub(1, Ordering::Relaxed);
                return false;
            }
            true
        });
        if !keep {
            sockets = None;
        }
        let mut free = pool.lock();
        // retired meanwhile: `retire` closed what was free, this pair closes too
        if sockets.is_some() && pool.retired.load(Ordering::Relaxed) {
            sockets = None;
            pool.kept.now.fetch_sub(1, Ordering::Relaxed);
        }
        free.push_back((self.port, sockets));
    }
}

/// A pool of its own budget, for the relay's unit tests.
#[cfg(test)]
pub(super) fn test_pool(min: u16, max: u16) -> Arc<PortPool> {
    Arc::new(PortPool::new(min, max, Kept::new(64)))
}

impl Drop for PortPool {
    /// The pairs it kept bound close with it: their room goes back to the budget.
    fn drop(&mut self) {
        let bound = self.lock().iter().filter(|(_, s)| s.is_some()).count();
        self.kept.now.fetch_sub(bound, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn bound() -> Option<Sockets> {
        let s = || UdpSocket::bind("127.0.0.1:0").unwrap();
        Some((s(), s()))
    }

    #[test]
    fn free_pairs_stay_bound_within_one_budget_for_every_pool() {
        let kept = Kept::new(1);
        let p1 = Arc::new(PortPool::new(20100, 20103, kept.clone()));
        let p2 = Arc::new(PortPool::new(20200, 20203, kept.clone()));
        let (mut a, mut b) = (p1.take().unwrap(), p2.take().unwrap());
        (a.sockets, b.sockets) = (bound(), bound());
        drop(a);
        drop(b);
        // the budget held one pair: p1's kept its sockets, p2's closed them
        assert_eq!(kept.len(), 1);
        // least recently given back first, bound or not
        let c = p1.take().unwrap();
        assert!((c.port, c.sockets.is_none()) == (20102, true));
        let d = p1.take().unwrap();
        assert!((d.port, d.sockets.is_some()) == (20100, true));
        assert_eq!(kept.len(), 0);
        assert!(p2.take().is_some_and(|l| l.sockets.is_none()));
        assert!(p2
            .take()
            .is_some_and(|l| l.port == 20200 && l.sockets.is_none()));
        // a pool dropped with a pair kept bound gives its room back
        drop((c, d));
        assert_eq!(kept.len(), 1);
        drop(p1);
        assert_eq!(kept.len(), 0);
    }

    #[test]
    fn an_idle_pair_kept_bound_queues_nothing_a_stranger_sends() {
        let pool = Arc::new(PortPool::new(20300, 20301, Kept::new(4)));
        let mut a = pool.take().unwrap();
        a.sockets = bound();
        let to = a.sockets.as_ref().unwrap().0.local_addr().unwrap();
        drop(a);
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let _ = stranger.send_to(b"\x80junk junk junk", to);
        let b = pool.take().unwrap();
        let (rtp, _) = b.sockets.as_ref().unwrap();
        rtp.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        assert!(
            matches!(rtp.recv_from(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a stranger's packet was queued on an idle socket"
        );
    }

    #[test]
    fn a_retired_pool_closes_what_it_kept_and_keeps_nothing_more() {
        let kept = Kept::new(8);
        let old = Arc::new(PortPool::new(20400, 20407, kept.clone()));
        let (mut a, mut b) = (old.take().unwrap(), old.take().unwrap());
        a.sockets = bound();
        drop(a);
        assert_eq!(kept.len(), 1);
        old.retire();
        assert_eq!(kept.len(), 0);
        // a call that ends afterwards closes its pair too
        b.sockets = bound();
        drop(b);
        assert_eq!(kept.len(), 0);
        assert!((0..4).all(|_| old.take().is_some_and(|l| l.sockets.is_none())));
    }

    #[test]
    fn pools_clash_where_they_may_bind_the_same_port() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let (any4, any6, v6) = (ip("0.0.0.0"), ip("::"), ip("2001:db8::1"));
        // a range provisioned again, on the same address
        assert!(clash((a, 20000, 29999), (a, 20000, 20999)));
        assert!(clash((a, 20000, 20999), (a, 20999, 21999)));
        assert!(!clash((a, 20000, 20999), (a, 21000, 21999)));
        // other addresses do not clash; a wildcard of the family does
        assert!(!clash((a, 20000, 29999), (b, 20000, 29999)));
        assert!(clash((any4, 20000, 29999), (a, 20000, 20001)));
        assert!(clash((a, 20000, 20001), (any4, 20000, 29999)));
        assert!(!clash((any4, 20000, 29999), (v6, 20000, 29999)));
        assert!(clash((any6, 20000, 29999), (a, 20000, 29999)));
        assert!(clash((v6, 20000, 29999), (any6, 20000, 29999)));
    }

    #[test]
    fn the_budget_is_a_quarter_of_the_open_files_in_pairs() {
        assert_eq!(Kept::for_open_files(1024).most, 256);
        assert_eq!(Kept::for_open_files(65536).most, 16384);
        assert!(Kept::for_open_files(u64::MAX).most >= 1 << 30);
        assert_eq!(Kept::for_open_files(3).most, 0);
    }

    #[test]
    fn pairs_are_even_and_come_back() {
        let pool = Arc::new(PortPool::new(20001, 20007, Kept::new(8)));
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
        assert_eq!(PortPool::new(65535, 65535, Kept::new(8)).in_use(), 0);
        assert!(Arc::new(PortPool::new(65534, 65535, Kept::new(8)))
            .take()
            .is_some_and(|l| l.port == 65534));
    }
}

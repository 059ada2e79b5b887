//! RTP port pairs of one relay set: even ports of its range (RTP on the even port, RTCP on
//! the next), handed out and returned once per call — never per packet. A lease returns
//! its port when dropped, so every path that ends a call (or fails to set one up) gives
//! the port back — with its two sockets still bound while the process's budget of kept
//! pairs (`Kept`, shared by every relay set) has room, so the next call on that port needs
//! no `socket`/`bind`/`setsockopt` and its last call no `close`. A pair kept bound also
//! stays in the epoll set of the forwarding thread that relayed it (`Watch`, written by
//! `relay.rs`): a call given to that thread takes such a pair first, among the oldest
//! quarter of the free pairs (`LOOK`), and needs no `epoll_ctl` either. Pairs are otherwise handed out
//! least recently given back first, bound or not: a port just freed is not reused at once
//! (a peer that missed its BYE and still sends would reach the next call).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An RTP and an RTCP socket, bound and non-blocking.
pub type Sockets = (UdpSocket, UdpSocket);

/// Which forwarding thread's epoll set holds a pair's sockets, as `relay.rs` tags it
/// (its relay and thread); `NOT_WATCHED` for none.
pub type Watch = u64;
pub const NOT_WATCHED: Watch = 0;
/// A registration that failed half-way: the pair's sockets are closed when it comes back
/// (closing takes a socket out of every epoll set), never kept.
pub const WATCH_UNKNOWN: Watch = u64::MAX;

/// How many of the least recently given back pairs are looked at, at most, for one already
/// watched by the call's forwarding thread (the oldest is taken if none is): a thread
/// gives back together the pairs of the sessions that ended within its last wait (up to
/// 100 ms: hundreds of pairs under load).
/// Never more than the oldest quarter of the free pairs: a pair just given back is not
/// taken again at once.
const LOOK: usize = 512;

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

/// A free pair: its sockets if kept bound, with the thread watching them.
struct Idle {
    port: u16,
    bound: Option<(Sockets, Watch)>,
}

pub struct PortPool {
    /// Unique in the process: with a port, names a pair's sockets to the relay threads.
    id: u32,
    /// The address the sockets are bound to.
    ip: IpAddr,
    free: Mutex<VecDeque<Idle>>,
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
    watch: AtomicU64,
}

static POOLS: AtomicU32 = AtomicU32::new(0);

impl PortPool {
    /// The even ports p of [min, max] with p + 1 ≤ max (p < max, as the range ends there),
    /// bound on `ip`.
    pub fn new(ip: IpAddr, min: u16, max: u16, kept: Arc<Kept>) -> PortPool {
        let first = u32::from(min) + u32::from(min % 2);
        let free: VecDeque<Idle> = (first..u32::from(max))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
            .map(|port| Idle { port, bound: None })
            .collect();
        let total = free.len();
        PortPool {
            id: POOLS.fetch_add(1, Ordering::Relaxed),
            ip,
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
            for idle in free.iter_mut() {
                if let Some((s, _)) = idle.bound.take() {
                    closing.push(s);
                }
            }
        }
        self.kept.now.fetch_sub(closing.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next free pair, if any, with its sockets if they were kept bound: among the
    /// least recently given back (`LOOK`), the first watched by `by` (the call's forwarding
    /// thread), else the oldest.
    pub fn take(self: &Arc<Self>, by: Watch) -> Option<Lease> {
        let idle = {
            let mut free = self.lock();
            let look = (free.len() / 4).min(LOOK);
            let i = free
                .iter()
                .take(look)
                .position(|i| matches!(i.bound, Some((_, w)) if w == by))
                .unwrap_or(0);
            free.remove(i)?
        };
        if idle.bound.is_some() {
            self.kept.now.fetch_sub(1, Ordering::Relaxed);
        }
        let (sockets, watch) = idle.bound.unzip();
        Some(Lease {
            pool: self.clone(),
            port: idle.port,
            watch: AtomicU64::new(watch.unwrap_or(NOT_WATCHED)),
            sockets,
        })
    }

    /// Pairs currently handed out.
    pub fn in_use(&self) -> usize {
        self.total - self.lock().len()
    }
}

impl Lease {
    /// The pair's name for the relay threads: its pool's and its port (the RTP socket's
    /// token is twice it, the RTCP socket's one more).
    pub fn key(&self) -> u64 {
        u64::from(self.pool.id) << 16 | u64::from(self.port)
    }

    /// The forwarding thread whose epoll set holds the sockets.
    pub fn watch(&self) -> Watch {
        self.watch.load(Ordering::Relaxed)
    }

    pub fn set_watch(&self, w: Watch) {
        self.watch.store(w, Ordering::Relaxed)
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
fn shut_out(s: &UdpSocket, own: SocketAddr) -> bool {
    own.ip().is_unspecified() || s.connect(own).is_ok()
}

impl Drop for Lease {
    fn drop(&mut self) {
        let pool = &self.pool;
        let mut sockets = self.sockets.take();
        let watch = self.watch();
        let keep = watch != WATCH_UNKNOWN
            && sockets.as_ref().is_some_and(|(rtp, rtcp)| {
                if pool.retired.load(Ordering::Relaxed) {
                    return false;
                }
                let room = pool.kept.now.fetch_add(1, Ordering::Relaxed) < pool.kept.most;
                let own = |port| SocketAddr::new(pool.ip, port);
                let rtcp_port = self.port.wrapping_add(1);
                if !(room && shut_out(rtp, own(self.port)) && shut_out(rtcp, own(rtcp_port))) {
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
        free.push_back(Idle {
            port: self.port,
            bound: sockets.map(|s| (s, watch)),
        });
    }
}

/// A pool of its own budget, for the relay's unit tests. The tests run at once: each
/// takes a range of loopback ports no other test's overlaps (32100–33199, below the
/// kernel's ephemeral ports).
#[cfg(test)]
pub(super) fn test_pool(ip: IpAddr, min: u16, max: u16) -> Arc<PortPool> {
    Arc::new(PortPool::new(ip, min, max, Kept::new(64)))
}

impl Drop for PortPool {
    /// The pairs it kept bound close with it: their room goes back to the budget.
    fn drop(&mut self) {
        let bound = self.lock().iter().filter(|i| i.bound.is_some()).count();
        self.kept.now.fetch_sub(bound, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    const LO: [u8; 4] = [127, 0, 0, 1];
    /// A watch no pair has: the oldest pair is taken.
    const ANY: Watch = 7;

    fn pool(min: u16, max: u16, kept: &Arc<Kept>) -> Arc<PortPool> {
        Arc::new(PortPool::new(IpAddr::from(LO), min, max, kept.clone()))
    }

    /// The lease's own pair, bound as the relay binds it.
    fn bound(l: &Lease) -> Option<Sockets> {
        let s = |p: u16| UdpSocket::bind(SocketAddr::from((LO, p))).unwrap();
        Some((s(l.port), s(l.port + 1)))
    }

    fn take(p: &Arc<PortPool>) -> Lease {
        p.take(ANY).unwrap()
    }

    #[test]
    fn free_pairs_stay_bound_within_one_budget_for_every_pool() {
        let kept = Kept::new(1);
        let p1 = pool(20100, 20103, &kept);
        let p2 = pool(20200, 20203, &kept);
        let (mut a, mut b) = (take(&p1), take(&p2));
        (a.sockets, b.sockets) = (bound(&a), bound(&b));
        drop(a);
        drop(b);
        // the budget held one pair: p1's kept its sockets, p2's closed them
        assert_eq!(kept.len(), 1);
        // least recently given back first, bound or not
        let c = take(&p1);
        assert!((c.port, c.sockets.is_none()) == (20102, true));
        let d = take(&p1);
        assert!((d.port, d.sockets.is_some()) == (20100, true));
        assert_eq!(kept.len(), 0);
        assert!(take(&p2).sockets.is_none());
        let e = take(&p2);
        assert!(e.port == 20200 && e.sockets.is_none());
        // a pool dropped with a pair kept bound gives its room back
        drop((c, d));
        assert_eq!(kept.len(), 1);
        drop(p1);
        assert_eq!(kept.len(), 0);
    }

    #[test]
    fn an_idle_pair_kept_bound_queues_nothing_a_stranger_sends() {
        let pool = pool(20300, 20301, &Kept::new(4));
        let mut a = take(&pool);
        a.sockets = bound(&a);
        let to = a.sockets.as_ref().unwrap().0.local_addr().unwrap();
        drop(a);
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let _ = stranger.send_to(b"\x80junk junk junk", to);
        let b = take(&pool);
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
        let old = pool(20400, 20407, &kept);
        let (mut a, mut b) = (take(&old), take(&old));
        a.sockets = bound(&a);
        drop(a);
        assert_eq!(kept.len(), 1);
        old.retire();
        assert_eq!(kept.len(), 0);
        // a call that ends afterwards closes its pair too
        b.sockets = bound(&b);
        drop(b);
        assert_eq!(kept.len(), 0);
        assert!((0..4).all(|_| old.take(ANY).is_some_and(|l| l.sockets.is_none())));
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
        let kept = Kept::new(8);
        let p = pool(20001, 20007, &kept);
        let a = take(&p);
        let b = take(&p);
        assert_eq!((a.port, b.port), (20002, 20004));
        assert!(p.take(ANY).is_some_and(|c| c.port == 20006));
        // 20006 came back when `c` dropped; only three pairs fit in the range
        assert_eq!(p.in_use(), 2);
        drop(a);
        drop(b);
        assert_eq!(p.in_use(), 0);
        // the top of the port space does not overflow
        assert_eq!(pool(65535, 65535, &kept).in_use(), 0);
        assert!(pool(65534, 65535, &kept)
            .take(ANY)
            .is_some_and(|l| l.port == 65534));
    }

    #[test]
    fn a_thread_takes_a_pair_it_watches_among_the_oldest() {
        let kept = Kept::new(64);
        let pool = pool(20500, 20539, &kept);
        // ten pairs given back bound, in order, watched by threads 1, 2, 1, 2, ...
        let leases: Vec<Lease> = (0..10).map(|_| take(&pool)).collect();
        for (i, mut l) in leases.into_iter().enumerate() {
            l.sockets = bound(&l);
            l.set_watch(1 + i as u64 % 2);
            drop(l);
        }
        // the ten unbound pairs left come first for anyone else (oldest first)
        assert!((0..10).all(|_| take(&pool).sockets.is_none()));
        // thread 2 gets its oldest, still watched by it
        let l = pool.take(2).unwrap();
        assert!((l.port, l.watch(), l.sockets.is_some()) == (20502, 2, true));
        // thread 1 its own, though thread 2's is older now
        let l = pool.take(1).unwrap();
        assert!((l.port, l.watch()) == (20500, 1));
        // a pair whose registration failed half-way comes back closed, not kept
        let l = take(&pool);
        assert!((l.watch(), l.sockets.is_some()) == (1, true));
        l.set_watch(WATCH_UNKNOWN);
        let (port, before) = (l.port, kept.len());
        drop(l);
        assert_eq!(kept.len(), before);
        assert!(UdpSocket::bind(SocketAddr::from((LO, port))).is_ok());
    }

    /// Forty pairs given back bound, all watched by thread 1 but the one at `at`, watched
    /// by thread 2: the port thread 2 takes.
    fn taken_by_2(range: u16, at: usize) -> (u16, u16) {
        let kept = Kept::new(64);
        let pool = pool(range, range + 79, &kept);
        let leases: Vec<Lease> = (0..40).map(|_| take(&pool)).collect();
        let ports: Vec<u16> = leases.iter().map(|l| l.port).collect();
        for (i, mut l) in leases.into_iter().enumerate() {
            l.sockets = bound(&l);
            l.set_watch(if i == at { 2 } else { 1 });
            drop(l);
        }
        let l = pool.take(2).unwrap();
        (l.port, ports[at])
    }

    #[test]
    fn a_thread_looks_for_its_own_pair_in_the_oldest_quarter_only() {
        // the tenth oldest of forty is in the oldest quarter: taken
        let (got, its) = taken_by_2(20600, 9);
        assert_eq!(got, its);
        // the eleventh is not: the oldest is taken instead
        let (got, its) = taken_by_2(20700, 10);
        assert_eq!(got, 20700);
        assert_ne!(got, its);
    }
}

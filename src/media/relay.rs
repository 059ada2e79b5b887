//! The relay's forwarding threads. Each is a plain thread (not a task of the runtime) that
//! waits on its own epoll set for the sockets of the sessions handed to it, edge-triggered,
//! and per ready socket reads what it holds with one `recvmmsg` (`batch.rs`: a short count
//! says the socket is empty) and sends each packet on with one `send`: no task wake-up, no
//! second read to learn that the socket is empty, and each packet's socket polled once by
//! the kernel (level-triggered polls it again at the next wait; docs/performance.md
//! measured each). A socket flooded by someone is served at most `ROUNDS` reads a round,
//! then again the next round (its event is not repeated), like every other one.
//!
//! Sessions go to the threads in turn (`Relay::next`), and take the port pairs that thread
//! already watches (`ports.rs`). A socket's token names its pair (`Lease::key`), not its
//! session: a pair kept bound between calls stays in the epoll set of its thread, and the
//! next call on it there needs no `epoll_ctl` (eight a call were a tenth of its system
//! calls). Only a pair new to the thread is added to its set by the caller (so a failure is
//! the caller's error), and taken out of the other thread's first. A socket closed leaves
//! every set by itself. An event for a pair with no session in the table (a packet to an
//! idle socket bound to a wildcard address — one bound to an address is connected to
//! itself while idle and receives nothing — or a stranger's, sent to a pair just taken
//! before its session reached the thread) is not served but remembered (`strays`): when a
//! session of that pair arrives, its sockets are read once (the event may have been the
//! only one: a socket whose buffer a stranger filled would get no other). What a stranger
//! left in an idle socket is drained when a call takes the pair.
//!
//! The thread owns its table of sessions by pair, filled and emptied through a command
//! queue, so looking a packet's session up takes no lock and no counter. The queue is read
//! after every successful wait (and before a wait with no deadline), and a busy thread is
//! never woken for a command (a wake-up per call set up and per call ended was a tenth of
//! a call's CPU): a session is queued before its SDP reaches anyone, so the wait that
//! reports the first packet of its parties finds it queued. A thread with sessions never
//! waits longer than `REAP`, so a session that ended is let go of (its ports back in the
//! pool) within that even when nothing is relayed; only a thread asleep with no session
//! at all (no deadline: `Worker::idle`) is woken (its eventfd) by a session added or
//! ending — a wake-up and a context switch per call, when the calls carry no media, were
//! 7 µs of a call's CPU, but a thread with no session is one with little to do.
//! Each thread counts what it relays in its own `Traffic`; `Relay::traffic` adds them up.

use super::forward::{Shared, Traffic};
use super::pair_map::{ByPair, PairSet};
use super::ports::{Lease, Watch, WATCH_UNKNOWN};
use rustix::buffer::spare_capacity;
use rustix::event::{epoll, eventfd, EventfdFlags};
use rustix::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The token of a thread's eventfd: written when the relay is dropped (the thread ends) and
/// when a session ends while the thread sleeps with nothing to relay.
const WAKE: u64 = u64::MAX;
/// A socket's token: its pair's key (`Lease::key`, below 2^48) twice, plus one for RTCP.
fn token(pair: u64, rtcp: bool) -> u64 {
    pair << 1 | u64::from(rtcp)
}
/// Events taken per `epoll_wait`.
const BATCH: usize = 256;
/// The longest a thread with sessions waits: how long an ended session's ports may stay
/// out of the pool while nothing is relayed.
const REAP: rustix::event::Timespec = rustix::event::Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};
/// Reads (of up to `batch::BURST` datagrams) per socket and round: more than a relay
/// socket holds (~21 packets on loopback), so a backlog is emptied in one round.
const ROUNDS: usize = 4;

enum Command {
    Add(Arc<Shared>),
    /// The session of these pairs (A's, B's) ended.
    Remove(u64, u64),
}

struct Worker {
    /// Set when the relay is dropped: the thread ends at its next wake-up.
    stop: std::sync::atomic::AtomicBool,
    /// Set by the thread before it waits with no deadline (nothing carried over, no
    /// session), after which it reads the queue once more: a session ended meanwhile wakes
    /// it.
    idle: std::sync::atomic::AtomicBool,
    /// Sessions added and not yet removed by the thread (queued ones included).
    live: AtomicUsize,
    epoll: OwnedFd,
    wake: OwnedFd,
    commands: mpsc::Sender<Command>,
    /// What this thread relayed (written by it alone).
    traffic: Traffic,
}

impl Worker {
    /// A thread's state and the receiving end of its command queue (the thread not
    /// started).
    fn new() -> std::io::Result<(Worker, mpsc::Receiver<Command>)> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &wake,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN,
        )?;
        let (tx, rx) = mpsc::channel();
        let w = Worker {
            stop: std::sync::atomic::AtomicBool::new(false),
            idle: std::sync::atomic::AtomicBool::new(false),
            live: AtomicUsize::new(0),
            epoll,
            wake,
            commands: tx,
            traffic: Traffic::default(),
        };
        Ok((w, rx))
    }

    /// Queues a command for the thread, taken after its next wait (see the module's text);
    /// `wake`: and wakes the thread if it is asleep with no deadline.
    fn send(&self, c: Command, wake: bool) {
        // (an error: the relay is gone, and its thread with it; the command is dropped)
        let _ = self.commands.send(c);
        if wake {
            // Pairs with the thread's fence in `round`: either it sees this command in its
            // last look at the queue, or this sees it idle.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.idle.swap(false, Ordering::SeqCst) {
                let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
            }
        }
    }
}

/// The forwarding threads of the relay.
pub struct Relay {
    /// Unique in the process: a pair's `Watch` names this relay and one of its threads.
    id: u32,
    workers: Vec<Arc<Worker>>,
    turn: AtomicUsize,
    /// The kernel fast path its sessions use, when on (`[media] kernel_forwarding`).
    pub(super) fastpath: Option<Arc<super::fastpath::Fastpath>>,
    /// Pairs put into an epoll set (for the tests).
    #[cfg(test)]
    pub(super) watched: AtomicUsize,
}

static RELAYS: AtomicU32 = AtomicU32::new(1);

/// The forwarding thread a session goes to, chosen before its port pairs.
#[derive(Clone, Copy)]
pub struct Turn {
    index: usize,
    /// The `Watch` of the pairs in its epoll set.
    pub(super) watch: Watch,
}

/// A session's place in a forwarding thread; dropping it takes the session out of the
/// thread's table (its sockets stay in the thread's epoll set).
pub(super) struct Registration {
    worker: Arc<Worker>,
    pairs: (u64, u64),
}

impl Relay {
    /// Starts `threads` forwarding threads (at least one), each letting packets gather
    /// for `batch` after a busy round.
    pub fn start(threads: usize, batch: Duration) -> std::io::Result<Relay> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (w, rx) = Worker::new()?;
            let w = Arc::new(w);
            let thread = w.clone();
            std::thread::Builder::new()
                .name(format!("relay-{}", i))
                .spawn(move || run(&thread, &rx, batch))?;
            workers.push(w);
        }
        Ok(Relay {
            id: RELAYS.fetch_add(1, Ordering::Relaxed),
            workers,
            turn: AtomicUsize::new(0),
            fastpath: None,
            #[cfg(test)]
            watched: AtomicUsize::new(0),
        })
    }

    /// Sessions opened from now on let the kernel forward their settled streams.
    pub fn with_fastpath(mut self, fastpath: Arc<super::fastpath::Fastpath>) -> Relay {
        self.fastpath = Some(fastpath);
        self
    }

    /// The thread the next session goes to.
    pub(super) fn next(&self) -> Turn {
        let index = self.turn.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        Turn {
            index,
            watch: self.watch(index),
        }
    }

    fn watch(&self, index: usize) -> Watch {
        u64::from(self.id) << 32 | (index as u64 + 1)
    }

    /// This relay's thread whose epoll set holds a pair watched by `w`, if any.
    fn watcher(&self, w: Watch) -> Option<&Worker> {
        if w >> 32 != u64::from(self.id) {
            return None;
        }
        let i = usize::try_from(w & 0xffff_ffff).ok()?.checked_sub(1)?;
        self.workers.get(i).map(|w| &**w)
    }

    /// Hands a session to the thread of `turn`, its pairs' sockets into its epoll set
    /// unless they are there already (out of another thread's first).
    pub(super) fn add(&self, shared: Arc<Shared>, turn: Turn) -> std::io::Result<Registration> {
        let worker = self.workers[turn.index].clone();
        let (la, lb) = &shared.leases;
        let pairs = (la.key(), lb.key());
        // Queued first (see the module's text). Counted first: a thread that sees none
        // sleeps with no deadline, and this session's end then wakes it.
        worker.live.fetch_add(1, Ordering::SeqCst);
        // A thread asleep with no session at all is woken: a stranger's packets on a
        // reused pair may already have given its only event (see `strays`).
        worker.send(Command::Add(shared.clone()), true);
        let reg = Registration { worker, pairs };
        for (lease, side) in [(la, &shared.a), (lb, &shared.b)] {
            if lease.watch() == turn.watch {
                continue;
            }
            let Some((rtp, rtcp)) = side.sockets.as_ref() else {
                continue;
            };
            // Until both are in: closed, not kept, if this fails half-way.
            let was = lease.watch();
            lease.set_watch(WATCH_UNKNOWN);
            watch_pair(self.watcher(was), &reg.worker, lease, (rtp, rtcp))?;
            lease.set_watch(turn.watch);
            #[cfg(test)]
            self.watched.fetch_add(1, Ordering::Relaxed);
        }
        Ok(reg)
    }
}

/// Moves a pair's sockets into `to`'s epoll set (out of `from`'s, if watched there).
fn watch_pair(
    from: Option<&Worker>,
    to: &Worker,
    lease: &Lease,
    sockets: (&std::net::UdpSocket, &std::net::UdpSocket),
) -> std::io::Result<()> {
    for (rtcp, s) in [(false, sockets.0), (true, sockets.1)] {
        if let Some(from) = from {
            // (not there: nothing to take out)
            let _ = epoll::delete(&from.epoll, s.as_fd());
        }
        epoll::add(
            &to.epoll,
            s.as_fd(),
            epoll::EventData::new_u64(token(lease.key(), rtcp)),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
    }
    Ok(())
}

pub use super::forward::RelayTraffic;

impl Relay {
    /// The threads' counters added up (read without stopping them).
    pub fn traffic(&self) -> RelayTraffic {
        let mut t = RelayTraffic::default();
        for w in &self.workers {
            let c = &w.traffic;
            let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            t.rtp_packets += get(&c.rtp_packets);
            t.rtp_bytes += get(&c.rtp_bytes);
            t.rtcp_packets += get(&c.rtcp_packets);
            t.rtcp_bytes += get(&c.rtcp_bytes);
            t.overload += get(&c.overload);
            t.unsent += get(&c.unsent);
        }
        if let Some(k) = &self.fastpath {
            let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            t.rtp_packets += get(&k.traffic.rtp_packets);
            t.rtp_bytes += get(&k.traffic.rtp_bytes);
            t.rtcp_packets += get(&k.traffic.rtcp_packets);
            t.rtcp_bytes += get(&k.traffic.rtcp_bytes);
            t.kernel_packets = get(&k.traffic.rtp_packets) + get(&k.traffic.rtcp_packets);
        }
        t
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for w in &self.workers {
            w.stop.store(true, Ordering::Relaxed);
            let _ = rustix::io::write(&w.wake, &1u64.to_ne_bytes());
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.worker
            .send(Command::Remove(self.pairs.0, self.pairs.1), true);
    }
}

/// One forwarding thread. A panic costs the batch it happened in, not the thread.
fn run(w: &Worker, rx: &mpsc::Receiver<Command>, batch: Duration) {
    let mut t = Thread::new();
    loop {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| round(w, rx, &mut t)));
        match r {
            // Under load, waking up costs more than the packets: let more gather (like a
            // network card's interrupt coalescing). A lone packet is served at once.
            Ok(true) if t.served > 1 && !batch.is_zero() => std::thread::sleep(batch),
            Ok(true) => continue,
            Ok(false) => return,
            Err(_) => {
                // The round's sockets not served yet would get no new event (edge-
                // triggered): all of them are served again next round (an empty one costs
                // one read).
                let left: Vec<u64> = t.events.iter().map(|e| e.data.u64()).collect();
                for token in left.into_iter().chain(std::mem::take(&mut t.carry)) {
                    if token != WAKE {
                        t.carry_over(token);
                    }
                }
                tracing::error!("media relay thread: a packet caused a panic; dropped")
            }
        }
    }
}

/// A pair of a session, in its thread's table.
struct Entry {
    session: Arc<Shared>,
    /// The session's socket number of the pair's RTP socket (`Shared::forward`): 0 for
    /// A's pair, 2 for B's.
    first: u64,
    /// Per socket (RTP, RTCP), the round it was last put in `again`.
    marked: [u32; 2],
}

/// A forwarding thread's own state.
struct Thread {
    /// Sessions by pair key.
    pairs: ByPair<Entry>,
    events: Vec<epoll::Event>,
    rx: super::batch::RecvBatch,
    /// Sockets (tokens) left with packets by the last round: served this round.
    carry: Vec<u64>,
    /// Sockets left with packets by this round, each once.
    again: Vec<u64>,
    /// This round's number.
    round: u32,
    /// Sockets of a session served by the last round's events.
    served: usize,
    /// Sockets that reported packets while their pair had no session here: read once when
    /// a session of the pair arrives, forgotten when one ends. At most every pair that was
    /// ever in this thread's epoll set (the relay's own numbers, not a peer's).
    strays: PairSet,
}

impl Thread {
    fn new() -> Thread {
        Thread {
            pairs: ByPair::default(),
            events: Vec::with_capacity(BATCH),
            rx: super::batch::RecvBatch::default(),
            carry: Vec::new(),
            again: Vec::new(),
            round: 0,
            served: 0,
            strays: PairSet::default(),
        }
    }

    /// Serves socket `token`; remembers it for the next round if it still holds packets,
    /// or as a stray if its pair has no session here. True if it was served.
    fn serve(&mut self, token: u64, now: Instant, traffic: &Traffic) -> bool {
        let Some(e) = self.pairs.get(&(token >> 1)) else {
            self.strays.insert(token);
            return false;
        };
        if !e
            .session
            .forward(e.first + (token & 1), &mut self.rx, ROUNDS, now, traffic)
        {
            self.carry_over(token);
        }
        true
    }

    /// A session into the table; its sockets that reported packets before are read this
    /// round.
    fn add(&mut self, s: Arc<Shared>) {
        let (a, b) = (s.leases.0.key(), s.leases.1.key());
        for (pair, first) in [(a, 0), (b, 2)] {
            let entry = Entry {
                session: s.clone(),
                first,
                marked: [0; 2],
            };
            self.pairs.insert(pair, entry);
            for rtcp in [false, true] {
                if self.strays.remove(&token(pair, rtcp)) {
                    self.carry.push(token(pair, rtcp));
                }
            }
        }
    }

    /// Puts `token` in `again` unless it is there already (a socket served both from the
    /// carry and from an event): the list stays as long as the sockets left full, also
    /// under a flood that lasts. A socket of no session is not served again.
    fn carry_over(&mut self, token: u64) {
        let Some(e) = self.pairs.get_mut(&(token >> 1)) else {
            self.strays.insert(token);
            return;
        };
        let mark = &mut e.marked[(token & 1) as usize];
        if *mark != self.round {
            *mark = self.round;
            self.again.push(token);
        }
    }
}

/// Takes the queued commands into the thread's table.
fn take_commands(w: &Worker, rx: &mpsc::Receiver<Command>, t: &mut Thread) {
    loop {
        match rx.try_recv() {
            Ok(Command::Add(s)) => t.add(s),
            Ok(Command::Remove(a, b)) => {
                for pair in [a, b] {
                    t.pairs.remove(&pair);
                    // the next call on the pair drains it first
                    t.strays.remove(&token(pair, false));
                    t.strays.remove(&token(pair, true));
                }
                w.live.fetch_sub(1, Ordering::SeqCst);
            }
            // (never disconnected: the worker keeps its sender)
            Err(_) => break,
        }
    }
}

/// Waits for ready sockets (not at all when some were left with packets) and serves each
/// once, then those the last round left with packets. False when the relay is gone.
fn round(w: &Worker, rx: &mpsc::Receiver<Command>, t: &mut Thread) -> bool {
    t.events.clear();
    t.served = 0;
    std::mem::swap(&mut t.carry, &mut t.again);
    t.again.clear();
    // (0 is never a round: a fresh mark never matches)
    t.round = t.round.wrapping_add(1).max(1);
    let mut timeout = (!t.carry.is_empty()).then_some(rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    });
    if timeout.is_none() {
        // Asleep with no deadline from here unless sessions are left: a session ended from
        // now on wakes the thread, one ended before is taken now (see `Worker::send`).
        w.idle.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        take_commands(w, rx, t);
        if !t.carry.is_empty() {
            // a session came for a stray: read it at once
            w.idle.store(false, Ordering::SeqCst);
            timeout = Some(rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            });
        } else if w.live.load(Ordering::SeqCst) > 0 {
            // (a session ending meanwhile may still wake it once: harmless)
            w.idle.store(false, Ordering::SeqCst);
            timeout = Some(REAP);
        }
    }
    let waited = epoll::wait(&w.epoll, spare_capacity(&mut t.events), timeout.as_ref());
    w.idle.store(false, Ordering::Relaxed);
    if let Err(e) = waited {
        // The carried sockets wait for the next round.
        std::mem::swap(&mut t.carry, &mut t.again);
        if e != rustix::io::Errno::INTR {
            tracing::error!("media relay: epoll_wait: {}", e);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        return true;
    }
    if w.stop.load(Ordering::Relaxed) {
        return false;
    }
    // Every session whose sockets reported a packet from its parties was queued before
    // its SDP went out.
    take_commands(w, rx, t);
    let now = Instant::now();
    for i in 0..t.events.len() {
        let token = t.events[i].data.u64();
        if token == WAKE {
            let mut b = [0u8; 8];
            let _ = rustix::io::read(&w.wake, &mut b);
            continue;
        }
        if t.serve(token, now, &w.traffic) {
            t.served += 1;
        }
    }
    // A socket both carried and ready again is served twice: the second read finds it
    // empty or takes what came since.
    for i in 0..t.carry.len() {
        let token = t.carry[i];
        t.serve(token, now, &w.traffic);
    }
    true
}

/// The number of forwarding threads by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
impl Relay {
    /// The sockets in thread `i`'s epoll set (its eventfd not counted), from /proc.
    pub(super) fn watched_by(&self, i: usize) -> usize {
        use std::os::fd::AsRawFd;
        let info = format!("/proc/self/fdinfo/{}", self.workers[i].epoll.as_raw_fd());
        let text = std::fs::read_to_string(info).unwrap_or_default();
        let tfds = text.lines().filter(|l| l.starts_with("tfd:")).count();
        tfds.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::forward::Side;
    use super::super::latch::Party;
    use super::super::ports::test_pool;
    use super::*;
    use std::net::{IpAddr, SocketAddr, UdpSocket};

    /// A packet that reached a pair before its session reached the thread (its event found
    /// no session) is relayed in the round that takes the session: that event may have
    /// been the only one the socket gives.
    #[test]
    fn a_socket_that_reported_before_its_session_arrived_is_read_then() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        let pool = test_pool(lo, 32640, 32643);
        let (mut la, mut lb) = (pool.take(0).unwrap(), pool.take(0).unwrap());
        let (a, b) = (
            Side::open(lo, &mut la, false).unwrap(),
            Side::open(lo, &mut lb, false).unwrap(),
        );
        let phone = || {
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            u
        };
        let (pa, pb) = (phone(), phone());
        let party = |u: &UdpSocket| Party {
            sdp: u.local_addr().unwrap(),
            signalling: None,
        };
        a.rtp_peer.advertise(party(&pa));
        b.rtp_peer.advertise(party(&pb));
        let to_a = SocketAddr::new(lo, la.port);
        let rtp = [0x80u8, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42];
        pa.send_to(&rtp, to_a).unwrap();
        let shared = Arc::new(super::super::forward::test_shared(a, b, (la, lb)));
        let (w, rx) = Worker::new().unwrap();
        let mut t = Thread::new();
        let (rtp_a, rtcp_a) = shared.a.sockets.as_ref().unwrap();
        watch_pair(None, &w, &shared.leases.0, (rtp_a, rtcp_a)).unwrap();
        // (another session on the thread: no wait without a deadline)
        w.live.fetch_add(1, Ordering::SeqCst);
        // the packet's event, before the session reached the thread: not served
        assert!(round(&w, &rx, &mut t));
        assert_eq!(t.served, 0);
        // the session arrives (as `Relay::add` queues it); no packet comes after
        w.live.fetch_add(1, Ordering::SeqCst);
        w.send(Command::Add(shared.clone()), true);
        assert!(round(&w, &rx, &mut t));
        let mut buf = [0u8; 64];
        let (n, _) = pb.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &rtp[..]);
        assert!(t.strays.is_empty());
    }
}

//! The per-packet state of one session and the forwarding step: its two sides (sockets,
//! peers, counters) and what to do when one of its sockets is readable. Shared by the
//! session (`session.rs`, which opens it and reads its counters) and the forwarding thread
//! serving its sockets (`relay.rs`), so that neither of those imports the other for it
//! (`session.rs` uses `relay.rs`, never the reverse).
//!
//! Per packet no allocation and no lock: each socket's peer state is one immutable value
//! behind an `ArcSwap`, replaced whole (compare-and-swap) only while learning; counters are
//! atomics. What a thread relayed (for `GET /metrics`) is tallied in locals while a socket
//! is served and added once to that thread's own `Traffic`: no counter is shared between
//! threads.

use super::latch::Peer;
use super::ports::Lease;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Of the backlog of a stream found far behind (a full burst queued), the newest relayed.
const KEEP: usize = super::batch::BURST / 2;

pub(super) struct Side {
    /// RTP and RTCP sockets; taken back into the port lease when the session is dropped.
    pub(super) sockets: Option<super::ports::Sockets>,
    /// The RTP socket's address (the RTCP one's is the next port).
    pub(super) local: SocketAddr,
    pub(super) rtp_peer: Peer,
    pub(super) rtcp_peer: Peer,
    /// RTP packets received on this side (from its peer).
    pub(super) packets: AtomicU64,
    /// Packets received on this side and dropped: not RTP/RTCP, or not from its party.
    pub(super) dropped: AtomicU64,
    /// Milliseconds since the session started at the last packet (RTP or RTCP) received
    /// on this side.
    pub(super) last: AtomicU64,
}

/// A forwarding thread's traffic since the start, read by the metrics exporter (which adds
/// the threads up). Written by its thread alone — a plain load and store, no locked
/// instruction, once per socket served — and on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct Traffic {
    pub(super) rtp_packets: AtomicU64,
    pub(super) rtp_bytes: AtomicU64,
    pub(super) rtcp_packets: AtomicU64,
    pub(super) rtcp_bytes: AtomicU64,
    /// Packets from the party not relayed because the stream was far behind (the oldest
    /// of a backlog, past the relay's capacity).
    pub(super) overload: AtomicU64,
    /// Packets from the party whose send failed (a full socket buffer, an ICMP error) or
    /// that had nowhere to go yet.
    pub(super) unsent: AtomicU64,
}

/// What every forwarding thread relayed since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayTraffic {
    pub rtp_packets: u64,
    pub rtp_bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
    /// Packets from a party not relayed: the oldest of a backlog (past capacity).
    pub overload: u64,
    /// Packets from a party whose send failed or that had nowhere to go yet.
    pub unsent: u64,
    /// Of the packets relayed, those the kernel forwarded (`[media] kernel_forwarding`),
    /// as far as their sessions' counters were read (a call's are when it ends).
    pub kernel_packets: u64,
}

/// What one serving of a socket did, in locals; added to `Traffic` at its end.
#[derive(Default)]
struct Tally {
    /// Packets from the party (RTP/RTCP-shaped, accepted by the latch).
    passed: u64,
    sent: u64,
    bytes: u64,
    unsent: u64,
}

impl Traffic {
    fn add(&self, t: &Tally, rtcp: bool) {
        // Only this thread writes: load and store are enough (and cost no bus lock).
        let bump = |c: &AtomicU64, n: u64| {
            if n > 0 {
                c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
            }
        };
        let (packets, bytes) = if rtcp {
            (&self.rtcp_packets, &self.rtcp_bytes)
        } else {
            (&self.rtp_packets, &self.rtp_bytes)
        };
        bump(packets, t.sent);
        bump(bytes, t.bytes);
        bump(&self.unsent, t.unsent);
        bump(&self.overload, t.passed.saturating_sub(t.sent + t.unsent));
    }
}

pub(super) struct Shared {
    pub(super) a: Side,
    pub(super) b: Side,
    /// The sockets are bound to one address: they may be connected to their peers.
    pub(super) connects: bool,
    /// The sockets are IPv6 ones.
    pub(super) v6: bool,
    pub(super) started: Instant,
    /// The drops of every session.
    pub(super) dropped_total: Arc<AtomicU64>,
    /// Sessions open in the relay (this one counted until it is dropped).
    pub(super) open: Arc<std::sync::atomic::AtomicUsize>,
    /// The ports; they go back to the pool with their sockets when the session is gone.
    pub(super) leases: (Lease, Lease),
    /// The echo test: what A sends goes back to A (B is not used).
    pub(super) echo: std::sync::atomic::AtomicBool,
    /// vozbox talks with A itself (voicemail): A's RTP goes to this queue instead of B,
    /// and nothing is relayed either way.
    pub(super) tap: std::sync::OnceLock<Tap>,
    /// A recording (or a watch for its on-demand code) copies packets here.
    pub(super) rec: arc_swap::ArcSwapOption<super::rectap::RecTap>,
    /// The kernel fast path, when on (`[media] kernel_forwarding`), and the directions
    /// of this session it forwards (`offload.rs`).
    pub(super) kernel: Option<Arc<super::fastpath::Fastpath>>,
    pub(super) offloads: super::fastpath::Offloads,
    /// Packets the kernel forwarded for this session, as far as its counters were read.
    pub(super) kernel_packets: AtomicU64,
}

/// Where a session's side-A RTP goes when vozbox itself is its other party: a bounded
/// queue never waited on (a full one loses the packet, counted).
pub(super) struct Tap {
    pub(super) tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    pub(super) lost: AtomicU64,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // No rule may outlive the session: its ports go back to the pool below.
        self.kernel_release();
        // Every task holding the sockets is gone: hand them to the pool still bound.
        self.leases.0.sockets = self.a.sockets.take();
        self.leases.1.sockets = self.b.sockets.take();
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The receive buffer asked for each relay socket (Linux doubles it). Linux counts a
/// packet's whole buffer: about 19 G.711 packets on loopback (0.4 s of one stream), 4 to 8
/// with a network card that gives each packet 2–4 KB — a burst after a network hiccup
/// still fits. Bounded so that a relay past its capacity drops packets at the socket
/// instead of queueing seconds of audio (a delay that never recovers).
const RECV_BUFFER: usize = 8192;

fn bind(ip: std::net::IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(SocketAddr::new(ip, port)),
        // non-blocking from its creation (two fcntl calls fewer per socket, four sockets
        // a call)
        socket2::Type::DGRAM.nonblocking(),
        Some(socket2::Protocol::UDP),
    )?;
    s.set_recv_buffer_size(RECV_BUFFER)?;
    s.bind(&SocketAddr::new(ip, port).into())?;
    Ok(s.into())
}

/// Empties a reused socket of whatever arrived after its last call.
fn drain(s: &UdpSocket) {
    let mut buf = [0u8; 2048];
    for _ in 0..1024 {
        match s.recv_from(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            // a pending ICMP error of the last call is consumed; packets may follow it
            _ => {}
        }
    }
}

impl Side {
    /// The lease's sockets when it kept them bound (drained), else new ones.
    pub(super) fn open(ip: IpAddr, lease: &mut Lease, strict: bool) -> std::io::Result<Side> {
        let sockets = match lease.sockets.take() {
            Some((rtp, rtcp)) => {
                // Connected to itself while idle, or to the last call's peers: open to any
                // source again (a failure closes the pair; the caller tries the next).
                rustix::net::connect_unspec(&rtp)?;
                rustix::net::connect_unspec(&rtcp)?;
                drain(&rtp);
                drain(&rtcp);
                (rtp, rtcp)
            }
            None => (
                bind(ip, lease.port)?,
                bind(
                    ip,
                    lease
                        .port
                        .checked_add(1)
                        .ok_or(std::io::ErrorKind::InvalidInput)?,
                )?,
            ),
        };
        Ok(Side {
            sockets: Some(sockets),
            local: SocketAddr::new(ip, lease.port),
            rtp_peer: Peer::new(strict),
            rtcp_peer: Peer::new(strict),
            packets: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last: AtomicU64::new(0),
        })
    }
}

/// An RTP (or RTCP) packet: version 2 and a whole fixed header.
pub(super) fn plausible(p: &[u8], rtcp: bool) -> bool {
    p.len() >= if rtcp { 8 } else { 12 } && p[0] >> 6 == 2
}

impl Shared {
    /// Milliseconds since the session started.
    pub(super) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Socket `k` (0 A's RTP, 1 A's RTCP, 2 B's RTP, 3 B's RTCP) became readable: receives what it holds and relays each
    /// datagram that comes from that side's peer out of the same kind of socket of the
    /// other side to its peer. Reads at most `rounds` bursts; true when the socket was
    /// emptied (its readiness is edge-triggered: a socket left with packets must be served
    /// again without a new event). What was relayed is added to the serving thread's
    /// `traffic`.
    pub(super) fn forward(
        &self,
        k: u64,
        rx: &mut super::batch::RecvBatch,
        rounds: usize,
        now: Instant,
        traffic: &Traffic,
    ) -> bool {
        let mut tally = Tally::default();
        let (emptied, settled) = self.forward_counted(k, rx, rounds, now, &mut tally);
        traffic.add(&tally, k % 2 == 1);
        if settled {
            // a party's source settled: the kernel may take this direction and the other
            self.kernel_sync();
        }
        emptied
    }

    fn forward_counted(
        &self,
        k: u64,
        rx: &mut super::batch::RecvBatch,
        rounds: usize,
        now: Instant,
        tally: &mut Tally,
    ) -> (bool, bool) {
        use super::batch::{Read, BURST};
        let (from, to, rtcp) = match k {
            0 => (&self.a, &self.b, false),
            1 => (&self.a, &self.b, true),
            2 => (&self.b, &self.a, false),
            _ => (&self.b, &self.a, true),
        };
        // The echo test: A's packets go back out of A's own sockets to A.
        let to = if k < 2 && self.echo.load(Ordering::Relaxed) {
            from
        } else {
            to
        };
        let tap = self.tap.get();
        // (a guard, not a reference count: nothing written on the shared line when no
        // recording runs)
        let rec_guard = self.rec.load();
        let rec = if rtcp { None } else { rec_guard.as_ref() };
        let (Some((rtp_sock, rtcp_sock)), Some((o_rtp, o_rtcp))) =
            (from.sockets.as_ref(), to.sockets.as_ref())
        else {
            return (true, false);
        };
        let (inbound, peer, outbound, dest) = if rtcp {
            (rtcp_sock, &from.rtcp_peer, o_rtcp, &to.rtcp_peer)
        } else {
            (rtp_sock, &from.rtp_peer, o_rtp, &to.rtp_peer)
        };
        let now = now.saturating_duration_since(self.started).as_millis() as u64;
        // A source settled (its socket connected) while reading.
        let settled = std::cell::Cell::new(false);
        // Each datagram is judged as it is read (RTP-shaped, from the peer: learning goes
        // on in arrival order); only those that pass are candidates for sending.
        let judge =
            |rx: &super::batch::RecvBatch, half: usize, n: usize, ok: &mut [bool; BURST]| {
                let mut passed = 0u64;
                for (i, ok) in ok.iter_mut().enumerate() {
                    *ok = false;
                    if i >= n {
                        continue;
                    }
                    let Some((p, src)) = rx.get(half, i) else {
                        continue;
                    };
                    if !plausible(p, rtcp) || !peer.accept(src, now) {
                        continue;
                    }
                    *ok = true;
                    passed += 1;
                    if let (Some(t), true, false) = (tap, k < 2, rtcp) {
                        if t.tx.try_send(p.to_vec()).is_err() {
                            t.lost.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Some(r) = rec {
                        r.offer(k < 2, p, now);
                    }
                    if self.connects && peer.connect(inbound, src, now) {
                        settled.set(true);
                    }
                }
                if passed > 0 {
                    if !rtcp {
                        from.packets.fetch_add(passed, Ordering::Relaxed);
                    }
                    from.last.store(now, Ordering::Relaxed);
                }
                // Not RTP, or not from the party (a stranger spraying the port): counted
                // here; nothing else about it happened.
                let dropped = (n as u64).saturating_sub(passed);
                if dropped > 0 {
                    from.dropped.fetch_add(dropped, Ordering::Relaxed);
                    self.dropped_total.fetch_add(dropped, Ordering::Relaxed);
                }
                passed as usize
            };
        // Sends the newest `keep` of the packets of `half` that passed.
        let send = |rx: &super::batch::RecvBatch,
                    half: usize,
                    ok: &[bool; BURST],
                    keep: usize,
                    tally: &mut Tally| {
            if tap.is_some() {
                return;
            }
            let passed = ok.iter().filter(|&&o| o).count();
            let skip = passed.saturating_sub(keep);
            let newest = ok.iter().enumerate().filter(|(_, &o)| o).skip(skip);
            for (i, _) in newest {
                if let Some((packet, _)) = rx.get(half, i) {
                    if dest.send(outbound, packet) {
                        tally.sent += 1;
                        tally.bytes += packet.len() as u64;
                    } else {
                        tally.unsent += 1;
                    }
                }
            }
        };
        // A full read means this stream is at least BURST packets (160 ms of 20 ms audio)
        // behind — the relay is past its capacity. It is held while the next read shows
        // what follows, and only the newest KEEP packets of the backlog that come from the
        // peer are sent: what goes out is recent and the thread catches up (a socket that
        // overflows drops the newest instead, and its queue keeps the delay long).
        let mut ok = [[false; BURST]; 2];
        let (mut half, mut behind) = (0, false);
        for _ in 0..rounds {
            use std::os::fd::AsFd;
            match rx.read(inbound.as_fd(), self.v6, half) {
                Read::Got(n) if n == BURST => {
                    tally.passed += judge(rx, half, n, &mut ok[half]) as u64;
                    behind = true;
                    half ^= 1;
                }
                Read::Got(n) => {
                    let passed = judge(rx, half, n, &mut ok[half]);
                    tally.passed += passed as u64;
                    if behind && passed < KEEP {
                        send(rx, half ^ 1, &ok[half ^ 1], KEEP - passed, tally);
                    }
                    send(rx, half, &ok[half], BURST, tally);
                    return (true, settled.get());
                }
                Read::Empty => {
                    if behind {
                        send(rx, half ^ 1, &ok[half ^ 1], KEEP, tally);
                    }
                    return (true, settled.get());
                }
                // (a pending ICMP error of an earlier send, consumed: packets may follow)
                Read::Error => {}
            }
        }
        // Still full after `rounds` reads: the newest read so far goes (its newest part),
        // the rest waits for the next round.
        if behind {
            send(rx, half ^ 1, &ok[half ^ 1], KEEP, tally);
        }
        (false, settled.get())
    }
}
/// A session's state bound on loopback, outside any relay thread (for unit tests).
#[cfg(test)]
pub(super) fn test_shared(a: Side, b: Side, leases: (Lease, Lease)) -> Shared {
    Shared {
        a,
        b,
        dropped_total: Arc::default(),
        open: Arc::new(1.into()),
        connects: true,
        v6: false,
        started: Instant::now(),
        leases,
        echo: Default::default(),
        tap: Default::default(),
        rec: Default::default(),
        kernel: None,
        offloads: Default::default(),
        kernel_packets: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::latch::Party;
    use super::*;

    /// A phone's socket on loopback that gives up reading after 2 s.
    fn phone() -> UdpSocket {
        let u = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        u.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        u
    }

    /// A stream found far behind (a full burst queued on its socket) has only the newest
    /// of its backlog relayed, in order; a read that may have left packets says so (the
    /// thread serves that socket again next round).
    #[test]
    fn a_stream_far_behind_loses_its_oldest_packets() {
        use super::super::batch::{RecvBatch, BURST};
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pool = super::super::ports::test_pool(lo, 32300, 32399);
        let (mut la, mut lb) = (pool.take(0).unwrap(), pool.take(0).unwrap());
        let (a, b) = (
            Side::open(lo, &mut la, true).unwrap(),
            Side::open(lo, &mut lb, true).unwrap(),
        );
        let shared = test_shared(a, b, (la, lb));
        let (a, b) = (phone(), phone());
        let exact = |s: &std::net::UdpSocket| Party {
            sdp: s.local_addr().unwrap(),
            signalling: None,
        };
        shared.a.rtp_peer.advertise(exact(&a));
        shared.b.rtp_peer.advertise(exact(&b));
        let to = shared.a.sockets.as_ref().unwrap().0.local_addr().unwrap();
        let extra = 3;
        // an RTP-shaped datagram with sequence number `seq`
        let real = |seq: u8| [0x80u8, 8, 0, seq, 0, 0, 0, 0, 0, 0, 0, 7, 42];
        let send = || {
            for seq in 0..(BURST + extra) as u8 {
                a.send_to(&real(seq), to).unwrap();
            }
        };
        b.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let received = || {
            let mut buf = [0u8; 64];
            let mut got = Vec::new();
            while let Ok((_, _)) = b.recv_from(&mut buf) {
                got.push(buf[3] as usize);
            }
            got
        };
        let mut rx = RecvBatch::default();
        let traffic = Traffic::default();
        // Reads enough to empty it: the newest KEEP of the backlog only.
        send();
        assert!(
            shared.forward(0, &mut rx, 4, Instant::now(), &traffic),
            "not emptied"
        );
        let newest: Vec<usize> = (BURST + extra - KEEP..BURST + extra).collect();
        assert_eq!(received(), newest);
        // counted for the thread: what went out, and the rest of the backlog as overload
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(count(&traffic.rtp_packets), KEEP as u64);
        assert_eq!(count(&traffic.rtp_bytes), 13 * KEEP as u64);
        assert_eq!(count(&traffic.overload), (BURST + extra - KEEP) as u64);
        assert_eq!(count(&traffic.rtcp_packets) + count(&traffic.unsent), 0);
        // One read a round: a full one leaves more (the thread comes back next round) and
        // relays its newest part; the next read relays the rest.
        send();
        assert!(!shared.forward(0, &mut rx, 1, Instant::now(), &traffic));
        assert!(
            shared.forward(0, &mut rx, 1, Instant::now(), &traffic),
            "not emptied"
        );
        let want: Vec<usize> = (BURST - KEEP..BURST + extra).collect();
        assert_eq!(received(), want);
        // every packet from the peer was received (counted), the stale ones not sent
        let total = 2 * (BURST + extra) as u64;
        assert_eq!(shared.a.packets.load(Ordering::Relaxed), total);
        // Only packets from the peer compete for the newest places: junk sprayed in the
        // backlog (here on a socket not connected yet) costs no real packet.
        let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rustix::net::connect_unspec(&shared.a.sockets.as_ref().unwrap().0).unwrap();
        a.send_to(&real(100), to).unwrap();
        for _ in 1..BURST {
            junk.send_to(&real(200), to).unwrap();
        }
        a.send_to(&real(101), to).unwrap();
        a.send_to(&real(102), to).unwrap();
        assert!(shared.forward(0, &mut rx, 4, Instant::now(), &traffic));
        assert_eq!(received(), vec![100, 101, 102]);
    }

    #[test]
    fn only_rtp_shaped_packets_are_plausible() {
        assert!(!plausible(&[0x00; 20], false));
        assert!(plausible(&[0x80; 12], false));
        assert!(!plausible(&[0x80; 11], false));
        assert!(plausible(&[0x80; 8], true));
    }

    /// The relay's sockets never block its threads (edge-triggered, read until empty).
    #[test]
    fn a_media_socket_is_non_blocking() {
        let s = bind("127.0.0.1".parse().unwrap(), 0).unwrap();
        assert!(socket2::SockRef::from(&s).nonblocking().unwrap());
    }
}

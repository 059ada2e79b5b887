//! One call's relay: a port pair facing the caller (side A) and one facing the callee
//! (side B). What arrives on A's RTP port goes out of B's RTP port to the callee, and the
//! other way round; RTCP the same on the odd ports.
//!
//! Which sources a side accepts and where its packets go is `latch.rs` (strict source:
//! only the party's SDP address or SIP IP).
//!
//! The sockets are served by the relay's forwarding threads (`relay.rs`). Per packet no
//! allocation and no lock: each socket's peer state is one immutable value behind an
//! `ArcSwap`, replaced whole (compare-and-swap) only while learning; counters are atomics.

use super::latch::{Party, Peer};
use super::ports::Lease;
use super::sdp::Advertised;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Of the backlog of a stream found far behind (a full burst queued), the newest relayed.
const KEEP: usize = super::batch::BURST / 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facing {
    /// The caller's side.
    A,
    /// The callee's side.
    B,
}

/// How a relay's sessions treat the sources of packets, and where the drops of all of
/// them are added up.
#[derive(Clone, Default)]
pub struct Sources {
    /// Only a party's own sources are learnt (`[media] strict_source`).
    pub strict: bool,
    /// Packets dropped by every session (not RTP, or not from the party).
    pub dropped: Arc<AtomicU64>,
}

struct Side {
    /// RTP and RTCP sockets; taken back into the port lease when the session is dropped.
    sockets: Option<super::ports::Sockets>,
    rtp_peer: Peer,
    rtcp_peer: Peer,
    /// RTP packets received on this side (from its peer).
    packets: AtomicU64,
    /// Packets received on this side and dropped: not RTP/RTCP, or not from its party.
    dropped: AtomicU64,
    /// Milliseconds since the session started at the last packet (RTP or RTCP) received
    /// on this side.
    last: AtomicU64,
}

pub(super) struct Shared {
    a: Side,
    b: Side,
    /// The sockets are bound to one address: they may be connected to their peers.
    connects: bool,
    /// The sockets are IPv6 ones.
    v6: bool,
    started: Instant,
    /// The drops of every session.
    dropped_total: Arc<AtomicU64>,
    /// The ports; they go back to the pool with their sockets when the session is gone.
    leases: (Lease, Lease),
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Every task holding the sockets is gone: hand them to the pool still bound.
        self.leases.0.sockets = self.a.sockets.take();
        self.leases.1.sockets = self.b.sockets.take();
    }
}

pub struct MediaSession {
    shared: Arc<Shared>,
    /// The runtime a playback runs on (a session may be used from a receive thread).
    rt: tokio::runtime::Handle,
    /// The sockets' place in a forwarding thread; they leave it when the session drops.
    _relay: super::relay::Registration,
    advertised: std::net::IpAddr,
    a_port: u16,
    b_port: u16,
}

/// Packet counters of a session, for `vozbox calls`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Counters {
    pub a_port: u16,
    pub b_port: u16,
    /// RTP packets received from the caller (relayed to the callee, but for the oldest of
    /// a backlog when the relay is past its capacity).
    pub from_a: u64,
    /// RTP packets received from the callee (relayed to the caller, idem).
    pub from_b: u64,
    /// Packets received on the session's ports and dropped: not RTP/RTCP, or not from
    /// that side's party (a stranger). Once a socket is connected to its settled party the
    /// kernel drops other sources before the relay reads them: those are not counted.
    pub dropped: u64,
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
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    s.set_recv_buffer_size(RECV_BUFFER)?;
    s.set_nonblocking(true)?;
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
    fn open(ip: IpAddr, lease: &mut Lease, strict: bool) -> std::io::Result<Side> {
        let sockets = match lease.sockets.take() {
            Some((rtp, rtcp)) => {
                // Connected to the last call's peers: open to any source again.
                let _ = rustix::net::connect_unspec(&rtp);
                let _ = rustix::net::connect_unspec(&rtcp);
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
            rtp_peer: Peer::new(strict),
            rtcp_peer: Peer::new(strict),
            packets: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last: AtomicU64::new(0),
        })
    }
}

impl Shared {
    fn side(&self, f: Facing) -> &Side {
        match f {
            Facing::A => &self.a,
            Facing::B => &self.b,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// The relay's per-packet decision for one socket, as the forwarding thread takes it: is the
/// packet RTP/RTCP-shaped, and does it come from that socket's (latched) peer. Exposed for
/// the fuzz target of the packet path.
#[doc(hidden)]
pub struct PacketGate {
    peer: Peer,
}

#[doc(hidden)]
impl PacketGate {
    pub fn new(party: Party, strict: bool) -> PacketGate {
        let g = PacketGate {
            peer: Peer::new(strict),
        };
        g.peer.advertise(party);
        g
    }
    /// A new SDP from the party (a re-INVITE).
    pub fn advertise(&self, party: Party) {
        self.peer.advertise(party);
    }
    /// Whether the packet would be forwarded.
    pub fn pass(&self, packet: &[u8], rtcp: bool, src: SocketAddr, now_ms: u64) -> bool {
        plausible(packet, rtcp) && self.peer.accept(src, now_ms)
    }
    /// Where the relay sends to this peer.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.peer.current()
    }
    /// When learning ends (ms; 0 = no packet yet).
    pub fn learning_until(&self) -> u64 {
        self.peer.learning_until()
    }
}

/// An RTP (or RTCP) packet: version 2 and a whole fixed header.
fn plausible(p: &[u8], rtcp: bool) -> bool {
    p.len() >= if rtcp { 8 } else { 12 } && p[0] >> 6 == 2
}

impl Shared {
    /// The four sockets in token order (see `relay::SOCKETS`): A RTP, A RTCP, B RTP, B RTCP.
    pub(super) fn fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        [&self.a, &self.b]
            .into_iter()
            .filter_map(|s| s.sockets.as_ref())
            .flat_map(|(rtp, rtcp)| [rtp.as_fd(), rtcp.as_fd()])
            .collect()
    }

    /// Socket `k` (token order) became readable: receives what it holds and relays each
    /// datagram that comes from that side's peer out of the same kind of socket of the
    /// other side to its peer. Reads at most `rounds` bursts; true when the socket was
    /// emptied (its readiness is edge-triggered: a socket left with packets must be served
    /// again without a new event).
    pub(super) fn forward(
        &self,
        k: u64,
        rx: &mut super::batch::RecvBatch,
        rounds: usize,
        now: Instant,
    ) -> bool {
        use super::batch::{Read, BURST};
        let (from, to, rtcp) = match k {
            0 => (&self.a, &self.b, false),
            1 => (&self.a, &self.b, true),
            2 => (&self.b, &self.a, false),
            _ => (&self.b, &self.a, true),
        };
        let (Some((rtp_sock, rtcp_sock)), Some((o_rtp, o_rtcp))) =
            (from.sockets.as_ref(), to.sockets.as_ref())
        else {
            return true;
        };
        let (inbound, peer, outbound, dest) = if rtcp {
            (rtcp_sock, &from.rtcp_peer, o_rtcp, &to.rtcp_peer)
        } else {
            (rtp_sock, &from.rtp_peer, o_rtp, &to.rtp_peer)
        };
        let now = now.saturating_duration_since(self.started).as_millis() as u64;
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
                    if self.connects {
                        peer.connect(inbound, src, now);
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
        let send = |rx: &super::batch::RecvBatch, half: usize, ok: &[bool; BURST], keep: usize| {
            let passed = ok.iter().filter(|&&o| o).count();
            let skip = passed.saturating_sub(keep);
            let newest = ok.iter().enumerate().filter(|(_, &o)| o).skip(skip);
            for (i, _) in newest {
                if let Some((packet, _)) = rx.get(half, i) {
                    dest.send(outbound, packet);
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
                    judge(rx, half, n, &mut ok[half]);
                    behind = true;
                    half ^= 1;
                }
                Read::Got(n) => {
                    let passed = judge(rx, half, n, &mut ok[half]);
                    if behind && passed < KEEP {
                        send(rx, half ^ 1, &ok[half ^ 1], KEEP - passed);
                    }
                    send(rx, half, &ok[half], BURST);
                    return true;
                }
                Read::Empty => {
                    if behind {
                        send(rx, half ^ 1, &ok[half ^ 1], KEEP);
                    }
                    return true;
                }
                // (a pending ICMP error of an earlier send, consumed: packets may follow)
                Read::Error => {}
            }
        }
        // Still full after `rounds` reads: the newest read so far goes (its newest part),
        // the rest waits for the next round.
        if behind {
            send(rx, half ^ 1, &ok[half ^ 1], KEEP);
        }
        false
    }
}

impl MediaSession {
    /// Binds both port pairs on `bind` and starts relaying in one of `relay`'s threads.
    pub fn open(
        relay: &super::relay::Relay,
        bind: IpAddr,
        advertised: IpAddr,
        (mut a, mut b): (Lease, Lease),
        sources: &Sources,
    ) -> std::io::Result<MediaSession> {
        let (a_port, b_port) = (a.port, b.port);
        let shared = Arc::new(Shared {
            a: Side::open(bind, &mut a, sources.strict)?,
            b: Side::open(bind, &mut b, sources.strict)?,
            started: Instant::now(),
            dropped_total: sources.dropped.clone(),
            connects: !bind.is_unspecified(),
            v6: bind.is_ipv6(),
            leases: (a, b),
        });
        Ok(MediaSession {
            _relay: relay.add(shared.clone())?,
            shared,
            rt: tokio::runtime::Handle::current(),
            advertised,
            a_port,
            b_port,
        })
    }

    /// The relay's address as the peer of `side` must see it (for the SDP sent to it).
    pub fn address(&self, side: Facing) -> SocketAddr {
        let port = match side {
            Facing::A => self.a_port,
            Facing::B => self.b_port,
        };
        SocketAddr::new(self.advertised, port)
    }

    /// What `side`'s party advertised in its latest SDP, and the IP the SIP message that
    /// carried it came from (its flow). `None` (hold with `c=0.0.0.0`) keeps the current
    /// peer.
    pub fn set_peer(&self, side: Facing, adv: Option<Advertised>, signalling: IpAddr) {
        let Some(adv) = adv else { return };
        let s = self.shared.side(side);
        let sockets = s.sockets.as_ref();
        let party = |sdp| Party {
            sdp,
            signalling: Some(signalling),
        };
        s.rtp_peer
            .readvertise(party(adv.rtp), sockets.map(|(rtp, _)| rtp));
        s.rtcp_peer
            .readvertise(party(adv.rtcp), sockets.map(|(_, rtcp)| rtcp));
    }

    /// The call was answered: idleness counts from now (ringing carries no media).
    pub fn answered(&self) {
        let now = self.shared.now_ms();
        self.shared.a.last.store(now, Ordering::Relaxed);
        self.shared.b.last.store(now, Ordering::Relaxed);
    }

    /// How long no packet arrived from either side.
    pub fn idle(&self) -> std::time::Duration {
        let last = self
            .shared
            .a
            .last
            .load(Ordering::Relaxed)
            .max(self.shared.b.last.load(Ordering::Relaxed));
        std::time::Duration::from_millis(self.shared.now_ms().saturating_sub(last))
    }

    pub fn counters(&self) -> Counters {
        Counters {
            a_port: self.a_port,
            b_port: self.b_port,
            from_a: self.shared.a.packets.load(Ordering::Relaxed),
            from_b: self.shared.b.packets.load(Ordering::Relaxed),
            dropped: self.shared.a.dropped.load(Ordering::Relaxed)
                + self.shared.b.dropped.load(Ordering::Relaxed),
        }
    }
}

impl MediaSession {
    /// Sends `frames` (160-byte G.711 payloads, payload type `pt`) to the caller's side,
    /// one every 20 ms from the relay port facing it, with a fresh SSRC, sequence and
    /// timestamp (+160 a frame) and the marker on the first; then runs `then`. The session
    /// lives until the end of the playback.
    pub fn play(
        self,
        frames: Arc<super::prompts::Prompt>,
        pt: u8,
        then: impl FnOnce() + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let rt = self.rt.clone();
        rt.spawn(async move {
            let mut seq: u16 = rand::random();
            let mut ts: u32 = rand::random();
            let ssrc: u32 = rand::random();
            let list = if pt == 0 { &frames.pcmu } else { &frames.pcma };
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
            // A late tick delays the rest rather than bursting to catch up.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pkt = [0u8; 12 + super::prompts::FRAME];
            for (i, frame) in list.iter().enumerate() {
                tick.tick().await;
                pkt[0] = 0x80;
                pkt[1] = pt | if i == 0 { 0x80 } else { 0 };
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                pkt[12..].copy_from_slice(frame);
                let a = &self.shared.a;
                if let (Some(d), Some((rtp, _))) = (a.rtp_peer.current(), a.sockets.as_ref()) {
                    let _ = rtp.send_to(&pkt, d);
                }
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(super::prompts::FRAME as u32);
            }
            tick.tick().await;
            // The relay session goes before `then` runs (it may end the call); its ports
            // follow once the forwarding thread has let go of the sockets.
            drop(self);
            then();
        })
        .abort_handle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A session with strict sources from two pairs of `pool`.
    fn open(
        relay: &super::super::relay::Relay,
        bind: IpAddr,
        adv: IpAddr,
        pool: &Arc<super::super::ports::PortPool>,
    ) -> MediaSession {
        let sources = Sources {
            strict: true,
            ..Sources::default()
        };
        MediaSession::open(
            relay,
            bind,
            adv,
            (pool.take().unwrap(), pool.take().unwrap()),
            &sources,
        )
        .unwrap()
    }

    /// A phone's socket on loopback that gives up reading after 2 s.
    fn phone() -> std::net::UdpSocket {
        phone_at("127.0.0.1")
    }

    fn phone_at(ip: &str) -> std::net::UdpSocket {
        let u = std::net::UdpSocket::bind((ip, 0)).unwrap();
        u.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        u
    }

    /// Through the forwarding threads: RTP and RTCP both ways, a peer that sends from
    /// elsewhere than it advertised is latched onto, and dropping the session gives the
    /// ports back (once the thread has let go of the sockets).
    #[tokio::test]
    async fn relays_both_ways_and_gives_the_ports_back() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let pool = Arc::new(super::super::ports::PortPool::new(32100, 32199));
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let s = open(&relay, lo, lo, &pool);
        let (a, a_rtcp, b, b_rtcp) = (phone(), phone(), phone(), phone());
        // A advertises an address it does not send from (NAT); B the one it sends from.
        s.set_peer(
            Facing::A,
            Some(Advertised {
                rtp: addr("127.0.0.1:9"),
                rtcp: addr("127.0.0.1:10"),
            }),
            lo,
        );
        s.set_peer(
            Facing::B,
            Some(Advertised {
                rtp: b.local_addr().unwrap(),
                rtcp: b_rtcp.local_addr().unwrap(),
            }),
            lo,
        );
        let rtp = [0x80u8, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42];
        let mut buf = [0u8; 64];
        a.send_to(&rtp, s.address(Facing::A)).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&rtp[..], s.address(Facing::B)));
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&rtp[..], s.address(Facing::A)));
        let rtcp_port = |f| SocketAddr::new(lo, s.address(f).port() + 1);
        let rtcp = [0x80u8, 200, 0, 1, 0, 0, 0, 9];
        a_rtcp.send_to(&rtcp, rtcp_port(Facing::A)).unwrap();
        let (n, _) = b_rtcp.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &rtcp[..]);
        // not RTP: dropped, and the next packet still passes
        a.send_to(b"hello", s.address(Facing::A)).unwrap();
        a.send_to(&rtp, s.address(Facing::A)).unwrap();
        let (n, _) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &rtp[..]);
        let c = s.counters();
        assert_eq!((c.from_a, c.from_b), (2, 1));
        // B sent from what it advertised: its socket is connected to it. A new SDP from B
        // with another address opens the socket up again and the new source is relayed;
        // the old one is not.
        // (the thread connects right after it forwarded the packet)
        let connected = |s: &MediaSession| {
            let t = Instant::now();
            while !s.shared.b.rtp_peer.connected.load(Ordering::Relaxed) {
                if t.elapsed() > std::time::Duration::from_secs(2) {
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            true
        };
        assert!(connected(&s));
        let b2 = phone();
        s.set_peer(
            Facing::B,
            Some(Advertised {
                rtp: b2.local_addr().unwrap(),
                rtcp: b_rtcp.local_addr().unwrap(),
            }),
            lo,
        );
        assert!(!s.shared.b.rtp_peer.connected.load(Ordering::Relaxed));
        b2.send_to(
            &[0x80u8, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 43],
            s.address(Facing::B),
        )
        .unwrap();
        let (n, _) = a.recv_from(&mut buf).unwrap();
        assert_eq!(buf[n - 1], 43);
        assert!(connected(&s));
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        a.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        assert!(a.recv_from(&mut buf).is_err(), "the old source was relayed");
        assert_eq!(pool.in_use(), 2);
        drop(s);
        let t = Instant::now();
        while pool.in_use() != 0 && t.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(pool.in_use(), 0);
    }

    /// A set bound to a wildcard address relays without connecting its sockets (that
    /// would pin their local address).
    #[tokio::test]
    async fn a_wildcard_bound_session_relays_unconnected() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let pool = Arc::new(super::super::ports::PortPool::new(32200, 32299));
        let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let s = open(&relay, any, lo, &pool);
        let (a, b) = (phone(), phone());
        for (side, p) in [(Facing::A, &a), (Facing::B, &b)] {
            let rtp = p.local_addr().unwrap();
            s.set_peer(side, Some(Advertised { rtp, rtcp: rtp }), lo);
        }
        let rtp = [0x80u8, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42];
        let mut buf = [0u8; 64];
        a.send_to(&rtp, s.address(Facing::A)).unwrap();
        assert_eq!(b.recv_from(&mut buf).unwrap().0, rtp.len());
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        assert_eq!(a.recv_from(&mut buf).unwrap().0, rtp.len());
        assert!(!s.shared.a.rtp_peer.connected.load(Ordering::Relaxed));
        assert!(!s.shared.b.rtp_peer.connected.load(Ordering::Relaxed));
    }

    /// A stream found far behind (a full burst queued on its socket) has only the newest
    /// of its backlog relayed, in order; a read that may have left packets says so (the
    /// thread serves that socket again next round).
    #[test]
    fn a_stream_far_behind_loses_its_oldest_packets() {
        use super::super::batch::{RecvBatch, BURST};
        let pool = Arc::new(super::super::ports::PortPool::new(32300, 32399));
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let (mut la, mut lb) = (pool.take().unwrap(), pool.take().unwrap());
        let shared = Shared {
            a: Side::open(lo, &mut la, true).unwrap(),
            b: Side::open(lo, &mut lb, true).unwrap(),
            dropped_total: Arc::default(),
            connects: true,
            v6: false,
            started: Instant::now(),
            leases: (la, lb),
        };
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
        // Reads enough to empty it: the newest KEEP of the backlog only.
        send();
        assert!(shared.forward(0, &mut rx, 4, Instant::now()), "not emptied");
        let newest: Vec<usize> = (BURST + extra - KEEP..BURST + extra).collect();
        assert_eq!(received(), newest);
        // One read a round: a full one leaves more (the thread comes back next round) and
        // relays its newest part; the next read relays the rest.
        send();
        assert!(!shared.forward(0, &mut rx, 1, Instant::now()));
        assert!(shared.forward(0, &mut rx, 1, Instant::now()), "not emptied");
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
        assert!(shared.forward(0, &mut rx, 4, Instant::now()));
        assert_eq!(received(), vec![100, 101, 102]);
    }

    #[test]
    fn only_rtp_shaped_packets_are_plausible() {
        assert!(!plausible(&[0x00; 20], false));
        assert!(plausible(&[0x80; 12], false));
        assert!(!plausible(&[0x80; 11], false));
        assert!(plausible(&[0x80; 8], true));
    }

    /// A stranger (another IP than either party's SDP or SIP) spraying both sides' ports
    /// before and after the parties speak, and right after a party moved, gets nothing
    /// back and changes nothing; its packets are counted.
    #[tokio::test]
    async fn a_stranger_gets_nothing_and_is_counted() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let pool = Arc::new(super::super::ports::PortPool::new(32400, 32499));
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let s = open(&relay, lo, lo, &pool);
        let (a, b, stranger) = (phone(), phone(), phone_at("127.0.0.9"));
        stranger
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        // A behind NAT (its SDP unreachable, its SIP from 127.0.0.1); B exact.
        s.set_peer(
            Facing::A,
            Some(Advertised {
                rtp: addr("192.0.2.1:4000"),
                rtcp: addr("192.0.2.1:4001"),
            }),
            lo,
        );
        let b_rtp = b.local_addr().unwrap();
        s.set_peer(
            Facing::B,
            Some(Advertised {
                rtp: b_rtp,
                rtcp: b_rtp,
            }),
            lo,
        );
        let junk = [0x80u8, 8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 66, 66];
        for f in [Facing::A, Facing::B] {
            stranger.send_to(&junk, s.address(f)).unwrap();
        }
        let rtp = [0x80u8, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42];
        let mut buf = [0u8; 64];
        a.send_to(&rtp, s.address(Facing::A)).unwrap();
        assert_eq!(b.recv_from(&mut buf).unwrap().0, rtp.len());
        assert_eq!(buf[12], 42, "the stranger's packet reached b");
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        let (n, _) = a.recv_from(&mut buf).unwrap();
        assert_eq!((n, buf[12]), (rtp.len(), 42));
        for f in [Facing::A, Facing::B] {
            stranger.send_to(&junk, s.address(f)).unwrap();
        }
        a.send_to(&rtp, s.address(Facing::A)).unwrap();
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        assert_eq!(b.recv_from(&mut buf).unwrap().0, rtp.len());
        assert_eq!(a.recv_from(&mut buf).unwrap().0, rtp.len());
        assert!(
            stranger.recv_from(&mut buf).is_err(),
            "the stranger got a packet"
        );
        // A re-INVITE moves A (a new NAT port): the stranger speaking first right after it
        // is not learnt; A's new source is.
        s.set_peer(
            Facing::A,
            Some(Advertised {
                rtp: addr("192.0.2.1:4002"),
                rtcp: addr("192.0.2.1:4003"),
            }),
            lo,
        );
        let a2 = phone();
        stranger.send_to(&junk, s.address(Facing::A)).unwrap();
        let moved = [0x80u8, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 43];
        a2.send_to(&moved, s.address(Facing::A)).unwrap();
        assert_eq!(b.recv_from(&mut buf).unwrap().0, moved.len());
        assert_eq!(buf[12], 43, "not the moved party's packet");
        b.send_to(&rtp, s.address(Facing::B)).unwrap();
        assert_eq!(a2.recv_from(&mut buf).unwrap().0, rtp.len());
        assert!(
            stranger.recv_from(&mut buf).is_err(),
            "the stranger got a packet"
        );
        // the first two at least (B's socket may be connected by the later two: the kernel
        // drops those unread)
        let c = s.counters();
        assert!(c.dropped >= 3, "{:?}", c);
        assert_eq!((c.from_a, c.from_b), (3, 3));
    }
}

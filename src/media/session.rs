//! One call's relay: a port pair facing the caller (side A) and one facing the callee
//! (side B). What arrives on A's RTP port goes out of B's RTP port to the callee, and the
//! other way round; RTCP the same on the odd ports.
//!
//! Which sources a side accepts and where its packets go is `latch.rs` (strict source:
//! only the party's SDP address or SIP IP).
//!
//! The sockets are served by the relay's forwarding threads (`relay.rs`); the state they
//! share with them and the per-packet forwarding step are `forward.rs`.

use super::forward::{plausible, Shared, Side};
use super::injector::Injector;
use super::latch::{Party, Peer};
use super::ports::Lease;
use super::sdp::Advertised;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    /// Sessions open (counted from `open` until the session's state is dropped).
    pub open: Arc<std::sync::atomic::AtomicUsize>,
}

pub struct MediaSession {
    shared: Arc<Shared>,
    /// The runtime a playback runs on (a session may be used from a receive thread).
    rt: tokio::runtime::Handle,
    /// The session's place in a forwarding thread's table; it leaves it when the session
    /// drops (its sockets stay in the thread's epoll set while they are kept bound).
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
    /// Of the packets relayed either way (RTP and RTCP), those the kernel forwarded
    /// (`[media] kernel_forwarding`).
    pub kernel: u64,
}

impl Shared {
    fn side(&self, f: Facing) -> &Side {
        match f {
            Facing::A => &self.a,
            Facing::B => &self.b,
        }
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

impl MediaSession {
    /// Binds both port pairs on `bind` and starts relaying in one of `relay`'s threads.
    pub fn open(
        relay: &super::relay::Relay,
        turn: super::relay::Turn,
        bind: IpAddr,
        advertised: IpAddr,
        (mut a, mut b): (Lease, Lease),
        sources: &Sources,
    ) -> std::io::Result<MediaSession> {
        let (a_port, b_port) = (a.port, b.port);
        let (side_a, side_b) = (
            Side::open(bind, &mut a, sources.strict)?,
            Side::open(bind, &mut b, sources.strict)?,
        );
        // counted down when `Shared` drops
        sources.open.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            a: side_a,
            b: side_b,
            started: Instant::now(),
            dropped_total: sources.dropped.clone(),
            open: sources.open.clone(),
            connects: !bind.is_unspecified(),
            v6: bind.is_ipv6(),
            leases: (a, b),
            echo: Default::default(),
            tap: Default::default(),
            rec: Default::default(),
            kernel: relay.fastpath.clone(),
            offloads: Default::default(),
            kernel_packets: Default::default(),
        });
        Ok(MediaSession {
            _relay: relay.add(shared.clone(), turn)?,
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
        // (another party: its old source's rules go until it settles again)
        self.shared.kernel_sync();
    }

    /// The call was answered: idleness counts from now (ringing carries no media).
    pub fn answered(&self) {
        let now = self.shared.now_ms();
        self.shared.a.last.store(now, Ordering::Relaxed);
        self.shared.b.last.store(now, Ordering::Relaxed);
    }

    /// How long no packet arrived from either side.
    pub fn idle(&self) -> std::time::Duration {
        self.kernel_refresh();
        let last = self
            .shared
            .a
            .last
            .load(Ordering::Relaxed)
            .max(self.shared.b.last.load(Ordering::Relaxed));
        std::time::Duration::from_millis(self.shared.now_ms().saturating_sub(last))
    }

    /// What the kernel forwarded for this session added to its counters, and its rules
    /// made to follow the routes (once a second for an answered call, by the sweep).
    pub fn kernel_refresh(&self) {
        self.shared.kernel_sync();
        self.shared.kernel_read();
    }

    pub fn counters(&self) -> Counters {
        self.shared.kernel_read();
        Counters {
            a_port: self.a_port,
            b_port: self.b_port,
            from_a: self.shared.a.packets.load(Ordering::Relaxed),
            from_b: self.shared.b.packets.load(Ordering::Relaxed),
            dropped: self.shared.a.dropped.load(Ordering::Relaxed)
                + self.shared.b.dropped.load(Ordering::Relaxed),
            kernel: self.shared.kernel_packets.load(Ordering::Relaxed),
        }
    }
}

impl MediaSession {
    /// Sends `frames` (160-byte G.711 payloads, payload type `pt`) to the caller's side,
    /// one every 20 ms from the relay port facing it, with a fresh SSRC, sequence and
    /// timestamp (+160 a frame) and the marker on the first; then runs `then`. The session
    /// lives until the end of the playback.
    /// Makes this an echo test: the caller's (side A's) RTP and RTCP go back to it.
    pub fn echo(&self) {
        self.shared
            .echo
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.shared.kernel_sync();
    }

    /// Side A's RTP from now on goes to the returned queue (`queue` packets deep) instead
    /// of side B, and nothing is relayed: vozbox is A's other party (`app.rs`).
    pub(super) fn take_a(&self, queue: usize) -> tokio::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = tokio::sync::mpsc::channel(queue);
        let _ = self.shared.tap.set(super::forward::Tap {
            tx,
            lost: AtomicU64::new(0),
        });
        self.shared.kernel_sync();
        rx
    }

    /// Copies of this session's packets go to `tap` (a recording, or its code watched
    /// for) from now on; `None` stops them.
    pub fn set_rec_tap(&self, tap: Option<Arc<super::rectap::RecTap>>) {
        self.shared.rec.store(tap);
        // a recording sees every packet: the kernel forwards none of them meanwhile
        self.shared.kernel_sync();
    }

    /// A handle that sends packets to either party from the relay ports facing it (a
    /// recording's beeps), and tells the session's time.
    pub fn injector(&self) -> Injector {
        Injector {
            shared: self.shared.clone(),
        }
    }

    /// Side-A packets the application's queue had no room for.
    pub(super) fn tap_lost(&self) -> u64 {
        self.shared
            .tap
            .get()
            .map(|t| t.lost.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Sends one packet to side A's party from the relay port facing it.
    pub(super) fn send_a(&self, packet: &[u8]) {
        let a = &self.shared.a;
        if let (Some(d), Some((rtp, _))) = (a.rtp_peer.current(), a.sockets.as_ref()) {
            let _ = rtp.send_to(packet, d);
        }
    }

    pub fn play(
        self,
        frames: Arc<super::prompts::Prompt>,
        pt: u8,
        then: impl FnOnce() + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let rt = self.rt.clone();
        rt.spawn(async move {
            let list = if pt == 0 { &frames.pcmu } else { &frames.pcma };
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
            // A late tick delays the rest rather than bursting to catch up.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut stream = super::stream::Stream::new(pt);
            for (i, frame) in list.iter().enumerate() {
                tick.tick().await;
                let pkt = stream.packet(frame, i == 0);
                let a = &self.shared.a;
                if let (Some(d), Some((rtp, _))) = (a.rtp_peer.current(), a.sockets.as_ref()) {
                    let _ = rtp.send_to(&pkt, d);
                }
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

impl Drop for MediaSession {
    fn drop(&mut self) {
        // The call is over for the kernel now, not when the forwarding thread lets go of
        // the session's state (up to 100 ms later).
        self.shared.kernel_release();
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
        let turn = relay.next();
        let leases = (
            pool.take(turn.watch).unwrap(),
            pool.take(turn.watch).unwrap(),
        );
        MediaSession::open(relay, turn, bind, adv, leases, &sources).unwrap()
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
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pool = super::super::ports::test_pool(lo, 32100, 32199);
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

    /// Sessions that relay nothing give their ports back when they end, whether the thread
    /// sleeps with no deadline (it went to sleep before they were added: the first end
    /// wakes it) or with `REAP` (a session left: the second end is taken at that deadline,
    /// without a wake-up).
    #[tokio::test]
    async fn quiet_sessions_give_their_ports_back() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pool = super::super::ports::test_pool(lo, 32500, 32599);
        let (s1, s2) = (open(&relay, lo, lo, &pool), open(&relay, lo, lo, &pool));
        let back_to = |n: usize| {
            let t = Instant::now();
            while pool.in_use() != n && t.elapsed() < std::time::Duration::from_secs(3) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            pool.in_use()
        };
        assert_eq!(back_to(4), 4);
        drop(s1);
        assert_eq!(back_to(2), 2);
        drop(s2);
        assert_eq!(back_to(0), 0);
    }

    /// A set bound to a wildcard address relays without connecting its sockets (that
    /// would pin their local address).
    #[tokio::test]
    async fn a_wildcard_bound_session_relays_unconnected() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pool = super::super::ports::test_pool(any, 32200, 32299);
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

    /// A stranger (another IP than either party's SDP or SIP) spraying both sides' ports
    /// before and after the parties speak, and right after a party moved, gets nothing
    /// back and changes nothing; its packets are counted.
    #[tokio::test]
    async fn a_stranger_gets_nothing_and_is_counted() {
        let relay = super::super::relay::Relay::start(1, std::time::Duration::ZERO).unwrap();
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pool = super::super::ports::test_pool(lo, 32400, 32499);
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

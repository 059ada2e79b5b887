//! One call's relay: a port pair facing the caller (side A) and one facing the callee
//! (side B). What arrives on A's RTP port goes out of B's RTP port to the callee, and the
//! other way round; RTCP the same on the odd ports.
//!
//! Latching (symmetric RTP, as rtpengine's heuristic learning): a side sends to the address
//! its SDP advertised until packets arrive on that side's port. For `LEARNING_MS` after the
//! first packet the side learns: a source that is exactly the advertised address wins for
//! good; otherwise the latest source wins (a phone behind NAT that advertised a private
//! address still gets audio). After learning only that source is accepted (strict source:
//! someone spraying the port is dropped). A new SDP with another address starts learning
//! again; the same SDP repeated (a session refresh, a retransmitted ACK) changes nothing.
//!
//! One task per socket. Per packet no allocation and no lock: each socket's peer state is
//! one immutable value behind an `ArcSwap`, replaced whole (compare-and-swap) only while
//! learning; counters are atomics.

use super::ports::Lease;
use super::sdp::Advertised;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;

/// How long after its first packet a side keeps learning where it really sends from.
const LEARNING_MS: u64 = 3_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facing {
    /// The caller's side.
    A,
    /// The callee's side.
    B,
}

/// Where one socket's peer is. Replaced whole, never two stores that could interleave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PeerState {
    /// The address of the peer's latest SDP.
    advertised: Option<SocketAddr>,
    /// Where packets for this peer go; once learning ended, the only source accepted.
    current: Option<SocketAddr>,
    /// Learning ends at this many ms after the session started (0: no packet yet).
    learn_until: u64,
    /// `current` is a source that sent from exactly the advertised address.
    exact: bool,
}

#[derive(Default)]
struct Peer {
    state: ArcSwap<PeerState>,
}

impl Peer {
    /// Whether a packet from `src` at `now_ms` comes from this socket's peer; learns.
    fn accept(&self, src: SocketAddr, now_ms: u64) -> bool {
        // A few rounds at most: only a concurrent `set_peer` makes the swap fail.
        for _ in 0..4 {
            let g = self.state.load();
            let st = **g;
            let learning = st.learn_until == 0 || now_ms < st.learn_until;
            if st.current == Some(src) && (st.exact || !learning) {
                return true;
            }
            if !learning {
                return false;
            }
            let exact = st.advertised == Some(src);
            if st.exact && !exact {
                // The advertised source already spoke: it keeps the stream.
                return false;
            }
            let next = PeerState {
                current: Some(src),
                learn_until: if st.learn_until == 0 {
                    now_ms + LEARNING_MS
                } else {
                    st.learn_until
                },
                exact,
                ..st
            };
            if next == st {
                return true;
            }
            let prev = self.state.compare_and_swap(&g, Arc::new(next));
            if std::ptr::eq(Arc::as_ptr(&*prev), Arc::as_ptr(&*g)) {
                return true;
            }
        }
        false
    }

    fn current(&self) -> Option<SocketAddr> {
        self.state.load().current
    }

    /// A new SDP: another address starts learning again; the same one changes nothing.
    fn advertise(&self, addr: SocketAddr) {
        self.state.rcu(|st| {
            if st.advertised == Some(addr) {
                **st
            } else {
                PeerState {
                    advertised: Some(addr),
                    current: Some(addr),
                    learn_until: 0,
                    exact: false,
                }
            }
        });
    }
}

struct Side {
    /// RTP and RTCP sockets; taken back into the port lease when the session is dropped.
    sockets: Option<super::ports::Sockets>,
    rtp_peer: Peer,
    rtcp_peer: Peer,
    /// RTP packets received on this side (from its peer).
    packets: AtomicU64,
    /// Milliseconds since the session started at the last packet (RTP or RTCP) received
    /// on this side.
    last: AtomicU64,
}

struct Shared {
    a: Side,
    b: Side,
    started: Instant,
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
    /// The runtime its tasks run on (a session may be used from a receive thread).
    rt: tokio::runtime::Handle,
    tasks: Vec<tokio::task::AbortHandle>,
    advertised: std::net::IpAddr,
    a_port: u16,
    b_port: u16,
}

/// Packet counters of a session, for `vozbox calls`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Counters {
    pub a_port: u16,
    pub b_port: u16,
    /// Packets from the caller (relayed to the callee).
    pub from_a: u64,
    /// Packets from the callee (relayed to the caller).
    pub from_b: u64,
}

fn bind(ip: std::net::IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

/// Empties a reused socket of whatever arrived after its last call.
fn drain(s: &UdpSocket) {
    let mut buf = [0u8; 2048];
    for _ in 0..1024 {
        if s.try_recv_from(&mut buf).is_err() {
            return;
        }
    }
}

impl Side {
    /// The lease's sockets when it kept them bound (drained), else new ones.
    fn open(ip: std::net::IpAddr, lease: &mut Lease) -> std::io::Result<Side> {
        let sockets = match lease.sockets.take() {
            Some((rtp, rtcp)) => {
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
            rtp_peer: Peer::default(),
            rtcp_peer: Peer::default(),
            packets: AtomicU64::new(0),
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

/// The relay's per-packet decision for one socket, as the forwarding task takes it: is the
/// packet RTP/RTCP-shaped, and does it come from that socket's (latched) peer. Exposed for
/// the fuzz target of the packet path.
#[doc(hidden)]
#[derive(Default)]
pub struct PacketGate {
    peer: Peer,
}

#[doc(hidden)]
impl PacketGate {
    pub fn new(advertised: SocketAddr) -> PacketGate {
        let g = PacketGate::default();
        g.peer.advertise(advertised);
        g
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
        self.peer.state.load().learn_until
    }
}

/// An RTP (or RTCP) packet: version 2 and a whole fixed header.
fn plausible(p: &[u8], rtcp: bool) -> bool {
    p.len() >= if rtcp { 8 } else { 12 } && p[0] >> 6 == 2
}

/// Receives on one socket of side `from` and sends out of the same kind of socket of the
/// other side, to its peer.
async fn pump(shared: Arc<Shared>, from: Facing, rtcp: bool) {
    let to = match from {
        Facing::A => Facing::B,
        Facing::B => Facing::A,
    };
    let mut buf = [0u8; 2048];
    let mut errors = 0u32;
    loop {
        let side = shared.side(from);
        let Some((rtp_sock, rtcp_sock)) = side.sockets.as_ref() else {
            return;
        };
        let (inbound, peer) = if rtcp {
            (rtcp_sock, &side.rtcp_peer)
        } else {
            (rtp_sock, &side.rtp_peer)
        };
        let (n, src) = match inbound.recv_from(&mut buf).await {
            Ok(x) => {
                errors = 0;
                x
            }
            // e.g. ECONNREFUSED after an ICMP port unreachable for an earlier send; a
            // socket that keeps failing must not spin.
            Err(_) => {
                errors += 1;
                if errors > 16 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                continue;
            }
        };
        let packet = &buf[..n];
        let now = shared.now_ms();
        if !plausible(packet, rtcp) || !peer.accept(src, now) {
            continue;
        }
        if !rtcp {
            side.packets.fetch_add(1, Ordering::Relaxed);
        }
        side.last.store(now, Ordering::Relaxed);
        let other = shared.side(to);
        let Some((o_rtp, o_rtcp)) = other.sockets.as_ref() else {
            return;
        };
        let (outbound, dest) = if rtcp {
            (o_rtcp, &other.rtcp_peer)
        } else {
            (o_rtp, &other.rtp_peer)
        };
        if let Some(d) = dest.current() {
            // A full socket buffer drops this packet (the oldest queued go out first).
            let _ = outbound.try_send_to(packet, d);
        }
    }
}

impl MediaSession {
    /// Binds both port pairs on `bind` and starts relaying. Must run inside the runtime.
    pub fn open(
        bind: std::net::IpAddr,
        advertised: std::net::IpAddr,
        mut a: Lease,
        mut b: Lease,
    ) -> std::io::Result<MediaSession> {
        let (a_port, b_port) = (a.port, b.port);
        let shared = Arc::new(Shared {
            a: Side::open(bind, &mut a)?,
            b: Side::open(bind, &mut b)?,
            started: Instant::now(),
            leases: (a, b),
        });
        let mut tasks = Vec::with_capacity(4);
        for (from, rtcp) in [
            (Facing::A, false),
            (Facing::A, true),
            (Facing::B, false),
            (Facing::B, true),
        ] {
            tasks.push(tokio::spawn(pump(shared.clone(), from, rtcp)).abort_handle());
        }
        Ok(MediaSession {
            shared,
            rt: tokio::runtime::Handle::current(),
            tasks,
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

    /// What `side`'s peer advertised in its latest SDP. `None` (hold with `c=0.0.0.0`)
    /// keeps the current peer.
    pub fn set_peer(&self, side: Facing, adv: Option<Advertised>) {
        let Some(adv) = adv else { return };
        let s = self.shared.side(side);
        s.rtp_peer.advertise(adv.rtp);
        s.rtcp_peer.advertise(adv.rtcp);
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
                    let _ = rtp.send_to(&pkt, d).await;
                }
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(super::prompts::FRAME as u32);
            }
            tick.tick().await;
            // The relay goes (ports back) before `then` runs: it may end the call.
            drop(self);
            then();
        })
        .abort_handle()
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latching_learns_then_is_strict() {
        let p = Peer::default();
        p.advertise(addr("192.168.1.20:7078"));
        assert_eq!(p.current(), Some(addr("192.168.1.20:7078")));
        // NAT: the first source is taken, then the latest while learning
        assert!(p.accept(addr("203.0.113.7:40000"), 100));
        assert!(p.accept(addr("203.0.113.8:40001"), 200));
        assert_eq!(p.current(), Some(addr("203.0.113.8:40001")));
        // after learning: strict source
        assert!(!p.accept(addr("198.51.100.1:1234"), 100 + LEARNING_MS + 1));
        assert!(p.accept(addr("203.0.113.8:40001"), 100 + LEARNING_MS + 1));
        // the same SDP again changes nothing; a new one learns again
        p.advertise(addr("192.168.1.20:7078"));
        assert_eq!(p.current(), Some(addr("203.0.113.8:40001")));
        p.advertise(addr("192.168.1.20:7080"));
        assert_eq!(p.current(), Some(addr("192.168.1.20:7080")));
    }

    #[test]
    fn the_advertised_source_wins_over_a_sprayer() {
        let p = Peer::default();
        p.advertise(addr("10.0.0.5:4000"));
        assert!(p.accept(addr("198.51.100.66:9999"), 10)); // attacker first
        assert!(p.accept(addr("10.0.0.5:4000"), 20)); // the real peer
        assert!(!p.accept(addr("198.51.100.66:9999"), 30)); // attacker dropped for good
        assert_eq!(p.current(), Some(addr("10.0.0.5:4000")));
        assert!(!plausible(&[0x00; 20], false));
        assert!(plausible(&[0x80; 12], false));
    }
}

//! One call's relay: a port pair facing the caller (side A) and one facing the callee
//! (side B). What arrives on A's RTP port goes out of B's RTP port to the callee, and the
//! other way round; RTCP the same on the odd ports.
//!
//! Symmetric latching: a side sends to the address its SDP advertised until the first
//! packet arrives on that side's port; from then on it sends to the address that packet
//! came from (a phone behind NAT that advertised a private address still gets audio), and
//! packets from any other source are dropped. A new SDP from that side (re-INVITE, port
//! change) unlatches it again.
//!
//! One task per socket; per packet no allocation (the buffer lives in the task) and no
//! lock (peers are swapped atomically, counters are atomics).

use super::ports::Lease;
use super::sdp::Advertised;
use arc_swap::ArcSwapOption;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facing {
    /// The caller's side.
    A,
    /// The callee's side.
    B,
}

/// Where one socket's peer is and whether it is latched.
#[derive(Default)]
struct Peer {
    addr: ArcSwapOption<SocketAddr>,
    latched: AtomicBool,
}

struct Side {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    rtp_peer: Peer,
    rtcp_peer: Peer,
    /// Packets received on this side (from its peer).
    packets: AtomicU64,
    /// Milliseconds since the session started at the last packet received on this side.
    last: AtomicU64,
}

struct Shared {
    a: Side,
    b: Side,
    started: Instant,
}

pub struct MediaSession {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::AbortHandle>,
    advertised: std::net::IpAddr,
    a_port: u16,
    b_port: u16,
    _leases: (Lease, Lease),
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

impl Side {
    fn open(ip: std::net::IpAddr, port: u16) -> std::io::Result<Side> {
        Ok(Side {
            rtp: bind(ip, port)?,
            rtcp: bind(ip, port + 1)?,
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
}

/// Receives on one socket of side `from` and sends out of the same kind of socket of the
/// other side, to its peer.
async fn pump(shared: Arc<Shared>, from: Facing, rtcp: bool) {
    let to = match from {
        Facing::A => Facing::B,
        Facing::B => Facing::A,
    };
    let mut buf = [0u8; 2048];
    loop {
        let (inbound, peer) = {
            let s = shared.side(from);
            if rtcp {
                (&s.rtcp, &s.rtcp_peer)
            } else {
                (&s.rtp, &s.rtp_peer)
            }
        };
        let (n, src) = match inbound.recv_from(&mut buf).await {
            Ok(x) => x,
            // e.g. ECONNREFUSED after an ICMP port unreachable for an earlier send
            Err(_) => continue,
        };
        if peer.latched.load(Ordering::Relaxed) {
            if peer.addr.load().as_deref() != Some(&src) {
                continue;
            }
        } else {
            peer.addr.store(Some(Arc::new(src)));
            peer.latched.store(true, Ordering::Relaxed);
        }
        let side = shared.side(from);
        if !rtcp {
            side.packets.fetch_add(1, Ordering::Relaxed);
            side.last.store(
                shared.started.elapsed().as_millis() as u64,
                Ordering::Relaxed,
            );
        }
        let other = shared.side(to);
        let (outbound, dest) = if rtcp {
            (&other.rtcp, &other.rtcp_peer)
        } else {
            (&other.rtp, &other.rtp_peer)
        };
        let dest = dest.addr.load();
        if let Some(d) = dest.as_deref() {
            // A full socket buffer drops this packet (the oldest queued go out first).
            let _ = outbound.try_send_to(&buf[..n], *d);
        }
    }
}

impl MediaSession {
    /// Binds both port pairs on `bind` and starts relaying. Must run inside the runtime.
    pub fn open(
        bind: std::net::IpAddr,
        advertised: std::net::IpAddr,
        a: Lease,
        b: Lease,
    ) -> std::io::Result<MediaSession> {
        let shared = Arc::new(Shared {
            a: Side::open(bind, a.port)?,
            b: Side::open(bind, b.port)?,
            started: Instant::now(),
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
            tasks,
            advertised,
            a_port: a.port,
            b_port: b.port,
            _leases: (a, b),
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

    /// What `side`'s peer advertised in its latest SDP: where to send until it latches.
    /// `None` (hold with `c=0.0.0.0`) keeps the current peer.
    pub fn set_peer(&self, side: Facing, adv: Option<Advertised>) {
        let Some(adv) = adv else { return };
        let s = self.shared.side(side);
        for (peer, addr) in [(&s.rtp_peer, adv.rtp), (&s.rtcp_peer, adv.rtcp)] {
            if peer.addr.load().as_deref() != Some(&addr) {
                peer.addr.store(Some(Arc::new(addr)));
                peer.latched.store(false, Ordering::Relaxed);
            }
        }
    }

    /// How long no packet arrived from either side.
    pub fn idle(&self) -> std::time::Duration {
        let last = self
            .shared
            .a
            .last
            .load(Ordering::Relaxed)
            .max(self.shared.b.last.load(Ordering::Relaxed));
        self.shared
            .started
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
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

impl Drop for MediaSession {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

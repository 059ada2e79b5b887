//! Where one relay socket's peer is, and which sources it accepts (latching with a strict
//! source).
//!
//! A side's party is known by two things: the address of its latest SDP, and the IP its
//! SIP comes from (the flow of its registration or of the INVITE / response that carried
//! that SDP). With `strict` (the default, `[media] strict_source`), a packet belongs to the
//! party only when it comes from exactly the SDP address, or from any port of the SIP IP
//! (a phone behind NAT, whose SDP names a private address). Any other source is dropped
//! before it changes anything, during learning and after: a stranger spraying the relay's
//! ports (the "RTP bleed" of 2017) neither hears the call nor cuts it.
//!
//! Among the sources that belong, latching works as rtpengine's heuristic learning: the
//! relay sends to the SDP address until packets arrive; for `LEARNING_MS` after the first
//! packet the latest source wins, but a source that is exactly the SDP address wins for
//! good; after learning only the latched source is accepted. A new SDP (another address,
//! or the same address from another SIP IP) starts learning again; the same SDP repeated
//! (a session refresh, a retransmitted ACK) changes nothing.
//!
//! Without `strict`, any source may be learnt (the behaviour before strict sources; a
//! deployment whose media comes from addresses no SDP or SIP names needs it).
//!
//! Per packet no allocation and no lock: the state is one immutable value behind an
//! `ArcSwap`, replaced whole (compare-and-swap) only while learning.

use arc_swap::ArcSwap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How long after its first packet a side keeps learning where it really sends from.
pub(super) const LEARNING_MS: u64 = 3_000;

/// Who a side's party is: what its latest SDP said and where its SIP comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    /// The address of the party's latest SDP (RTP or RTCP, as the socket is).
    pub sdp: SocketAddr,
    /// The IP the party's SIP messages come from; `None` when unknown (only the SDP
    /// address is then accepted).
    pub signalling: Option<IpAddr>,
}

/// The state of one socket's peer. Replaced whole, never two stores that could interleave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PeerState {
    /// The address of the peer's latest SDP.
    advertised: Option<SocketAddr>,
    /// The IP the peer's SIP comes from (canonical: no IPv4-mapped IPv6).
    signalling: Option<IpAddr>,
    /// Where packets for this peer go; once learning ended, the only source accepted.
    current: Option<SocketAddr>,
    /// Learning ends at this many ms after the session started (0: no packet yet).
    learn_until: u64,
    /// `current` is a source that sent from exactly the advertised address.
    exact: bool,
}

impl PeerState {
    /// Whether `src` is the party's: its SDP address exactly, or its SIP IP.
    fn belongs(&self, src: SocketAddr) -> bool {
        // (a dual-stack socket reports an IPv4 source as IPv4-mapped IPv6)
        let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        self.advertised.map(canonical) == Some(canonical(src))
            || self.signalling == Some(src.ip().to_canonical())
    }
}

#[derive(Default)]
pub(super) struct Peer {
    state: ArcSwap<PeerState>,
    /// Only the party's sources may be learnt (`[media] strict_source`).
    strict: bool,
    /// The socket is connected to the settled source (`connect`): the kernel drops every
    /// other source before it is read, and sends take the connection's cached route.
    pub(super) connected: AtomicBool,
    /// Held while the socket is connected or disconnected, so that a new SDP and a source
    /// settling at the same moment do not cross. Never taken per packet.
    switch: Mutex<()>,
}

impl Peer {
    pub(super) fn new(strict: bool) -> Peer {
        Peer {
            strict,
            ..Peer::default()
        }
    }

    /// Whether a packet from `src` at `now_ms` comes from this socket's peer; learns.
    pub(super) fn accept(&self, src: SocketAddr, now_ms: u64) -> bool {
        // A few rounds at most: only a concurrent `readvertise` makes the swap fail.
        for _ in 0..4 {
            let g = self.state.load();
            let st = **g;
            if self.strict && !st.belongs(src) {
                // A stranger: dropped before it changes anything.
                return false;
            }
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

    /// Where packets for this peer go.
    pub(super) fn current(&self) -> Option<SocketAddr> {
        self.state.load().current
    }

    /// When learning ends (ms; 0 = no packet yet).
    pub(super) fn learning_until(&self) -> u64 {
        self.state.load().learn_until
    }

    /// Whether `src` is this peer for good: the advertised address itself, or the source
    /// latched when learning ended.
    fn settled(&self, src: SocketAddr, now_ms: u64) -> bool {
        let st = self.state.load();
        st.current == Some(src) && (st.exact || (st.learn_until != 0 && now_ms >= st.learn_until))
    }

    /// Connects `sock` to `src` once `src` has settled (checked again under the switch:
    /// a new SDP may just have come). Never called for a socket bound to a wildcard
    /// address: connecting would pin its local address to the one routed towards `src`,
    /// and packets to another local address (a virtual IP the set advertises, another
    /// IPv6 address) would no longer reach it. Whether this call connected it.
    pub(super) fn connect(&self, sock: &UdpSocket, src: SocketAddr, now_ms: u64) -> bool {
        if self.connected.load(Ordering::Relaxed) || !self.settled(src, now_ms) {
            return false;
        }
        let _g = self.switch.lock().unwrap_or_else(|e| e.into_inner());
        if !self.connected.load(Ordering::Relaxed)
            && self.settled(src, now_ms)
            && sock.connect(src).is_ok()
        {
            self.connected.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Sends `packet` to this peer out of `sock` (this peer's socket).
    /// Whether the packet went out (not: no destination yet, or the send failed).
    pub(super) fn send(&self, sock: &UdpSocket, packet: &[u8]) -> bool {
        // A full socket buffer drops this packet (the oldest queued go out first).
        if self.connected.load(Ordering::Relaxed) {
            sock.send(packet).is_ok()
        } else if let Some(d) = self.current() {
            sock.send_to(packet, d).is_ok()
        } else {
            false
        }
    }

    /// A new SDP for the peer of `sock`: see `advertise`; a connected socket is
    /// disconnected when the party changes, so that the new source can be learnt.
    pub(super) fn readvertise(&self, party: Party, sock: Option<&UdpSocket>) {
        let _g = self.switch.lock().unwrap_or_else(|e| e.into_inner());
        if self.advertise(party) && self.connected.swap(false, Ordering::Relaxed) {
            if let Some(sock) = sock {
                let _ = rustix::net::connect_unspec(sock);
            }
        }
    }

    /// A new SDP: another party (address, or SIP IP) starts learning again; the same one
    /// changes nothing. Whether it changed.
    pub(super) fn advertise(&self, party: Party) -> bool {
        let signalling = party.signalling.map(|ip| ip.to_canonical());
        let before = self.state.rcu(|st| {
            if st.advertised == Some(party.sdp) && st.signalling == signalling {
                **st
            } else {
                PeerState {
                    advertised: Some(party.sdp),
                    signalling,
                    current: Some(party.sdp),
                    learn_until: 0,
                    exact: false,
                }
            }
        });
        before.advertised != Some(party.sdp) || before.signalling != signalling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn party(sdp: &str, sip: Option<&str>) -> Party {
        Party {
            sdp: addr(sdp),
            signalling: sip.map(|s| s.parse().unwrap()),
        }
    }

    #[test]
    fn latching_learns_then_is_strict() {
        let p = Peer::new(true);
        p.advertise(party("192.168.1.20:7078", Some("203.0.113.7")));
        assert_eq!(p.current(), Some(addr("192.168.1.20:7078")));
        // NAT: the first source of the SIP IP is taken, then the latest while learning
        assert!(p.accept(addr("203.0.113.7:40000"), 100));
        assert!(p.accept(addr("203.0.113.7:40001"), 200));
        assert_eq!(p.current(), Some(addr("203.0.113.7:40001")));
        // after learning: only the latched source
        assert!(!p.accept(addr("203.0.113.7:40000"), 100 + LEARNING_MS + 1));
        assert!(p.accept(addr("203.0.113.7:40001"), 100 + LEARNING_MS + 1));
        // the same SDP again changes nothing; a new one learns again
        assert!(!p.advertise(party("192.168.1.20:7078", Some("203.0.113.7"))));
        assert_eq!(p.current(), Some(addr("203.0.113.7:40001")));
        assert!(p.advertise(party("192.168.1.20:7080", Some("203.0.113.7"))));
        assert_eq!(p.current(), Some(addr("192.168.1.20:7080")));
    }

    /// The RTP bleed: a stranger's packets, before and during learning, change nothing.
    #[test]
    fn a_stranger_is_never_learnt() {
        let p = Peer::new(true);
        // before any SDP nobody belongs
        assert!(!p.accept(addr("198.51.100.66:9999"), 0));
        assert_eq!(p.current(), None);
        p.advertise(party("192.0.2.1:4000", Some("203.0.113.7")));
        // first packet of all, and again during the party's learning
        assert!(!p.accept(addr("198.51.100.66:9999"), 10));
        assert_eq!(p.learning_until(), 0, "a stranger started learning");
        assert!(p.accept(addr("203.0.113.7:50000"), 20));
        assert!(!p.accept(addr("198.51.100.66:9999"), 30));
        assert_eq!(p.current(), Some(addr("203.0.113.7:50000")));
        // a stranger using the SDP's port on another IP is a stranger too
        assert!(!p.accept(addr("198.51.100.66:4000"), 40));
        // after learning as well
        assert!(!p.accept(addr("198.51.100.66:9999"), 20 + LEARNING_MS + 1));
        assert_eq!(p.current(), Some(addr("203.0.113.7:50000")));
    }

    /// A carrier's media gateway: another IP than its SIP, named exactly by its SDP.
    #[test]
    fn the_exact_sdp_address_is_accepted_from_another_ip() {
        let p = Peer::new(true);
        p.advertise(party("198.51.100.20:30000", Some("203.0.113.1")));
        assert!(p.accept(addr("198.51.100.20:30000"), 10));
        // its neighbour on the gateway's IP but another port is not the party
        assert!(!p.accept(addr("198.51.100.20:30002"), 20));
        assert_eq!(p.current(), Some(addr("198.51.100.20:30000")));
    }

    /// IPv4 SIP over an IPv6 socket (mapped) is the same IP as IPv4 RTP.
    #[test]
    fn a_mapped_sip_address_matches_plain_ipv4_media() {
        let p = Peer::new(true);
        p.advertise(party("192.0.2.1:4000", Some("::ffff:203.0.113.7")));
        assert!(p.accept(addr("203.0.113.7:50000"), 10));
    }

    /// The same SDP address from another SIP IP (another branch of a fork behind another
    /// NAT) is another party: learning starts again.
    #[test]
    fn the_same_sdp_from_another_sip_ip_learns_again() {
        let p = Peer::new(true);
        p.advertise(party("192.168.1.20:7078", Some("203.0.113.7")));
        assert!(p.accept(addr("203.0.113.7:40000"), 10));
        assert!(p.advertise(party("192.168.1.20:7078", Some("203.0.113.9"))));
        assert!(!p.accept(addr("203.0.113.7:40000"), 20));
        assert!(p.accept(addr("203.0.113.9:40000"), 30));
    }

    #[test]
    fn the_advertised_source_wins_over_a_sprayer() {
        // without strict sources: anyone may be learnt, until the advertised address speaks
        let p = Peer::new(false);
        p.advertise(party("10.0.0.5:4000", None));
        assert!(p.accept(addr("198.51.100.66:9999"), 10)); // attacker first
        assert!(p.accept(addr("10.0.0.5:4000"), 20)); // the real peer
        assert!(!p.accept(addr("198.51.100.66:9999"), 30)); // attacker dropped for good
        assert_eq!(p.current(), Some(addr("10.0.0.5:4000")));
    }
}

//! Which way a packet from the relay's address to a party leaves this machine, as the
//! kernel itself decides it: a netlink `RTM_GETROUTE` request, the question
//! `ip route get <party> from <relay address> ipproto udp` asks. The answer follows every
//! routing table and policy rule on source, destination, protocol and user, as the
//! forwarding threads' own packets do (not rules on ports, TOS or firewall marks: the
//! question has none). Used by the kernel fast path (`fastpath.rs`) to pick the interface
//! and the next hop a rule sends to; never per packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

/// The way out of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    /// The destination is one of this machine's addresses.
    Local,
    /// Out of the interface with index `oif`, to `next_hop`: the route's gateway, or the
    /// destination itself on a link of this machine.
    Out { oif: u32, next_hop: IpAddr },
}

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_VIA: u16 = 18;
const RTA_IP_PROTO: u16 = 27;
/// An attribute's type without its flags (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`).
const TYPE_MASK: u16 = 0x3fff;
const RTN_UNICAST: u8 = 1;
const RTN_LOCAL: u8 = 2;
/// A netlink header (16 bytes), then a `struct rtmsg` (12).
const HEADER: usize = 16;
const RTMSG: usize = 12;

/// A netlink route socket, asked one question at a time.
pub(super) struct RouteSocket {
    fd: OwnedFd,
    seq: u32,
}

impl RouteSocket {
    pub(super) fn open() -> std::io::Result<RouteSocket> {
        use rustix::net::{socket_with, AddressFamily, SocketFlags, SocketType};
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok(RouteSocket { fd, seq: 0 })
    }

    /// How a packet from `from` (an address of this machine) to `to` leaves. None: no
    /// route, a route of another kind (unreachable, blackhole, broadcast…), addresses of
    /// two families, or no answer.
    pub(super) fn way(&mut self, from: IpAddr, to: IpAddr) -> Option<Way> {
        use rustix::net::{netlink::SocketAddrNetlink, recv, sendto, RecvFlags, SendFlags};
        self.seq = self.seq.wrapping_add(1);
        let req = request(self.seq, from, to)?;
        sendto(
            &self.fd,
            &req,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .ok()?;
        // The kernel answers within `sendto` (rtnetlink is synchronous): the answer is
        // queued by now, and nothing waits for one that is not. Anything queued before it
        // (an earlier question's answer left unread) is skipped.
        let mut buf = [0u8; 4096];
        for _ in 0..4 {
            let (n, _) = recv(&self.fd, &mut buf[..], RecvFlags::DONTWAIT).ok()?;
            match answer(&buf[..n.min(buf.len())], self.seq, to) {
                Answer::Other => continue,
                Answer::Way(w) => return w,
            }
        }
        None
    }
}

/// `RTM_GETROUTE` for a UDP packet to `to` from `from` (None: two families).
fn request(seq: u32, from: IpAddr, to: IpAddr) -> Option<Vec<u8>> {
    let (family, bits, to, from) = match (to, from) {
        (IpAddr::V4(t), IpAddr::V4(f)) => (AF_INET, 32, t.octets().to_vec(), f.octets().to_vec()),
        (IpAddr::V6(t), IpAddr::V6(f)) => (AF_INET6, 128, t.octets().to_vec(), f.octets().to_vec()),
        _ => return None,
    };
    let attr = 4 + to.len();
    let len = HEADER + RTMSG + 2 * attr + 8;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; flags
    m.extend_from_slice(&[family, bits, bits, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&0u32.to_ne_bytes());
    for (kind, ip) in [(RTA_DST, to), (RTA_SRC, from)] {
        m.extend_from_slice(&(attr as u16).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&ip);
    }
    // (a one-byte attribute, padded to four)
    m.extend_from_slice(&5u16.to_ne_bytes());
    m.extend_from_slice(&RTA_IP_PROTO.to_ne_bytes());
    m.extend_from_slice(&[17, 0, 0, 0]);
    Some(m)
}

enum Answer {
    /// Not the answer to this question.
    Other,
    Way(Option<Way>),
}

/// Reads the kernel's answer to question `seq` (for destination `to`) out of one
/// datagram.
fn answer(buf: &[u8], seq: u32, to: IpAddr) -> Answer {
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_ne_bytes(buf.get(i..i + 2)?.try_into().ok()?)) };
    let u32_at =
        |i: usize| -> Option<u32> { Some(u32::from_ne_bytes(buf.get(i..i + 4)?.try_into().ok()?)) };
    let mut at = 0;
    while let (Some(len), Some(kind), Some(s)) = (u32_at(at), u16_at(at + 4), u32_at(at + 8)) {
        let len = len as usize;
        let Some(msg) = buf
            .get(at..at.saturating_add(len))
            .filter(|_| len >= HEADER)
        else {
            return Answer::Other;
        };
        if s == seq {
            return Answer::Way(match kind {
                RTM_NEWROUTE => route(msg, to),
                // no route (ENETUNREACH, EHOSTUNREACH…)
                NLMSG_ERROR => None,
                _ => None,
            });
        }
        at += (len + 3) & !3;
    }
    Answer::Other
}

/// The way an `RTM_NEWROUTE` message for destination `to` says.
fn route(msg: &[u8], to: IpAddr) -> Option<Way> {
    let family = if to.is_ipv4() { AF_INET } else { AF_INET6 };
    if *msg.get(HEADER)? != family {
        return None;
    }
    let kind = *msg.get(HEADER + 7)?;
    let (mut oif, mut gateway, mut via) = (None, None, false);
    let mut at = HEADER + RTMSG;
    while let (Some(l), Some(t)) = (msg.get(at..at + 2), msg.get(at + 2..at + 4)) {
        let len = usize::from(u16::from_ne_bytes([l[0], l[1]]));
        let t = u16::from_ne_bytes([t[0], t[1]]) & TYPE_MASK;
        // (an attribute shorter than its header, or longer than the message, ends it)
        let Some(attr) = msg.get(at..at + len).filter(|_| len >= 4) else {
            break;
        };
        let value = &attr[4..];
        match t {
            RTA_OIF => {
                oif = <[u8; 4]>::try_from(value).ok().map(u32::from_ne_bytes);
            }
            // a gateway of the other family: not a next hop the program can take
            RTA_VIA => via = true,
            RTA_GATEWAY => {
                gateway = match to {
                    IpAddr::V4(_) => <[u8; 4]>::try_from(value)
                        .ok()
                        .map(|a| IpAddr::from(Ipv4Addr::from(a))),
                    IpAddr::V6(_) => <[u8; 16]>::try_from(value)
                        .ok()
                        .map(|a| IpAddr::from(Ipv6Addr::from(a))),
                }
            }
            _ => {}
        }
        at += (len + 3) & !3;
    }
    match kind {
        _ if via => None,
        RTN_LOCAL => Some(Way::Local),
        RTN_UNICAST => oif.filter(|&i| i > 0).map(|oif| Way::Out {
            oif,
            next_hop: gateway.unwrap_or(to),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as the kernel lays it out: header, rtmsg of `kind`, attributes.
    fn newroute(seq: u32, kind: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = vec![AF_INET, 32, 0, 0, 254, 0, 0, kind, 0, 0, 0, 0];
        for (t, v) in attrs {
            body.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&t.to_ne_bytes());
            body.extend_from_slice(v);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut m = ((HEADER + body.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&RTM_NEWROUTE.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&body);
        m
    }

    const TO: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));

    fn way(buf: &[u8], seq: u32) -> Option<Option<Way>> {
        match answer(buf, seq, TO) {
            Answer::Other => None,
            Answer::Way(w) => Some(w),
        }
    }

    #[test]
    fn the_question_is_laid_out_as_ip_route_get_asks_it() {
        let m = request(7, [10, 0, 0, 1].into(), TO).unwrap();
        assert_eq!(m.len(), 52);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 52);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_GETROUTE);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(&m[16..20], &[AF_INET, 32, 32, 0]);
        assert_eq!(u16::from_ne_bytes([m[28], m[29]]), 8);
        assert_eq!(&m[30..32], &RTA_DST.to_ne_bytes());
        assert_eq!(&m[32..36], &[192, 0, 2, 9]);
        assert_eq!(&m[38..40], &RTA_SRC.to_ne_bytes());
        assert_eq!(&m[40..44], &[10, 0, 0, 1]);
        assert_eq!(u16::from_ne_bytes([m[44], m[45]]), 5);
        assert_eq!(&m[46..48], &RTA_IP_PROTO.to_ne_bytes());
        assert_eq!(m[48], 17);
        // IPv6: 128-bit prefixes, 16-byte addresses; two families: no question
        let (from, to): (IpAddr, IpAddr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::9".parse().unwrap(),
        );
        let m = request(8, from, to).unwrap();
        assert_eq!(m.len(), 76);
        assert_eq!(&m[16..20], &[AF_INET6, 128, 128, 0]);
        assert_eq!(u16::from_ne_bytes([m[28], m[29]]), 20);
        assert_eq!(
            &m[32..48],
            &"2001:db8::9".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(
            &m[52..68],
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(&m[70..72], &RTA_IP_PROTO.to_ne_bytes());
        assert_eq!(request(9, from, TO), None);
    }

    #[test]
    fn the_answer_gives_the_interface_and_next_hop_or_local() {
        let table = 254u32.to_ne_bytes();
        let oif = 3u32.to_ne_bytes();
        let gw = [198, 51, 100, 1];
        // on a link: the destination is the next hop
        let on_link = newroute(5, RTN_UNICAST, &[(15, &table), (RTA_OIF, &oif)]);
        let out = |next_hop: [u8; 4]| Way::Out {
            oif: 3,
            next_hop: next_hop.into(),
        };
        assert_eq!(way(&on_link, 5), Some(Some(out([192, 0, 2, 9]))));
        // through a gateway (its type flagged NLA_F_NET_BYTEORDER)
        let via = newroute(
            5,
            RTN_UNICAST,
            &[(RTA_GATEWAY | 0x4000, &gw), (RTA_OIF, &oif)],
        );
        assert_eq!(way(&via, 5), Some(Some(out(gw))));
        let lo = 1u32.to_ne_bytes();
        let local = newroute(6, RTN_LOCAL, &[(RTA_OIF, &lo)]);
        assert_eq!(way(&local, 6), Some(Some(Way::Local)));
        // unreachable, a unicast route without an interface or with a short one,
        // another question's answer
        assert_eq!(way(&newroute(7, 7, &[(RTA_OIF, &oif)]), 7), Some(None));
        assert_eq!(way(&newroute(8, RTN_UNICAST, &[]), 8), Some(None));
        let short = newroute(8, RTN_UNICAST, &[(RTA_OIF, &oif[..2])]);
        assert_eq!(way(&short, 8), Some(None));
        assert_eq!(way(&on_link, 9), None);
        // another family; a gateway of another family
        let mut v6 = on_link.clone();
        v6[HEADER] = 10;
        assert_eq!(way(&v6, 5), Some(None));
        let gw6 = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
        let mut via6 = newroute(11, RTN_UNICAST, &[(RTA_GATEWAY, &gw6), (RTA_OIF, &oif)]);
        via6[HEADER] = AF_INET6;
        let to6: IpAddr = "2001:db8::9".parse().unwrap();
        let want = Way::Out {
            oif: 3,
            next_hop: Ipv6Addr::from(gw6).into(),
        };
        assert!(matches!(answer(&via6, 11, to6), Answer::Way(Some(w)) if w == want));
        assert!(matches!(answer(&via6, 11, TO), Answer::Way(None)));
        let via_v6 = newroute(
            5,
            RTN_UNICAST,
            &[(RTA_VIA, &[10, 0, 0xfe, 0x80, 0, 0]), (RTA_OIF, &oif)],
        );
        assert_eq!(way(&via_v6, 5), Some(None));
        // an error answer (ENETUNREACH)
        let mut err = 36u32.to_ne_bytes().to_vec();
        err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err.extend_from_slice(&[0, 0]);
        err.extend_from_slice(&10u32.to_ne_bytes());
        err.extend_from_slice(&[0; 4]);
        err.extend_from_slice(&(-101i32).to_ne_bytes());
        err.extend_from_slice(&[0; 16]);
        assert_eq!(way(&err, 10), Some(None));
        // two messages in a datagram: the second is the answer
        let mut two = newroute(4, RTN_LOCAL, &[]);
        two.extend_from_slice(&via);
        assert_eq!(way(&two, 5), Some(Some(out(gw))));
    }

    #[test]
    fn a_truncated_or_garbled_answer_is_no_answer() {
        let oif = 3u32.to_ne_bytes();
        let out = newroute(5, RTN_UNICAST, &[(RTA_OIF, &oif)]);
        for cut in 0..out.len() {
            assert_ne!(
                way(&out[..cut], 5),
                Some(Some(Way::Out {
                    oif: 3,
                    next_hop: TO
                }))
            );
        }
        let mut bad = out.clone();
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(way(&bad, 5), None);
        // an attribute claiming more than there is
        let mut long = out;
        let at = HEADER + RTMSG;
        long[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(way(&long, 5), Some(None));
    }

    #[test]
    fn the_kernel_answers_for_loopback() {
        let mut s = RouteSocket::open().unwrap();
        let lo = IpAddr::from(Ipv4Addr::LOCALHOST);
        assert_eq!(s.way(lo, lo), Some(Way::Local));
        assert_eq!(s.way(lo, lo), Some(Way::Local));
        let lo6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(s.way(lo6, lo6), Some(Way::Local));
        assert_eq!(s.way(lo, lo6), None);
    }
}

//! The relay's kernel fast path (`[media] kernel_forwarding`): a TC ingress program
//! (`bpf/relay.c`, embedded as `relay.bpf.o`) on every network interface forwards the
//! packets of a settled stream inside the kernel, rewriting their addresses from "party →
//! relay socket" to "other relay socket → other party", as rtpengine's kernel module
//! does. Such a packet never reaches a relay socket or a forwarding thread.
//!
//! What goes through the kernel is decided here and in `forward.rs` (`Shared::kernel_sync`):
//! a direction has a rule only while the session relays plainly (no recording or watch
//! for its code, no echo test, no application on side A), both of its parties are
//! settled (their sockets connected), and the sockets are bound to one address; IPv4 and
//! IPv6 (without extension headers) alike, a map each. Everything else — learning,
//! strangers (the rule's key holds the latched source: a stranger's packet misses it),
//! short or non-RTP packets — is left to the forwarding threads as before. A rule's
//! counters (packets, bytes, time of the last one) are added to the session's when it is
//! read (`idle`, `counters`) or its rule removed.
//!
//! The program is attached as TCX links (Linux 6.6 and later; an older kernel gets no
//! fast path): they stay while this value lives, and the kernel removes them when the
//! process ends however it ends, so a crashed vozbox leaves nothing forwarding. (The
//! netlink filters of older kernels would outlive a crash and keep rewriting to the old
//! call's parties.)
//!
//! Forwarded packets skip what the kernel would do to the relay's own: netfilter (a
//! firewall's rules and conntrack on the way out), reverse-path filtering, IPsec.

use super::route_get::{RouteSocket, Way};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The compiled program (`bpf/relay.c`; `tests/bpf_object.rs` checks it is that file's).
static OBJECT: &[u8] = include_bytes!("relay.bpf.o");

/// The interface index the program reads as "the party is local" (loopback).
const LOCAL: u32 = 1;

/// A rule's key: the relay socket a packet is sent to and the party it comes from, as the
/// packet's header holds them (`struct key`, `struct key6` of `bpf/relay.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    V4([u8; 12]),
    V6([u8; 36]),
}

/// A rule (`struct rule`, `struct rule6`): where the packet goes, and the kernel's
/// counters.
enum Value {
    V4([u8; 48]),
    V6([u8; 88]),
}

/// The program's maps of rules, IPv4 (`RULES`) and IPv6 (`RULES6`).
struct Maps {
    v4: aya::maps::HashMap<aya::maps::MapData, [u8; 12], [u8; 48]>,
    v6: aya::maps::HashMap<aya::maps::MapData, [u8; 36], [u8; 88]>,
}

/// What the kernel relayed since the start, added up as rules' counters are read.
#[derive(Default)]
pub struct KernelTraffic {
    pub rtp_packets: AtomicU64,
    pub rtp_bytes: AtomicU64,
    pub rtcp_packets: AtomicU64,
    pub rtcp_bytes: AtomicU64,
}

pub struct Fastpath {
    /// The loaded program and its attachments (dropped with it: detached).
    ebpf: Mutex<aya::Ebpf>,
    rules: Mutex<Maps>,
    /// The ways out asked of the kernel, forgotten when a second old.
    routes: Mutex<Routes>,
    /// Interfaces the program is attached to, by name and index.
    attached: Mutex<Vec<(String, u32)>>,
    pub traffic: KernelTraffic,
}

/// The ways out asked of the kernel (`route_get.rs`) in the last second, and when the
/// program was last given to new interfaces.
struct Routes {
    socket: RouteSocket,
    /// When `ways` was started (None: not yet); it is emptied when a second old.
    since: Option<std::time::Instant>,
    ways: std::collections::HashMap<(IpAddr, IpAddr), Option<Way>>,
}

/// Where the packets of a rule leave to: out of interface `oif` (`LOCAL`: up to this
/// machine) towards `next_hop` (a gateway, or the party itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Toward {
    pub(super) oif: u32,
    pub(super) next_hop: IpAddr,
}

/// A rule's counters as last read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Count {
    pub(super) packets: u64,
    pub(super) bytes: u64,
    /// CLOCK_MONOTONIC_COARSE nanoseconds of the last packet (0: none).
    pub(super) last_ns: u64,
}

/// A direction of a session forwarded by the kernel (`offload.rs`), and its counters as last added to the session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offloaded {
    pub(super) path: Path,
    /// The way towards the party the packets go to.
    pub(super) toward: Toward,
    pub(super) seen: Count,
}

/// The directions of a session the kernel forwards, by socket (0 A's RTP … 3 B's RTCP),
/// and whether the session ended (no rule is made after that).
pub(super) type Offloads = std::sync::Mutex<([Option<Offloaded>; 4], bool)>;

/// One direction of a stream, as a rule says it (four addresses of one family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Path {
    /// The relay socket the party sends to.
    pub(super) to_relay: SocketAddr,
    /// The party's (latched) source.
    pub(super) from: SocketAddr,
    /// The relay socket facing the other party.
    pub(super) via: SocketAddr,
    /// The other party.
    pub(super) dest: SocketAddr,
    pub(super) rtcp: bool,
}

/// An address as the IPv6 map holds it (an IPv4 one mapped: a key no packet has).
fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

impl Path {
    /// Whether it is an IPv4 stream (else IPv6).
    fn is_v4(&self) -> bool {
        [self.to_relay, self.from, self.via, self.dest]
            .iter()
            .all(SocketAddr::is_ipv4)
    }

    pub(super) fn key(&self) -> Key {
        let (relay, from) = (self.to_relay, self.from);
        let ports = [relay.port().to_be_bytes(), from.port().to_be_bytes()].concat();
        if let (true, IpAddr::V4(r), IpAddr::V4(f)) = (self.is_v4(), relay.ip(), from.ip()) {
            let mut k = [0u8; 12];
            k[0..4].copy_from_slice(&r.octets());
            k[4..8].copy_from_slice(&f.octets());
            k[8..12].copy_from_slice(&ports);
            return Key::V4(k);
        }
        let mut k = [0u8; 36];
        k[0..16].copy_from_slice(&v6(relay.ip()).octets());
        k[16..32].copy_from_slice(&v6(from.ip()).octets());
        k[32..36].copy_from_slice(&ports);
        Key::V6(k)
    }

    fn value(&self, toward: Toward) -> Value {
        let (via, dest) = (self.via, self.dest);
        let ports = [via.port().to_be_bytes(), dest.port().to_be_bytes()].concat();
        let min_len: u32 = if self.rtcp { 8 } else { 12 };
        let four = [toward.oif.to_ne_bytes(), min_len.to_ne_bytes()].concat();
        if let (true, IpAddr::V4(a), IpAddr::V4(b), IpAddr::V4(nh)) =
            (self.is_v4(), via.ip(), dest.ip(), toward.next_hop)
        {
            let mut v = [0u8; 48];
            v[0..4].copy_from_slice(&a.octets());
            v[4..8].copy_from_slice(&b.octets());
            v[8..12].copy_from_slice(&ports);
            v[12..20].copy_from_slice(&four);
            v[20..24].copy_from_slice(&nh.octets());
            return Value::V4(v);
        }
        let mut v = [0u8; 88];
        v[0..16].copy_from_slice(&v6(via.ip()).octets());
        v[16..32].copy_from_slice(&v6(dest.ip()).octets());
        v[32..36].copy_from_slice(&ports);
        v[36..44].copy_from_slice(&four);
        v[44..60].copy_from_slice(&v6(toward.next_hop).octets());
        Value::V6(v)
    }
}

/// The counters at the end of a rule (three `u64`s: packets, bytes, last_ns).
fn count_of(v: &[u8]) -> Count {
    let at = v.len().saturating_sub(24);
    let u = |i: usize| {
        let mut b = [0u8; 8];
        if let Some(s) = v.get(at + i..at + i + 8) {
            b.copy_from_slice(s);
        }
        u64::from_ne_bytes(b)
    };
    Count {
        packets: u(0),
        bytes: u(8),
        last_ns: u(16),
    }
}

impl Fastpath {
    /// Loads the program and attaches it to the ingress of every interface of the
    /// machine's network namespace. An error names what failed (no privilege: it needs
    /// CAP_BPF and CAP_NET_ADMIN, or root).
    pub fn start() -> Result<Fastpath, String> {
        let mut ebpf =
            aya::Ebpf::load(OBJECT).map_err(|e| format!("loading the BPF object: {e}"))?;
        let mut map = |name: &str| {
            let m = ebpf
                .take_map(name)
                .ok_or(format!("the BPF object has no {name} map"))?;
            Ok::<_, String>(m)
        };
        let (v4, v6) = (map("RULES")?, map("RULES6")?);
        let rules = Maps {
            v4: aya::maps::HashMap::try_from(v4).map_err(|e| format!("RULES: {e}"))?,
            v6: aya::maps::HashMap::try_from(v6).map_err(|e| format!("RULES6: {e}"))?,
        };
        let prog: &mut aya::programs::SchedClassifier = ebpf
            .program_mut("relay")
            .ok_or("the BPF object has no relay program")?
            .try_into()
            .map_err(|e| format!("the relay program: {e}"))?;
        prog.load().map_err(|e| {
            format!("loading the relay program (needs CAP_BPF and CAP_NET_ADMIN): {e}")
        })?;
        let f = Fastpath {
            ebpf: Mutex::new(ebpf),
            rules: Mutex::new(rules),
            routes: Mutex::new(Routes {
                socket: RouteSocket::open().map_err(|e| format!("a netlink route socket: {e}"))?,
                since: None,
                ways: std::collections::HashMap::new(),
            }),
            attached: Mutex::new(Vec::new()),
            traffic: KernelTraffic::default(),
        };
        let last_error = f.attach_new(false);
        if f.interfaces().is_empty() {
            return Err(format!(
                "the relay program could not be attached to any interface (it needs \
                 Linux 6.6 or later, for TCX links): {last_error}"
            ));
        }
        Ok(f)
    }

    /// The interfaces the program is attached to.
    pub fn interfaces(&self) -> Vec<String> {
        let attached = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        attached.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Attaches the program to every Ethernet or loopback interface it is not on yet: at
    /// the start, then (once a second, with the routes) one added since or made again
    /// under its name. The last error, if any.
    fn attach_new(&self, announce: bool) -> String {
        let mut attached = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        let mut ebpf = self.ebpf.lock().unwrap_or_else(|e| e.into_inner());
        let prog: Option<&mut aya::programs::SchedClassifier> =
            ebpf.program_mut("relay").and_then(|p| p.try_into().ok());
        let Some(prog) = prog else {
            return "the relay program is gone".into();
        };
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut last_error = String::new();
        for name in names {
            let read =
                |what: &str| std::fs::read_to_string(format!("/sys/class/net/{name}/{what}"));
            // Ethernet-framed devices only (ARPHRD_ETHER, ARPHRD_LOOPBACK): the program
            // reads an Ethernet header (a tunnel or WireGuard device has none)
            if !matches!(read("type").as_deref().map(str::trim), Ok("1") | Ok("772")) {
                continue;
            }
            let Some(index) = read("ifindex")
                .ok()
                .and_then(|i| i.trim().parse::<u32>().ok())
            else {
                continue;
            };
            if attached.iter().any(|(n, i)| *n == name && *i == index) {
                continue;
            }
            let tcx = aya::programs::tc::TcAttachOptions::TcxOrder(Default::default());
            match prog.attach_with_options(&name, aya::programs::TcAttachType::Ingress, tcx) {
                Ok(_) => {
                    if announce {
                        tracing::info!("kernel forwarding: now on {}", name);
                    }
                    attached.retain(|(n, _)| *n != name);
                    attached.push((name, index));
                }
                Err(e) => {
                    tracing::debug!("kernel forwarding: not on {}: {}", name, e);
                    last_error = format!("{name}: {e}");
                }
            }
        }
        last_error
    }

    /// Forwards `p` in the kernel from now on, `toward` its party (`toward`).
    pub(super) fn install(&self, p: &Path, toward: Toward) -> bool {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        match (p.key(), p.value(toward)) {
            (Key::V4(k), Value::V4(v)) => rules.v4.insert(k, v, 0).is_ok(),
            (Key::V6(k), Value::V6(v)) => rules.v6.insert(k, v, 0).is_ok(),
            _ => false,
        }
    }

    /// The counters of the rule `key` (None: no such rule).
    pub(super) fn count(&self, key: &Key) -> Option<Count> {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        match key {
            Key::V4(k) => rules.v4.get(k, 0).ok().map(|v| count_of(&v)),
            Key::V6(k) => rules.v6.get(k, 0).ok().map(|v| count_of(&v)),
        }
    }

    /// Takes the rule `key` out; its last counters.
    pub(super) fn remove(&self, key: &Key) -> Option<Count> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        match key {
            Key::V4(k) => {
                let last = rules.v4.get(k, 0).ok().map(|v| count_of(&v));
                let _ = rules.v4.remove(k);
                last
            }
            Key::V6(k) => {
                let last = rules.v6.get(k, 0).ok().map(|v| count_of(&v));
                let _ = rules.v6.remove(k);
                last
            }
        }
    }

    /// Rules in the maps (for the tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.v4.keys().count() + rules.v6.keys().count()
    }

    /// Adds what a rule relayed since it was last read to the totals.
    pub(super) fn add(&self, rtcp: bool, packets: u64, bytes: u64) {
        let (p, b) = if rtcp {
            (&self.traffic.rtcp_packets, &self.traffic.rtcp_bytes)
        } else {
            (&self.traffic.rtp_packets, &self.traffic.rtp_bytes)
        };
        p.fetch_add(packets, Ordering::Relaxed);
        b.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Fastpath {
    /// The way a packet from the relay's address `from` to `to` leaves, as the kernel
    /// routes it (`route_get.rs`: tables and policy rules): the interface (`LOCAL` for an
    /// address of this machine) and the next hop. Each answer is kept for a second, so
    /// that a rule installed now follows the routes of now; once a second, too, an
    /// interface added since is given the program. None: no route, or no answer (the
    /// threads keep the stream).
    pub(super) fn toward(&self, from: IpAddr, to: IpAddr) -> Option<Toward> {
        let local = Toward {
            oif: LOCAL,
            next_hop: to,
        };
        if to.is_loopback() {
            return Some(local);
        }
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if routes
            .since
            .is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(1))
        {
            routes.ways.clear();
            routes.since = Some(std::time::Instant::now());
            self.attach_new(true);
        }
        let way = match routes.ways.get(&(from, to)) {
            Some(w) => *w,
            None => {
                let w = routes.socket.way(from, to);
                routes.ways.insert((from, to), w);
                w
            }
        };
        Some(match way? {
            Way::Local => local,
            Way::Out { oif, next_hop } => Toward { oif, next_hop },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_laid_out_as_the_program_reads_it() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let p = Path {
            to_relay: a("10.0.0.1:30000"),
            from: a("192.0.2.7:4000"),
            via: a("10.0.0.1:30002"),
            dest: a("198.51.100.9:5004"),
            rtcp: true,
        };
        let key = [10, 0, 0, 1, 192, 0, 2, 7, 0x75, 0x30, 0x0f, 0xa0];
        assert_eq!(p.key(), Key::V4(key));
        let toward = Toward {
            oif: 3,
            next_hop: [198, 51, 100, 1].into(),
        };
        let Value::V4(v) = p.value(toward) else {
            panic!("not an IPv4 rule")
        };
        assert_eq!(
            &v[0..12],
            &[10, 0, 0, 1, 198, 51, 100, 9, 0x75, 0x32, 0x13, 0x8c]
        );
        assert_eq!(u32::from_ne_bytes([v[12], v[13], v[14], v[15]]), 3);
        assert_eq!(u32::from_ne_bytes([v[16], v[17], v[18], v[19]]), 8);
        assert_eq!(&v[20..24], &[198, 51, 100, 1]);
        assert_eq!(count_of(&v), Count::default());
        let mut counted = v;
        counted[24] = 5;
        counted[32] = 160;
        counted[40] = 1;
        assert_eq!(
            count_of(&counted),
            Count {
                packets: 5,
                bytes: 160,
                last_ns: 1
            }
        );

        // IPv6 (`struct key6`, `struct rule6`: the counters at 64)
        let p = Path {
            to_relay: a("[2001:db8::1]:30000"),
            from: a("[2001:db8::7]:4000"),
            via: a("[2001:db8::1]:30002"),
            dest: a("[2001:db8::9]:5004"),
            rtcp: false,
        };
        let ip = |s: &str| s.parse::<Ipv6Addr>().unwrap().octets();
        let Key::V6(k) = p.key() else {
            panic!("not an IPv6 key")
        };
        assert_eq!(&k[0..16], &ip("2001:db8::1"));
        assert_eq!(&k[16..32], &ip("2001:db8::7"));
        assert_eq!(&k[32..36], &[0x75, 0x30, 0x0f, 0xa0]);
        let toward = Toward {
            oif: 4,
            next_hop: "fe80::1".parse().unwrap(),
        };
        let Value::V6(v) = p.value(toward) else {
            panic!("not an IPv6 rule")
        };
        assert_eq!(&v[0..16], &ip("2001:db8::1"));
        assert_eq!(&v[16..32], &ip("2001:db8::9"));
        assert_eq!(&v[32..36], &[0x75, 0x32, 0x13, 0x8c]);
        assert_eq!(u32::from_ne_bytes([v[36], v[37], v[38], v[39]]), 4);
        assert_eq!(u32::from_ne_bytes([v[40], v[41], v[42], v[43]]), 12);
        assert_eq!(&v[44..60], &ip("fe80::1"));
        let mut counted = v;
        counted[64] = 2;
        assert_eq!(count_of(&counted).packets, 2);
        // four addresses of two families: a key no packet has
        let mixed = Path {
            from: a("192.0.2.7:4000"),
            ..p
        };
        assert!(matches!(mixed.key(), Key::V6(_)));
    }
}

//! The relay's kernel fast path (`[media] kernel_forwarding`): a TC ingress program
//! (`bpf/relay.c`, embedded as `relay.bpf.o`) on every network interface forwards the
//! packets of a settled stream inside the kernel, rewriting their addresses from "party →
//! relay socket" to "other relay socket → other party", as rtpengine's kernel module
//! does. Such a packet never reaches a relay socket or a forwarding thread.
//!
//! What goes through the kernel is decided here and in `forward.rs` (`Shared::kernel_sync`):
//! a direction has a rule only while the session relays plainly (no recording or watch
//! for its code, no echo test, no application on side A), both of its parties are
//! settled (their sockets connected), both are IPv4, and the sockets are bound to one
//! address. Everything else — learning, strangers (the rule's key holds the latched
//! source: a stranger's packet misses it), short or non-RTP packets, IPv6 — is left to the
//! forwarding threads as before. A rule's counters (packets, bytes, time of the last one)
//! are added to the session's when it is read (`idle`, `counters`) or its rule removed.
//!
//! The program is attached as TCX links (Linux 6.6 and later; an older kernel gets no
//! fast path): they stay while this value lives, and the kernel removes them when the
//! process ends however it ends, so a crashed vozbox leaves nothing forwarding. (The
//! netlink filters of older kernels would outlive a crash and keep rewriting to the old
//! call's parties.)
//!
//! Forwarded packets skip what the kernel would do to the relay's own: netfilter (a
//! firewall's rules and conntrack on the way out), reverse-path filtering, IPsec.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The compiled program (`bpf/relay.c`; `tests/bpf_object.rs` checks it is that file's).
static OBJECT: &[u8] = include_bytes!("relay.bpf.o");

/// The interface index the program reads as "the party is local" (loopback).
const LOCAL: u32 = 1;

/// A rule's key: the relay socket a packet is sent to and the party it comes from, as the
/// packet's header holds them (`struct key` of `bpf/relay.c`).
pub(super) type Key = [u8; 12];
/// A rule (`struct rule`): where the packet goes, and the kernel's counters.
type Value = [u8; 48];

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
    rules: Mutex<aya::maps::HashMap<aya::maps::MapData, Key, Value>>,
    /// This machine's addresses and main routing table, read again when a second old.
    routes: Mutex<Option<Routes>>,
    /// Interfaces the program is attached to, by name and index.
    attached: Mutex<Vec<(String, u32)>>,
    pub traffic: KernelTraffic,
}

/// What the interface towards a party is decided from.
struct Routes {
    read: std::time::Instant,
    /// This machine's addresses (the local table of `/proc/net/fib_trie`); None when it
    /// cannot be read: only loopback parties are then known to be local, and a party
    /// elsewhere gets no rule (sent out of an interface towards this machine's own
    /// address, its packets would be lost).
    local: Option<Vec<Ipv4Addr>>,
    /// `/proc/net/route`.
    table: String,
    /// The interfaces of the table, by name.
    index: Vec<(String, u32)>,
}

impl Routes {
    fn read() -> Routes {
        let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let mut index: Vec<(String, u32)> = Vec::new();
        for name in table
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
        {
            if index.iter().any(|(n, _)| n == name) {
                continue;
            }
            let i = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"));
            if let Some(i) = i.ok().and_then(|i| i.trim().parse().ok()) {
                index.push((name.to_string(), i));
            }
        }
        Routes {
            read: std::time::Instant::now(),
            local: std::fs::read_to_string("/proc/net/fib_trie")
                .ok()
                .map(|t| local_addresses(&t)),
            table,
            index,
        }
    }
}

/// The addresses `/proc/net/fib_trie` lists as this machine's (`/32 host LOCAL`).
fn local_addresses(fib_trie: &str) -> Vec<Ipv4Addr> {
    let (mut out, mut at) = (Vec::new(), None);
    for line in fib_trie.lines().map(str::trim_start) {
        if let Some(ip) = line.strip_prefix("|-- ") {
            at = ip.trim().parse::<Ipv4Addr>().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(ip) = at.filter(|ip| !out.contains(ip)) {
                out.push(ip);
            }
        }
    }
    out
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
    /// The interface towards the party the packets go to.
    pub(super) oif: u32,
    pub(super) seen: Count,
}

/// The directions of a session the kernel forwards, by socket (0 A's RTP … 3 B's RTCP),
/// and whether the session ended (no rule is made after that).
pub(super) type Offloads = std::sync::Mutex<([Option<Offloaded>; 4], bool)>;

/// One direction of a stream, as a rule says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Path {
    /// The relay socket the party sends to.
    pub(super) to_relay: SocketAddrV4,
    /// The party's (latched) source.
    pub(super) from: SocketAddrV4,
    /// The relay socket facing the other party.
    pub(super) via: SocketAddrV4,
    /// The other party.
    pub(super) dest: SocketAddrV4,
    pub(super) rtcp: bool,
}

impl Path {
    pub(super) fn key(&self) -> Key {
        let mut k = [0u8; 12];
        k[0..4].copy_from_slice(&self.to_relay.ip().octets());
        k[4..8].copy_from_slice(&self.from.ip().octets());
        k[8..10].copy_from_slice(&self.to_relay.port().to_be_bytes());
        k[10..12].copy_from_slice(&self.from.port().to_be_bytes());
        k
    }

    fn value(&self, oif: u32) -> Value {
        let mut v = [0u8; 48];
        v[0..4].copy_from_slice(&self.via.ip().octets());
        v[4..8].copy_from_slice(&self.dest.ip().octets());
        v[8..10].copy_from_slice(&self.via.port().to_be_bytes());
        v[10..12].copy_from_slice(&self.dest.port().to_be_bytes());
        v[12..16].copy_from_slice(&oif.to_ne_bytes());
        let min_len: u32 = if self.rtcp { 8 } else { 12 };
        v[16..20].copy_from_slice(&min_len.to_ne_bytes());
        v
    }
}

fn count_of(v: &Value) -> Count {
    let u = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&v[r]);
        u64::from_ne_bytes(b)
    };
    Count {
        packets: u(24..32),
        bytes: u(32..40),
        last_ns: u(40..48),
    }
}

impl Fastpath {
    /// Loads the program and attaches it to the ingress of every interface of the
    /// machine's network namespace. An error names what failed (no privilege: it needs
    /// CAP_BPF and CAP_NET_ADMIN, or root).
    pub fn start() -> Result<Fastpath, String> {
        let mut ebpf =
            aya::Ebpf::load(OBJECT).map_err(|e| format!("loading the BPF object: {e}"))?;
        let rules = ebpf
            .take_map("RULES")
            .ok_or("the BPF object has no RULES map")?;
        let rules = aya::maps::HashMap::try_from(rules).map_err(|e| format!("RULES: {e}"))?;
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
            routes: Mutex::new(None),
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

    /// Forwards `p` in the kernel from now on, out of interface `oif`
    /// (`interface_towards`).
    pub(super) fn install(&self, p: &Path, oif: u32) -> bool {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.insert(p.key(), p.value(oif), 0).is_ok()
    }

    /// The counters of the rule `key` (None: no such rule).
    pub(super) fn count(&self, key: &Key) -> Option<Count> {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.get(key, 0).ok().map(|v| count_of(&v))
    }

    /// Takes the rule `key` out; its last counters.
    pub(super) fn remove(&self, key: &Key) -> Option<Count> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let last = rules.get(key, 0).ok().map(|v| count_of(&v));
        let _ = rules.remove(key);
        last
    }

    /// Rules in the map (for the tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.keys().count()
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
    /// The interface a packet to `ip` leaves by: `LOCAL` for an address of this machine's
    /// interfaces (`/proc/net/fib_trie`), else the longest prefix of the main routing
    /// table (`/proc/net/route`;
    /// policy routing is not looked at). Both read at most once a second, so that a rule
    /// installed now follows the routes of now; an interface added since is then given
    /// the program too. None: no route (the threads keep the
    /// stream).
    pub(super) fn interface_towards(&self, ip: Ipv4Addr) -> Option<u32> {
        if ip.is_loopback() {
            return Some(LOCAL);
        }
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if routes
            .as_ref()
            .is_none_or(|r| r.read.elapsed() > std::time::Duration::from_secs(1))
        {
            *routes = Some(Routes::read());
            self.attach_new(true);
        }
        let r = routes.as_ref()?;
        if r.local.as_ref()?.contains(&ip) {
            return Some(LOCAL);
        }
        let name = best_route(&r.table, ip)?;
        r.index.iter().find(|(n, _)| *n == name).map(|&(_, i)| i)
    }
}

/// The interface of the longest matching prefix (then the lowest metric) of a
/// `/proc/net/route` table, for `ip`.
fn best_route(table: &str, ip: Ipv4Addr) -> Option<String> {
    // the table prints each address as the in-memory `__be32`, in hexadecimal
    let addr = u32::from_ne_bytes(ip.octets());
    let mut best: Option<(u32, u32, &str)> = None;
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let hex = |i: usize| f.get(i).and_then(|s| u32::from_str_radix(s, 16).ok());
        let (Some(&name), Some(dest), Some(flags), Some(metric), Some(mask)) = (
            f.first(),
            hex(1),
            hex(3),
            f.get(6).and_then(|s| s.parse().ok()),
            hex(7),
        ) else {
            continue;
        };
        // RTF_UP, and the address within the prefix
        if flags & 1 == 0 || addr & mask != dest {
            continue;
        }
        let len = mask.count_ones();
        if best.is_none_or(|(l, m, _)| len > l || (len == l && metric < m)) {
            best = Some((len, metric, name));
        }
    }
    best.map(|(_, _, n)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_then_the_lowest_metric_is_taken() {
        // 10.77.0.0/24 on veth1, the default route on eth0 (twice, metrics 100 and 50),
        // 10.0.0.0/8 on eth1 but down
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            eth2\t00000000\t0102A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n\
            veth1\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            eth1\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0\n";
        let at = |s: &str| best_route(table, s.parse().unwrap());
        assert_eq!(at("10.77.0.3").as_deref(), Some("veth1"));
        assert_eq!(at("10.78.0.3").as_deref(), Some("eth2"));
        assert_eq!(at("192.0.2.1").as_deref(), Some("eth2"));
        assert_eq!(best_route("Iface\n", "10.0.0.1".parse().unwrap()), None);
        // (a little-endian machine prints 10.77.0.0 as 00004D0A)
        if cfg!(target_endian = "little") {
            assert_eq!(u32::from_ne_bytes([10, 77, 0, 0]), 0x00004D0A);
        }
    }

    #[test]
    fn the_local_addresses_are_the_fib_tries_host_ones() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
            \x20    +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.0\n              /8 host LOCAL\n\
            \x20          |-- 127.0.0.1\n              /32 host LOCAL\n\
            \x20       |-- 127.255.255.255\n           /32 link BROADCAST\n\
            \x20          |-- 192.0.2.0\n              /24 link UNICAST\n\
            \x20          |-- 192.0.2.2\n              /32 host LOCAL\n\
            Local:\n           |-- 192.0.2.2\n              /32 host LOCAL\n";
        let want: Vec<Ipv4Addr> = vec![[127, 0, 0, 1].into(), [192, 0, 2, 2].into()];
        assert_eq!(local_addresses(trie), want);
    }

    #[test]
    fn a_rule_is_laid_out_as_the_program_reads_it() {
        let a = |s: &str| s.parse::<SocketAddrV4>().unwrap();
        let p = Path {
            to_relay: a("10.0.0.1:30000"),
            from: a("192.0.2.7:4000"),
            via: a("10.0.0.1:30002"),
            dest: a("198.51.100.9:5004"),
            rtcp: true,
        };
        assert_eq!(p.key(), [10, 0, 0, 1, 192, 0, 2, 7, 0x75, 0x30, 0x0f, 0xa0]);
        let v = p.value(3);
        assert_eq!(
            &v[0..12],
            &[10, 0, 0, 1, 198, 51, 100, 9, 0x75, 0x32, 0x13, 0x8c]
        );
        assert_eq!(u32::from_ne_bytes([v[12], v[13], v[14], v[15]]), 3);
        assert_eq!(u32::from_ne_bytes([v[16], v[17], v[18], v[19]]), 8);
        assert_eq!(count_of(&v), Count::default());
    }
}

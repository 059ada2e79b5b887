//! The kernel fast path with real sessions and the real program attached (root: CAP_BPF
//! and CAP_NET_ADMIN), on loopback and through a veth pair into a network namespace.

use super::fastpath::Fastpath;
use super::ports::test_pool;
use super::relay::Relay;
use super::sdp::Advertised;
use super::session::{Facing, MediaSession, Sources};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn fastpath() -> Arc<Fastpath> {
    Arc::new(Fastpath::start().unwrap_or_else(|e| {
        panic!("the kernel fast path tests run as root (CAP_BPF, CAP_NET_ADMIN): {e}")
    }))
}

fn open(relay: &Relay, bind: IpAddr, pool: &Arc<super::ports::PortPool>) -> MediaSession {
    let turn = relay.next();
    let leases = (
        pool.take(turn.watch).unwrap(),
        pool.take(turn.watch).unwrap(),
    );
    let sources = Sources {
        strict: true,
        ..Sources::default()
    };
    MediaSession::open(relay, turn, bind, bind, leases, &sources).unwrap()
}

fn phone(ip: &str) -> UdpSocket {
    let u = UdpSocket::bind((ip, 0)).unwrap();
    u.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    u
}

/// `side`'s party advertises exactly where `p` sends from (it settles on its first packet).
fn advertise(s: &MediaSession, side: Facing, p: &UdpSocket) {
    let at = p.local_addr().unwrap();
    s.set_peer(side, Some(Advertised { rtp: at, rtcp: at }), at.ip());
}

fn rtp(seq: u8) -> [u8; 13] {
    [0x80, 8, 0, seq, 0, 0, 0, 0, 0, 0, 0, 7, 42]
}

/// Sends `seq` from `from` to the relay port of `side`; what `to` receives, and from where.
fn hop(
    s: &MediaSession,
    from: &UdpSocket,
    side: Facing,
    to: &UdpSocket,
    seq: u8,
) -> Option<SocketAddr> {
    from.send_to(&rtp(seq), s.address(side)).unwrap();
    let mut buf = [0u8; 64];
    let (n, at) = to.recv_from(&mut buf).ok()?;
    (buf[..n] == rtp(seq)).then_some(at)
}

fn until(mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > Duration::from_secs(3) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// A session on loopback whose two phones (returned: A's, B's) sent one packet each
/// way, through the thread, and settled: its RTP has its two rules.
fn settled(
    relay: &Relay,
    pool: &Arc<super::ports::PortPool>,
    kernel: &Fastpath,
) -> (MediaSession, UdpSocket, UdpSocket) {
    let s = open(relay, IpAddr::from([127, 0, 0, 1]), pool);
    let (a, b) = (phone("127.0.0.1"), phone("127.0.0.1"));
    advertise(&s, Facing::A, &a);
    advertise(&s, Facing::B, &b);
    assert_eq!(hop(&s, &a, Facing::A, &b, 1), Some(s.address(Facing::B)));
    assert_eq!(hop(&s, &b, Facing::B, &a, 2), Some(s.address(Facing::A)));
    assert!(until(|| kernel.len() == 2), "no rule for RTP both ways");
    (s, a, b)
}

/// Both parties settled: their RTP and RTCP go through the kernel (the forwarding thread
/// sees none of it; the session's counters and idleness still count it). A stranger is not
/// forwarded; a new SDP and the session's end take the rules out, and the echo test keeps
/// none.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn settled_streams_are_forwarded_by_the_kernel_until_anything_changes() {
    let kernel = fastpath();
    let relay = Relay::start(1, Duration::ZERO)
        .unwrap()
        .with_fastpath(kernel.clone());
    let lo = IpAddr::from([127, 0, 0, 1]);
    let pool = test_pool(lo, 32700, 32799);
    let (s, a, b) = settled(&relay, &pool, &kernel);
    let threads =
        || relay.traffic().rtp_packets - kernel.traffic.rtp_packets.load(Ordering::Relaxed);
    let by_threads = threads();
    assert_eq!(by_threads, 2);
    // idle for a while, then five packets each way: all through the kernel
    std::thread::sleep(Duration::from_millis(1200));
    for seq in 10..15 {
        assert_eq!(hop(&s, &a, Facing::A, &b, seq), Some(s.address(Facing::B)));
        assert_eq!(hop(&s, &b, Facing::B, &a, seq), Some(s.address(Facing::A)));
    }
    assert!(
        s.idle() < Duration::from_millis(600),
        "the kernel's packets not seen"
    );
    let c = s.counters();
    assert_eq!((c.from_a, c.from_b, c.kernel), (6, 6, 10));
    assert_eq!(
        threads(),
        by_threads,
        "the thread relayed what the kernel should have"
    );
    assert_eq!(relay.traffic().kernel_packets, 10);
    // RTCP (8 bytes, the shortest relayed): the first each way settles its socket, the
    // next go through the kernel
    let rtcp_port = |f| SocketAddr::new(lo, s.address(f).port() + 1);
    let rtcp = [0x80u8, 200, 0, 1, 0, 0, 0, 9];
    let mut buf = [0u8; 64];
    for round in 0..3 {
        for (from, side, to) in [(&a, Facing::A, &b), (&b, Facing::B, &a)] {
            from.send_to(&rtcp, rtcp_port(side)).unwrap();
            let (n, at) = to.recv_from(&mut buf).unwrap();
            let other = if side == Facing::A {
                Facing::B
            } else {
                Facing::A
            };
            assert_eq!((&buf[..n], at), (&rtcp[..], rtcp_port(other)));
        }
        if round == 0 {
            assert!(until(|| kernel.len() == 4), "no rule for RTCP both ways");
        }
    }
    s.counters();
    assert_eq!(kernel.traffic.rtcp_packets.load(Ordering::Relaxed), 4);
    // a stranger on the same address is neither forwarded nor learnt
    let stranger = phone("127.0.0.1");
    assert_eq!(hop(&s, &stranger, Facing::A, &b, 20), None);
    assert_eq!(hop(&s, &a, Facing::A, &b, 21), Some(s.address(Facing::B)));
    // B moves (a re-INVITE): B's RTP leaves the kernel both ways until B settles again
    // (its RTCP went with the same SDP: those rules too)
    let b2 = phone("127.0.0.1");
    advertise(&s, Facing::B, &b2);
    assert_eq!(kernel.len(), 0);
    assert_eq!(hop(&s, &b2, Facing::B, &a, 30), Some(s.address(Facing::A)));
    assert!(until(|| kernel.len() == 2));
    let before = threads();
    assert_eq!(hop(&s, &a, Facing::A, &b2, 31), Some(s.address(Facing::B)));
    assert_eq!(
        hop(&s, &a, Facing::A, &b, 32),
        None,
        "sent to B's old address"
    );
    s.counters();
    assert_eq!(threads(), before);
    // the end, rules in place: they go, and the ports come back
    drop(s);
    assert!(until(|| kernel.len() == 0), "a rule outlived its session");
    assert!(until(|| pool.in_use() == 0));
    // the echo test: A's packets come back to A, from the thread, never the kernel
    let (s, a, _b) = settled(&relay, &pool, &kernel);
    s.echo();
    assert_eq!(kernel.len(), 0);
    let before = threads();
    assert_eq!(hop(&s, &a, Facing::A, &a, 40), Some(s.address(Facing::A)));
    assert!(until(|| threads() == before + 1));
}

/// A network namespace joined to this one by a veth pair (and maybe a second one, with
/// policy rules), removed when dropped.
struct Netns {
    name: String,
    host_if: String,
    prefix: String,
    /// This namespace's number among the process's (its names and addresses differ).
    k: u32,
    /// The second pair's host end.
    second: Option<String>,
    /// The host's policy rule, while it is there (`ip rule` arguments).
    rule: Option<Vec<String>>,
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sysctl -w` of `settings`, in namespace `ns` or here; whether it took.
fn sysctl(ns: Option<&str>, settings: &[String]) -> bool {
    let mut c = match ns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "sysctl"]);
            c
        }
        None => std::process::Command::new("sysctl"),
    };
    c.arg("-qw")
        .args(settings)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Namespaces made by this process so far.
static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Netns {
    /// `prefix.1/24` on the host's end, `prefix.2` and `.3` (the parties) on the other.
    fn new() -> Netns {
        let k = std::process::id() * 8 + MADE.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}n{}", k / 8 % 100_000, k % 8);
        let net = Netns {
            name: format!("vzb{tag}"),
            host_if: format!("vzh{tag}"),
            prefix: format!("10.{}.{}", 200 + k % 50, (k / 50) % 250),
            k,
            second: None,
            rule: None,
        };
        let (p, ns) = (&net.prefix, net.name.as_str());
        ip(&["netns", "add", ns]);
        net.pair(
            &net.host_if,
            &format!("vzn{tag}"),
            &format!("{p}.1/24"),
            &[&format!("{p}.2/24"), &format!("{p}.3/24")],
        );
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        net
    }

    /// A veth pair from `host` (address `addr`) to `peer` in the namespace (`peer_addrs`),
    /// up, without checksum offloads (the parties' UDP checksums are computed whole and
    /// checked on arrival, so a wrong rewrite would lose the packets) and without IPv6
    /// (nothing but the test's packets and address resolution on them).
    fn pair(&self, host: &str, peer: &str, addr: &str, peer_addrs: &[&str]) {
        let ns = self.name.as_str();
        ip(&["link", "add", host, "type", "veth", "peer", "name", peer]);
        ip(&["link", "set", peer, "netns", ns]);
        // (a kernel without IPv6 has none to turn off)
        let _ = sysctl(None, &[format!("net.ipv6.conf.{host}.disable_ipv6=1")]);
        let _ = sysctl(Some(ns), &[format!("net.ipv6.conf.{peer}.disable_ipv6=1")]);
        ip(&["addr", "add", addr, "dev", host]);
        ip(&["link", "set", host, "up"]);
        for a in peer_addrs {
            ip(&["-n", ns, "addr", "add", a, "dev", peer]);
        }
        ip(&["-n", ns, "link", "set", peer, "up"]);
        ethtool_off(Some(ns), peer);
        ethtool_off(None, host);
    }

    /// A second pair into the namespace, and policy rules (not the main tables) that send
    /// what the host's `prefix.1` sends to `prefix.3` through it, and what `prefix.3` sends
    /// back (so that each side's reverse path is the way it came): the name of its host
    /// end.
    fn policy_route_to_b(&mut self) -> String {
        let tag = format!("{}n{}", self.k / 8 % 100_000, self.k % 8);
        let (host, peer) = (format!("vzq{tag}"), format!("vzm{tag}"));
        let q = format!("198.18.{}", self.k % 250);
        self.pair(&host, &peer, &format!("{q}.1/24"), &[&format!("{q}.2/24")]);
        let ns = self.name.clone();
        // the namespace answers for and takes `prefix.3` on either of its interfaces
        let mut settings = Vec::new();
        for dev in ["all", "default", peer.as_str()] {
            for (key, v) in [("rp_filter", 0), ("arp_ignore", 0), ("arp_filter", 0)] {
                settings.push(format!("net.ipv4.conf.{dev}.{key}={v}"));
            }
        }
        assert!(sysctl(Some(&ns), &settings), "sysctl in {ns}");
        let (p, table) = (&self.prefix, (20_000 + self.k % 10_000).to_string());
        let (one, three) = (format!("{p}.1"), format!("{p}.3"));
        ip(&["route", "add", &three, "dev", &host, "table", &table]);
        ip(&[
            "-n", &ns, "route", "add", &one, "dev", &peer, "table", &table,
        ]);
        ip(&[
            "-n", &ns, "rule", "add", "from", &three, "to", &one, "lookup", &table, "pref", &table,
        ]);
        let rule: Vec<String> = ["from", &one, "to", &three, "lookup", &table, "pref", &table]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let mut add = vec!["rule", "add"];
        add.extend(rule.iter().map(String::as_str));
        ip(&add);
        self.rule = Some(rule);
        self.second = Some(host.clone());
        host
    }

    /// Takes the host's policy rule out (the namespace's stays).
    fn drop_rule(&mut self) {
        if let Some(rule) = self.rule.take() {
            let mut del = vec!["rule", "del"];
            del.extend(rule.iter().map(String::as_str));
            ip(&del);
        }
    }
}

/// Turns checksum offloads off on `dev` (in namespace `ns`).
fn ethtool_off(ns: Option<&str>, dev: &str) {
    let mut c = match ns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "ethtool"]);
            c
        }
        None => std::process::Command::new("ethtool"),
    };
    let out = c.args(["-K", dev, "tx", "off", "rx", "off"]).output();
    assert!(
        out.as_ref().is_ok_and(|o| o.status.success()),
        "ethtool -K {dev} (apt-get install ethtool): {out:?}"
    );
}

impl Drop for Netns {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            let _ = std::process::Command::new("ip").args(args).output();
        };
        if let Some(rule) = self.rule.take() {
            let mut del = vec!["rule", "del"];
            del.extend(rule.iter().map(String::as_str));
            run(&del);
        }
        if let Some(host) = &self.second {
            run(&["link", "del", host]);
        }
        run(&["link", "del", &self.host_if]);
        run(&["netns", "del", &self.name]);
    }
}

/// Packets sent so far out of the host's interface `dev`.
fn tx_packets(dev: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{dev}/statistics/tx_packets"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tx_packets for {dev}"))
}

/// A session between the parties `prefix.2` (A) and `prefix.3` (B) of `net`, relayed from
/// `prefix.1`.
fn session_in(net: &Netns, relay: &Relay, port: u16) -> (MediaSession, IpAddr) {
    let p = &net.prefix;
    let bind: IpAddr = format!("{p}.1").parse().unwrap();
    let pool = test_pool(bind, port, port + 99);
    let s = open(relay, bind, &pool);
    for (side, at) in [
        (Facing::A, format!("{p}.2:7000")),
        (Facing::B, format!("{p}.3:7002")),
    ] {
        let at: SocketAddr = at.parse().unwrap();
        s.set_peer(side, Some(Advertised { rtp: at, rtcp: at }), at.ip());
    }
    (s, bind)
}

/// The two parties, in the namespace: one packet each way (through the thread), then ten
/// from A to B; checks that B got the ten from the relay's B port, checksums intact.
fn talk(net: &Netns, s: &MediaSession, bind: IpAddr) {
    let p = &net.prefix;
    let script = format!(
        r#"
import socket, time
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("{p}.2", 7000)); a.settimeout(1)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("{p}.3", 7002)); b.settimeout(1)
pkt = bytes([0x80, 8, 0, 1]) + bytes(156)
a.sendto(pkt, ("{relay}", {pa})); print("b", b.recvfrom(400)[1])
b.sendto(pkt, ("{relay}", {pb})); print("a", a.recvfrom(400)[1])
time.sleep(0.3)
for i in range(10):
    a.sendto(pkt, ("{relay}", {pa}))
    d, at = b.recvfrom(400)
    print("b", at, len(d))
snmp = [l.split() for l in open("/proc/net/snmp") if l.startswith("Udp:")]
print("checksum errors", snmp[1][snmp[0].index("InCsumErrors")])
"#,
        relay = bind,
        pa = s.address(Facing::A).port(),
        pb = s.address(Facing::B).port(),
    );
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &net.name, "python3", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let relay_b = format!("b ('{}', {}) 160", bind, s.address(Facing::B).port());
    assert_eq!(text.lines().filter(|l| *l == relay_b).count(), 10, "{text}");
    assert_eq!(text.lines().last(), Some("checksum errors 0"), "{text}");
}

/// Parties behind an interface (a veth pair into a namespace) made after the fast path
/// started: the kernel forwards their settled streams out of it through the route and
/// the neighbour table, checksums intact (the parties' sockets would drop a bad one).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn parties_behind_an_interface_are_reached_through_its_neighbour() {
    // the interface appears after the start: the program is attached to it when the
    // routes are next asked (here, when the first rule is made)
    let kernel = fastpath();
    let net = Netns::new();
    assert!(!kernel.interfaces().contains(&net.host_if));
    let relay = Relay::start(1, Duration::ZERO)
        .unwrap()
        .with_fastpath(kernel.clone());
    let (s, bind) = session_in(&net, &relay, 32800);
    talk(&net, &s, bind);
    assert!(kernel.interfaces().contains(&net.host_if));
    let c = s.counters();
    assert_eq!(c.from_a, 11);
    assert_eq!(kernel.traffic.rtp_packets.load(Ordering::Relaxed), 10);
}

/// A policy rule (`ip rule`) sends what the relay sends to B through a second interface,
/// not the one the main table gives: the kernel's forwarding follows it, as the threads'
/// packets do.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_policy_rule_picks_the_interface_the_kernel_forwards_through() {
    let kernel = fastpath();
    let mut net = Netns::new();
    let second = net.policy_route_to_b();
    let relay = Relay::start(1, Duration::ZERO)
        .unwrap()
        .with_fastpath(kernel.clone());
    let (s, bind) = session_in(&net, &relay, 32900);
    let (main_before, second_before) = (tx_packets(&net.host_if), tx_packets(&second));
    talk(&net, &s, bind);
    let (main, through) = (
        tx_packets(&net.host_if) - main_before,
        tx_packets(&second) - second_before,
    );
    // B's eleven (one from the thread, ten from the kernel) through the rule's interface;
    // A's one, and address resolution, through the main table's
    assert!(
        through >= 11,
        "{through} out of {second}, {main} out of the main one"
    );
    assert!(
        main < 5,
        "{main} out of the main table's interface, {through} out of {second}"
    );
    assert_eq!(s.counters().from_a, 11);
    assert_eq!(kernel.traffic.rtp_packets.load(Ordering::Relaxed), 10);

    // the rule taken out during the call: once its answer is a second old, the next
    // refresh (the driver's sweep, once a second) moves B's packets back to the main table
    net.drop_rule();
    std::thread::sleep(Duration::from_millis(1100));
    s.kernel_refresh();
    let (main_before, second_before) = (tx_packets(&net.host_if), tx_packets(&second));
    talk(&net, &s, bind);
    let (main, through) = (
        tx_packets(&net.host_if) - main_before,
        tx_packets(&second) - second_before,
    );
    assert!(
        main >= 12,
        "{main} out of the main one, {through} out of {second}"
    );
    assert!(
        through < 5,
        "{through} still out of {second}, {main} out of the main one"
    );
    // (this time every packet went through the kernel: both sources were still latched)
    assert_eq!(s.counters().from_a, 22);
    assert_eq!(kernel.traffic.rtp_packets.load(Ordering::Relaxed), 22);
}

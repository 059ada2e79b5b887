//! The kernel fast path with real sessions and the real program attached (root: CAP_BPF
//! and CAP_NET_ADMIN), on loopback and through a veth pair into a network namespace.

use super::fastpath::Fastpath;
use super::ports::test_pool;
use super::relay::Relay;
use super::sdp::Advertised;
use super::session::{Facing, MediaSession, Sources};
use super::test_netns::{tx_packets, Netns};
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
    settled_on(relay, pool, kernel, "127.0.0.1")
}

/// `settled` on the loopback address `lo` (127.0.0.1, ::1).
fn settled_on(
    relay: &Relay,
    pool: &Arc<super::ports::PortPool>,
    kernel: &Fastpath,
    lo: &str,
) -> (MediaSession, UdpSocket, UdpSocket) {
    let s = open(relay, lo.parse().unwrap(), pool);
    let (a, b) = (phone(lo), phone(lo));
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

/// An IPv6 session (on ::1) goes through the kernel as an IPv4 one does, RTP and RTCP
/// (loopback does not check checksums: the veth test below does).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_ipv6_session_is_forwarded_by_the_kernel_too() {
    let kernel = fastpath();
    let relay = Relay::start(1, Duration::ZERO)
        .unwrap()
        .with_fastpath(kernel.clone());
    let lo = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
    let pool = test_pool(lo, 33000, 33099);
    let (s, a, b) = settled_on(&relay, &pool, &kernel, "::1");
    for seq in 10..15 {
        assert_eq!(hop(&s, &a, Facing::A, &b, seq), Some(s.address(Facing::B)));
        assert_eq!(hop(&s, &b, Facing::B, &a, seq), Some(s.address(Facing::A)));
    }
    let c = s.counters();
    assert_eq!((c.from_a, c.from_b, c.kernel), (6, 6, 10));
    assert_eq!(kernel.traffic.rtp_packets.load(Ordering::Relaxed), 10);
    // RTCP: the first each way settles its socket, the next go through the kernel
    let rtcp_port = |f| SocketAddr::new(lo, s.address(f).port() + 1);
    let rtcp = [0x80u8, 200, 0, 1, 0, 0, 0, 9];
    let mut buf = [0u8; 64];
    for round in 0..3 {
        a.send_to(&rtcp, rtcp_port(Facing::A)).unwrap();
        let (n, at) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], at), (&rtcp[..], rtcp_port(Facing::B)));
        b.send_to(&rtcp, rtcp_port(Facing::B)).unwrap();
        let (n, at) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], at), (&rtcp[..], rtcp_port(Facing::A)));
        if round == 0 {
            assert!(until(|| kernel.len() == 4), "no rule for RTCP both ways");
        }
    }
    s.counters();
    assert_eq!(kernel.traffic.rtcp_packets.load(Ordering::Relaxed), 4);
    // a stranger on the same address is not forwarded
    let stranger = phone("::1");
    assert_eq!(hop(&s, &stranger, Facing::A, &b, 20), None);
    drop(s);
    assert!(until(|| kernel.len() == 0), "a rule outlived its session");
}

/// A session between the parties `.2` (A) and `.3` (B) of `net` (IPv4, or IPv6: `::2`,
/// `::3`), relayed from `.1`.
fn session_in(net: &Netns, relay: &Relay, port: u16, v6: bool) -> (MediaSession, IpAddr) {
    let bind = net.addr(1, v6);
    let pool = test_pool(bind, port, port + 99);
    let s = open(relay, bind, &pool);
    for (side, at) in [
        (Facing::A, (net.addr(2, v6), 7000)),
        (Facing::B, (net.addr(3, v6), 7002)),
    ] {
        let at = SocketAddr::from(at);
        s.set_peer(side, Some(Advertised { rtp: at, rtcp: at }), at.ip());
    }
    (s, bind)
}

/// The two parties, in the namespace: one packet each way (through the thread), then ten
/// from A to B; checks that B got the ten from the relay's B port, checksums intact.
fn talk(net: &Netns, s: &MediaSession, bind: IpAddr) {
    let v6 = bind.is_ipv6();
    // the family, and how the namespace's UDP checksum errors are read
    let (family, errors) = if v6 {
        (
            "AF_INET6",
            r#"[l.split()[1] for l in open("/proc/net/snmp6") if l.split()[0] == "Udp6InCsumErrors"][0]"#,
        )
    } else {
        (
            "AF_INET",
            r#"(lambda r: r[1][r[0].index("InCsumErrors")])([l.split() for l in open("/proc/net/snmp") if l.startswith("Udp:")])"#,
        )
    };
    let script = format!(
        r#"
import socket, time
a = socket.socket(socket.{family}, socket.SOCK_DGRAM); a.bind(("{a}", 7000)); a.settimeout(1)
b = socket.socket(socket.{family}, socket.SOCK_DGRAM); b.bind(("{b}", 7002)); b.settimeout(1)
pkt = bytes([0x80, 8, 0, 1]) + bytes(156)
a.sendto(pkt, ("{relay}", {pa})); print("b", b.recvfrom(400)[1][:2])
b.sendto(pkt, ("{relay}", {pb})); print("a", a.recvfrom(400)[1][:2])
time.sleep(0.3)
for i in range(10):
    a.sendto(pkt, ("{relay}", {pa}))
    d, at = b.recvfrom(400)
    print("b", at[0], at[1], len(d))
print("checksum errors", {errors})
"#,
        a = net.addr(2, v6),
        b = net.addr(3, v6),
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
    let relay_b = format!("b {} {} 160", bind, s.address(Facing::B).port());
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
    let (s, bind) = session_in(&net, &relay, 32800, false);
    talk(&net, &s, bind);
    assert!(kernel.interfaces().contains(&net.host_if));
    let c = s.counters();
    assert_eq!(c.from_a, 11);
    assert_eq!(kernel.traffic.rtp_packets.load(Ordering::Relaxed), 10);
}

/// The same in IPv6: the parties' UDP checksums, computed whole and checked on arrival
/// (no offload), are right after the program changed both addresses of the pseudo-header.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn ipv6_parties_behind_an_interface_are_reached_through_its_neighbour() {
    let kernel = fastpath();
    let net = Netns::new();
    net.with_ipv6();
    let relay = Relay::start(1, Duration::ZERO)
        .unwrap()
        .with_fastpath(kernel.clone());
    let (s, bind) = session_in(&net, &relay, 33100, true);
    talk(&net, &s, bind);
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
    let (s, bind) = session_in(&net, &relay, 32900, false);
    // the parties talk: what left by the main table's interface, and by the second
    let talk_counted = |net: &Netns| {
        let before = (tx_packets(&net.host_if), tx_packets(&second));
        talk(net, &s, bind);
        (
            tx_packets(&net.host_if) - before.0,
            tx_packets(&second) - before.1,
        )
    };
    let (main, through) = talk_counted(&net);
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
    let (main, through) = talk_counted(&net);
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

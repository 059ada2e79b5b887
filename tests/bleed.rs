//! Media security against real peers: a stranger on another loopback address (127.0.0.9)
//! sprays small RTP packets at the relay's ports every 10 ms, before and during a call in
//! which alice talks to bob (a SIPp callee echoing what he hears). The relay must hand the
//! stranger nothing (no packet of the call, nothing at all), alice's audio must come back
//! whole, and the drops must be counted — with alice sending from exactly her SDP address,
//! and behind NAT (SDP 192.0.2.1, her RTP from her SIP IP). A carrier whose media comes
//! from another address than its SIP (a media gateway named by its SDP) is heard.

mod common;
use common::rtp::*;
use common::*;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Packets alice sends (every 20 ms); at least 95 % must come back.
const SENT: u16 = 150;

/// What happened during one call with a stranger spraying the relay.
struct Outcome {
    /// Alice's packets echoed back to her.
    echoed: Vec<Vec<u8>>,
    /// Every packet the stranger received.
    stranger_got: Vec<Vec<u8>>,
    /// `vozbox calls` while the call was up.
    calls: String,
}

/// The stranger: sprays the first 16 ports of the relay range from 127.0.0.9 every 10 ms
/// until `stop`, and keeps whatever comes back.
fn spray(first: u16, stop: &AtomicBool) -> Vec<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.9:0").unwrap();
    s.set_nonblocking(true).unwrap();
    // Its own SSRC: what it gets back with this SSRC is its own packet reflected.
    let mut junk = vec![0x80u8, 0, 0, 1, 0, 0, 0, 1, 0x0b, 0xad, 0xbe, 0xef];
    junk.extend_from_slice(&[0xd5; 20]);
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        for p in first..first + 16 {
            let _ = s.send_to(&junk, ("127.0.0.1", p));
        }
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    got
}

/// alice (her SDP naming `sdp`, or her own socket when `None`) calls `number` while the
/// stranger sprays; `callee` answers and echoes.
fn call_under_spray(v: &Vozbox, number: &str, sdp: Option<(&str, u16)>) -> Outcome {
    let alice = UdpSocket::bind("127.0.0.1:0").unwrap();
    let own = alice.local_addr().unwrap().port();
    let sdp = sdp.unwrap_or(("127.0.0.1", own));
    let stop = AtomicBool::new(false);
    let (addr, first) = (v.addr(), media_range(v.port));
    std::thread::scope(|s| {
        let stranger = s.spawn(|| spray(first, &stop));
        // the stranger sprays before the call too
        std::thread::sleep(Duration::from_millis(200));
        let caller = s.spawn(|| alice_calls_with_sdp(&addr, number, sdp, 5000));
        let relay = caller_port(v);
        let echoed = talk(&alice, relay, SENT);
        let calls = v.calls();
        let sipp = caller.join().expect("caller");
        stop.store(true, Ordering::Relaxed);
        sipp_ok(&sipp);
        Outcome {
            echoed,
            stranger_got: stranger.join().expect("stranger"),
            calls,
        }
    })
}

/// The number after "dropped " on the answered call's line of `vozbox calls`.
fn dropped(calls: &str) -> u64 {
    calls
        .lines()
        .find(|l| l.contains("answered"))
        .and_then(|l| l.split("dropped ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop count in {}", calls))
}

fn assert_safe(o: &Outcome) {
    let leaked = o
        .stranger_got
        .iter()
        .filter(|p| ssrc(p) == Some(SSRC))
        .count();
    assert_eq!(
        leaked, 0,
        "{} packets of the call reached the stranger",
        leaked
    );
    assert!(
        o.stranger_got.is_empty(),
        "the stranger got {} packets back",
        o.stranger_got.len()
    );
    let echoed = o.echoed.iter().filter(|p| ssrc(p) == Some(SSRC)).count();
    eprintln!(
        "alice's echo {}/{}, the stranger got {}, drops counted {}",
        echoed,
        SENT,
        o.stranger_got.len(),
        dropped(&o.calls)
    );
    assert!(
        echoed * 100 >= SENT as usize * 95,
        "only {} of alice's {} packets came back",
        echoed,
        SENT
    );
    assert!(
        o.echoed.iter().all(|p| ssrc(p) == Some(SSRC)),
        "alice got a packet that is not her echo"
    );
    assert!(dropped(&o.calls) > 0, "no drop counted: {}", o.calls);
}

#[test]
fn a_stranger_spraying_the_relay_hears_nothing_of_a_call_from_its_sdp_address() {
    let v = Vozbox::start("bleed-exact", "", PROVISION);
    let bob = echoing_bob(&v, "uas_answer.xml");
    let o = call_under_spray(&v, "101", None);
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert_safe(&o);
}

/// A relay range of exactly one call's two pairs: the second call gets the same ports,
/// whose sockets were kept bound between the calls (checked), while the stranger sprays
/// them before and during each call. It gets nothing of either call, and alice's audio
/// comes back whole both times.
#[test]
fn a_stranger_spraying_ports_kept_bound_between_calls_hears_nothing_of_the_next() {
    let (v, first) = Vozbox::start_with_one_call_of_ports("bleed-kept", PROVISION);
    // bob answers and echoes two calls
    let bob_port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), bob_port);
    let media_port = free_ports(4).to_string();
    let bob = SippUas::start_with(
        "uas_answer.xml",
        "u1",
        "127.0.0.1",
        bob_port,
        &[
            "-rtp_echo",
            "-mp",
            &media_port,
            "-mi",
            "127.0.0.1",
            "-m",
            "2",
        ],
    );
    assert_safe(&call_under_spray(&v, "101", None));
    // the call's pairs are back in the pool, still bound by vozbox
    let mut back = v.calls();
    for _ in 0..60 {
        if back.contains("0 relay port pair(s)") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        back = v.calls();
    }
    assert!(back.contains("0 relay port pair(s)"), "{}", back);
    for p in first..first + 4 {
        assert!(
            UdpSocket::bind(("127.0.0.1", p)).is_err(),
            "relay port {} was closed between the calls",
            p
        );
    }
    assert_safe(&call_under_spray(&v, "101", None));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
}

#[test]
fn a_stranger_spraying_the_relay_hears_nothing_of_a_caller_behind_nat() {
    let v = Vozbox::start("bleed-nat", "", PROVISION);
    let bob = echoing_bob(&v, "uas_answer.xml");
    let o = call_under_spray(&v, "101", Some(("192.0.2.1", 4000)));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert_safe(&o);
}

/// `strict_source = false` brings the old learning back: the same attack then gets the
/// stranger packets or cuts alice's audio (the attack above is a real one, and the setting
/// does what it says).
#[test]
fn without_strict_sources_the_stranger_is_learnt() {
    let v = Vozbox::start("bleed-loose", "[media]\nstrict_source = false\n", PROVISION);
    assert!(
        v.log().contains("strict_source = false"),
        "no warning at start: {}",
        v.log()
    );
    let bob = echoing_bob(&v, "uas_answer.xml");
    let o = call_under_spray(&v, "101", Some(("192.0.2.1", 4000)));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let leaked = o
        .stranger_got
        .iter()
        .filter(|p| ssrc(p) == Some(SSRC))
        .count();
    let echoed = o.echoed.iter().filter(|p| ssrc(p) == Some(SSRC)).count();
    eprintln!(
        "without strict sources: the stranger got {} packets ({} of the call), alice's echo {}/{}",
        o.stranger_got.len(),
        leaked,
        echoed,
        SENT
    );
    // Where the stranger was learnt it gets packets (its own reflected, or the call's);
    // where it was learnt for good, alice's audio is cut instead.
    assert!(
        !o.stranger_got.is_empty() || echoed * 100 < SENT as usize * 95,
        "the stranger was not learnt without strict sources"
    );
}

const CARRIER: &str = r#"
[[brand]]
name = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = CARRIER_PORT
transport = "udp"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
country = "ES"
area_code = "94"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"
"#;

/// A carrier signalling from 127.0.0.5 whose SDP names its media gateway 127.0.0.10: the
/// gateway's echo reaches alice (behind NAT) — while the stranger sprays.
#[test]
fn a_carrier_with_a_separate_media_gateway_is_heard() {
    let carrier_port = free_port("127.0.0.5");
    let v = Vozbox::start(
        "bleed-carrier",
        "",
        &CARRIER.replace("CARRIER_PORT", &carrier_port.to_string()),
    );
    let carrier = echoing_uas("uas_answer.xml", "127.0.0.5", carrier_port, "127.0.0.10");
    let o = call_under_spray(&v, "600111222", Some(("192.0.2.1", 4000)));
    let carrier = carrier.wait(Duration::from_secs(20));
    sipp_ok(&carrier);
    assert!(
        carrier.messages.contains("c=IN IP4 127.0.0.10"),
        "the carrier's SDP did not name its gateway"
    );
    assert_safe(&o);
}

/// With the kernel fast path on (`[media] kernel_forwarding`, root), alice's and bob's
/// settled streams go through the kernel: the stranger still gets nothing, alice's audio
/// still comes back whole, and the kernel is seen to have forwarded most of it.
#[test]
fn a_stranger_hears_nothing_of_a_call_the_kernel_forwards() {
    let v = Vozbox::start(
        "bleed-kernel",
        "[media]\nkernel_forwarding = true\n",
        PROVISION,
    );
    assert!(
        v.log().contains("kernel_forwarding: settled streams"),
        "the fast path did not start (run as root): {}",
        v.log()
    );
    let bob = echoing_bob(&v, "uas_answer.xml");
    let o = call_under_spray(&v, "101", None);
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert_safe(&o);
    // `vozbox calls` during the call said how much of it the kernel forwarded
    let kernel: u64 = o
        .calls
        .lines()
        .find(|l| l.contains("answered"))
        .and_then(|l| l.split("  kernel ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no kernel count in {}", o.calls));
    assert!(
        kernel >= 200,
        "the call's line says the kernel forwarded {kernel}: {}",
        o.calls
    );
    // the call ended: its rules' counters were read when they were taken out
    let (status, body) = v.api("GET", "/metrics");
    assert_eq!(status, 200);
    let kernel: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("vozbox_relay_kernel_packets_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no kernel packet count: {body}"));
    // alice's 150 and their echo: all but the first few of each way
    assert!(kernel >= 250, "the kernel forwarded only {kernel} packets");
}

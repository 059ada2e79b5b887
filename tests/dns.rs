//! Carriers by host name (RFC 3263) against a real DNS server on loopback
//! (`tests/dns_server.py`, PyPI dnslib) serving `sip.test`'s SRV and A records with a
//! 1 s TTL: vozbox's `[dns] servers` points at it. The first SRV target answers `503` and
//! the call completes on the second; once the records change and their TTL has passed,
//! the next call goes to the new target. A carrier with `transport = "auto"` is reached
//! over the transport its NAPTR records choose. A direct friend by name calls in from
//! where its name resolves without a challenge, follows its records when they move, and
//! over IPv6 once its name has an AAAA record; a carrier by name calls in from its SRV
//! target's address and port.

mod common;
use common::dns::dns_server;
use common::*;
use std::time::{Duration, Instant};

/// What `sip.test` and `pbx.test` are, after the client's lab.
const LAB: &str = r#"
# No port: its SRV records say where (RFC 3263 §4.2).
[[carrier]]
brand = "acme"
name = "trunk"
address = "sip.test"
transport = "udp"

# A direct friend by name, without a port: SRV too.
[[friend]]
client = "bluebird"
name = "pbx"
mode = "direct"
address = "pbx.test"
patterns = ["^2[0-9]{2}$"]
"#;

/// The client's lab and `names`.
fn lab(names: &str) -> String {
    format!("{}{}", SPANISH_CLIENT, names)
}

/// `sip.test`'s records: one SRV record a (priority, weight, port, address).
fn zone(targets: &[(u16, u16, u16, &str)]) -> String {
    let mut z = String::new();
    for (i, (prio, weight, port, ip)) in targets.iter().enumerate() {
        z.push_str(&format!(
            "_sip._udp.sip.test. 1 IN SRV {} {} {} t{}.sip.test.\nt{}.sip.test. 1 IN A {}\n",
            prio, weight, port, i, i, ip
        ));
    }
    z
}

/// alice dials `number` (the call lasts 300 ms), and it completes.
fn alice_calls(v: &Vozbox, number: &str) {
    let call = alice_dials(v, "uac_call.xml", number, "u1", "127.0.0.1", &["-d", "300"]);
    sipp_ok(&call);
}

/// What a callee saw, once it ended well.
fn seen(callee: SippUas) -> Sipp {
    let s = callee.wait(Duration::from_secs(20));
    sipp_ok(&s);
    s
}

fn cdr_of(v: &Vozbox, callee: &str, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body: serde_json::Value =
            serde_json::from_str(&v.api_get("/api/cdrs")).unwrap_or_default();
        let items: Vec<serde_json::Value> = body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c["callee"] == callee)
            .collect();
        if items.len() >= n {
            return items[n - 1].clone();
        }
        assert!(Instant::now() < deadline, "no CDR of {}: {}", callee, body);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_carrier_by_name_goes_through_its_srv_targets_and_follows_their_ttl() {
    let (p1, p2, p3) = (
        free_port("127.0.0.5"),
        free_port("127.0.0.8"),
        free_port("127.0.0.7"),
    );
    // the first priority's target first: 127.0.0.5 (it answers 503), then 127.0.0.8 (the
    // weights of one priority are drawn: `dns/order.rs`)
    let dns = dns_server(
        "dns-srv",
        &zone(&[(10, 60, p1, "127.0.0.5"), (20, 20, p2, "127.0.0.8")]),
    );
    let v = Vozbox::start(
        "dns-srv",
        &format!(
            "[calls]\nno_answer_timeout = 20\ncarrier_timeout = 2\n{}",
            dns.config()
        ),
        &lab(LAB),
    );
    let first = SippUas::start("uas_503.xml", "u1", "127.0.0.5", p1);
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", p2);
    alice_calls(&v, "600111222");
    let first = seen(first);
    let second = seen(second);
    // the Request-URI names the carrier, not the address it resolved to (RFC 3263)
    assert!(
        first
            .messages
            .contains("INVITE sip:+34600111222@sip.test SIP/2.0"),
        "{}",
        first.messages
    );
    assert!(
        second
            .messages
            .contains("INVITE sip:+34600111222@sip.test SIP/2.0"),
        "{}",
        second.messages
    );
    let cdr = cdr_of(&v, "600111222", 1);
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["carrier"], "trunk", "{}", cdr);

    // the records change: one target, 127.0.0.7; past their 1 s TTL the next call goes there
    std::fs::write(&dns.zone, zone(&[(10, 10, p3, "127.0.0.7")])).unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let third = SippUas::start("uas_answer.xml", "u1", "127.0.0.7", p3);
    alice_calls(&v, "600111222");
    seen(third);
    assert_eq!(cdr_of(&v, "600111222", 2)["disposition"], "answered");
}

#[test]
fn a_direct_friend_by_name_is_reached_at_its_srv_target() {
    let port = free_port("127.0.0.7");
    let dns = dns_server(
        "dns-friend",
        &format!(
            "_sip._udp.pbx.test. 1 IN SRV 10 10 {} box.pbx.test.\nbox.pbx.test. 1 IN A 127.0.0.7\n",
            port
        ),
    );
    let v = Vozbox::start("dns-friend", &dns.config(), &lab(LAB));
    let pbx = SippUas::start("uas_answer.xml", "u1", "127.0.0.7", port);
    alice_calls(&v, "201");
    let pbx = seen(pbx);
    assert!(
        pbx.messages.contains("INVITE sip:201@pbx.test SIP/2.0"),
        "{}",
        pbx.messages
    );
    let cdr = cdr_of(&v, "201", 1);
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["route"], "friend:pbx", "{}", cdr);
    assert!(cdr.get("carrier").is_none(), "{}", cdr);
}

/// The friend at `from` (no password) calls alice's extension without credentials.
fn pbx_calls_alice(v: &Vozbox, from: &str) -> Sipp {
    sipp(
        "uac_noauth.xml",
        &v.addr(),
        "u1",
        from,
        &call_csv("127.0.0.1", "-", "pbx", "100"),
        &[],
    )
}

/// A direct friend by name (no password) is recognised by what its name resolves to, as
/// one by address is: its calls from there are not challenged, a stranger's that claim to
/// be it are; once its records move (past their 1 s TTL and the next refresh), the new
/// address is the friend's and the old one a stranger's.
#[test]
fn a_direct_friend_by_name_calls_in_from_where_its_name_resolves() {
    let records = |ip: &str| {
        format!(
            "_sip._udp.pbx.test. 1 IN SRV 10 10 5060 box.pbx.test.\nbox.pbx.test. 1 IN A {ip}\n"
        )
    };
    let dns = dns_server("dns-friend-in", &records("127.0.0.7"));
    let v = Vozbox::start("dns-friend-in", &dns.config(), &lab(LAB));
    pbx_at_calls_alice(&v, "127.0.0.7", 1);
    let cdr = cdr_of(&v, "100", 1);
    assert_eq!(cdr["route"], "user:alice", "{}", cdr);
    // anyone else claiming to be the friend answers a challenge it cannot
    challenged(pbx_calls_alice(&v, "127.0.0.9"));

    // the records move to 127.0.0.6: past their 1 s TTL and the next round (5 s) the
    // friend is there, and its old address is a stranger's
    std::fs::write(&dns.zone, records("127.0.0.6")).unwrap();
    pbx_at_calls_alice(&v, "127.0.0.6", 2);
    challenged(pbx_calls_alice(&v, "127.0.0.7"));
}

/// Once vozbox says `pbx.test` is at `ip` (within 15 s), the friend there calls alice
/// without credentials, and the call (the `n`th to her) is answered.
fn pbx_at_calls_alice(v: &Vozbox, ip: &str, n: usize) {
    recognised(v, &format!("{ip}:5060"));
    let alice = callee(
        v,
        "127.0.0.1",
        ("alice", "Alice-Secret-1"),
        "uas_answer.xml",
    );
    sipp_ok(&pbx_calls_alice(v, ip));
    seen(alice);
    assert_eq!(cdr_of(v, "100", n)["disposition"], "answered");
}

/// Waits (15 s at most) for vozbox to say it recognises `pbx.test` at `addrs` (as
/// printed, without the brackets around the list).
fn recognised(v: &Vozbox, addrs: &str) {
    recognised_as(v, "pbx.test", addrs)
}

/// The same for `name`.
fn recognised_as(v: &Vozbox, name: &str, addrs: &str) {
    let line = format!("DNS {name}: its requests are recognised from [{addrs}]");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !v.log().contains(&line) {
        assert!(Instant::now() < deadline, "{}", v.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A dual-stack friend by name is recognised at its AAAA records' addresses as well as
/// its A records' (a call to it goes to the A records first, but it may send from
/// either): once its name gains an AAAA record, its calls over IPv6 are no longer
/// challenged. vozbox listens on 127.0.0.1 and on ::1; the friend calls from ::1 with
/// IPv4 media.
#[test]
fn a_dual_stack_friend_by_name_calls_in_over_ipv6_once_its_name_has_an_aaaa_record() {
    let records = |aaaa: &str| {
        format!(
            "_sip._udp.pbx.test. 1 IN SRV 10 10 5060 box.pbx.test.\n\
             box.pbx.test. 1 IN A 127.0.0.7\n{aaaa}"
        )
    };
    let dns = dns_server("dns-friend-v6", &records(""));
    let port = free_port("[::1]");
    let listen = format!("listen = [\"udp:127.0.0.1:{port}\", \"udp:[::1]:{port}\"]\n");
    let dir = temp_dir("dns-friend-v6");
    let config = format!("{listen}{}", dns.config());
    let v = Vozbox::start_on("127.0.0.1", dir, port, &config, &lab(LAB));
    let from_v6 = || {
        sipp_at(
            "uac_noauth.xml",
            &format!("[::1]:{port}"),
            "u1",
            "::1",
            free_port("[::1]"),
            &call_csv("127.0.0.1", "-", "pbx", "100"),
            &["-mi", "127.0.0.1"],
        )
    };
    // A records alone: a call from ::1 is a stranger's
    recognised(&v, "127.0.0.7:5060");
    challenged(from_v6());

    std::fs::write(&dns.zone, records("box.pbx.test. 1 IN AAAA ::1\n")).unwrap();
    recognised(&v, "127.0.0.7:5060, [::1]:5060");
    let alice = callee(
        &v,
        "127.0.0.1",
        ("alice", "Alice-Secret-1"),
        "uas_answer.xml",
    );
    sipp_ok(&from_v6());
    seen(alice);
    let cdr = cdr_of(&v, "100", 1);
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["route"], "user:alice", "{}", cdr);
}

/// A carrier by name is recognised at its SRV target's address and port: its call from
/// there to a DDI reaches the DDI's user without a challenge; from the same address at
/// another port it is a stranger's, challenged.
#[test]
fn a_carrier_by_name_calls_in_from_its_srv_target() {
    let port = free_port("127.0.0.8");
    let dns = dns_server("dns-carrier-in", &zone(&[(10, 10, port, "127.0.0.8")]));
    let ddi = "\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000101\"\n\
               route = \"user\"\nuser = \"alice\"\n";
    let v = Vozbox::start("dns-carrier-in", &dns.config(), &(lab(LAB) + ddi));
    let trunk_from = |p: u16| {
        sipp_at(
            "uac_noauth.xml",
            &v.addr(),
            "u1",
            "127.0.0.8",
            p,
            &call_csv("127.0.0.1", "trunk", "-", "+34944000101"),
            &[],
        )
    };
    recognised_as(&v, "sip.test", &format!("127.0.0.8:{port}"));
    challenged(trunk_from(free_port("127.0.0.8")));
    let alice = callee(
        &v,
        "127.0.0.1",
        ("alice", "Alice-Secret-1"),
        "uas_answer.xml",
    );
    sipp_ok(&trunk_from(port));
    seen(alice);
    let cdr = cdr_of(&v, "+34944000101", 1);
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["direction"], "inbound", "{}", cdr);
}

/// The call was challenged (and, without credentials, went no further).
fn challenged(call: Sipp) {
    assert!(
        !call.ok && call.messages.contains("SIP/2.0 407 "),
        "{}",
        call.messages
    );
}

/// A carrier and a direct friend whose transport is `auto`: their NAPTR records choose it
/// (RFC 3263 §4.1).
const LAB_NAPTR: &str = r#"
[[carrier]]
brand = "acme"
name = "trunk"
address = "naptr.test"
transport = "auto"

[[friend]]
client = "bluebird"
name = "pbx"
mode = "direct"
address = "naptr.test"
transport = "auto"
patterns = ["^2[0-9]{2}$"]
"#;

#[test]
fn a_carrier_and_a_friend_by_naptr_are_reached_over_the_transport_their_records_choose() {
    let port = free_port("127.0.0.9");
    // TCP first by order; UDP (which nobody answers) only after it
    let dns = dns_server(
        "dns-naptr",
        &format!(
            "naptr.test. 1 IN NAPTR 20 10 \"s\" \"SIP+D2U\" \"\" _sip._udp.naptr.test.\n\
             naptr.test. 1 IN NAPTR 10 10 \"s\" \"SIP+D2T\" \"\" _sip._tcp.naptr.test.\n\
             naptr.test. 1 IN NAPTR 5 10 \"s\" \"E2U+sip\" \"\" _x._y.naptr.test.\n\
             _sip._tcp.naptr.test. 1 IN SRV 10 10 {port} box.naptr.test.\n\
             _sip._udp.naptr.test. 1 IN SRV 10 10 {port} box.naptr.test.\n\
             box.naptr.test. 1 IN A 127.0.0.9\n"
        ),
    );
    let v = Vozbox::start("dns-naptr", &dns.config(), &lab(LAB_NAPTR));
    let trunk = SippUas::start("uas_answer.xml", "t1", "127.0.0.9", port);
    alice_calls(&v, "600111222");
    let trunk = seen(trunk);
    assert!(
        trunk
            .messages
            .contains("INVITE sip:+34600111222@naptr.test;transport=tcp SIP/2.0"),
        "{}",
        trunk.messages
    );
    assert!(
        trunk.messages.contains("Via: SIP/2.0/TCP"),
        "{}",
        trunk.messages
    );
    let cdr = cdr_of(&v, "600111222", 1);
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["carrier"], "trunk", "{}", cdr);

    // the direct friend at the same name: over TCP too
    let pbx = SippUas::start("uas_answer.xml", "t1", "127.0.0.9", port);
    alice_calls(&v, "201");
    let pbx = seen(pbx);
    assert!(
        pbx.messages
            .contains("INVITE sip:201@naptr.test;transport=tcp SIP/2.0"),
        "{}",
        pbx.messages
    );
    assert_eq!(cdr_of(&v, "201", 1)["route"], "friend:pbx");
}

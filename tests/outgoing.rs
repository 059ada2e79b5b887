//! Outgoing routes and carrier failover against real peers: a brand's routes choose its
//! carriers in order; a carrier that does not answer (a bound socket that never replies)
//! or answers `503` is left for the next within the same call; the called party's `486`
//! through a carrier is final. Carriers are SIPp callees (or a silent socket) on their
//! own loopback addresses; alice is a SIPp caller.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const LAB: &str = r#"
[[brand]]
name = "acme"

[[carrier]]
brand = "acme"
name = "first"
address = "127.0.0.5"
port = FIRST_PORT
transport = "FIRST_TRANSPORT"

[[carrier]]
brand = "acme"
name = "second"
address = "127.0.0.8"
port = SECOND_PORT

# Spanish numbers: first, then (a route of lower priority that takes any number) second.
[[outgoing_route]]
brand = "acme"
name = "spain"
prefix = "+34"
priority = 1
carriers = ["first"]

[[outgoing_route]]
brand = "acme"
name = "anything"
prefix = "*"
priority = 2
carriers = ["second"]

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

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

# bob busy: his calls go out to a number, through the routes' carriers
[[call_forward]]
client = "bluebird"
user = "bob"
call_type = "any"
forward_type = "busy"
target = "number"
number = "+34600111444"

[[ddi]]
number = "+34944000100"
client = "bluebird"
"#;

struct Lab {
    v: Vozbox,
    first: u16,
    second: u16,
}

fn lab(name: &str) -> Lab {
    lab_with(name, "udp")
}

/// The lab with the first carrier on `transport`.
fn lab_with(name: &str, transport: &str) -> Lab {
    let first = free_port("127.0.0.5");
    let second = free_port("127.0.0.8");
    let prov = LAB
        .replace("FIRST_TRANSPORT", transport)
        .replace("FIRST_PORT", &first.to_string())
        .replace("SECOND_PORT", &second.to_string());
    let v = Vozbox::start(
        name,
        "[calls]\nno_answer_timeout = 20\ncarrier_timeout = 2\n",
        &prov,
    );
    Lab { v, first, second }
}

fn alice_calls(v: &Vozbox, scenario: &str, number: &str) -> Sipp {
    alice_dials(v, scenario, number, "u1", "127.0.0.1", &["-d", "300"])
}

/// The call record of the call to `callee`, as the admin API gives it.
fn cdr_of(v: &Vozbox, callee: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body: serde_json::Value =
            serde_json::from_str(&v.api_get("/api/cdrs")).unwrap_or_default();
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if let Some(c) = items.into_iter().find(|c| c["callee"] == callee) {
            return c;
        }
        assert!(Instant::now() < deadline, "no CDR of {}: {}", callee, body);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The INVITEs a silent carrier's socket received (it never answers).
fn invites_at(sock: &UdpSocket) -> usize {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8192];
    let mut n = 0;
    while let Ok(len) = sock.recv(&mut buf) {
        if buf[..len].starts_with(b"INVITE ") {
            n += 1;
        }
    }
    n
}

#[test]
fn a_carrier_that_does_not_answer_is_left_for_the_next_route() {
    let lab = lab("outgoing-timeout");
    let silent = UdpSocket::bind(("127.0.0.5", lab.first)).unwrap();
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.second);
    let t = Instant::now();
    sipp_ok(&alice_calls(&lab.v, "uac_call.xml", "600111222"));
    let took = t.elapsed();
    let second = second.wait(Duration::from_secs(20));
    sipp_ok(&second);
    // the first carrier got the INVITE (and its retransmissions) and never answered; the
    // call went on to the second after the 2 s carrier timeout, not Timer B's 32 s
    assert!(invites_at(&silent) >= 1);
    assert!(took < Duration::from_secs(15), "the call took {:?}", took);
    assert!(
        second
            .messages
            .contains("INVITE sip:+34600111222@127.0.0.8"),
        "{}",
        second.messages
    );
    let cdr = cdr_of(&lab.v, "600111222");
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["carrier"], "second", "{}", cdr);
    assert_eq!(
        cdr["carriers_tried"],
        serde_json::json!(["first", "second"])
    );
    assert!(
        cdr["route"]
            .as_str()
            .is_some_and(|r| r.starts_with("carrier:second:+34600111222")),
        "{}",
        cdr
    );
}

#[test]
fn a_carrier_503_moves_the_call_on_and_a_busy_callee_does_not() {
    let lab = lab("outgoing-503");
    // 503 from the first: the second carries the call
    let first = SippUas::start("uas_503.xml", "u1", "127.0.0.5", lab.first);
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.second);
    sipp_ok(&alice_calls(&lab.v, "uac_call.xml", "600111222"));
    sipp_ok(&first.wait(Duration::from_secs(20)));
    sipp_ok(&second.wait(Duration::from_secs(20)));
    let cdr = cdr_of(&lab.v, "600111222");
    assert_eq!(cdr["carrier"], "second", "{}", cdr);
    assert_eq!(
        cdr["carriers_tried"],
        serde_json::json!(["first", "second"])
    );

    // the called party is busy behind the first carrier: final, the second never hears
    let first = SippUas::start("uas_busy.xml", "u1", "127.0.0.5", lab.first);
    let silent = UdpSocket::bind(("127.0.0.8", lab.second)).unwrap();
    let c = alice_calls(&lab.v, "uac_refused.xml", "600111333");
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 486"), "{}", c.messages);
    sipp_ok(&first.wait(Duration::from_secs(20)));
    assert_eq!(invites_at(&silent), 0);
    let cdr = cdr_of(&lab.v, "600111333");
    assert_eq!(cdr["disposition"], "busy", "{}", cdr);
    assert_eq!(cdr["carrier"], "first", "{}", cdr);
    assert!(cdr.get("carriers_tried").is_none(), "{}", cdr);
}

#[test]
fn a_number_only_the_catch_all_route_takes_goes_to_its_carrier() {
    let lab = lab("outgoing-catch-all");
    let silent = UdpSocket::bind(("127.0.0.5", lab.first)).unwrap();
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.second);
    sipp_ok(&alice_calls(&lab.v, "uac_call.xml", "0044207000000"));
    sipp_ok(&second.wait(Duration::from_secs(20)));
    assert_eq!(invites_at(&silent), 0);
    let cdr = cdr_of(&lab.v, "0044207000000");
    assert_eq!(cdr["carrier"], "second", "{}", cdr);
    assert!(cdr.get("carriers_tried").is_none(), "{}", cdr);
}

#[test]
fn a_carrier_whose_connection_is_refused_is_left_for_the_next() {
    // the first carrier over TCP, nothing listening on its port: the connection is
    // refused when the call is set up, and the second carrier carries it at once
    let lab = lab_with("outgoing-refused", "tcp");
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.second);
    let t = Instant::now();
    sipp_ok(&alice_calls(&lab.v, "uac_call.xml", "600111222"));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    sipp_ok(&second.wait(Duration::from_secs(20)));
    let cdr = cdr_of(&lab.v, "600111222");
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["carrier"], "second", "{}", cdr);
    assert_eq!(
        cdr["carriers_tried"],
        serde_json::json!(["first", "second"])
    );
}

#[test]
fn a_busy_forward_out_through_a_carrier_fails_over_too() {
    let lab = lab("outgoing-forward");
    let bob = callee(
        &lab.v,
        "127.0.0.1",
        ("bob", "Bob-Secret-22"),
        "uas_busy.xml",
    );
    let first = SippUas::start("uas_503.xml", "u1", "127.0.0.5", lab.first);
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.second);
    sipp_ok(&alice_calls(&lab.v, "uac_call.xml", "101"));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    sipp_ok(&first.wait(Duration::from_secs(20)));
    let second = second.wait(Duration::from_secs(20));
    sipp_ok(&second);
    assert!(
        second
            .messages
            .contains("INVITE sip:+34600111444@127.0.0.8"),
        "{}",
        second.messages
    );
    let cdr = cdr_of(&lab.v, "101");
    assert_eq!(cdr["disposition"], "answered", "{}", cdr);
    assert_eq!(cdr["carrier"], "second", "{}", cdr);
    assert_eq!(
        cdr["carriers_tried"],
        serde_json::json!(["first", "second"])
    );
    assert!(
        cdr["route"]
            .as_str()
            .is_some_and(|r| r.ends_with(">busy> carrier:second:+34600111444")),
        "{}",
        cdr
    );
}

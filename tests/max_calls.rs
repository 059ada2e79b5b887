//! Max calls against the real binary (issue 17): SIPp holds external calls through a SIPp
//! carrier; the next outbound call gets `403` (after the `max_calls` locution's 183 when
//! the client has voice notifications), the next inbound one `486`; a brand's limit counts
//! the calls of all its clients; and a burst of calls that end every way (BYE from either
//! side, CANCEL, 486, no answer) leaves the counters at zero.

mod common;
use common::*;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LAB: &str = r#"
[[brand]]
name = "acme"
max_calls = BRAND_MAX

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = CARRIER_PORT
transport = "udp"

[[ddi_provider]]
brand = "acme"
name = "trunk-in"
addresses = ["127.0.0.6"]

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
country = "ES"
area_code = "94"
max_calls = CLIENT_MAX
voice_notifications = true

[[client]]
brand = "acme"
name = "redwing"
domain = "redwing.example"
outgoing_ddi = "+34944000200"
country = "ES"

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

[[user]]
client = "redwing"
name = "carol"
extension = "300"
password = "Carol-Secret-3"

[[ddi]]
client = "bluebird"
number = "+34944000101"
route = "user"
user = "bob"
"#;

struct Lab {
    v: Vozbox,
    carrier_port: u16,
}

fn lab(name: &str, brand_max: u32, client_max: u32) -> Lab {
    let carrier_port = free_port("127.0.0.5");
    let prov = LAB
        .replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("BRAND_MAX", &brand_max.to_string())
        .replace("CLIENT_MAX", &client_max.to_string());
    Lab {
        v: Vozbox::start(name, "[calls]\nno_answer_timeout = 3\n", &prov),
        carrier_port,
    }
}

const ALICE: (&str, &str, &str) = ("127.0.0.1", "alice", "Alice-Secret-1");
const CAROL: (&str, &str, &str) = ("redwing.example", "carol", "Carol-Secret-3");

/// `who` dials `number` with `scenario`, holding an answered call `hold_ms`.
fn dial(v: &Vozbox, scenario: &str, who: (&str, &str, &str), number: &str, hold_ms: u64) -> Sipp {
    let (domain, user, pw) = who;
    let uri = format!("{}@{}", number, v.addr());
    let csv = call_csv(domain, user, pw, number).replace('\n', ";9\n");
    let csv = csv.replacen("SEQUENTIAL;9\n", "SEQUENTIAL\n", 1);
    sipp(
        scenario,
        &v.addr(),
        "u1",
        "127.0.0.1",
        &csv,
        &["-auth_uri", &uri, "-d", &hold_ms.to_string()],
    )
}

/// The same in a thread of its own (a call held while the test goes on).
fn dial_in_background(v: &Vozbox, who: (&str, &str, &str), hold_ms: u64) -> JoinHandle<Sipp> {
    let (addr, who) = (
        v.addr(),
        (who.0.to_string(), who.1.to_string(), who.2.to_string()),
    );
    std::thread::spawn(move || {
        let uri = format!("+34600111222@{}", addr);
        sipp(
            "uac_call.xml",
            &addr,
            "u1",
            "127.0.0.1",
            &call_csv(&who.0, &who.1, &who.2, "+34600111222"),
            &["-auth_uri", &uri, "-d", &hold_ms.to_string()],
        )
    })
}

/// A DDI provider's call to bob's DDI with `scenario`.
fn inbound(v: &Vozbox, scenario: &str) -> Sipp {
    sipp(
        scenario,
        &v.addr(),
        "u1",
        "127.0.0.6",
        &call_csv("127.0.0.1", "trunk", "-", "+34944000101"),
        &[],
    )
}

/// Waits until the server has `n` answered calls in progress.
fn wait_answered(v: &Vozbox, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls: serde_json::Value =
            serde_json::from_str(&v.api_get("/api/calls")).unwrap_or_default();
        let answered = calls
            .as_array()
            .map(|a| a.iter().filter(|c| c["state"] == "answered").count())
            .unwrap_or(0);
        if answered >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{} answered calls: {}", n, calls);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn carrier(lab: &Lab, scenario: &str, calls: u32) -> SippUas {
    SippUas::start_with(
        scenario,
        "u1",
        "127.0.0.5",
        lab.carrier_port,
        &["-m", &calls.to_string()],
    )
}

#[test]
fn over_max_calls_outbound_hears_the_locution_and_gets_403_and_inbound_gets_486() {
    let lab = lab("max-calls", 0, 2);
    let v = &lab.v;
    let up = carrier(&lab, "uas_answer.xml", 3);
    let held: Vec<_> = (0..2).map(|_| dial_in_background(v, ALICE, 6000)).collect();
    wait_answered(v, 2);
    // the counters are visible
    let usage = v.cli_args(&["usage", "--client", "bluebird"]);
    assert!(
        usage.contains(" 2/2 ") && usage.contains("max_calls"),
        "{}",
        usage
    );

    let c = dial(v, "uac_notice.xml", ALICE, "+34600111333", 0);
    sipp_ok(&c);
    let i183 = c.messages.find("SIP/2.0 183").expect("the locution's 183");
    let i403 = c.messages.find("SIP/2.0 403").expect("403");
    assert!(i183 < i403, "{}", c.messages);
    let c = inbound(v, "uac_noauth_refused.xml");
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 486"), "{}", c.messages);

    for h in held {
        sipp_ok(&h.join().unwrap());
    }
    // Hung up: a new call passes.
    sipp_ok(&dial(v, "uac_call.xml", ALICE, "+34600111444", 300));
    sipp_ok(&up.wait(Duration::from_secs(20)));
    let cdrs = v.cdrs(6);
    assert_eq!(cdrs.matches("max_calls").count(), 2, "{}", cdrs);
}

#[test]
fn a_brand_limit_counts_the_calls_of_all_its_clients() {
    let lab = lab("max-calls-brand", 1, 0);
    let v = &lab.v;
    let up = carrier(&lab, "uas_answer.xml", 2);
    let held = dial_in_background(v, ALICE, 4000);
    wait_answered(v, 1);
    // a client administrator of redwing sees its own usage only: its brand is full
    let op = v.token();
    let body =
        serde_json::json!({"name": "rw", "client": "redwing", "password": "Long-Enough-Pass-1"});
    let (s, r) = v.api_as(&op, "POST", "/api/admins", Some(body));
    assert_eq!(s, 201, "{}", r);
    let login = serde_json::json!({"name": "rw", "password": "Long-Enough-Pass-1"});
    let (_, r) = v.api_as("", "POST", "/api/login", Some(login));
    let rw = r["token"].as_str().expect("a session").to_string();
    let (s, r) = v.api_as(&rw, "GET", "/api/usage", None);
    assert_eq!(s, 200, "{}", r);
    let list = r.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r);
    assert_eq!(list[0]["client"], "redwing");
    assert_eq!(
        (list[0]["brand_calls"].as_u64(), list[0]["calls"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(list[0]["blocked"], "max_calls");
    assert_eq!(
        v.api_as(&rw, "GET", "/api/usage?client=bluebird", None).0,
        404
    );
    // carol is of another client of the same brand (no voice notifications: 403 at once)
    let c = dial(v, "uac_refused.xml", CAROL, "+34600111333", 0);
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    assert!(!c.messages.contains("SIP/2.0 183"), "{}", c.messages);
    sipp_ok(&held.join().unwrap());
    sipp_ok(&dial(v, "uac_call.xml", CAROL, "+34600111444", 300));
    sipp_ok(&up.wait(Duration::from_secs(20)));
}

#[test]
fn calls_that_end_every_way_give_their_places_back() {
    // One place: each call below could only be set up if the one before gave it back.
    let lab = lab("max-calls-burst", 0, 1);
    let v = &lab.v;
    let ways: [(&str, &str, &str); 5] = [
        ("uas_answer.xml", "uac_call.xml", "the caller's BYE"),
        ("uas_bye.xml", "uac_call_remote_bye.xml", "the callee's BYE"),
        ("uas_ring.xml", "uac_cancel.xml", "the caller's CANCEL"),
        ("uas_busy.xml", "uac_refused.xml", "486 from the carrier"),
        ("uas_ring.xml", "uac_refused.xml", "no answer"),
    ];
    for (uas, uac, what) in ways {
        let up = carrier(&lab, uas, 1);
        let c = dial(v, uac, ALICE, "+34600111222", 300);
        assert!(c.ok, "{}: {}\n{}", what, c.output, c.messages);
        sipp_ok(&up.wait(Duration::from_secs(20)));
    }
    // an inbound call too, answered by bob and hung up by the trunk
    let bob = callee(v, "127.0.0.1", ("bob", "Bob-Secret-22"), "uas_answer.xml");
    sipp_ok(&inbound(v, "uac_noauth.xml"));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    // the place is free again
    let up = carrier(&lab, "uas_answer.xml", 1);
    sipp_ok(&dial(v, "uac_call.xml", ALICE, "+34600111222", 300));
    sipp_ok(&up.wait(Duration::from_secs(20)));
    assert!(!v.cdrs(7).contains("max_calls"), "{}", v.cdrs(7));
    let usage: serde_json::Value =
        serde_json::from_str(&v.api_get("/api/usage?client=bluebird")).unwrap();
    assert_eq!(usage[0]["calls"], 0, "{}", usage);
    assert_eq!(usage[0]["brand_calls"], 0, "{}", usage);
}

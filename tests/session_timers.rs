//! Session timers (RFC 4028) and reliable provisionals (RFC 3262) against real peers:
//! a SIPp caller that asks for a 4 s session and never refreshes is hung up both ways (the
//! record says `session_expired`), and so is a callee that says it refreshes and does not; an interval below the minimum gets 422; a callee whose
//! session vozbox refreshes gets UPDATEs and the call outlives its interval; a callee's
//! `Require: 100rel` 183 with SDP is PRACKed and its early media reaches the caller.
//! The tests use `[calls] session_expires = 4`, `min_se = 2` (the defaults are RFC 4028's
//! 1800 and 90 s) except the 422 test, which checks the default minimum.

mod common;
use common::rtp::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const SHORT: &str = "[calls]\nsession_expires = 4\nmin_se = 2\n";
const ALICE: (&str, &str) = ("alice", "Alice-Secret-1");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

/// alice calls 101 with `scenario`, her Session-Expires `se` (field 4).
fn alice_calls(v: &Vozbox, scenario: &str, se: u32, extra: &[&str]) -> Sipp {
    let addr = v.addr();
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username={} password={}];{};101;{}\n",
        ALICE.0, ALICE.1, ALICE.0, se
    );
    let uri = format!("101@{}", addr);
    let mut args = vec!["-auth_uri", uri.as_str()];
    args.extend_from_slice(extra);
    sipp(scenario, &addr, "u1", "127.0.0.1", &csv, &args)
}

/// The latest call record's line.
fn last_cdr(v: &Vozbox) -> String {
    let out = v.cdrs(1);
    out.lines()
        .rev()
        .nth(1)
        .unwrap_or_else(|| panic!("no CDR in:\n{}", out))
        .to_string()
}

/// The latest call record through the API (newest first).
fn last_record(v: &Vozbox) -> serde_json::Value {
    let r: serde_json::Value = serde_json::from_str(&v.api_get("/api/cdrs")).unwrap_or_default();
    r["items"][0].clone()
}

#[test]
fn a_caller_that_never_refreshes_its_session_is_hung_up_both_ways() {
    let v = Vozbox::start("st-expiry", SHORT, PROVISION);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let started = Instant::now();
    // the caller asks for 4 s, it refreshes (refresher=uac), and never does
    let caller = alice_calls(&v, "uac_call_timer.xml", 4, &[]);
    sipp_ok(&caller);
    let bob = bob.wait(Duration::from_secs(20));
    sipp_ok(&bob);
    // both got vozbox's BYE: at 4 − min(32, 4/3) ≈ 2.7 s after the answer
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(bob.messages.contains("BYE sip:"), "{}", bob.messages);
    let cdr = last_cdr(&v);
    assert!(cdr.contains("session_expired"), "{cdr}");
    assert!(v.log().contains("expired"), "{}", v.log());
    // counted under its own disposition
    let (status, metrics) = v.api("GET", "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("vozbox_calls_ended_total")
                && l.contains("disposition=\"session_expired\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[test]
fn a_callee_that_never_refreshes_its_session_is_hung_up_both_ways() {
    let v = Vozbox::start("st-expiry-b", SHORT, PROVISION);
    // bob's 200: 4 s, he refreshes (refresher=uas), and never does; alice has no timer
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer_no_refresh.xml");
    let started = Instant::now();
    let caller = alice_calls(&v, "uac_call_remote_bye.xml", 0, &[]);
    sipp_ok(&caller);
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let cdr = last_cdr(&v);
    assert!(cdr.contains("session_expired"), "{cdr}");
}

#[test]
fn an_interval_below_the_minimum_gets_422_with_min_se() {
    // the default minimum: RFC 4028's 90 s
    let v = Vozbox::start("st-422", "", PROVISION);
    let caller = alice_calls(&v, "uac_session_too_small.xml", 30, &[]);
    sipp_ok(&caller);
    assert!(
        caller.messages.contains("422 Session Interval Too Small"),
        "{}",
        caller.messages
    );
}

#[test]
fn vozbox_refreshes_the_callees_session_with_update_and_the_call_outlives_it() {
    let v = Vozbox::start("st-refresh", SHORT, PROVISION);
    // bob's 200: Session-Expires 4;refresher=uac — vozbox, his UAC, refreshes
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer_timer.xml");
    // alice asks for no timer and holds the call 5 s: longer than bob's interval
    let caller = alice_calls(&v, "uac_call.xml", 0, &["-d", "5000"]);
    sipp_ok(&caller);
    let bob = bob.wait(Duration::from_secs(20));
    sipp_ok(&bob);
    // two UPDATEs, each answered 200, then alice's BYE
    assert_eq!(
        bob.messages.matches("UPDATE sip:").count(),
        2,
        "{}",
        bob.messages
    );
    let cdr = last_cdr(&v);
    assert!(
        cdr.contains("answered") && !cdr.contains("session_expired"),
        "{cdr}"
    );
    let record = last_record(&v);
    assert!(
        record["duration"].as_u64().is_some_and(|d| d >= 5),
        "{record}"
    );
}

/// The relay port facing the caller while the call rings (early media).
fn ringing_port(v: &Vozbox) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = v.calls();
        if let Some(p) = out
            .lines()
            .find(|l| l.contains("ringing"))
            .and_then(|l| l.split("A ").nth(1))
            .and_then(|r| r.split(':').next())
            .and_then(|p| p.trim().parse().ok())
        {
            return p;
        }
        assert!(Instant::now() < deadline, "no ringing call: {}", out);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_reliable_183_is_pracked_and_its_early_media_reaches_the_caller() {
    let v = Vozbox::start("st-100rel", "", PROVISION);
    let bob = echoing_bob(&v, "uas_100rel.xml");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let addr = v.addr();
    let (caller, got) = std::thread::scope(|s| {
        let caller = s.spawn(move || {
            alice_calls_bob_from("uac_early_media.xml", &addr, port, &["-d", "300"])
        });
        // before the answer (bob answers 3 s after his 183): RTP to the relay comes back
        // from bob's echo
        let relay = ringing_port(&v);
        let got = talk(&sock, relay, 50);
        (caller.join().expect("caller"), got)
    });
    sipp_ok(&caller);
    let bob = bob.wait(Duration::from_secs(20));
    sipp_ok(&bob);
    // bob got his PRACK (RAck checked by the scenario)
    assert!(bob.messages.contains("PRACK sip:"), "{}", bob.messages);
    // alice got the 183 with SDP, plainly (she did not ask for 100rel)
    let i = caller.messages.find("SIP/2.0 183").expect("183 to alice");
    let early = &caller.messages[i..];
    let early = &early[..early.find("\n\n").unwrap_or(early.len())];
    assert!(!early.contains("RSeq"), "{early}");
    assert!(
        got.iter().filter(|p| ssrc(p) == Some(SSRC)).count() >= 30,
        "early media: {} packets came back",
        got.len()
    );
}

#[test]
fn a_caller_that_requires_100rel_is_served_and_gets_reliable_provisionals() {
    let v = Vozbox::start("st-100rel-caller", "", PROVISION);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_100rel.xml");
    // Require: 100rel is no longer refused with 420; the 183 comes reliably and alice's
    // PRACK of it is answered 200 (the scenario checks RSeq, Require and the 200)
    let caller = alice_calls(&v, "uac_100rel.xml", 0, &[]);
    sipp_ok(&caller);
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert!(
        !caller.messages.contains("420 Bad Extension"),
        "{}",
        caller.messages
    );
    let cdr = last_cdr(&v);
    assert!(cdr.contains("answered"), "{cdr}");
}

//! Stopping the server with SIGTERM (as `systemctl stop` does): new calls are refused with
//! 503, calls in progress end on their own within `[calls] shutdown_grace` or are hung up
//! then (BYE to both sides), every call record is in the database afterwards, the database
//! is closed cleanly and the process exits with status 0.

mod common;

use common::*;
use std::time::{Duration, Instant};

const ALICE: (&str, &str) = ("alice", "Alice-Secret-1");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

fn server(name: &str, grace_secs: u64) -> Vozbox {
    Vozbox::start(
        name,
        &format!("[calls]\nshutdown_grace = {}\n", grace_secs),
        PROVISION,
    )
}

/// Waits until the server lists an answered call.
fn wait_answered(v: &Vozbox) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: serde_json::Value =
            serde_json::from_str(&v.api_get("/api/calls")).unwrap_or_default();
        let answered = list
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["state"] == "answered"));
        if answered {
            return;
        }
        assert!(Instant::now() < deadline, "no answered call");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// alice calls bob (101) with `scenario` and `extra` SIPp arguments, from a thread of `s`.
fn alice_calls<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    v: &Vozbox,
    scenario: &'static str,
    extra: &'static [&'static str],
) -> std::thread::ScopedJoinHandle<'s, Sipp> {
    let addr = v.addr();
    s.spawn(move || {
        let uri = format!("101@{}", addr);
        let mut args = vec!["-auth_uri", uri.as_str()];
        args.extend_from_slice(extra);
        sipp(
            scenario,
            &addr,
            "u1",
            "127.0.0.1",
            &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
            &args,
        )
    })
}

/// Whether the database file opens read-only, which redb refuses for a file that was not
/// closed cleanly (it needs the repair a writer does on open).
fn closed_cleanly(v: &Vozbox) -> bool {
    redb::Builder::new()
        .open_read_only(v.dir.join("vozbox.redb"))
        .is_ok()
}

#[test]
fn sigterm_hangs_up_calls_after_the_grace_time_keeps_their_records_and_exits_0() {
    let mut v = server("shutdown-grace", 1);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let (status, waited, caller) = std::thread::scope(|s| {
        // alice waits for the BYE: only the server's hang-up ends her call
        let caller = alice_calls(s, &v, "uac_call_remote_bye.xml", &[]);
        wait_answered(&v);
        let sent = Instant::now();
        v.terminate();
        let status = v.wait_exit(Duration::from_secs(20));
        let waited = sent.elapsed();
        (status, waited, caller.join().expect("caller thread"))
    });
    let status = status.unwrap_or_else(|| panic!("vozbox still runs; log:\n{}", v.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", v.log());
    // the call was given its grace time before it was hung up
    assert!(
        waited >= Duration::from_secs(1),
        "exited after {:?}",
        waited
    );
    // both sides got a BYE (and answered it): their scenarios end with it
    sipp_ok(&caller);
    sipp_ok(&bob.wait(Duration::from_secs(10)));
    let log = v.log();
    for line in [
        // the registration and the call's end, a line each
        "registered sip:bob@127.0.0.1 contact sip:bob@127.0.0.1:",
        "from udp:127.0.0.1:",
        "call ended: client bluebird, 100 (alice) → 101, hung_up (200)",
        "draining: 1 call(s) in progress, up to 1s",
        "grace time over: hanging up 1 call(s)",
        "all calls ended",
        "database closed",
    ] {
        assert!(log.contains(line), "no {:?} in the log:\n{}", line, log);
    }
    assert!(closed_cleanly(&v), "the database needs a repair");
    // `vozbox cdrs` on the stopped server's config
    let cdrs = v.cli("cdrs");
    assert!(cdrs.contains("1 record(s)"), "{}", cdrs);
    let record = cdrs.lines().nth(1).unwrap_or_default();
    assert!(
        record.contains("alice") && record.contains("101") && record.contains("hung_up"),
        "{}",
        cdrs
    );
    // START is a readable local time with its offset (`2026-12-05 11:12:27+01:00`), the
    // call's of a moment ago
    let start = record.get(..25).unwrap_or_default().trim();
    let at: jiff::Timestamp = start
        .parse()
        .unwrap_or_else(|e| panic!("{:?}: {}: {}", start, e, cdrs));
    let age = std::time::Duration::from_secs(
        (jiff::Timestamp::now().as_second() - at.as_second()).max(0) as u64,
    );
    assert!(age < Duration::from_secs(120), "{}", cdrs);
}

#[test]
fn during_the_drain_new_calls_get_503_registrations_work_and_calls_end_normally() {
    let mut v = server("shutdown-drain", 30);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let (status, waited, caller) = std::thread::scope(|s| {
        // alice hangs up herself 6 s after the answer: time for what follows on a busy box
        let caller = alice_calls(s, &v, "uac_call.xml", &["-d", "6000"]);
        wait_answered(&v);
        // readiness: ready until the drain, then 503 (the API answers while it drains)
        assert_eq!(v.api("GET", "/ready"), (200, "ready".to_string()));
        let sent = Instant::now();
        v.terminate();
        v.wait_for_log("draining: 1 call(s) in progress", Duration::from_secs(5));
        assert_eq!(v.api("GET", "/ready"), (503, "draining".to_string()));
        // a new call: 503 with Retry-After, before any challenge
        sipp_ok(&sipp(
            "uac_unavailable.xml",
            &v.addr(),
            "u1",
            "127.0.0.1",
            &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
            &[],
        ));
        // registrations keep working (their bindings outlive the restart)
        register(&v, "127.0.0.1", ALICE, free_port("127.0.0.1"));
        assert!(v.is_running(), "vozbox exited with a call in progress");
        let caller = caller.join().expect("caller thread");
        let status = v.wait_exit(Duration::from_secs(20));
        (status, sent.elapsed(), caller)
    });
    let status = status.unwrap_or_else(|| panic!("vozbox still runs; log:\n{}", v.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", v.log());
    // it exited because the call ended, long before the 30 s of grace
    assert!(
        waited < Duration::from_secs(15),
        "exited after {:?}",
        waited
    );
    sipp_ok(&caller);
    sipp_ok(&bob.wait(Duration::from_secs(10)));
    let log = v.log();
    assert!(!log.contains("grace time over"), "{}", log);
    assert!(log.contains("all calls ended"), "{}", log);
    assert!(log.contains("database closed"), "{}", log);
    assert!(
        log.contains("call ended: client bluebird, 100 (alice) → 101, answered (200)"),
        "{}",
        log
    );
    assert!(closed_cleanly(&v), "the database needs a repair");
    // the call ended normally; the refused one left no record
    let cdrs = v.cli("cdrs");
    assert!(cdrs.contains("1 record(s)"), "{}", cdrs);
    assert!(cdrs.contains("answered"), "{}", cdrs);
    // alice's binding, made during the drain, is in the database
    assert!(v.registrations().contains("sip:alice@127.0.0.1"));
}

/// The control of `closed_cleanly`: a server killed outright leaves a database that redb
/// will not open read-only.
#[test]
fn a_killed_server_leaves_a_database_that_needs_a_repair() {
    let mut v = server("shutdown-killed", 1);
    v.kill();
    assert!(!closed_cleanly(&v));
}

/// SIGHUP (a service manager's reload) without a TLS listener leaves the server running;
/// SIGTERM with no call in progress stops it at once.
#[test]
fn sighup_without_tls_is_harmless_and_an_idle_server_stops_at_once() {
    let mut v = server("shutdown-hup", 30);
    v.signal("HUP");
    v.wait_for_log("SIGHUP: no TLS listener", Duration::from_secs(5));
    assert!(v.is_running(), "SIGHUP stopped vozbox");
    let sent = Instant::now();
    v.terminate();
    let status = v.wait_exit(Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("vozbox still runs; log:\n{}", v.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", v.log());
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let log = v.log();
    assert!(log.contains("draining: no call in progress"), "{}", log);
    assert!(log.contains("database closed"), "{}", log);
    assert!(closed_cleanly(&v), "the database needs a repair");
}

/// A second SIGTERM during the drain hangs up at once instead of waiting for the grace.
#[test]
fn a_second_sigterm_hangs_up_at_once() {
    let mut v = server("shutdown-twice", 30);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let (status, waited, caller) = std::thread::scope(|s| {
        let caller = alice_calls(s, &v, "uac_call_remote_bye.xml", &[]);
        wait_answered(&v);
        let sent = Instant::now();
        v.terminate();
        v.wait_for_log("draining: 1 call(s) in progress", Duration::from_secs(5));
        v.terminate();
        let status = v.wait_exit(Duration::from_secs(20));
        (
            status,
            sent.elapsed(),
            caller.join().expect("caller thread"),
        )
    });
    let status = status.unwrap_or_else(|| panic!("vozbox still runs; log:\n{}", v.log()));
    assert_eq!(status.code(), Some(0), "log:\n{}", v.log());
    assert!(
        waited < Duration::from_secs(10),
        "exited after {:?}",
        waited
    );
    sipp_ok(&caller);
    sipp_ok(&bob.wait(Duration::from_secs(10)));
    let log = v.log();
    assert!(
        log.contains("second signal: hanging up 1 call(s) now"),
        "{}",
        log
    );
    assert!(v.cli("cdrs").contains("hung_up"), "{}", v.cli("cdrs"));
}

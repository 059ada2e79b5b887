//! Overload control against the real binary (issue 22): past `[overload] max_setup` calls
//! being set up, a new INVITE is answered `503` + `Retry-After` before any digest or
//! routing, while the calls already admitted complete.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn an_invite_past_max_setup_gets_503_while_the_admitted_calls_complete() {
    let v = Vozbox::start("overload-setup", "[overload]\nmax_setup = 2\n", PROVISION);
    // bob rings 2 s before answering each of two calls
    let bob = callee_with(
        &v,
        "127.0.0.1",
        ("bob", "Bob-Secret-22"),
        "uas_answer_late.xml",
        &["-m", "2"],
    );
    let admitted: Vec<_> = (0..2)
        .map(|_| {
            let addr = v.addr();
            let csv = call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101");
            std::thread::spawn(move || {
                let uri = format!("101@{}", addr);
                sipp(
                    "uac_call.xml",
                    &addr,
                    "u1",
                    "127.0.0.1",
                    &csv,
                    &["-auth_uri", &uri, "-d", "300"],
                )
            })
        })
        .collect();
    // both are ringing: the third is refused at once, with no challenge first
    std::thread::sleep(Duration::from_millis(1000));
    let during = v.api_get("/metrics");
    assert!(during.contains("vozbox_calls_setting_up 2"), "{}", during);
    let third = alice_dials(&v, "uac_unavailable.xml", "101", "u1", "127.0.0.1", &[]);
    sipp_ok(&third);
    assert!(
        third.messages.contains("Retry-After: 5"),
        "{}",
        third.messages
    );
    // the admitted calls are answered and hung up normally
    for call in admitted {
        sipp_ok(&call.join().unwrap());
    }
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let cdrs = v.cdrs(2);
    assert_eq!(cdrs.matches("answered").count(), 2, "{}", cdrs);
    let after = v.api_get("/metrics");
    assert!(after.contains("vozbox_calls_setting_up 0"), "{}", after);
    assert!(
        after.contains("vozbox_overload_refused_total{reason=\"max_setup\"} 1"),
        "{}",
        after
    );
    assert!(
        v.log().contains("overload: 1 new request(s) refused"),
        "{}",
        v.log()
    );
}

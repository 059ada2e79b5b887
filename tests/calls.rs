//! Calls through the B2BUA against real peers: SIPp callers and callees (scenarios in
//! `tests/sipp/`), and two baresip instances. Every test starts its own vozbox on free
//! loopback ports; carriers, DDI providers and direct friends live on their own loopback
//! addresses (127.0.0.5–8) because they are recognised by address. The lab is
//! `common/calls_lab.rs`; the calls to and from friends are in `tests/friends.rs`.

mod common;
use common::calls_lab::*;
use common::*;
use std::time::Duration;

#[test]
fn user_calls_user_and_the_caller_hangs_up() {
    let lab = lab("call-basic");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    let caller = call(&lab.v, "uac_call.xml", ALICE, "101");
    sipp_ok(&caller);
    let callee = done(bob);
    // Two independent legs: their own Call-IDs and tags; the caller is shown by extension.
    let invite_in = first(&callee.messages, "INVITE sip:bob@");
    let invite_out = first(&caller.messages, "INVITE sip:101@");
    assert_ne!(header(invite_in, "Call-ID"), header(invite_out, "Call-ID"));
    assert!(
        header(invite_in, "From").starts_with("<sip:100@127.0.0.1>"),
        "{}",
        invite_in
    );
    assert!(
        invite_in.contains("m=audio"),
        "the offer is carried: {}",
        invite_in
    );
    let cdr = last_cdr(&lab.v, 1);
    for word in ["bluebird", "101", "internal", "user:bob", "answered", "200"] {
        assert!(cdr.contains(word), "{:?} not in {}", word, cdr);
    }
}

#[test]
fn vozbox_calls_lists_a_call_in_progress() {
    let lab = lab("call-list");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    let v = &lab.v;
    let listed = std::thread::scope(|s| {
        let addr = v.addr();
        // the call is held for 5 s: time enough to list it on a loaded machine
        let caller = s.spawn(move || {
            sipp(
                "uac_call.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
                &["-auth_uri", &format!("101@{}", addr), "-d", "5000"],
            )
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = String::new();
        while std::time::Instant::now() < deadline && !caller.is_finished() {
            seen = v.calls();
            if seen.contains("answered") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        sipp_ok(&caller.join().expect("caller thread"));
        seen
    });
    done(bob);
    assert!(listed.contains("1 active call(s)"), "{}", listed);
    for word in [
        "bluebird",
        "100 (alice)",
        "101",
        "internal",
        "user:bob",
        "answered",
    ] {
        assert!(listed.contains(word), "{:?} not in {}", word, listed);
    }
}

/// An operator hangs up a call in progress through the admin API: both legs get BYE (SIPp
/// on each side waits for it), the record says `hung_up`; an unknown call is 404.
#[test]
fn the_admin_api_hangs_up_a_call_in_progress() {
    let lab = lab("call-api-hangup");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    let v = &lab.v;
    std::thread::scope(|s| {
        let addr = v.addr();
        let caller = s.spawn(move || {
            sipp(
                "uac_call_remote_bye.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
                &["-auth_uri", &format!("101@{}", addr)],
            )
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let id = loop {
            let list: serde_json::Value =
                serde_json::from_str(&v.api_get("/api/calls")).unwrap_or_default();
            let answered = list.as_array().and_then(|l| {
                l.iter()
                    .find(|c| c["state"] == "answered")
                    .and_then(|c| c["id"].as_u64())
            });
            if let Some(id) = answered {
                break id;
            }
            assert!(std::time::Instant::now() < deadline, "no answered call");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(v.api("DELETE", &format!("/api/calls/{}", id)).0, 200);
        assert_eq!(v.api("DELETE", &format!("/api/calls/{}", id)).0, 404);
        assert_eq!(v.api("DELETE", "/api/calls/nonsense").0, 404);
        sipp_ok(&caller.join().expect("caller thread"));
    });
    done(bob);
    assert!(last_cdr(v, 1).contains("hung_up"), "{}", v.cdrs(1));
}

#[test]
fn the_callee_hangs_up() {
    let lab = lab("call-remote-bye");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_bye.xml");
    sipp_ok(&call(&lab.v, "uac_call_remote_bye.xml", ALICE, "101"));
    done(bob);
    assert!(last_cdr(&lab.v, 1).contains("answered"));
}

#[test]
fn a_user_with_two_contacts_is_forked_and_the_loser_cancelled() {
    let lab = lab("call-fork");
    let answering = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    let ringing = callee(&lab.v, "127.0.0.1", BOB, "uas_ring.xml");
    sipp_ok(&call(&lab.v, "uac_call.xml", ALICE, "101"));
    done(answering);
    let lost = done(ringing);
    assert!(
        lost.messages.contains("CANCEL sip:bob@"),
        "{}",
        lost.messages
    );
    assert!(last_cdr(&lab.v, 1).contains("answered"));
}

#[test]
fn cancel_before_answer() {
    let lab = lab("call-cancel");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_ring.xml");
    sipp_ok(&call(&lab.v, "uac_cancel.xml", ALICE, "101"));
    done(bob);
    let cdr = last_cdr(&lab.v, 1);
    assert!(cdr.contains("cancelled") && cdr.contains("487"), "{}", cdr);
}

#[test]
fn busy_callee_gives_486() {
    let lab = lab("call-busy");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_busy.xml");
    refused(&lab.v, ALICE, "101", 486);
    done(bob);
    assert!(last_cdr(&lab.v, 1).contains("busy"));
}

#[test]
fn not_registered_gives_480_and_unknown_gives_404() {
    let lab = lab("call-480-404");
    refused(&lab.v, ALICE, "101", 480);
    assert!(last_cdr(&lab.v, 1).contains("not_registered"));
    refused(&lab.v, ALICE, "nobody", 404);
    assert!(last_cdr(&lab.v, 2).contains("not_found"));
}

#[test]
fn hold_and_resume_with_reinvite() {
    let lab = lab("call-hold");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_hold.xml");
    sipp_ok(&call(&lab.v, "uac_hold.xml", ALICE, "101"));
    done(bob);
    assert!(last_cdr(&lab.v, 1).contains("answered"));
}

#[test]
fn external_call_through_the_carrier_presents_the_ddi_in_e164() {
    let lab = lab("call-external");
    let carrier = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", lab.carrier_port);
    sipp_ok(&call(&lab.v, "uac_call.xml", ALICE, "600111222"));
    let carrier = done(carrier);
    let inv = first(&carrier.messages, "INVITE sip:");
    assert!(
        inv.starts_with(&format!(
            "INVITE sip:+34600111222@127.0.0.5:{}",
            lab.carrier_port
        )),
        "{}",
        inv
    );
    assert!(
        header(inv, "From").starts_with("<sip:+34944000100@"),
        "{}",
        inv
    );
    assert!(
        header(inv, "P-Asserted-Identity").starts_with("<sip:+34944000100@"),
        "{}",
        inv
    );
    let cdr = last_cdr(&lab.v, 1);
    assert!(
        cdr.contains("outbound") && cdr.contains("carrier:upstream"),
        "{}",
        cdr
    );
}

#[test]
fn a_carrier_that_challenges_gets_its_credentials() {
    let lab = lab("call-carrier-auth");
    let carrier = SippUas::start("uas_challenge.xml", "u1", "127.0.0.5", lab.carrier_port);
    sipp_ok(&call(&lab.v, "uac_call.xml", ALICE, "+34600111222"));
    done(carrier);
    assert!(last_cdr(&lab.v, 1).contains("answered"));
}

#[test]
fn external_call_denied_by_the_acl_gets_403() {
    let lab = lab("call-acl");
    refused(&lab.v, ALICE, "0044207946000", 403);
    assert!(last_cdr(&lab.v, 1).contains("acl_denied"));
}

#[test]
fn a_carrier_call_to_a_ddi_reaches_its_user_and_an_unknown_ddi_gets_404() {
    let lab = lab("call-ddi");
    let v = &lab.v;
    let bob = callee(v, "127.0.0.1", BOB, "uas_answer.xml");
    let trunk = |number: &str, scenario: &str| {
        sipp(
            scenario,
            &v.addr(),
            "u1",
            "127.0.0.6",
            &call_csv("127.0.0.1", "trunk", "-", number),
            &[],
        )
    };
    sipp_ok(&trunk("+34944000101", "uac_noauth.xml"));
    done(bob);
    assert!(last_cdr(v, 1).contains("inbound"));
    let c = trunk("+34944000999", "uac_noauth_refused.xml");
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 404"), "{}", c.messages);
}

#[test]
fn in_dialog_request_for_an_unknown_call_gets_481() {
    let lab = lab("call-481");
    let bye = "BYE sip:vozbox@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgone1;rport\r\nFrom: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:b@127.0.0.1>;tag=b\r\nCall-ID: gone@test\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let r = udp_exchange(
        &lab.v.addr(),
        "127.0.0.1",
        bye.as_bytes(),
        Duration::from_secs(3),
    )
    .expect("an answer");
    assert!(r.starts_with("SIP/2.0 481"), "{}", r);
}

/// A second, independent peer: two baresip phones register to the demo-style client and
/// call each other through vozbox (bob answers automatically; alice hangs up when she
/// quits). Signalling only: audio through the relay is the media issue's.
#[test]
fn two_baresip_phones_call_each_other() {
    let v = Vozbox::start("baresip-call", "", PROVISION);
    let (bob_dir, _) = baresip_dir(
        "bob",
        &format!(
            "<sip:bob@127.0.0.1:{};transport=udp>;auth_pass=Bob-Secret-22;regint=60;answermode=auto",
            v.port
        ),
        880,
    );
    let (alice_dir, _) = baresip_dir(
        "alice",
        &format!(
            "<sip:alice@127.0.0.1:{};transport=udp>;auth_pass=Alice-Secret-1;regint=60",
            v.port
        ),
        440,
    );
    let (alice_out, bob_out) = baresip_call(&v, &alice_dir, &bob_dir, (5, 8));
    // Alice authenticated her INVITE, got bob's answer and hung up with BYE.
    assert!(alice_out.contains("SIP/2.0 407"), "{}", alice_out);
    assert!(alice_out.contains("SIP/2.0 200 Answering"), "{}", alice_out);
    assert!(alice_out.contains("\nBYE sip:vozbox@"), "{}", alice_out);
    // Bob was called by vozbox's own leg and saw the BYE.
    assert!(bob_out.contains("answering call"), "{}", bob_out);
    assert!(bob_out.contains("@vozbox"), "{}", bob_out);
    assert!(bob_out.contains("\nBYE sip:bob-"), "{}", bob_out);
    let cdr = last_cdr(&v, 1);
    for word in ["100 (alice)", "101", "user:bob", "answered", "200"] {
        assert!(cdr.contains(word), "{:?} not in {}", word, cdr);
    }
}

#[test]
fn a_caller_over_tcp_reaches_a_callee_over_udp() {
    let lab = lab("call-tcp");
    let v = &lab.v;
    let bob = callee(v, "127.0.0.1", BOB, "uas_answer.xml");
    let uri = format!("101@{}", v.addr());
    sipp_ok(&sipp(
        "uac_call.xml",
        &v.addr(),
        "t1",
        "127.0.0.1",
        &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
        &["-auth_uri", &uri],
    ));
    done(bob);
    assert!(last_cdr(v, 1).contains("answered"));
}

/// Timers end what a peer leaves hanging: a callee that rings forever is cancelled after
/// `no_answer_timeout` (480 to the caller), one that never answers at all fails with 408
/// after Timer B (64·T1 = 32 s).
#[test]
fn no_answer_and_a_vanished_callee_are_ended_by_timers() {
    let dir = temp_dir("call-timers");
    let port = free_port("127.0.0.1");
    let v = Vozbox::start_in(dir, port, "[calls]\nno_answer_timeout = 2\n", PROVISION);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_ring.xml");
    let c = call(&v, "uac_refused.xml", ALICE, "101");
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 480"), "{}", c.messages);
    done(bob);
    assert!(last_cdr(&v, 1).contains("no_answer"));
    // bob registers a contact where nothing answers
    register(&v, "127.0.0.1", BOB, free_port("127.0.0.1"));
    let started = std::time::Instant::now();
    let c = call(&v, "uac_refused.xml", ALICE, "101");
    sipp_ok(&c);
    assert!(
        c.messages.contains("SIP/2.0 408") || c.messages.contains("SIP/2.0 480"),
        "{}",
        c.messages
    );
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(v.calls().contains("0 active call(s)"), "{}", v.calls());
}

/// Listening on the wildcard address, vozbox still writes a reachable address (the one the
/// kernel routes to each peer from) in its Via and Contact.
#[test]
fn a_wildcard_listener_advertises_a_reachable_address() {
    let dir = temp_dir("call-wildcard");
    let port = free_port("0.0.0.0");
    let v = Vozbox::start_on("0.0.0.0", dir, port, "", PROVISION);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let c = call(&v, "uac_call.xml", ALICE, "101");
    sipp_ok(&c);
    let bob = done(bob);
    let invite = first(&bob.messages, "INVITE sip:");
    assert!(!invite.contains("0.0.0.0"), "{}", invite);
    assert!(
        header(invite, "Contact").starts_with(&format!("<sip:vozbox@127.0.0.1:{}", port)),
        "{}",
        invite
    );
    assert!(!c.messages.contains("@0.0.0.0"), "{}", c.messages);
}

/// A late offer: the INVITE has no SDP, the callee's 200 brings the offer (through the
/// relay) and the caller's answer reaches the callee in vozbox's ACK.
#[test]
fn a_late_offer_travels_in_the_200_and_the_ack() {
    let lab = lab("call-late-offer");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    sipp_ok(&call(&lab.v, "uac_late_offer.xml", ALICE, "101"));
    let bob = done(bob);
    let invite = first(&bob.messages, "INVITE sip:bob@");
    assert!(!invite.contains("m=audio"), "{}", invite);
    let ack = first(&bob.messages, "ACK sip:");
    assert!(
        at_the_relay(&lab.v, ack),
        "the answer in the ACK must point at the relay: {}",
        ack
    );
    assert!(last_cdr(&lab.v, 1).contains("answered"));
}

/// Whether the SDP of message `m` has its audio at a port of `v`'s relay range.
fn at_the_relay(v: &Vozbox, m: &str) -> bool {
    let first_port = media_range(v.port);
    m.lines().any(|l| {
        l.starts_with("m=audio ")
            && l.split(' ')
                .nth(1)
                .and_then(|p| p.parse::<u16>().ok())
                .is_some_and(|p| (first_port..first_port + 200).contains(&p))
    })
}

/// SDP no relay can read is never passed on: its media would bypass the relay and show
/// each party the other's address. A 200 carrying it is ACKed and hung up, the caller
/// gets 488; a re-INVITE offering it is refused with 488 and the call goes on.
#[test]
fn sdp_the_relay_cannot_read_is_refused_not_passed_on() {
    let lab = lab("call-unrelayable");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer_unrelayable.xml");
    let caller = refused(&lab.v, ALICE, "101", 488);
    assert!(!caller.messages.contains("40x0"), "{}", caller.messages);
    done(bob);
    assert!(last_cdr(&lab.v, 1).contains("488"));

    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer.xml");
    sipp_ok(&call(&lab.v, "uac_reinvite_unrelayable.xml", ALICE, "101"));
    let bob = done(bob);
    assert!(!bob.messages.contains("40x0"), "{}", bob.messages);
    assert!(last_cdr(&lab.v, 2).contains("answered"));
}

/// SDP inside a multipart body — a location with the caller's INVITE (RFC 6442), ISUP
/// with a SIP-I gateway's 183 and 200 — is relayed: each side gets the SDP part alone,
/// as plain SDP pointing at the relay; the location and the ISUP are not passed on, nor
/// is a 180's body of ISUP alone, nor SDP in an INFO.
#[test]
fn sdp_inside_multipart_bodies_is_relayed_and_passed_on_alone() {
    let lab = lab("call-multipart");
    let bob = callee(&lab.v, "127.0.0.1", BOB, "uas_answer_multipart.xml");
    let caller = call(&lab.v, "uac_call_multipart.xml", ALICE, "101");
    sipp_ok(&caller);
    let bob = done(bob);
    let relayed =
        |m: &str| header(m, "Content-Type") == "application/sdp" && at_the_relay(&lab.v, m);
    let invite = first(&bob.messages, "INVITE sip:bob@");
    assert!(relayed(invite), "{}", invite);
    assert!(!invite.contains("secret-place"), "{}", invite);
    for start in ["SIP/2.0 183", "SIP/2.0 200"] {
        let m = first(&caller.messages, start);
        assert!(relayed(m), "{}", m);
        assert!(!m.contains("ISUP"), "{}", m);
    }
    // the 180 of ISUP alone reaches the caller without a body
    let ringing = first(&caller.messages, "SIP/2.0 180");
    assert!(
        !ringing.contains("ISUP") && !ringing.contains("Content-Type"),
        "{}",
        ringing
    );
    // an INFO with SDP in it offers nothing: relayed without it
    let info = first(&bob.messages, "INFO sip:");
    assert!(
        !info.contains("m=audio") && !info.contains("Content-Type"),
        "{}",
        info
    );
    assert!(last_cdr(&lab.v, 1).contains("answered"));
    // a multipart body that cannot be framed as its Content-Type says: 400, nobody called
    let c = call(&lab.v, "uac_multipart_unframed.xml", ALICE, "101");
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 400"), "{}", c.messages);
}

/// `[calls] max_duration` ends an answered call with BYE to both sides.
#[test]
fn max_duration_hangs_up_both_sides() {
    let dir = temp_dir("call-max-duration");
    let port = free_port("127.0.0.1");
    let v = Vozbox::start_in(dir, port, "[calls]\nmax_duration = 1\n", PROVISION);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    // alice waits for vozbox's BYE; bob gets one too
    sipp_ok(&call(&v, "uac_call_remote_bye.xml", ALICE, "101"));
    done(bob);
    assert!(last_cdr(&v, 1).contains("max_duration"), "{}", v.cdrs(1));
}

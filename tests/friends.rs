//! Calls to and from friends against real peers: PBXs that register (behind NAT, reached
//! over their flow), direct friends on their own loopback addresses (recognised by
//! address; with a password they are challenged, a friend that challenges vozbox fails the
//! call), patterns by priority, allowed codecs, and the inter-vPBX friends between two
//! clients. The lab is `common/calls_lab.rs`, shared with `tests/calls.rs`.

mod common;
use common::calls_lab::*;
use common::*;

#[test]
fn friend_patterns_by_priority_and_a_friend_behind_nat_reached_over_its_flow() {
    let lab = lab("call-friends");
    let v = &lab.v;
    // hq-asterisk registers with an unreachable Contact: only its flow works.
    let port = free_port("127.0.0.1");
    sipp_ok(&sipp_at(
        "register_nat.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        port,
        &creds("127.0.0.1", "hq-asterisk", "HqAsterisk-Pass+1"),
        &[],
    ));
    // 250 matches both friends: priority 1 (hq-asterisk) wins over 5 (backup).
    let hq = SippUas::start("uas_answer.xml", "u1", "127.0.0.1", port);
    let c = call(v, "uac_call.xml", ALICE, "250");
    sipp_ok(&c);
    let hq = done(hq);
    assert!(
        first(&hq.messages, "INVITE sip:").starts_with("INVITE sip:250@192.0.2.1:5999"),
        "{}",
        hq.messages
    );
    assert!(last_cdr(v, 1).contains("friend:hq-asterisk"));
    // 2500 matches only backup's pattern (hq-asterisk's is anchored on the whole number).
    let backup = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", lab.backup_port);
    sipp_ok(&call(v, "uac_call.xml", ALICE, "2500"));
    let backup = done(backup);
    // the friend's from_domain is the From host on its leg
    let inv = first(&backup.messages, "INVITE sip:");
    assert!(
        header(inv, "From").starts_with("<sip:100@bluebird.example>"),
        "{}",
        inv
    );
    assert!(last_cdr(v, 2).contains("friend:backup"));
}

#[test]
fn a_register_mode_friend_calls_a_user() {
    let lab = lab("call-friend-in");
    let alice = callee(&lab.v, "127.0.0.1", ALICE, "uas_answer.xml");
    sipp_ok(&call(
        &lab.v,
        "uac_call.xml",
        ("hq-asterisk", "HqAsterisk-Pass+1"),
        "100",
    ));
    done(alice);
    let cdr = last_cdr(&lab.v, 1);
    assert!(
        cdr.contains("friend hq-asterisk") && cdr.contains("user:alice"),
        "{}",
        cdr
    );
}

#[test]
fn direct_friend_both_ways() {
    let lab = lab("call-direct");
    let v = &lab.v;
    let pbx = SippUas::start("uas_answer.xml", "u1", "127.0.0.7", lab.direct_port);
    sipp_ok(&call(v, "uac_call.xml", ALICE, "510"));
    let pbx = done(pbx);
    let invite = first(&pbx.messages, "INVITE sip:");
    assert!(invite.starts_with(&format!("INVITE sip:510@127.0.0.7:{}", lab.direct_port)));
    // Its allowed codecs (PCMA) filter the offer; telephone-event stays.
    assert!(
        invite
            .lines()
            .any(|l| l.trim_end().ends_with(" RTP/AVP 8 101")),
        "{}",
        invite
    );
    assert!(!invite.contains("PCMU"), "{}", invite);
    // The friend (no password) calls from its address without a challenge.
    let bob = callee(v, "127.0.0.1", BOB, "uas_answer.xml");
    sipp_ok(&sipp(
        "uac_noauth.xml",
        &v.addr(),
        "u1",
        "127.0.0.7",
        &call_csv("127.0.0.1", "branch-pbx", "-", "101"),
        &[],
    ));
    done(bob);
    assert!(last_cdr(v, 2).contains("user:bob"));
}

#[test]
fn internal_friends_reach_the_other_client_both_ways() {
    let lab = lab("call-intervpbx");
    let v = &lab.v;
    let carol = callee(
        v,
        "redwing.example",
        ("carol", "Carol-Secret-3"),
        "uas_answer.xml",
    );
    sipp_ok(&call(v, "uac_call.xml", ALICE, "300"));
    let carol = done(carol);
    assert!(header(first(&carol.messages, "INVITE sip:"), "From").starts_with("<sip:100@"));
    assert!(last_cdr(v, 1).contains("user:carol"));
    let alice = callee(v, "127.0.0.1", ALICE, "uas_answer.xml");
    sipp_ok(&call_from(
        v,
        "uac_call.xml",
        "redwing.example",
        ("carol", "Carol-Secret-3"),
        "100",
    ));
    done(alice);
    assert!(last_cdr(v, 2).contains("user:alice"));
}

#[test]
fn no_codec_in_common_with_the_friend_gives_488() {
    let lab = lab("call-488");
    refused(&lab.v, ALICE, "700", 488);
    assert!(last_cdr(&lab.v, 1).contains("no_common_codec"));
}

#[test]
fn a_direct_friend_with_a_password_is_challenged() {
    let lab = lab("call-direct-auth");
    let v = &lab.v;
    let bob = callee(v, "127.0.0.1", BOB, "uas_answer.xml");
    let uri = format!("101@{}", v.addr());
    sipp_ok(&sipp(
        "uac_call.xml",
        &v.addr(),
        "u1",
        "127.0.0.10",
        &call_csv("127.0.0.1", "secure-pbx", "SecurePbx-Pass-4", "101"),
        &["-auth_uri", &uri],
    ));
    done(bob);
    let cdr = last_cdr(v, 1);
    assert!(
        cdr.contains("friend secure-pbx") && cdr.contains("answered"),
        "{}",
        cdr
    );
}

#[test]
fn a_friend_that_challenges_vozbox_fails_the_call() {
    let lab = lab("call-friend-challenges");
    let pbx = SippUas::start("uas_401.xml", "u1", "127.0.0.7", lab.direct_port);
    let c = refused(&lab.v, ALICE, "510", 502);
    done(pbx);
    assert!(!c.messages.contains("SIP/2.0 401"), "{}", c.messages);
}

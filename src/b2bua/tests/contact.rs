//! vozbox's own Contact on a leg: a `sips:` URI on a TLS leg whose peer used `sips:`.

use super::*;
use crate::b2bua::leg::contact_for;

const INVITE_TO: &str = "INVITE {uri} SIP/2.0\nVia: SIP/2.0/TLS 127.0.0.1:5070;branch=z9hG4bKc1\nFrom: <sip:alice@example.com>;tag=a1\nTo: <{uri}>\nCall-ID: contact-1\nCSeq: 1 INVITE\nContact: <{uri}>\nMax-Forwards: 70\nContent-Length: 0\n\n";

fn caller_contact(uri: &str, proto: Proto) -> String {
    let msg = parse(&INVITE_TO.replace("{uri}", uri));
    let checked = check_request(&msg).unwrap();
    Leg::caller(&msg, &checked, dest(proto, ALICE)).contact
}

#[test]
fn a_sips_caller_over_tls_gets_a_sips_contact() {
    let c = caller_contact("sips:bob@example.com", Proto::Tls);
    assert!(c.starts_with("<sips:vozbox@"), "{}", c);
    assert!(!c.contains("transport="), "{}", c);
}

#[test]
fn a_sip_caller_keeps_a_sip_contact_with_its_transport() {
    let c = caller_contact("sip:bob@example.com", Proto::Tls);
    assert!(
        c.starts_with("<sip:vozbox@") && c.ends_with(";transport=tls>"),
        "{}",
        c
    );
    let c = caller_contact("sip:bob@example.com", Proto::Tcp);
    assert!(c.ends_with(";transport=tcp>"), "{}", c);
    assert_eq!(
        contact_for(&dest(Proto::Udp, ALICE), false),
        format!("<sip:vozbox@{}>", VOZBOX)
    );
}

#[test]
fn sips_is_never_claimed_over_an_insecure_leg() {
    // (a sips: request over TCP is refused before it reaches a leg; the rule holds anyway)
    assert!(contact_for(&dest(Proto::Tcp, ALICE), true).starts_with("<sip:"));
    assert!(contact_for(&dest(Proto::Udp, ALICE), true).starts_with("<sip:"));
}

//! Call transfers in the call core, in virtual time: a REFER is accepted or refused as RFC
//! 3515 says, the target is reached as a new branch, the remaining party re-INVITEd with
//! its offer, the transferor told with NOTIFY (sipfrag) and hung up; a failed target
//! leaves the call as it was; an attended transfer joins another call's party.

use super::super::authn::Caller;
use super::super::refer_to::{refer_to, ReferTo};
use super::super::transfer::{Ask, Segment, Step};
use super::*;

pub(super) fn user(name: &str) -> Caller {
    Caller::User {
        client: "bluebird".into(),
        name: name.into(),
    }
}

/// alice (A, user alice) calls bob (branch 0, user bob), who answers.
pub(super) fn answered() -> Lab {
    let (mut lab, _) = Lab::simple();
    lab.call.transfer.caller = Some(user("alice"));
    lab.call.forks[0].party = Some(user("bob"));
    lab.call.relay = Some(super::super::call::Relay {
        a: addr("127.0.0.1:20000"),
        b: addr("127.0.0.1:20002"),
    });
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    lab
}

/// A REFER from alice (A) with these extra header lines.
pub(super) fn alice_refers(lab: &mut Lab, secs: f64, cseq: u32, extra: &str) -> Vec<Action> {
    let text = format!(
        "REFER sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKr{cseq};rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: {cseq} REFER\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\n{extra}Content-Length: 0\n\n",
        lab.call.a.local_tag
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

/// A REFER from bob (branch 0).
pub(super) fn bob_refers(lab: &mut Lab, secs: f64, cseq: u32, extra: &str) -> Vec<Action> {
    let leg = &lab.call.forks[0].leg;
    let text = format!(
        "REFER sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKbr{cseq};rport\n\
         From: <sip:101@127.0.0.1>;tag=bobtag\nTo: <sip:100@127.0.0.1>;tag={}\nCall-ID: {}\n\
         CSeq: {cseq} REFER\nContact: <sip:bob@127.0.0.1:5080>\nMax-Forwards: 70\n{extra}Content-Length: 0\n\n",
        leg.local_tag, leg.call_id
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

/// The target: carol at 127.0.0.1:5090 (user carol).
pub(super) fn carol(lab: &Lab) -> Fork {
    let mut t = target(10, Proto::Udp, false);
    t.party = Some(user("carol"));
    Fork::new(&t, &lab.call.a_invite, None, 70)
}

/// The driver routed the transfer to carol (102): her branch is called.
pub(super) fn carol_called(lab: &mut Lab, secs: f64) -> Vec<Action> {
    let fork = carol(lab);
    lab.at(
        secs,
        Event::Transfer(Box::new(Step::Calling {
            forks: vec![fork],
            segment: segment(),
            failover: None,
        })),
    )
}

/// alice answers vozbox's `request` to her (a NOTIFY) with 200.
pub(super) fn alice_answers(lab: &mut Lab, secs: f64, request: &Message) -> Vec<Action> {
    let msg = response(request, 200, "OK", "");
    let branch = branch_of(request);
    lab.at(
        secs,
        Event::Response {
            side: Side::A,
            branch,
            msg,
        },
    )
}

pub(super) fn segment() -> Segment {
    Segment {
        client: "bluebird".into(),
        callee: "102".into(),
        route: "user:carol".into(),
        ..Default::default()
    }
}

/// The sipfrag status line and Subscription-State of a NOTIFY.
pub(super) fn notify_of(a: &Action) -> Option<(String, String)> {
    let m = message(a)?;
    if m.method() != Some("NOTIFY") {
        return None;
    }
    assert_eq!(m.get("Event"), Some("refer"));
    assert_eq!(m.content_type(), Some("message/sipfrag;version=2.0"));
    let body = String::from_utf8_lossy(&m.body).trim_end().to_string();
    Some((body, m.get("Subscription-State").unwrap_or("").to_string()))
}

pub(super) fn notifies(actions: &[Action]) -> Vec<(String, String)> {
    actions.iter().filter_map(notify_of).collect()
}

/// The actions with a transfer's and a segment's named.
pub(super) fn named(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Transfer(ask) => match ask.as_ref() {
                Ask::Blind { dialled, .. } => format!("transfer to {}", dialled),
                Ask::Attended { call_id, .. } => format!("transfer replacing {}", call_id),
            },
            Action::Segment { cdr, .. } => format!("segment {}", cdr.disposition),
            Action::MediaPeer { .. } => "media peer".into(),
            a => what(a),
        })
        .collect()
}

pub(super) fn sent_to(actions: &[Action], method: &str) -> Vec<Message> {
    actions
        .iter()
        .filter_map(message)
        .filter(|m| m.method() == Some(method))
        .collect()
}

/// A 2xx (with SDP) from the party of a leg to our request `req`.
pub(super) fn ok_with_sdp(req: &Message, tag: &str, contact: &str) -> Message {
    let mut r = response(req, 200, "OK", tag);
    r.push_header("Contact", contact.to_string());
    r.push_header("Content-Type", "application/sdp");
    r.body = SDP.replace('\n', "\r\n").into_bytes();
    r
}

pub(super) fn branch_of(m: &Message) -> String {
    crate::sip::validate::first_via(m.get("Via").unwrap())
        .unwrap()
        .branch()
        .unwrap()
        .to_string()
}

#[test]
fn refer_to_is_read_as_a_number_or_a_dialog_to_replace() {
    let text = |refer_to: &str| {
        parse(&format!(
            "REFER sip:v@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\n\
             To: <sip:b@h>;tag=2\nCall-ID: x\nCSeq: 2 REFER\n{refer_to}Content-Length: 0\n\n"
        ))
    };
    assert_eq!(
        refer_to(&text("Refer-To: <sip:102@127.0.0.1>\n")),
        Some(ReferTo::Blind("102".into()))
    );
    assert_eq!(
        refer_to(&text(
            "Refer-To: <sip:102@h?Replaces=abc%40h%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>\n"
        )),
        Some(ReferTo::Replaces(
            "abc@h".into(),
            ("t1".into(), "f1".into())
        ))
    );
    assert_eq!(
        refer_to(&text("r: <sip:102@127.0.0.1>\n")),
        Some(ReferTo::Blind("102".into()))
    );
    // none, two, another scheme, a Replaces without its tags
    assert_eq!(refer_to(&text("")), None);
    assert_eq!(
        refer_to(&text("Refer-To: <sip:1@h>\nRefer-To: <sip:2@h>\n")),
        None
    );
    assert_eq!(refer_to(&text("Refer-To: <http://evil/>\n")), None);
    assert_eq!(refer_to(&text("Refer-To: <sip:1@h?Replaces=abc>\n")), None);
}

#[test]
fn a_blind_transfer_by_the_caller_joins_callee_and_target() {
    let mut lab = answered();
    let got = alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(named(&got), ["202", "NOTIFY", "transfer to 102"]);
    assert_eq!(
        notifies(&got),
        [("SIP/2.0 100 Trying".into(), "active;expires=60".into())]
    );
    let trying = sent_to(&got, "NOTIFY")[0].clone();
    // the driver routed it: carol's INVITE goes without an offer
    let got = carol_called(&mut lab, 1.1);
    assert_eq!(whats(&got), ["INVITE"]);
    let invite = message(&got[0]).unwrap();
    assert!(invite.body.is_empty());
    // she rings before alice answered the NOTIFY before: the ringing waits for it
    assert!(lab.branch_says(1.5, 1, 180, "Ringing").is_empty());
    assert!(lab.branch_says(1.6, 1, 183, "Session Progress").is_empty());
    // alice answers it: she hears the ringing in a NOTIFY of her dialog, once; bob nothing
    let got = alice_answers(&mut lab, 1.7, &trying);
    assert_eq!(whats(&got), ["NOTIFY"]);
    assert_eq!(message(&got[0]).unwrap().call_id(), Some("c1"));
    assert_eq!(
        notifies(&got),
        [("SIP/2.0 180 Ringing".into(), "active;expires=60".into())]
    );
    assert!(lab.branch_says(1.8, 1, 180, "Ringing").is_empty());
    // she answers with her offer: bob gets it in a re-INVITE (through the relay)
    let got = lab.branch_says(2.0, 1, 200, "OK");
    assert_eq!(whats(&got), ["INVITE"]);
    let reinvite = message(&got[0]).unwrap();
    assert_eq!(
        reinvite.call_id(),
        Some(lab.call.forks[0].leg.call_id.as_str())
    );
    // carol's offer, pointing at the relay's side facing bob
    let sdp = String::from_utf8_lossy(&reinvite.body).into_owned();
    assert!(sdp.contains("m=audio 20002 "), "{}", sdp);
    // bob's answer: ACKed, carol's ACK carries it, alice hears 200 and is hung up
    let r = ok_with_sdp(&reinvite, "", "<sip:bob@127.0.0.1:5080>");
    let got = lab.at(
        2.2,
        Event::Response {
            side: Side::B(0),
            branch: branch_of(&reinvite),
            msg: r,
        },
    );
    assert_eq!(
        named(&got),
        [
            "ACK",
            "media peer",
            "ACK",
            "media peer",
            "NOTIFY",
            "segment transferred",
            "BYE"
        ]
    );
    let acks = sent_to(&got, "ACK");
    assert!(acks[0].body.is_empty(), "bob's ACK");
    // carol's ACK carries bob's answer, pointing at the relay's side alice had
    let sdp = String::from_utf8_lossy(&acks[1].body).into_owned();
    assert!(sdp.contains("m=audio 20000 "), "{}", sdp);
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 200 OK".into(),
            "terminated;reason=noresource".into()
        )]
    );
    let bye = &sent_to(&got, "BYE")[0];
    assert_eq!(bye.call_id(), Some("c1"));
    let Some(Action::Segment { cdr, .. }) =
        got.iter().find(|a| matches!(a, Action::Segment { .. }))
    else {
        unreachable!()
    };
    assert_eq!(cdr.transferred_by.as_deref(), Some("user:alice"));
    assert_eq!(cdr.call_id, "c1");
    // the call counts against carol now, no more alice (their own max calls)
    let Some(Action::Segment { lines, .. }) =
        got.iter().find(|a| matches!(a, Action::Segment { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        lines,
        &(
            Some("bluebird/alice".to_string()),
            Some("bluebird/carol".to_string())
        )
    );
    // the call is bob and carol's now: carol is its A side
    assert_eq!(lab.call.a.call_id, invite.call_id().unwrap());
    assert_eq!(lab.call.winner(), Some(0));
    assert_eq!(lab.call.info.route, "user:carol");
    // alice's own BYE (racing ours) is answered, and changes nothing
    let got = lab.at(
        2.3,
        Event::Request(incoming(&format!(
            "BYE sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKab;rport\n\
             From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
             CSeq: 3 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n",
            lab.call.forks[1].leg.local_tag
        ))),
    );
    assert_eq!(whats(&got), ["200"]);
    assert!(!lab.call.is_ended());
    // bob hangs up: carol gets the BYE, the record of their call says who transferred it
    let got = lab.bob_sends(60.0, 0, "BYE", 2);
    let byes = sent_to(&got, "BYE");
    assert_eq!(byes[0].call_id(), invite.call_id());
    let Some(Action::Record { cdr, .. }) = got.iter().find(|a| matches!(a, Action::Record { .. }))
    else {
        panic!("{:?}", whats(&got))
    };
    assert_eq!(cdr.disposition, "answered");
    assert_eq!(cdr.transferred_by.as_deref(), Some("user:alice"));
    assert_eq!(cdr.route, "user:carol");
    assert_eq!(cdr.callee, "102");
}

#[test]
fn a_blind_transfer_by_the_callee_makes_the_target_the_winner() {
    let mut lab = answered();
    let got = bob_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(named(&got), ["202", "NOTIFY", "transfer to 102"]);
    carol_called(&mut lab, 1.1);
    let got = lab.branch_says(2.0, 1, 200, "OK");
    let reinvite = message(&got[0]).unwrap();
    assert_eq!(reinvite.call_id(), Some("c1"), "alice is re-INVITEd");
    let r = ok_with_sdp(&reinvite, "", &format!("<sip:100@{ALICE}>"));
    let got = lab.at(
        2.2,
        Event::Response {
            side: Side::A,
            branch: branch_of(&reinvite),
            msg: r,
        },
    );
    let bye = &sent_to(&got, "BYE")[0];
    assert_eq!(bye.call_id(), Some(lab.call.forks[0].leg.call_id.as_str()));
    assert_eq!(lab.call.winner(), Some(1));
    // alice hangs up: carol gets the BYE
    let got = lab.alice_sends(30.0, "BYE", 3);
    let byes = sent_to(&got, "BYE");
    assert_eq!(
        byes[0].call_id(),
        Some(lab.call.forks[1].leg.call_id.as_str())
    );
}

#[test]
fn a_failed_target_leaves_the_call_as_it_was() {
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    carol_called(&mut lab, 1.1);
    let got = lab.branch_says(2.0, 1, 486, "Busy Here");
    assert_eq!(whats(&got), ["ACK", "NOTIFY"]);
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 486 Busy Here".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert_eq!(lab.call.winner(), Some(0));
    // requests still cross between alice and bob, and a second transfer may be tried
    let got = lab.alice_sends(3.0, "INFO", 3);
    assert_eq!(whats(&got), ["INFO"]);
    let got = alice_refers(&mut lab, 4.0, 4, "Refer-To: <sip:103@127.0.0.1>\n");
    assert_eq!(named(&got), ["202", "NOTIFY", "transfer to 103"]);
}

#[test]
fn a_target_the_routing_refuses_is_told_to_the_transferor() {
    let mut lab = answered();
    alice_refers(
        &mut lab,
        1.0,
        2,
        "Refer-To: <sip:0034600000000@127.0.0.1>\n",
    );
    let got = lab.at(
        1.1,
        Event::Transfer(Box::new(Step::Failed {
            code: 403,
            reason: "Forbidden".into(),
        })),
    );
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 403 Forbidden".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert!(sent_to(&got, "BYE").is_empty());
    assert_eq!(lab.call.winner(), Some(0));
}

/// A ringing still owed when the transfer ends (the NOTIFY before it unanswered) is
/// dropped: the final status is the last thing the transferor hears.
#[test]
fn a_ringing_owed_when_the_target_fails_is_dropped() {
    let mut lab = answered();
    let got = alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    let trying = sent_to(&got, "NOTIFY")[0].clone();
    carol_called(&mut lab, 1.1);
    assert!(lab.branch_says(1.5, 1, 180, "Ringing").is_empty());
    let got = lab.branch_says(1.6, 1, 486, "Busy Here");
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 486 Busy Here".into(),
            "terminated;reason=noresource".into()
        )]
    );
    let got = alice_answers(&mut lab, 1.7, &trying);
    assert!(notifies(&got).is_empty(), "{:?}", named(&got));
}

#[test]
fn a_target_that_rings_too_long_is_cancelled() {
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    carol_called(&mut lab, 1.0);
    lab.branch_says(1.5, 1, 180, "Ringing");
    let run = lab.run(62.0);
    // the call's no-answer limit (60 s) from the transfer
    assert_eq!(times_of(&run, "CANCEL")[0], 61.0);
    // (the NOTIFYs nobody answers here are resent)
    let n: Vec<_> = run
        .iter()
        .filter_map(|(t, a)| notify_of(a).map(|n| (*t, n.0)))
        .filter(|(_, l)| !l.contains("100 Trying") && !l.contains("180 Ringing"))
        .collect();
    assert_eq!(
        n[0],
        (61.0, "SIP/2.0 480 Temporarily Unavailable".to_string())
    );
    assert!(!lab.call.is_ended());
}

#[test]
fn refers_that_cannot_be_carried_out_are_refused() {
    // not answered yet
    let (mut lab, _) = Lab::simple();
    lab.call.transfer.caller = Some(user("alice"));
    lab.branch_says(0.2, 0, 180, "Ringing");
    let got = alice_refers(&mut lab, 0.5, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(whats(&got), ["603"]);
    // no Refer-To, or one that is not a SIP URI
    let mut lab = answered();
    assert_eq!(whats(&alice_refers(&mut lab, 1.0, 2, "")), ["400"]);
    let got = alice_refers(&mut lab, 1.0, 3, "Refer-To: <mailto:x@y>\n");
    assert_eq!(whats(&got), ["400"]);
    // a party vozbox cannot bill (a carrier's) may not transfer
    lab.call.forks[0].party = None;
    let got = bob_refers(&mut lab, 1.5, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(whats(&got), ["403"]);
    // one at a time
    alice_refers(&mut lab, 2.0, 4, "Refer-To: <sip:102@127.0.0.1>\n");
    let got = alice_refers(&mut lab, 2.1, 5, "Refer-To: <sip:103@127.0.0.1>\n");
    assert_eq!(whats(&got), ["491"]);
}

#[test]
fn refer_sub_false_gets_no_notify() {
    let mut lab = answered();
    let got = alice_refers(
        &mut lab,
        1.0,
        2,
        // (RFC 4488: a REFER may require that the option is understood)
        "Refer-To: <sip:102@127.0.0.1>\nRefer-Sub: false\nRequire: norefersub\n",
    );
    assert_eq!(named(&got), ["202", "transfer to 102"]);
    assert_eq!(message(&got[0]).unwrap().get("Refer-Sub"), Some("false"));
    let got = lab.at(
        1.1,
        Event::Transfer(Box::new(Step::Failed {
            code: 404,
            reason: "Not Found".into(),
        })),
    );
    assert!(notifies(&got).is_empty());
}

#[test]
fn a_transferor_that_hangs_up_early_does_not_end_the_transfer() {
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    let got = lab.alice_sends(1.05, "BYE", 3);
    assert_eq!(whats(&got), ["200"]);
    assert!(!lab.call.is_ended());
    carol_called(&mut lab, 1.1);
    // she rings: nobody to tell
    assert!(lab.branch_says(1.5, 1, 180, "Ringing").is_empty());
    let got = lab.branch_says(2.0, 1, 200, "OK");
    let reinvite = message(&got[0]).unwrap();
    let r = ok_with_sdp(&reinvite, "", "<sip:bob@127.0.0.1:5080>");
    let got = lab.at(
        2.2,
        Event::Response {
            side: Side::B(0),
            branch: branch_of(&reinvite),
            msg: r,
        },
    );
    // no NOTIFY, no BYE to the transferor that left
    assert_eq!(
        named(&got),
        [
            "ACK",
            "media peer",
            "ACK",
            "media peer",
            "segment transferred"
        ]
    );
    // had it failed, bob would have been left alone: hung up
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    lab.alice_sends(1.05, "BYE", 3);
    let got = lab.at(
        1.1,
        Event::Transfer(Box::new(Step::Failed {
            code: 404,
            reason: "Not Found".into(),
        })),
    );
    assert_eq!(
        whats(&got),
        ["BYE", "ended", "media stop", "CDR answered 200"]
    );
}

#[test]
fn an_unanswered_notify_does_not_end_the_call() {
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    let run = lab.run(40.0);
    assert!(times_of(&run, "NOTIFY").len() > 3, "retransmitted");
    assert!(!lab.call.is_ended());
}

#[test]
fn a_carriers_challenge_to_the_transfers_invite_is_answered() {
    let mut lab = answered();
    alice_refers(&mut lab, 1.0, 2, "Refer-To: <sip:+34600111222@127.0.0.1>\n");
    let t = target(10, Proto::Udp, true);
    let fork = Fork::new(&t, &lab.call.a_invite, None, 70);
    lab.at(
        1.1,
        Event::Transfer(Box::new(Step::Calling {
            forks: vec![fork],
            segment: segment(),
            failover: None,
        })),
    );
    let inv = Message::parse(&lab.call.forks[1].invite).unwrap();
    let mut r = response(&inv, 407, "Proxy Authentication Required", "c");
    r.push_header(
        "Proxy-Authenticate",
        "Digest realm=\"carrier\", nonce=\"abc\", algorithm=MD5",
    );
    let got = lab.at(1.2, Event::ForkResponse { index: 1, msg: r });
    assert_eq!(whats(&got), ["ACK", "INVITE"]);
    let again = message(&got[1]).unwrap();
    assert!(again.get("Proxy-Authorization").is_some());
    assert!(again.body.is_empty(), "still without an offer");
    // answered: bob gets the carrier's offer
    let got = lab.branch_says(2.0, 1, 200, "OK");
    assert_eq!(whats(&got), ["INVITE"]);
    assert_eq!(
        message(&got[0]).unwrap().call_id(),
        Some(lab.call.forks[0].leg.call_id.as_str())
    );
}

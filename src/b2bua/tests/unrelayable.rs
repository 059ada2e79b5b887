//! SDP the relay cannot read is never passed on (`media.rs`: `carry`), in virtual time:
//! its media would bypass the relay and show each party the other's address. An offer in
//! a re-INVITE is refused with 488; early media gives its branch up; an answer in a 2xx
//! hangs its branch up (the caller gets 488 when no other branch is left); an answer in
//! the caller's ACK, or in the 2xx to a re-INVITE, ends the call.

use super::transfers::{branch_of, named, sent_to};
use super::*;
use crate::b2bua::call::Relay;

/// SDP whose audio port is not a number: readable by no relay.
const BAD_SDP: &str =
    "v=0\no=b 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\nm=audio 40x0 RTP/AVP 0\n";

fn relayed(call: &mut Call) {
    call.relay = Some(Relay {
        a: addr("127.0.0.1:20000"),
        b: addr("127.0.0.1:20002"),
    });
}

/// A response from branch `i` to its INVITE, with `sdp` as its body.
fn branch_says_sdp(lab: &mut Lab, secs: f64, i: usize, code: u16, sdp: &str) -> Vec<Action> {
    let inv = Message::parse(&lab.call.forks[i].invite).unwrap();
    let mut r = response(&inv, code, "Whatever", "bobtag");
    r.push_header("Contact", format!("<sip:bob@127.0.0.1:{}>", 5080 + i));
    r.push_header("Content-Type", "application/sdp");
    r.body = sdp.replace('\n', "\r\n").into_bytes();
    lab.at(secs, Event::ForkResponse { index: i, msg: r })
}

/// A request from alice inside her dialog, with `sdp` as its body.
fn alice_sends_sdp(lab: &mut Lab, secs: f64, method: &str, cseq: u32, sdp: &str) -> Vec<Action> {
    let body = sdp.replace('\n', "\r\n");
    let text = format!(
        "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa{cseq}y;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: {cseq} {method}\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\n\
         Content-Type: application/sdp\nContent-Length: {}\n\n",
        lab.call.a.local_tag,
        body.len()
    );
    let msg = Message::parse(format!("{}{}", text.replace('\n', "\r\n"), body).as_bytes()).unwrap();
    let checked = check_request(&msg).unwrap();
    let inc = Incoming {
        msg,
        checked,
        flow: flow(Proto::Udp, ALICE),
        key: None,
    };
    let e = if method == "ACK" {
        Event::Ack(inc)
    } else {
        Event::Request(inc)
    };
    lab.at(secs, e)
}

/// bob's response `code`, with `sdp` as its body, to our request `req` on his leg.
fn bob_responds(lab: &mut Lab, secs: f64, req: &Message, code: u16, sdp: &str) -> Vec<Action> {
    let mut r = response(req, code, "Whatever", "");
    r.push_header("Contact", "<sip:bob@127.0.0.1:5080>");
    r.push_header("Content-Type", "application/sdp");
    r.body = sdp.replace('\n', "\r\n").into_bytes();
    lab.at(
        secs,
        Event::Response {
            side: Side::B(0),
            branch: branch_of(req),
            msg: r,
        },
    )
}

/// The responses among `actions` as (code, whether with a body).
fn responses(actions: &[Action]) -> Vec<(u16, bool)> {
    actions
        .iter()
        .filter_map(message)
        .filter_map(|m| match m.start {
            StartLine::Response { code, .. } => Some((code, !m.body.is_empty())),
            _ => None,
        })
        .collect()
}

fn cdr(actions: &[Action]) -> Option<String> {
    named(actions).into_iter().find(|w| w.starts_with("CDR"))
}

#[test]
fn a_2xx_with_sdp_the_relay_cannot_read_hangs_its_branch_up_and_the_caller_gets_488() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    let got = branch_says_sdp(&mut lab, 0.5, 0, 200, BAD_SDP);
    let w = named(&got);
    assert_eq!(sent_to(&got, "ACK").len(), 1, "{w:?}");
    assert_eq!(sent_to(&got, "BYE").len(), 1, "{w:?}");
    assert_eq!(responses(&got), vec![(488, false)], "{w:?}");
    assert!(!w.contains(&"media answered".to_string()), "{w:?}");
    assert!(!w.contains(&"media peer".to_string()), "{w:?}");
    assert_eq!(cdr(&got).as_deref(), Some("CDR failed 488"));
    // nothing of the callee's body reached the caller
    assert!(got
        .iter()
        .filter_map(message)
        .all(|m| !String::from_utf8_lossy(&m.body).contains("10.9.9.9")));
}

#[test]
fn the_other_branch_still_answers_after_one_whose_2xx_cannot_be_relayed() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call_with(targets, true, LIMITS, relayed);
    let got = branch_says_sdp(&mut lab, 0.5, 0, 200, BAD_SDP);
    assert!(responses(&got).is_empty(), "{:?}", named(&got));
    let got = lab.branch_says(0.7, 1, 200, "OK");
    assert_eq!(responses(&got), vec![(200, true)], "{:?}", named(&got));
    assert_eq!(lab.call.winner(), Some(1));
}

#[test]
fn early_media_the_relay_cannot_read_cancels_its_branch_and_the_caller_gets_488() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    let got = branch_says_sdp(&mut lab, 0.5, 0, 183, BAD_SDP);
    assert_eq!(sent_to(&got, "CANCEL").len(), 1, "{:?}", named(&got));
    assert!(responses(&got).is_empty(), "{:?}", named(&got));
    // the branch answers the CANCEL's effect with 487: the caller hears the 488
    let got = lab.branch_says(0.6, 0, 487, "Request Terminated");
    assert_eq!(responses(&got), vec![(488, false)], "{:?}", named(&got));
}

#[test]
fn a_re_invite_with_sdp_the_relay_cannot_read_is_refused_488_and_not_relayed() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    let got = alice_sends_sdp(&mut lab, 1.0, "INVITE", 2, BAD_SDP);
    assert_eq!(whats(&got), vec!["488"]);
    assert!(!lab.call.is_ended());
    // a readable one afterwards is relayed as ever
    let got = alice_sends_sdp(&mut lab, 2.0, "INVITE", 3, SDP);
    assert_eq!(sent_to(&got, "INVITE").len(), 1, "{:?}", named(&got));
}

#[test]
fn a_2xx_to_a_re_invite_with_sdp_the_relay_cannot_read_ends_the_call() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    let got = alice_sends_sdp(&mut lab, 1.0, "INVITE", 2, SDP);
    let reinvite = sent_to(&got, "INVITE").remove(0);
    let got = bob_responds(&mut lab, 1.1, &reinvite, 200, BAD_SDP);
    let w = named(&got);
    assert_eq!(sent_to(&got, "ACK").len(), 1, "{w:?}");
    assert_eq!(responses(&got), vec![(488, false)], "{w:?}");
    assert_eq!(sent_to(&got, "BYE").len(), 2, "{w:?}");
    assert_eq!(cdr(&got).as_deref(), Some("CDR bad_sdp 488"));
    assert!(lab.call.is_ended());
}

#[test]
fn a_late_answer_in_the_ack_the_relay_cannot_read_ends_the_call() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], false, LIMITS, relayed);
    // bob offers in his 200 (alice's INVITE had none); alice gets it through the relay
    let got = lab.branch_says(0.5, 0, 200, "OK");
    assert_eq!(responses(&got), vec![(200, true)], "{:?}", named(&got));
    assert!(sent_to(&got, "ACK").is_empty());
    let got = alice_sends_sdp(&mut lab, 0.6, "ACK", 1, BAD_SDP);
    let w = named(&got);
    let acks = sent_to(&got, "ACK");
    assert_eq!(acks.len(), 1, "{w:?}");
    assert!(acks[0].body.is_empty(), "{w:?}");
    assert_eq!(sent_to(&got, "BYE").len(), 2, "{w:?}");
    assert_eq!(cdr(&got).as_deref(), Some("CDR bad_sdp 488"));
}

#[test]
fn a_transfer_whose_remaining_party_answers_what_the_relay_cannot_read_fails() {
    use super::transfers::{answered, notifies};
    let mut lab = answered();
    super::loose_ends::blind(&mut lab);
    // carol answers with her offer; bob is re-INVITEd with it and answers unreadably
    let got = lab.branch_says(2.0, 1, 200, "OK");
    let reinvite = sent_to(&got, "INVITE").remove(0);
    let got = bob_responds(&mut lab, 2.2, &reinvite, 200, BAD_SDP);
    let w = named(&got);
    // bob's 200 and carol's offer are ACKed (carol's without his answer), alice hears that
    // the transfer failed, and everybody is hung up: bob took carol's offer, so he and
    // alice no longer agree on the session
    let acks = sent_to(&got, "ACK");
    assert_eq!(acks.len(), 2, "{w:?}");
    assert!(acks.iter().all(|a| a.body.is_empty()), "{w:?}");
    let byes: Vec<String> = sent_to(&got, "BYE")
        .iter()
        .map(|m| m.call_id().unwrap_or_default().to_string())
        .collect();
    let ids = |i: usize| lab.call.forks[i].leg.call_id.clone();
    assert_eq!(byes, [ids(1), ids(0), "c1".to_string()], "{w:?}");
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 488 Not Acceptable Here".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert_eq!(cdr(&got).as_deref(), Some("CDR bad_sdp 488"));
    assert!(lab.call.is_ended());
}

#[test]
fn an_update_with_sdp_the_relay_cannot_read_is_refused_488() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    let got = alice_sends_sdp(&mut lab, 1.0, "UPDATE", 2, BAD_SDP);
    assert_eq!(whats(&got), vec!["488"]);
    // an SDP with no audio at all (a T.38 fax offer): refused the same way, the fax goes
    // on as audio through the relay
    let fax = "v=0\no=a 1 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
               m=image 4002 udptl t38\n";
    let got = alice_sends_sdp(&mut lab, 2.0, "INVITE", 3, fax);
    assert_eq!(whats(&got), vec!["488"]);
    assert!(!lab.call.is_ended());
}

#[test]
fn a_refused_offer_leaves_the_legs_session_timer_as_it_was() {
    let mut lab =
        super::sessions::call_with("Session-Expires: 600;refresher=uac\nSupported: timer\n");
    relayed(&mut lab.call);
    lab.branch_says(1.0, 0, 200, "OK");
    lab.alice_acks(1.1);
    assert_eq!(lab.call.sessions.a.as_ref().map(|t| t.interval), Some(600));
    // (a re-INVITE without Session-Expires would turn the leg's timer off: RFC 4028 §9)
    let got = alice_sends_sdp(&mut lab, 2.0, "INVITE", 2, BAD_SDP);
    assert_eq!(whats(&got), vec!["488"]);
    assert_eq!(lab.call.sessions.a.as_ref().map(|t| t.interval), Some(600));
}

#[test]
fn sdp_in_a_refusal_of_a_re_invite_is_left_out_and_the_call_goes_on() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    let got = alice_sends_sdp(&mut lab, 1.0, "INVITE", 2, SDP);
    let reinvite = sent_to(&got, "INVITE").remove(0);
    // a 606 with the capabilities SDP RFC 3261 allows (here one the relay cannot read)
    let got = bob_responds(&mut lab, 1.1, &reinvite, 606, BAD_SDP);
    let w = named(&got);
    assert_eq!(responses(&got), vec![(606, false)], "{w:?}");
    assert!(!w.contains(&"media peer".to_string()), "{w:?}");
    assert!(sent_to(&got, "BYE").is_empty(), "{w:?}");
    assert!(!lab.call.is_ended());
}

#[test]
fn late_early_media_from_a_branch_that_failed_is_ignored() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call_with(targets, true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 486, "Busy Here");
    // its 183 arrives after its 486 (reordered): neither relayed nor cancelled
    let got = branch_says_sdp(&mut lab, 0.6, 0, 183, BAD_SDP);
    assert!(got.is_empty(), "{:?}", named(&got));
    let got = branch_says_sdp(&mut lab, 0.7, 0, 183, SDP);
    assert!(got.is_empty(), "{:?}", named(&got));
    // the other branch fails too: the caller gets the best failure at once
    let got = lab.branch_says(0.8, 1, 480, "Temporarily Unavailable");
    assert_eq!(responses(&got), vec![(486, false)], "{:?}", named(&got));
}

/// `sdp` and an ISUP part, framed by `boundary1`.
fn with_isup(sdp: &str) -> String {
    format!(
        "--boundary1\nContent-Type: application/sdp\n\n{sdp}\n--boundary1\n\
         Content-Type: application/ISUP;version=itu-t92+\n\nISUP-ANM\n--boundary1--\n"
    )
}

#[test]
fn the_sdp_part_of_a_multipart_2xx_reaches_the_caller_alone_and_relayed() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 200, "OK", "bobtag");
    r.push_header("Contact", "<sip:bob@127.0.0.1:5080>");
    r.push_header("Content-Type", "multipart/mixed;boundary=boundary1");
    r.body = with_isup(SDP).replace('\n', "\r\n").into_bytes();
    let got = lab.at(0.5, Event::ForkResponse { index: 0, msg: r });
    let ok = got
        .iter()
        .filter_map(message)
        .find(|m| matches!(m.start, StartLine::Response { code: 200, .. }))
        .expect("200 to alice");
    assert_eq!(ok.content_type(), Some("application/sdp"));
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(body.starts_with("v=0\r\n"), "{body}");
    assert!(body.contains("m=audio 20000 "), "{body}");
    assert!(
        !body.contains("ISUP") && !body.contains("boundary1"),
        "{body}"
    );
    assert!(named(&got).contains(&"media peer".to_string()));
    // its SDP unreadable, or the body not framed as its type says: not relayed
    let got = lab.alice_acks(0.6);
    assert!(got.is_empty());
    for (cseq, ctype, body) in [
        (2, "multipart/mixed;boundary=boundary1", with_isup(BAD_SDP)),
        (3, "multipart/mixed;boundary=other", with_isup(SDP)),
    ] {
        let text = format!(
            "INVITE sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKm{};rport\n\
             From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
             CSeq: {} INVITE\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\n\
             Content-Type: {ctype}\nContent-Length: {}\n\n{body}",
            cseq,
            lab.call.a.local_tag,
            cseq,
            body.len() + body.matches('\n').count(),
        );
        let got = lab.at(1.0, Event::Request(incoming(&text)));
        assert_eq!(whats(&got), vec!["488"], "{ctype}");
    }
    assert!(!lab.call.is_ended());
}

#[test]
fn sdp_in_a_request_that_offers_nothing_is_left_out() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    let got = alice_sends_sdp(&mut lab, 1.0, "INFO", 2, SDP);
    let info = sent_to(&got, "INFO");
    assert_eq!(info.len(), 1, "{:?}", named(&got));
    assert!(info[0].body.is_empty() && info[0].content_type().is_none());
    assert!(!named(&got).contains(&"media peer".to_string()));
}

#[test]
fn early_media_of_isup_alone_is_relayed_without_its_body() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 180, "Ringing", "bobtag");
    r.push_header("Contact", "<sip:bob@127.0.0.1:5080>");
    r.push_header("Content-Type", "multipart/mixed;boundary=b");
    r.body =
        b"--b\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\nACM\r\n--b--\r\n".to_vec();
    let got = lab.at(0.5, Event::ForkResponse { index: 0, msg: r });
    assert_eq!(responses(&got), vec![(180, false)], "{:?}", named(&got));
    assert!(sent_to(&got, "CANCEL").is_empty());
}

#[test]
fn an_early_update_answered_with_what_the_relay_cannot_read_gives_its_branch_up() {
    let (mut lab, _) = Lab::call_with(vec![target(0, Proto::Udp, false)], true, LIMITS, relayed);
    lab.branch_says(0.5, 0, 180, "Ringing");
    let got = alice_sends_sdp(&mut lab, 1.0, "UPDATE", 2, SDP);
    let update = sent_to(&got, "UPDATE").remove(0);
    let got = bob_responds(&mut lab, 1.1, &update, 200, BAD_SDP);
    let w = named(&got);
    assert_eq!(responses(&got), vec![(488, false)], "{w:?}");
    assert_eq!(sent_to(&got, "CANCEL").len(), 1, "{w:?}");
    // the branch's 487: the caller's INVITE fails with the 488
    let got = lab.branch_says(1.2, 0, 487, "Request Terminated");
    assert_eq!(responses(&got), vec![(488, false)], "{:?}", named(&got));
}

#[test]
fn an_invite_whose_body_holds_no_sdp_is_a_late_offer() {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], false, LIMITS);
    // a SIP-I INVITE with ISUP alone
    let body = "--b\nContent-Type: application/ISUP;version=itu-t92+\n\nIAM\n--b--\n";
    let text = invite(false).replace(
        "Content-Type: application/sdp\nContent-Length: 0\n\n",
        &format!(
            "Content-Type: multipart/mixed;boundary=b\nContent-Length: {}\n\n{body}",
            body.len() + body.matches('\n').count()
        ),
    );
    let inc = incoming(&text);
    assert!(!inc.msg.body.is_empty());
    let a = Leg::caller(&inc.msg, &inc.checked, dest(Proto::Udp, ALICE));
    let forks = std::mem::take(&mut lab.call.forks);
    lab.call = Call::new(
        1,
        a,
        (inc.msg, inc.checked.via, inc.flow, None),
        Info::default(),
        LIMITS,
        (lab.t0, 1_000_000),
    );
    lab.call.forks = forks;
    relayed(&mut lab.call);
    assert!(lab.call.late_offer);
    // bob offers in his 200: not ACKed here, alice gets the offer and answers in her ACK
    let got = lab.branch_says(0.5, 0, 200, "OK");
    assert!(sent_to(&got, "ACK").is_empty(), "{:?}", named(&got));
    assert_eq!(responses(&got), vec![(200, true)], "{:?}", named(&got));
    let got = alice_sends_sdp(&mut lab, 0.6, "ACK", 1, SDP);
    let ack = sent_to(&got, "ACK");
    assert_eq!(ack.len(), 1, "{:?}", named(&got));
    assert!(String::from_utf8_lossy(&ack[0].body).contains("m=audio 20002 "));
}

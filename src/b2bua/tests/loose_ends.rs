//! A transfer's loose ends in virtual time (`transfer_ends.rs`): requests nobody answers,
//! a transferor or a new party that hangs up mid-transfer, answers that arrive after the
//! parties swapped places, the new party's session timer, the number of transfers.

use super::super::transfer::Step;
use super::transfers::*;
use super::*;

/// alice's blind transfer of bob to carol (branch 1), routed at 1.1 s.
pub(super) fn blind(lab: &mut Lab) -> Vec<Action> {
    let mut got = alice_refers(lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    got.extend(carol_called(lab, 1.1));
    got
}

/// carol's 200 (with her offer) and these header fields.
fn carol_answers(lab: &mut Lab, secs: f64, extra: &[(&str, &str)]) -> Vec<Action> {
    let inv = Message::parse(&lab.call.forks[1].invite).unwrap();
    let mut r = ok_with_sdp(&inv, "caroltag", "<sip:carol@127.0.0.1:5090>");
    for (k, v) in extra {
        r.push_header(k, *v);
    }
    lab.at(secs, Event::ForkResponse { index: 1, msg: r })
}

/// The 200 of `side` to our request `req` (with SDP: `sdp`).
fn answer(lab: &mut Lab, secs: f64, side: Side, req: &Message, sdp: bool) -> Vec<Action> {
    let r = if sdp {
        ok_with_sdp(req, "", "<sip:x@127.0.0.1:5099>")
    } else {
        response(req, 200, "OK", "")
    };
    lab.at(
        secs,
        Event::Response {
            side,
            branch: branch_of(req),
            msg: r,
        },
    )
}

/// The requests of a run with this Call-ID, (time, method).
fn requests_on(run: &[(f64, Action)], call_id: &str) -> Vec<(f64, String)> {
    run.iter()
        .filter_map(|(t, a)| message(a).map(|m| (*t, m)))
        .filter(|(_, m)| m.call_id() == Some(call_id))
        .filter_map(|(t, m)| m.method().map(|x| (t, x.to_string())))
        .collect()
}

#[test]
fn an_unanswered_prack_to_the_target_does_not_end_the_call() {
    let mut lab = answered();
    blind(&mut lab);
    let inv = Message::parse(&lab.call.forks[1].invite).unwrap();
    let mut r = response(&inv, 180, "Ringing", "caroltag");
    r.push_header("Contact", "<sip:carol@127.0.0.1:5090>");
    r.push_header("Require", "100rel");
    r.push_header("RSeq", "1");
    let got = lab.at(1.5, Event::ForkResponse { index: 1, msg: r });
    assert_eq!(sent_to(&got, "PRACK").len(), 1);
    let run = lab.run(40.0);
    assert!(
        !lab.call.is_ended(),
        "{:?}",
        named(&run.into_iter().map(|x| x.1).collect::<Vec<_>>())
    );
    assert_eq!(lab.call.winner(), Some(0));
}

#[test]
fn an_attended_party_that_never_offers_fails_the_transfer_not_the_call() {
    let mut lab = answered();
    alice_refers(
        &mut lab,
        1.0,
        2,
        "Refer-To: <sip:103@127.0.0.1?Replaces=c2%3Bto-tag%3Dv2%3Bfrom-tag%3Da2>\n",
    );
    let mut dave = carol(&lab);
    dave.leg.remote_tag = Some("davetag".into());
    dave.leg.call_id = "d2".into();
    dave.state = ForkState::Answered { ack: None };
    let got = lab.at(
        1.2,
        Event::Transfer(Box::new(Step::Joined {
            fork: Box::new(dave),
            segment: segment(),
        })),
    );
    // (asking for his offer, vozbox says it will refresh his session)
    let ask = &sent_to(&got, "INVITE")[0];
    assert_eq!(ask.get("Session-Expires"), Some("1800;refresher=uac"));
    // dave never answers the re-INVITE without SDP
    let run = lab.run(40.0);
    let acts: Vec<Action> = run.into_iter().map(|x| x.1).collect();
    assert!(!lab.call.is_ended(), "{:?}", named(&acts));
    let fails: Vec<_> = notifies(&acts)
        .into_iter()
        .filter(|n| !n.0.contains("100"))
        .collect();
    assert_eq!(fails[0].0, "SIP/2.0 408 Request Timeout");
    let byes = sent_to(&acts, "BYE");
    assert!(!byes.is_empty() && byes.iter().all(|b| b.call_id() == Some("d2")));
    assert_eq!(lab.call.winner(), Some(0));
    assert_eq!(lab.call.a.call_id, "c1");
}

/// A request from carol (branch 1) inside her dialog.
fn carol_sends(lab: &mut Lab, secs: f64, method: &str, cseq: u32) -> Vec<Action> {
    let leg = &lab.call.forks[1].leg;
    let text = format!(
        "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKc{cseq};rport\n\
         From: <sip:102@127.0.0.1>;tag=caroltag\nTo: <sip:100@127.0.0.1>;tag={}\nCall-ID: {}\n\
         CSeq: {cseq} {method}\nContact: <sip:carol@127.0.0.1:5090>\nMax-Forwards: 70\nContent-Length: 0\n\n",
        leg.local_tag, leg.call_id
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

#[test]
fn a_transferor_that_hangs_up_takes_its_session_timer_and_requests_along() {
    // bob's 200 makes vozbox refresh his leg every 45 s
    let (mut lab, _) = Lab::simple();
    lab.call.transfer.caller = Some(user("alice"));
    lab.call.forks[0].party = Some(user("bob"));
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = ok_with_sdp(&inv, "bobtag", "<sip:bob@127.0.0.1:5080>");
    r.push_header("Session-Expires", "90;refresher=uac");
    r.push_header("Allow", "INVITE, ACK, BYE, UPDATE");
    lab.at(0.5, Event::ForkResponse { index: 0, msg: r });
    lab.alice_acks(0.6);
    assert!(lab.call.sessions.b.is_some());
    let bob_id = lab.call.forks[0].leg.call_id.clone();
    // bob transfers alice to carol and hangs up at once; carol rings on
    bob_refers(&mut lab, 1.0, 2, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(whats(&lab.bob_sends(1.1, 0, "BYE", 3)), ["200"]);
    carol_called(&mut lab, 1.2);
    lab.branch_says(1.5, 1, 180, "Ringing");
    let run = lab.run(58.0);
    // no refresh (nor the NOTIFY still unanswered) goes to bob any more
    assert_eq!(requests_on(&run, &bob_id), []);
    assert!(!lab.call.is_ended());
}

#[test]
fn answers_from_the_transferor_after_the_swap_still_match() {
    let mut lab = answered();
    let got = blind(&mut lab);
    let trying = sent_to(&got, "NOTIFY")[0].clone();
    answer(&mut lab, 1.05, Side::A, &trying, false);
    let got = carol_answers(&mut lab, 2.0, &[]);
    let reinvite = sent_to(&got, "INVITE")[0].clone();
    let got = answer(&mut lab, 2.2, Side::B(0), &reinvite, true);
    let done = sent_to(&got, "NOTIFY")[0].clone();
    assert_eq!(done.call_id(), Some("c1"));
    // alice's answer to the last NOTIFY comes on her leg, now a branch (carol is A)
    assert_eq!(lab.call.side_of("c1"), Some(Side::B(1)));
    answer(&mut lab, 2.3, Side::B(1), &done, false);
    let run = lab.run(40.0);
    let notifies: Vec<_> = requests_on(&run, "c1")
        .into_iter()
        .filter(|(_, m)| m == "NOTIFY")
        .collect();
    assert_eq!(notifies, []);
}

#[test]
fn the_new_partys_session_timer_is_kept_after_the_transfer() {
    let mut lab = answered();
    blind(&mut lab);
    let se = ("Session-Expires", "120;refresher=uac");
    let got = carol_answers(&mut lab, 2.0, &[se, ("Allow", "INVITE, ACK, BYE, UPDATE")]);
    let reinvite = sent_to(&got, "INVITE")[0].clone();
    answer(&mut lab, 2.2, Side::B(0), &reinvite, true);
    let carol_id = lab.call.a.call_id.clone();
    assert_ne!(carol_id, "c1");
    let run = lab.run(70.0);
    // vozbox refreshes carol's leg at half her interval
    let on_carol = requests_on(&run, &carol_id);
    assert_eq!(on_carol.first(), Some(&(62.0, "UPDATE".to_string())));
    assert!(!lab.call.is_ended());
}

#[test]
fn a_new_party_that_hangs_up_before_the_join_fails_the_transfer() {
    let mut lab = answered();
    blind(&mut lab);
    let got = carol_answers(&mut lab, 2.0, &[]);
    let reinvite = sent_to(&got, "INVITE")[0].clone();
    // carol hangs up while bob is asked to take her offer
    let got = carol_sends(&mut lab, 2.1, "BYE", 2);
    assert_eq!(whats(&got), ["200", "ACK", "NOTIFY"]);
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 480 Temporarily Unavailable".into(),
            "terminated;reason=noresource".into()
        )]
    );
    // bob's answer is ACKed; alice and bob stay together
    let got = answer(&mut lab, 2.2, Side::B(0), &reinvite, true);
    assert_eq!(named(&got), ["ACK"]);
    assert_eq!(lab.call.a.call_id, "c1");
    assert_eq!(lab.call.winner(), Some(0));
    assert!(!lab.call.is_ended());
}

#[test]
fn a_call_tries_a_bounded_number_of_transfers() {
    let mut lab = answered();
    for k in 0..8u32 {
        let secs = 1.0 + f64::from(k);
        let got = alice_refers(&mut lab, secs, 2 + k, "Refer-To: <sip:102@127.0.0.1>\n");
        assert_eq!(whats(&got)[0], "202");
        lab.at(
            secs + 0.5,
            Event::Transfer(Box::new(Step::Failed {
                code: 404,
                reason: "Not Found".into(),
            })),
        );
    }
    let got = alice_refers(&mut lab, 10.0, 20, "Refer-To: <sip:102@127.0.0.1>\n");
    assert_eq!(whats(&got), ["403"]);
    assert!(!lab.call.is_ended());
}

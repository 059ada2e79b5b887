//! Reliable provisionals (RFC 3262) in virtual time: a branch's `Require: 100rel`
//! provisional is PRACKed once on its early dialog and still relayed; a caller that
//! required 100rel gets its provisionals reliably, one at a time, resent until PRACKed,
//! its INVITE refused after 64·T1 without one.

use super::sessions::call_with;
use super::*;

/// A provisional from bob (branch 0) with `Require: 100rel`, `RSeq: rseq` and SDP.
fn bob_reliable(lab: &mut Lab, secs: f64, code: u16, rseq: u32) -> Vec<Action> {
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, code, "Session Progress", "bobtag");
    r.push_header("Contact", "<sip:bob@127.0.0.1:5080>");
    r.push_header("Require", "100rel");
    r.push_header("RSeq", rseq.to_string());
    r.push_header("Content-Type", "application/sdp");
    r.body = SDP.replace('\n', "\r\n").into_bytes();
    lab.at(secs, Event::ForkResponse { index: 0, msg: r })
}

/// The messages of some actions that are `w` ("PRACK", "183" …).
fn of(actions: &[Action], w: &str) -> Vec<Message> {
    actions
        .iter()
        .filter(|a| what(a) == w)
        .filter_map(message)
        .collect()
}

/// alice's PRACK with this RAck value.
fn alice_pracks(lab: &mut Lab, secs: f64, cseq: u32, rack: &str) -> Vec<Action> {
    let text = format!(
        "PRACK sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKp{cseq};rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: {cseq} PRACK\nRAck: {rack}\nMax-Forwards: 70\nContent-Length: 0\n\n",
        lab.call.a.local_tag
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

#[test]
fn a_reliable_183_from_the_callee_is_pracked_once_and_relayed() {
    let (mut lab, _) = Lab::simple();
    let got = bob_reliable(&mut lab, 0.2, 183, 7);
    assert_eq!(whats(&got), ["PRACK", "183"], "{:?}", whats(&got));
    let prack = &of(&got, "PRACK")[0];
    assert_eq!(prack.get("RAck"), Some("7 1 INVITE"));
    // in bob's early dialog: his tag, his Contact as the Request-URI
    assert!(prack.get("To").unwrap().contains("tag=bobtag"));
    assert!(
        matches!(&prack.start, StartLine::Request { uri, .. } if uri == "sip:bob@127.0.0.1:5080")
    );
    assert_eq!(
        prack.call_id(),
        Some(lab.call.forks[0].leg.call_id.as_str())
    );
    // alice did not ask for 100rel: a plain 183 with the early media's SDP
    let early = &of(&got, "183")[0];
    assert_eq!(early.get("RSeq"), None);
    assert_eq!(early.get("Require"), None);
    assert!(early.is_sdp() && !early.body.is_empty());
    // bob resends his 183 (our PRACK is late): not PRACKed again, not relayed again
    assert!(bob_reliable(&mut lab, 0.3, 183, 7).is_empty());
    // the PRACK is resent over UDP until its 200
    let run = lab.run(1.0);
    assert_eq!(times_of(&run, "PRACK"), [0.7]);
    let prack = prack.clone();
    assert!(lab.answer(1.0, Side::B(0), &prack, 200).is_empty());
    let run = lab.run(5.0);
    assert!(times_of(&run, "PRACK").is_empty());
    // the next reliable provisional is PRACKed too
    let got = bob_reliable(&mut lab, 5.0, 180, 8);
    assert_eq!(of(&got, "PRACK")[0].get("RAck"), Some("8 1 INVITE"));
}

#[test]
fn a_caller_that_requires_100rel_gets_reliable_provisionals_one_at_a_time() {
    let mut lab = call_with("Require: 100rel\n");
    assert!(lab.call.prack.a_required);
    lab.call.start(lab.t0, &mut Actions::default());
    // bob rings (plainly), then sends early media
    let got = lab.branch_says(0.1, 0, 180, "Ringing");
    let ringing = &of(&got, "180")[0];
    assert_eq!(ringing.get("Require"), Some("100rel"));
    let rseq: u32 = ringing.get("RSeq").unwrap().parse().unwrap();
    let got = bob_reliable(&mut lab, 0.2, 183, 1);
    // PRACKed towards bob; the 183 waits for alice's PRACK of the 180
    assert_eq!(whats(&got), ["PRACK"]);
    // the 180 is resent at T1 doubling
    let run = lab.run(1.7);
    assert_eq!(times_of(&run, "180"), [0.6, 1.6]);
    // a PRACK that acknowledges something else: 481
    let got = alice_pracks(&mut lab, 1.7, 2, &format!("{} 1 INVITE", rseq + 5));
    assert_eq!(whats(&got), ["481"]);
    // alice PRACKs the 180: 200, then the 183 goes, reliably, with the next RSeq
    let got = alice_pracks(&mut lab, 1.8, 3, &format!("{rseq} 1 INVITE"));
    assert_eq!(whats(&got), ["200", "183"]);
    let early = &of(&got, "183")[0];
    assert_eq!(early.get("RSeq"), Some((rseq + 1).to_string().as_str()));
    assert!(!early.body.is_empty());
    let run = lab.run(2.5);
    assert_eq!(times_of(&run, "180"), Vec::<f64>::new());
    assert_eq!(times_of(&run, "183"), [2.3]);
    alice_pracks(&mut lab, 2.5, 4, &format!("{} 1 INVITE", rseq + 1));
    let run = lab.run(10.0);
    assert!(times_of(&run, "183").is_empty());
    // bob answers: the call goes on as ever
    let got = lab.branch_says(10.0, 0, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK", "200"]);
}

#[test]
fn no_prack_from_the_caller_in_64_t1_refuses_its_invite() {
    let mut lab = call_with("Require: 100rel\n");
    lab.call.start(lab.t0, &mut Actions::default());
    lab.branch_says(0.1, 0, 180, "Ringing");
    let run = lab.run(40.0);
    // (resent until alice's ACK, as any final response)
    assert_eq!(times_of(&run, "504")[..2], [32.1, 32.6]);
    assert_eq!(times_of(&run, "CANCEL")[0], 32.1);
    assert_eq!(times_of(&run, "CDR failed 504"), [32.1]);
    // 180 resent 0.5, 1, 2, 4, 8, 16 s apart (not capped at T2)
    assert_eq!(times_of(&run, "180"), [0.6, 1.6, 3.6, 7.6, 15.6, 31.6]);
}

#[test]
fn a_100rel_invite_passes_the_stacks_checks() {
    let inc = incoming(&invite(true).replacen(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nRequire: 100rel, timer\n",
        1,
    ));
    assert!(check_request(&inc.msg).is_ok());
}

#[test]
fn a_2xx_waits_for_the_prack_of_a_reliable_provisional_with_sdp() {
    let mut lab = call_with("Require: 100rel\n");
    lab.call.start(lab.t0, &mut Actions::default());
    let got = bob_reliable(&mut lab, 0.1, 183, 1);
    let early = &of(&got, "183")[0];
    assert!(!early.body.is_empty());
    let rseq = early.get("RSeq").unwrap().to_string();
    // bob answers before alice's PRACK: bob is ACKed, alice's 200 is held
    let got = lab.branch_says(0.3, 0, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK"]);
    // the 183 is still resent meanwhile
    let run = lab.run(0.7);
    assert_eq!(times_of(&run, "183"), [0.6]);
    // her PRACK: 200 to it, then the 200 to her INVITE, resent until her ACK
    let got = alice_pracks(&mut lab, 0.8, 2, &format!("{rseq} 1 INVITE"));
    assert_eq!(whats(&got), ["200", "200"]);
    let ok = message(&got[1]).unwrap();
    assert_eq!(ok.cseq(), Some((1, "INVITE")));
    let run = lab.run(1.4);
    assert_eq!(times_of(&run, "200"), [1.3]);
    assert!(times_of(&run, "183").is_empty());
}

#[test]
fn a_held_2xx_whose_prack_never_comes_hangs_up_the_callee_and_refuses_the_caller() {
    let mut lab = call_with("Require: 100rel\n");
    lab.call.start(lab.t0, &mut Actions::default());
    bob_reliable(&mut lab, 0.1, 183, 1);
    lab.branch_says(0.3, 0, 200, "OK");
    let run = lab.run(40.0);
    assert_eq!(times_of(&run, "BYE")[0], 32.1);
    assert_eq!(times_of(&run, "504")[0], 32.1);
    assert_eq!(times_of(&run, "CDR failed 504"), [32.1]);
    assert!(times_of(&run, "200").is_empty());
}

#[test]
fn an_unanswered_prack_to_a_losing_branch_does_not_end_the_answered_call() {
    // two phones ring: phone 0 sends a reliable 183 (PRACKed), phone 1 answers; phone 0
    // never answers the PRACK (nor the CANCEL)
    let (mut lab, _) = Lab::call(
        vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)],
        true,
        LIMITS,
    );
    let got = bob_reliable(&mut lab, 0.1, 183, 1);
    assert_eq!(of(&got, "PRACK").len(), 1);
    lab.branch_says(0.3, 1, 200, "OK");
    lab.alice_acks(0.4);
    let run = lab.run(40.0);
    assert!(times_of(&run, "PRACK").len() > 3, "resent until given up");
    assert!(times_of(&run, "ended").is_empty(), "{:?}", whats_of(&run));
    assert!(times_of(&run, "BYE").is_empty());
    assert!(!lab.call.is_ended());
    assert_eq!(lab.call.winner(), Some(1));
}

fn whats_of(run: &[(f64, Action)]) -> Vec<(f64, String)> {
    run.iter().map(|(t, a)| (*t, what(a))).collect()
}

#[test]
fn a_caller_that_never_pracks_has_at_most_two_provisionals_waiting() {
    let mut lab = call_with("Require: 100rel\n");
    lab.call.start(lab.t0, &mut Actions::default());
    let got = lab.branch_says(0.1, 0, 180, "Ringing");
    let first = of(&got, "180")[0]
        .get("RSeq")
        .unwrap()
        .parse::<u32>()
        .unwrap();
    // many provisionals while the first waits for its PRACK: plain ones, and with SDP
    for k in 0..10 {
        assert!(lab
            .branch_says(0.2 + 0.01 * k as f64, 0, 180, "Ringing")
            .is_empty());
    }
    for rseq in 1..=3 {
        let got = bob_reliable(&mut lab, 0.4 + 0.01 * rseq as f64, 183, rseq);
        assert_eq!(whats(&got), ["PRACK"]);
    }
    assert!(lab.branch_says(0.5, 0, 180, "Ringing").is_empty());
    // alice PRACKs at last: only the latest plain one and the latest with SDP follow
    let mut sent = Vec::new();
    let mut rseq = first;
    for k in 0..4 {
        let got = alice_pracks(&mut lab, 1.0 + k as f64, 2 + k, &format!("{rseq} 1 INVITE"));
        let next: Vec<Message> = got
            .iter()
            .filter_map(message)
            .filter(|m| m.get("RSeq").is_some())
            .collect();
        let Some(m) = next.first() else { break };
        rseq = m.get("RSeq").unwrap().parse().unwrap();
        sent.push(m.body.is_empty());
    }
    // (in the order they came: the last 183 with SDP, then the last 180)
    assert_eq!(sent, [false, true]);
}

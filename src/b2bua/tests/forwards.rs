//! Call forwarding in the call core, in virtual time: busy and no-answer forwards are
//! asked of the driver at the right moment, the branches left behind do not answer the
//! caller, and the forward's branches take over.

use super::super::divert::Divert;
use super::*;
use crate::model::ForwardOwner;

fn divert(busy: bool, no_answer: Option<u64>) -> Divert {
    Divert {
        client: "bluebird".into(),
        owner: ForwardOwner::User("bob".into()),
        external: false,
        busy,
        no_answer: no_answer.map(Duration::from_secs),
        asked: false,
    }
}

/// The forward's branch (to 127.0.0.1:5081), as the driver builds it.
fn forward_fork(lab: &Lab) -> Fork {
    let mut t = target(1, Proto::Udp, false);
    t.headers = vec![(
        "Diversion".into(),
        "<sip:101@127.0.0.1>;reason=user-busy;counter=1".into(),
    )];
    Fork::new(
        &t,
        &lab.call.a_invite,
        Some(lab.call.a_invite.body.clone()),
        69,
    )
}

#[test]
fn a_busy_callee_with_a_busy_forward_is_forwarded_not_failed() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(true, None));
    let got = lab.branch_says(0.5, 0, 486, "Busy Here");
    // the branch is ACKed; the caller hears nothing yet: the forward is asked
    assert_eq!(whats(&got), ["ACK", "forward busy"]);
    assert_eq!(lab.call.phase, Phase::Ringing);
    // nothing times out while the driver routes it (well past the 60 s limit), and the
    // call's deadline is never one already past (no timer spinning)
    let run = lab.run(62.0);
    assert!(
        run.iter().all(|(_, a)| what(a) != "480"),
        "{:?}",
        run.iter().map(|(t, a)| (*t, what(a))).collect::<Vec<_>>()
    );
    assert!(lab
        .call
        .poll_timeout()
        .is_some_and(|d| d > lab.t0 + Duration::from_secs(62)));
    let fork = forward_fork(&lab);
    let got = lab.at(
        62.0,
        Event::Forwarded {
            forks: vec![fork],
            divert: None,
            label: "user:bob >busy> user:carol".into(),
            billing: None,
        },
    );
    assert_eq!(whats(&got), ["INVITE"]);
    let invite = message(&got[0]).unwrap();
    assert!(invite
        .get("Diversion")
        .is_some_and(|d| d.contains("reason=user-busy")));
    // the forward's branch answers: the call is up, the record says where it went
    lab.branch_says(63.0, 1, 180, "Ringing");
    let got = lab.branch_says(64.0, 1, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK", "200"]);
    assert_eq!(lab.call.info.route, "user:bob >busy> user:carol");
}

#[test]
fn a_busy_answer_without_a_busy_forward_fails_as_before() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(false, Some(10)));
    let got = lab.branch_says(0.5, 0, 486, "Busy Here");
    assert_eq!(
        whats(&got),
        ["ACK", "486", "ended", "media stop", "CDR busy 486"]
    );
}

#[test]
fn no_answer_cancels_at_the_forwards_timeout_and_asks_for_it() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(false, Some(10)));
    lab.branch_says(0.2, 0, 180, "Ringing");
    let run = lab.run(10.5);
    // at 10 s (not the call's 60 s limit): CANCEL to the ringing branch, then the forward
    assert_eq!(times_of(&run, "CANCEL")[0], 10.0);
    assert_eq!(times_of(&run, "forward no_answer"), [10.0]);
    // the cancelled branch's 487 does not end the call
    let got = lab.branch_says(10.6, 0, 487, "Request Terminated");
    assert_eq!(whats(&got), ["ACK"]);
    assert_eq!(lab.call.phase, Phase::Ringing);
    let fork = forward_fork(&lab);
    let got = lab.at(
        11.0,
        Event::Forwarded {
            forks: vec![fork],
            divert: None,
            label: "user:bob >no_answer> user:carol".into(),
            billing: None,
        },
    );
    assert_eq!(whats(&got), ["INVITE"]);
    lab.branch_says(11.2, 1, 180, "Ringing");
    // the call's own no-answer limit counts from the forward: 60 s after 11 s
    let run = lab.run(80.0);
    assert_eq!(times_of(&run, "CDR no_answer 480"), [71.0]);
}

#[test]
fn a_forward_that_leads_nowhere_answers_the_caller() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(true, None));
    lab.branch_says(0.5, 0, 486, "Busy Here");
    let got = lab.at(
        0.6,
        Event::ForwardFailed {
            code: 482,
            reason: "Loop Detected",
            disposition: super::super::record::Disposition::ForwardLoop,
        },
    );
    assert_eq!(
        whats(&got),
        ["482", "ended", "media stop", "CDR forward_loop 482"]
    );
}

#[test]
fn a_caller_gone_while_the_forward_was_routed_gets_no_new_branch() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(true, None));
    lab.branch_says(0.5, 0, 486, "Busy Here");
    let cancel = format!(
        "CANCEL sip:101@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa1;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>\nCall-ID: c1\n\
         CSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0\n\n"
    );
    lab.at(0.7, Event::Cancel(incoming(&cancel)));
    assert!(lab.call.is_ended());
    let fork = forward_fork(&lab);
    let got = lab.at(
        0.8,
        Event::Forwarded {
            forks: vec![fork],
            divert: None,
            label: String::new(),
            billing: None,
        },
    );
    assert!(
        whats(&got).iter().all(|w| w != "INVITE"),
        "{:?}",
        whats(&got)
    );
}

#[test]
fn a_forward_never_routed_still_ends_the_call() {
    let (mut lab, _) = Lab::simple();
    lab.call.divert = Some(divert(true, None));
    lab.branch_says(0.5, 0, 486, "Busy Here");
    // the driver never answers: the caller gets 480 at the limit plus its last minute
    let run = lab.run(200.0);
    assert_eq!(times_of(&run, "CDR no_answer 480"), [120.0]);
}

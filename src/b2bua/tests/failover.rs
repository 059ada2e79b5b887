//! Carrier failover in the call core, in virtual time: which failures of a carrier move
//! the call on to the next one (408, 5xx, 6xx but 603, no answer within the carrier
//! timeout, an unreachable carrier) and which are final (4xx, 603); the caller hears
//! nothing of it meanwhile, and the record names the carriers.

use super::super::failover::{Failover, Next};
use super::*;
use crate::routing::Route;

const CARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// An external call through carrier `upstream` (127.0.0.1:5080) with `backup` and
/// `spare` to try after it.
fn external() -> (Lab, Vec<Action>) {
    let t = target(0, Proto::Udp, false);
    let route = Route::External {
        billed_client: "bluebird".into(),
        carriers: vec!["upstream".into(), "backup".into(), "spare".into()],
        number: "+34600111222".into(),
        presented: "+34944000100".into(),
    };
    let f = Failover::new(
        route,
        Some(&t),
        "upstream",
        [Next::carrier("backup"), Next::carrier("spare")],
        CARRIER_TIMEOUT,
    );
    Lab::call_with(vec![t], true, LIMITS, |c| {
        c.info.route = "carrier:upstream:+34600111222".into();
        c.info.carriers = vec!["upstream".into()];
        c.failover = Some(f);
    })
}

/// The next carrier's branch (to 127.0.0.1:5080+i), as the driver builds it.
fn next_fork(lab: &Lab, i: usize) -> Fork {
    Fork::new(
        &target(i, Proto::Udp, false),
        &lab.call.a_invite,
        Some(lab.call.a_invite.body.clone()),
        69,
    )
}

fn failed_over(lab: &mut Lab, secs: f64, i: usize, carrier: &str) -> Vec<Action> {
    let forks = vec![next_fork(lab, i)];
    lab.at(
        secs,
        Event::FailedOver {
            forks,
            carrier: carrier.into(),
            more: Vec::new(),
            round: 0,
        },
    )
}

fn cdr(actions: &[Action]) -> Option<crate::model::Cdr> {
    actions.iter().find_map(|a| match a {
        Action::Record { cdr, .. } => Some((**cdr).clone()),
        _ => None,
    })
}

#[test]
fn a_carrier_503_moves_the_call_to_the_next_carrier() {
    let (mut lab, _) = external();
    // early media through the first carrier reaches the caller
    let got = lab.branch_says(0.2, 0, 183, "Session Progress");
    assert_eq!(whats(&got), ["183"]);
    let got = lab.branch_says(0.5, 0, 503, "Service Unavailable");
    // ACKed; the caller hears nothing: the next carrier is asked
    assert_eq!(whats(&got), ["ACK", "fail over backup"]);
    assert_eq!(lab.call.phase, Phase::Ringing);
    let got = failed_over(&mut lab, 0.6, 1, "backup");
    assert_eq!(whats(&got), ["INVITE"]);
    lab.branch_says(0.8, 1, 180, "Ringing");
    let got = lab.branch_says(1.0, 1, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK", "200"]);
    assert_eq!(lab.call.info.route, "carrier:backup:+34600111222");
    lab.alice_acks(1.1);
    let got = lab.alice_sends(5.0, "BYE", 2);
    let cdr = cdr(&got).expect("record");
    assert_eq!(cdr.carrier.as_deref(), Some("backup"));
    assert_eq!(cdr.carriers_tried, ["upstream", "backup"]);
    assert_eq!(cdr.disposition, "answered");
}

#[test]
fn the_called_partys_answers_and_603_are_final() {
    for (code, reason) in [
        (486, "Busy Here"),
        (404, "Not Found"),
        (480, "Temporarily Unavailable"),
        (603, "Decline"),
    ] {
        let (mut lab, _) = external();
        let got = lab.branch_says(0.5, 0, code, reason);
        let w = whats(&got);
        assert!(
            w.iter().all(|w| !w.starts_with("fail over")),
            "{}: {:?}",
            code,
            w
        );
        assert!(w.contains(&code.to_string()), "{}: {:?}", code, w);
        let cdr = cdr(&got).expect("record");
        assert_eq!(cdr.carrier.as_deref(), Some("upstream"));
        assert!(cdr.carriers_tried.is_empty());
    }
}

#[test]
fn server_failures_timeouts_and_global_failures_but_603_move_on() {
    for (code, reason) in [
        (408, "Request Timeout"),
        (500, "Server Internal Error"),
        (502, "Bad Gateway"),
        (600, "Busy Everywhere"),
        (604, "Does Not Exist Anywhere"),
    ] {
        let (mut lab, _) = external();
        let got = lab.branch_says(0.5, 0, code, reason);
        assert_eq!(whats(&got), ["ACK", "fail over backup"], "{}", code);
    }
}

#[test]
fn a_carrier_that_never_answers_is_left_after_the_carrier_timeout() {
    let (mut lab, _) = external();
    let run = lab.run(10.0);
    // its INVITE resent at 0.5 and 1.5 s (T1 doubling), given up at 2 s: the next carrier
    assert_eq!(times_of(&run, "INVITE"), [0.5, 1.5]);
    assert_eq!(times_of(&run, "fail over backup"), [2.0]);
    assert!(times_of(&run, "408").is_empty());
    // the next one answers 486: final, the caller gets it
    failed_over(&mut lab, 10.5, 1, "backup");
    let got = lab.branch_says(11.0, 1, 486, "Busy Here");
    assert!(
        whats(&got).contains(&"486".to_string()),
        "{:?}",
        whats(&got)
    );
    let cdr = cdr(&got).expect("record");
    assert_eq!(cdr.carrier.as_deref(), Some("backup"));
    assert_eq!(cdr.carriers_tried, ["upstream", "backup"]);
}

#[test]
fn a_provisional_stops_the_carrier_timeout() {
    let (mut lab, _) = external();
    lab.branch_says(0.3, 0, 100, "Trying");
    let run = lab.run(30.0);
    assert!(times_of(&run, "fail over backup").is_empty());
}

#[test]
fn an_unreachable_carrier_is_skipped_and_the_last_failure_answers_the_caller() {
    let (mut lab, _) = external();
    lab.branch_says(0.5, 0, 503, "Service Unavailable");
    // backup cannot be reached (no branch): on to spare at once
    let got = lab.at(
        0.6,
        Event::FailedOver {
            forks: Vec::new(),
            carrier: "backup".into(),
            more: Vec::new(),
            round: 0,
        },
    );
    assert_eq!(whats(&got), ["fail over spare"]);
    failed_over(&mut lab, 0.7, 2, "spare");
    // the last carrier fails too: the caller gets the failure
    let got = lab.branch_says(0.9, 1, 500, "Server Internal Error");
    let w = whats(&got);
    assert!(w.contains(&"503".to_string()), "{:?}", w);
    let cdr = cdr(&got).expect("record");
    assert_eq!(cdr.carrier.as_deref(), Some("spare"));
    assert_eq!(cdr.carriers_tried, ["upstream", "backup", "spare"]);
    assert_eq!(cdr.route, "carrier:spare:+34600111222");
}

#[test]
fn more_addresses_of_a_carrier_come_before_the_next_carrier() {
    let (mut lab, _) = external();
    lab.branch_says(0.5, 0, 503, "Service Unavailable");
    let more = vec![Next {
        carrier: "backup".into(),
        to: Some(crate::dns::Found {
            transport: "udp",
            addr: "127.0.0.1:5090".parse().unwrap(),
        }),
    }];
    let forks = vec![next_fork(&lab, 1)];
    lab.at(
        0.6,
        Event::FailedOver {
            forks,
            carrier: "backup".into(),
            more,
            round: 0,
        },
    );
    let got = lab.branch_says(0.8, 1, 503, "Service Unavailable");
    assert_eq!(whats(&got), ["ACK", "fail over backup"]);
}

#[test]
fn a_caller_that_gives_up_meanwhile_gets_no_new_branch() {
    let (mut lab, _) = external();
    lab.branch_says(0.5, 0, 503, "Service Unavailable");
    let cancel = "CANCEL sip:101@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa1;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>\nCall-ID: c1\n\
         CSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0\n\n";
    lab.at(0.6, Event::Cancel(incoming(cancel)));
    assert!(lab.call.is_ended());
    let got = failed_over(&mut lab, 0.7, 1, "backup");
    assert!(
        whats(&got).iter().all(|w| w != "INVITE"),
        "{:?}",
        whats(&got)
    );
}

#[test]
fn a_call_whose_carrier_is_a_name_asks_for_its_first_destination_at_once() {
    let route = Route::External {
        billed_client: "bluebird".into(),
        carriers: vec!["by-name".into(), "backup".into()],
        number: "+34600111222".into(),
        presented: "+34944000100".into(),
    };
    let f = Failover::new(
        route,
        None,
        "",
        [Next::carrier("by-name"), Next::carrier("backup")],
        CARRIER_TIMEOUT,
    );
    let (mut lab, got) = Lab::call_with(Vec::new(), true, LIMITS, |c| c.failover = Some(f));
    // the caller gets its 100 and the carrier is resolved meanwhile (no INVITE yet)
    assert_eq!(whats(&got), ["100", "fail over by-name"]);
    // it resolved to nothing: on to the next carrier
    let got = lab.at(
        0.1,
        Event::FailedOver {
            forks: Vec::new(),
            carrier: "by-name".into(),
            more: Vec::new(),
            round: 0,
        },
    );
    assert_eq!(whats(&got), ["fail over backup"]);
    let got = failed_over(&mut lab, 0.2, 0, "backup");
    assert_eq!(whats(&got), ["INVITE"]);
    let got = lab.branch_says(0.4, 0, 503, "Service Unavailable");
    let cdr = cdr(&got).expect("record");
    assert_eq!(cdr.carriers_tried, ["by-name", "backup"]);
    assert_eq!(cdr.sip_code, 503);
}

/// bob's no-answer forward to a number whose first carrier is a host name: `Forwarded`
/// without a branch, the forward's failover put in place as the driver does.
fn forward_out_by_name(lab: &mut Lab, secs: f64) -> Vec<Action> {
    let route = Route::External {
        billed_client: "bluebird".into(),
        carriers: vec!["by-name".into()],
        number: "+34600111222".into(),
        presented: "+34944000100".into(),
    };
    let next = [Next::carrier("by-name")];
    let f = Failover::new(route, None, "", next, CARRIER_TIMEOUT);
    lab.call.take_failover(Some(f));
    let label = "user:bob >no_answer> carrier:by-name:+34600111222".into();
    let e = Event::Forwarded {
        forks: Vec::new(),
        divert: None,
        label,
        billing: None,
    };
    lab.at(secs, e)
}

#[test]
fn a_no_answer_forward_to_a_carrier_by_name_asks_for_it_while_the_old_branch_winds_down() {
    let (mut lab, _) = external();
    lab.call.divert = Some(super::super::divert::Divert {
        client: "bluebird".into(),
        owner: crate::model::ForwardOwner::User("bob".into()),
        external: false,
        busy: false,
        no_answer: Some(Duration::from_secs(10)),
        asked: false,
    });
    lab.branch_says(0.2, 0, 180, "Ringing");
    let run = lab.run(10.5);
    assert_eq!(times_of(&run, "forward no_answer"), [10.0]);
    // the ringing branch is cancelled and owes its 487: the forward's carrier is asked
    // all the same
    assert!(lab.call.forks[0].state.waiting());
    let got = forward_out_by_name(&mut lab, 10.6);
    assert_eq!(whats(&got), ["fail over by-name"]);
    // the old branch's 487 ends nothing: the forward's carrier is awaited
    let got = lab.branch_says(10.7, 0, 487, "Request Terminated");
    assert_eq!(whats(&got), ["ACK"]);
    let round = lab.call.failover.as_ref().map_or(0, |f| f.round);
    assert_eq!(round, 1);
    let forks = vec![next_fork(&lab, 1)];
    let (carrier, more) = ("by-name".into(), Vec::new());
    let e = Event::FailedOver {
        forks,
        carrier,
        more,
        round,
    };
    assert_eq!(whats(&lab.at(10.8, e)), ["INVITE"]);
}

#[test]
fn a_late_answer_for_the_carriers_of_a_forwarded_call_is_not_taken() {
    let (mut lab, _) = external();
    lab.call.divert = Some(super::super::divert::Divert {
        client: "bluebird".into(),
        owner: crate::model::ForwardOwner::User("bob".into()),
        external: false,
        busy: true,
        no_answer: None,
        asked: false,
    });
    // upstream's 503: backup asked (round 0) ... and backup's 486 then asks the busy
    // forward before that answer came
    let got = lab.branch_says(0.5, 0, 503, "Service Unavailable");
    assert_eq!(whats(&got), ["ACK", "fail over backup"]);
    let got = failed_over(&mut lab, 0.6, 1, "backup");
    assert_eq!(whats(&got), ["INVITE"]);
    let got = lab.branch_says(0.8, 1, 486, "Busy Here");
    assert_eq!(whats(&got), ["ACK", "forward busy"]);
    assert!(lab.call.failover.is_none());
    // an answer for the call's own carriers now: not taken
    let forks = lab.call.forks.len();
    assert!(failed_over(&mut lab, 0.9, 2, "spare").is_empty());
    assert_eq!(lab.call.forks.len(), forks);
}

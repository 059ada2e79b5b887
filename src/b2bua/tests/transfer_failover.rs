//! A blind transfer to an external number moves on through the target's carriers as the
//! transferor's own call would (`failover.rs` with `Step::Calling`'s failover), in
//! virtual time: its first carrier by host name (no branch until resolved), a carrier's
//! `503` or silence moving to the next, a called party's `486` final, nothing left: the
//! transferor hears the failure and the call stays as it was.

use super::super::failover::{Failover, Next};
use super::super::target::Presentation;
use super::super::transfer::{Segment, Step};
use super::transfers::*;
use super::*;
use crate::routing::Route;

const NUMBER: &str = "+34600111222";

/// alice (A) transfers bob to NUMBER, routed through `carriers`; the first one has a
/// branch (`first`: at 127.0.0.1:5090) or is a host name being resolved (none).
fn transfer_out(lab: &mut Lab, carriers: &[&str], first: bool) -> Vec<Action> {
    transfer_at(lab, 1.0, carriers, first, false)
}

/// The same at `secs` (its REFER's CSeq: 2 + secs), the transfer taking a place in the
/// max calls (`counted`) or not: what the driver's routing of it brought.
fn transfer_at(
    lab: &mut Lab,
    secs: f64,
    carriers: &[&str],
    first: bool,
    counted: bool,
) -> Vec<Action> {
    let refer_to = format!("Refer-To: <sip:{NUMBER}@127.0.0.1>\n");
    alice_refers(lab, secs, 2 + secs as u32, &refer_to);
    let route = Route::External {
        billed_client: "bluebird".into(),
        carriers: carriers.iter().map(|c| c.to_string()).collect(),
        number: NUMBER.into(),
        presented: "+34944000100".into(),
    };
    let t = target(10, Proto::Udp, false);
    let (forks, carrier, rest) = match first {
        true => (vec![carrier_fork(lab, 10)], carriers[0], &carriers[1..]),
        false => (Vec::new(), "", carriers),
    };
    let mut f = Failover::new(
        route,
        first.then_some(&t),
        carrier,
        rest.iter().map(|c| Next::carrier(c)),
        Duration::from_secs(2),
    );
    f.transfer = Some(Presentation::default());
    let segment = Segment {
        client: "bluebird".into(),
        callee: NUMBER.into(),
        route: format!("carrier:{}:{NUMBER}", carriers[0]),
        carriers: if first {
            vec![carriers[0].into()]
        } else {
            Vec::new()
        },
        counted,
        ..Default::default()
    };
    let step = Step::Calling {
        forks,
        segment,
        failover: Some(Box::new(f)),
    };
    lab.at(secs + 0.1, Event::Transfer(Box::new(step)))
}

/// A carrier's branch to 127.0.0.1:5080+i, sent without an offer as the driver builds it.
fn carrier_fork(lab: &Lab, i: usize) -> Fork {
    Fork::new(&target(i, Proto::Udp, false), &lab.call.a_invite, None, 70)
}

/// The driver's answer for `carrier`: a branch at 5080+i, or none (it did not resolve),
/// to the ask of the transfer in progress.
fn resolved(lab: &mut Lab, secs: f64, carrier: &str, i: Option<usize>) -> Vec<Action> {
    let round = lab.call.failover.as_ref().map_or(0, |f| f.round);
    answer_of(lab, secs, round, carrier, i)
}

/// The same, to the ask of the `round`-th transfer.
fn answer_of(lab: &mut Lab, secs: f64, round: u32, carrier: &str, i: Option<usize>) -> Vec<Action> {
    let forks = i.map(|i| carrier_fork(lab, i)).into_iter().collect();
    let (more, carrier) = (Vec::new(), carrier.into());
    let e = Event::FailedOver {
        forks,
        carrier,
        more,
        round,
    };
    lab.at(secs, e)
}

/// Branch `i` answers with its offer; bob answers our re-INVITE: the transfer is done.
fn answers(lab: &mut Lab, secs: f64, i: usize) -> Vec<Action> {
    let got = lab.branch_says(secs, i, 200, "OK");
    let reinvite = sent_to(&got, "INVITE")[0].clone();
    let r = ok_with_sdp(&reinvite, "", "<sip:bob@127.0.0.1:5080>");
    let branch = branch_of(&reinvite);
    let msg = r;
    lab.at(
        secs + 0.1,
        Event::Response {
            side: Side::B(0),
            branch,
            msg,
        },
    )
}

#[test]
fn a_transfer_through_a_carrier_by_name_fails_over_to_the_next_carrier() {
    let mut lab = answered();
    // no branch yet: the first carrier is asked of the driver (a host name to resolve)
    let got = transfer_out(&mut lab, &["by-name", "backup"], false);
    assert_eq!(whats(&got), ["fail over by-name"]);
    // it resolved: its INVITE goes, without an offer
    let got = resolved(&mut lab, 1.2, "by-name", Some(11));
    assert_eq!(whats(&got), ["INVITE"]);
    assert!(message(&got[0]).unwrap().body.is_empty());
    // its 503: ACKed, the next carrier asked; the transferor hears nothing of it
    let got = lab.branch_says(1.3, 1, 503, "Service Unavailable");
    assert_eq!(whats(&got), ["ACK", "fail over backup"]);
    assert!(notifies(&got).is_empty());
    let got = resolved(&mut lab, 1.4, "backup", Some(12));
    assert_eq!(whats(&got), ["INVITE"]);
    // the target answers on the second carrier: bob is joined to it
    let got = answers(&mut lab, 1.6, 2);
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 200 OK".into(),
            "terminated;reason=noresource".into()
        )]
    );
    // the call after the transfer names the carrier that carries it, and those tried
    assert_eq!(lab.call.info.route, format!("carrier:backup:{NUMBER}"));
    assert_eq!(lab.call.info.carriers, ["by-name", "backup"]);
    assert_eq!(lab.call.info.transferred_by.as_deref(), Some("user:alice"));
}

#[test]
fn a_carrier_that_never_answers_is_left_after_the_carrier_timeout() {
    let mut lab = answered();
    let got = transfer_out(&mut lab, &["upstream", "backup"], true);
    assert_eq!(whats(&got), ["INVITE"]);
    // no response at all: retransmitted, given up at the 2 s carrier timeout
    let run = lab.run(3.2);
    let asked = times_of(&run, "fail over backup");
    let all: Vec<(f64, String)> = run.iter().map(|(t, a)| (*t, what(a))).collect();
    assert_eq!(asked.len(), 1, "{:?}", all);
    assert!((3.0..3.2).contains(&asked[0]), "{:?}", asked);
    let got = resolved(&mut lab, 3.3, "backup", Some(12));
    assert_eq!(whats(&got), ["INVITE"]);
    answers(&mut lab, 3.5, 2);
    assert_eq!(lab.call.info.carriers, ["upstream", "backup"]);
}

#[test]
fn a_called_party_busy_through_the_first_carrier_is_final() {
    let mut lab = answered();
    transfer_out(&mut lab, &["upstream", "backup"], true);
    let got = lab.branch_says(1.3, 1, 486, "Busy Here");
    // no next carrier: alice hears the 486, the call goes on as it was
    assert!(!whats(&got).iter().any(|w| w.starts_with("fail over")));
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 486 Busy Here".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert!(lab.call.transfer.on.is_none());
    assert!(lab.call.failover.is_none());
    assert_eq!(lab.call.winner(), Some(0));
    assert!(!lab.call.is_ended());
}

#[test]
fn no_carrier_reachable_fails_the_transfer_with_503() {
    let mut lab = answered();
    transfer_out(&mut lab, &["by-name", "backup"], false);
    let got = resolved(&mut lab, 1.2, "by-name", None);
    assert_eq!(whats(&got), ["fail over backup"]);
    let got = resolved(&mut lab, 1.3, "backup", None);
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 503 Service Unavailable".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert!(!lab.call.is_ended());
    // a late answer of the driver after the transfer ended is dropped
    let forks = lab.call.forks.len();
    assert!(resolved(&mut lab, 1.4, "backup", Some(12)).is_empty());
    assert_eq!(lab.call.forks.len(), forks);
}

#[test]
fn a_late_answer_to_an_earlier_transfers_ask_is_not_the_next_ones() {
    let mut lab = answered();
    transfer_out(&mut lab, &["by-name", "backup"], false);
    // nothing resolves within the no-answer time: alice hears 480
    let run = lab.run(62.0);
    let notified = run.iter().filter_map(|(_, a)| notify_of(a));
    assert!(notified.map(|n| n.0).any(|l| l.contains(" 480 ")));
    assert!(lab.call.transfer.on.is_none() && lab.call.failover.is_none());
    // she tries again: the second transfer asks for its first carrier too
    let got = transfer_at(&mut lab, 70.0, &["by-name", "backup"], false, false);
    assert_eq!(whats(&got), ["fail over by-name"]);
    // the first transfer's answer comes now: not taken
    let forks = lab.call.forks.len();
    assert!(answer_of(&mut lab, 70.2, 1, "by-name", Some(11)).is_empty());
    assert_eq!(lab.call.forks.len(), forks);
    // the second's is
    let got = answer_of(&mut lab, 70.3, 2, "by-name", Some(11));
    assert_eq!(whats(&got), ["INVITE"]);
}

#[test]
fn a_branch_of_the_call_still_winding_down_does_not_hold_up_the_targets_carrier() {
    // bob answers on branch 0; branch 1 (his other phone) is cancelled and owes its 487
    let branches = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call(branches, true, LIMITS);
    lab.call.transfer.caller = Some(user("alice"));
    lab.call.forks[0].party = Some(user("bob"));
    lab.call.relay = Some(super::super::call::Relay {
        a: addr("127.0.0.1:20000"),
        b: addr("127.0.0.1:20002"),
    });
    lab.branch_says(0.3, 1, 180, "Ringing");
    lab.branch_says(0.5, 0, 200, "OK");
    lab.alice_acks(0.6);
    assert!(lab.call.forks[1].state.waiting());
    let got = transfer_out(&mut lab, &["by-name", "backup"], false);
    assert_eq!(whats(&got), ["fail over by-name"]);
}

#[test]
fn a_failed_transfer_gives_back_the_place_it_took_in_the_max_calls() {
    let uncounts = |got: &[Action]| whats(got).iter().filter(|w| *w == "uncount").count();
    let mut lab = answered();
    transfer_at(&mut lab, 1.0, &["upstream"], true, true);
    let got = lab.branch_says(1.3, 1, 486, "Busy Here");
    assert_eq!(uncounts(&got), 1, "{:?}", whats(&got));
    // one that did not take a place gives none back
    let mut lab = answered();
    transfer_at(&mut lab, 1.0, &["upstream"], true, false);
    assert_eq!(uncounts(&lab.branch_says(1.3, 1, 486, "Busy Here")), 0);
    // one that succeeds keeps it
    let mut lab = answered();
    transfer_at(&mut lab, 1.0, &["upstream"], true, true);
    assert_eq!(uncounts(&answers(&mut lab, 1.6, 1)), 0);
}

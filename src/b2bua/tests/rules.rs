//! One test per rule of the call core (RFC 3261, DESIGN), in virtual time.

use super::*;

#[test]
fn timer_b_gives_up_on_a_silent_branch_at_32_s() {
    let started = Instant::now();
    let (mut lab, first) = Lab::simple();
    assert_eq!(whats(&first), ["100", "INVITE"]);
    let run = lab.run(40.0);
    // Timer A: 0.5, 1, 2, 4, 8, 16 s apart (an INVITE's interval is not capped at T2)
    assert_eq!(
        times_of(&run, "INVITE"),
        [0.5, 1.5, 3.5, 7.5, 15.5, 31.5],
        "{:?}",
        run.iter().map(|(t, a)| (*t, what(a))).collect::<Vec<_>>()
    );
    // Timer B at 64·T1: the caller gets 408, the record says no answer
    assert_eq!(times_of(&run, "CDR no_answer 408"), [32.0]);
    assert!(lab.call.is_ended());
    // the 408 is retransmitted until the caller's ACK (none comes here)
    assert_eq!(times_of(&run, "408")[..3], [32.0, 32.5, 33.5]);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "not virtual time"
    );
}

#[test]
fn the_final_failure_is_retransmitted_until_the_ack_and_the_call_is_forgotten() {
    let (mut lab, _) = Lab::simple();
    let got = lab.branch_says(0.1, 0, 486, "Busy Here");
    assert_eq!(
        whats(&got),
        ["ACK", "486", "ended", "media stop", "CDR busy 486"]
    );
    let run = lab.run(3.0);
    // 486 again at 0.6, 1.6 (T1 doubling) until the ACK
    assert_eq!(times_of(&run, "486"), [0.6, 1.6]);
    let ack = format!(
        "ACK sip:101@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa1;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n",
        lab.call.a.local_tag
    );
    assert!(lab.at(3.0, Event::Ack(incoming(&ack))).is_empty());
    let run = lab.run(10.0);
    assert!(times_of(&run, "486").is_empty(), "resent after the ACK");
    // it lingers 5 s after its end, then is forgotten
    assert_eq!(times_of(&run, "forget"), [5.1]);
}

#[test]
fn a_2xx_is_retransmitted_until_its_ack_and_a_lost_ack_ends_the_call() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 180, "Ringing");
    let got = lab.branch_says(1.0, 0, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK", "200"]);
    assert!(matches!(
        lab.call.phase,
        Phase::Answered {
            winner: Some(0),
            ..
        }
    ));
    // bob retransmits his 200 (our ACK was lost): ACKed again, nothing to alice
    let again = lab.branch_says(1.2, 0, 200, "OK");
    assert_eq!(whats(&again), ["ACK"]);
    // alice never ACKs: 200 resent 0.5, 1, 2, 4, 4 … s apart, then BYE both at 32 s
    let run = lab.run(40.0);
    let resent = times_of(&run, "200");
    assert_eq!(&resent[..5], [1.5, 2.5, 4.5, 8.5, 12.5]);
    assert_eq!(times_of(&run, "BYE")[..3], [33.0, 33.0, 33.5]);
    assert!(run.iter().any(|(_, a)| what(a) == "CDR no_ack 408"));
}

#[test]
fn cancel_racing_a_200_acks_and_hangs_up_the_branch() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 180, "Ringing");
    let cancel = format!(
        "CANCEL sip:101@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa1;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>\nCall-ID: c1\n\
         CSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0\n\n"
    );
    let got = lab.at(0.5, Event::Cancel(incoming(&cancel)));
    assert_eq!(
        whats(&got),
        [
            "200",
            "CANCEL",
            "487",
            "ended",
            "media stop",
            "CDR cancelled 487"
        ]
    );
    // bob's 200 crosses our CANCEL: ACK it and BYE it; alice hears nothing more
    let got = lab.branch_says(0.6, 0, 200, "OK");
    assert_eq!(whats(&got), ["ACK", "BYE"]);
    assert!(lab.call.is_ended());
}

#[test]
fn a_lost_cancel_is_retransmitted_then_the_branch_given_up() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call(targets, true, LIMITS);
    lab.branch_says(0.1, 0, 180, "Ringing");
    // branch 1 wins; branch 0 is cancelled, and its CANCEL is never answered
    lab.branch_says(0.2, 1, 200, "OK");
    lab.alice_acks(0.3);
    assert_eq!(
        lab.call.forks[0].state,
        ForkState::Cancelling { answered: false }
    );
    let run = lab.run(40.0);
    // CANCEL again at T1 doubling, capped at T2 (a non-INVITE request)
    let resent = times_of(&run, "CANCEL");
    assert_eq!(&resent[..5], [0.7, 1.7, 3.7, 7.7, 11.7]);
    assert_eq!(*resent.last().unwrap(), 31.7);
    // Timer F: the branch is given up; the call itself goes on
    assert_eq!(lab.call.forks[0].state, ForkState::Failed);
    assert!(matches!(lab.call.phase, Phase::Answered { .. }));
}

#[test]
fn an_ended_call_stops_retransmitting_when_it_is_forgotten() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 180, "Ringing");
    lab.at(0.2, Event::HangUp);
    assert_eq!(
        lab.call.forks[0].state,
        ForkState::Cancelling { answered: false }
    );
    let run = lab.run(40.0);
    // the CANCEL is resent while the ended call lingers (5 s), then it is forgotten
    assert_eq!(times_of(&run, "CANCEL"), [0.7, 1.7, 3.7]);
    assert_eq!(times_of(&run, "forget"), [5.2]);
}

#[test]
fn a_cancel_before_any_provisional_waits_for_one() {
    let (mut lab, _) = Lab::simple();
    let got = lab.at(0.2, Event::HangUp);
    // RFC 3261 §9.1: no CANCEL before a provisional response
    assert!(
        !whats(&got).contains(&"CANCEL".to_string()),
        "{:?}",
        whats(&got)
    );
    assert_eq!(
        lab.call.forks[0].state,
        ForkState::Calling { cancel_owed: true }
    );
    let got = lab.branch_says(0.3, 0, 180, "Ringing");
    assert_eq!(whats(&got), ["CANCEL"]);
}

#[test]
fn the_first_2xx_wins_and_the_other_branches_are_cancelled() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, first) = Lab::call(targets, true, LIMITS);
    assert_eq!(whats(&first), ["100", "INVITE", "INVITE"]);
    lab.branch_says(0.1, 0, 180, "Ringing");
    lab.branch_says(0.1, 1, 180, "Ringing");
    let got = lab.branch_says(1.0, 1, 200, "OK");
    assert_eq!(whats(&got), ["media answered", "ACK", "CANCEL", "200"]);
    // the loser answers the CANCEL's INVITE with 487: ACKed, nothing to alice
    let got = lab.branch_says(1.1, 0, 487, "Request Terminated");
    assert_eq!(whats(&got), ["ACK"]);
}

#[test]
fn failures_of_every_branch_give_the_best_one() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call(targets, true, LIMITS);
    lab.branch_says(0.1, 0, 480, "Temporarily Unavailable");
    let got = lab.branch_says(0.2, 1, 486, "Busy Here");
    // RFC 3261 §16.7: 486 over 480
    assert_eq!(whats(&got)[..2], ["ACK", "486"]);
}

#[test]
fn no_answer_timeout_cancels_and_answers_480() {
    let limits = Limits {
        no_answer: Duration::from_secs(10),
        ..LIMITS
    };
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], true, limits);
    lab.branch_says(0.1, 0, 180, "Ringing");
    let run = lab.run(10.0);
    assert_eq!(times_of(&run, "CANCEL"), [10.0]);
    assert_eq!(times_of(&run, "480"), [10.0]);
    assert_eq!(times_of(&run, "CDR no_answer 480"), [10.0]);
}

#[test]
fn max_duration_hangs_up_both_sides() {
    let limits = Limits {
        max_duration: Duration::from_secs(3600),
        ..LIMITS
    };
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Tcp, false)], true, limits);
    lab.branch_says(0.1, 0, 200, "OK");
    // over TCP nothing is retransmitted; the 200 waits for alice's ACK (UDP)
    lab.alice_acks(0.2);
    let run = lab.run(3600.1 + 1.0);
    // one BYE each (bob's over TCP is not retransmitted, alice's over UDP is)
    assert_eq!(times_of(&run, "BYE"), [3600.1, 3600.1, 3600.6]);
    assert_eq!(times_of(&run, "CDR max_duration 200"), [3600.1]);
}

#[test]
fn a_carriers_407_is_answered_once_with_its_credentials() {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, true)], true, LIMITS);
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 407, "Proxy Authentication Required", "c");
    r.push_header(
        "Proxy-Authenticate",
        "Digest realm=\"carrier\", nonce=\"abc\", algorithm=MD5",
    );
    let got = lab.at(
        0.1,
        Event::ForkResponse {
            index: 0,
            msg: r.clone(),
        },
    );
    assert_eq!(whats(&got), ["ACK", "INVITE"]);
    let again = message(&got[1]).unwrap();
    assert!(again
        .get("Proxy-Authorization")
        .is_some_and(|v| v.contains("username=\"trunk\"")));
    assert_eq!(again.cseq().map(|c| c.0), Some(2));
    // a second challenge fails the branch (no loop): 502 to alice
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 407, "Proxy Authentication Required", "c");
    r.push_header(
        "Proxy-Authenticate",
        "Digest realm=\"carrier\", nonce=\"def\"",
    );
    let got = lab.at(0.2, Event::ForkResponse { index: 0, msg: r });
    assert_eq!(whats(&got)[..2], ["ACK", "502"]);
}

#[test]
fn a_friend_that_challenges_fails_the_call_with_502() {
    let (mut lab, _) = Lab::simple();
    let got = lab.branch_says(0.1, 0, 401, "Unauthorized");
    assert_eq!(whats(&got)[..2], ["ACK", "502"]);
}

#[test]
fn a_branch_whose_connection_closes_fails_at_once() {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Tcp, false)], true, LIMITS);
    let lost = lab.call.waiting_branches(|d| d.flow.conn == Some(7));
    assert_eq!(lost, [0]);
    let got = lab.at(0.3, Event::BranchesLost(lost));
    assert_eq!(whats(&got)[0], "503");
    assert!(whats(&got).contains(&"CDR unreachable 503".to_string()));
}

#[test]
fn bye_from_either_side_ends_the_call_and_its_200_waits_for_the_record() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    let got = lab.bob_sends(5.0, 0, "BYE", 1);
    assert_eq!(
        whats(&got),
        ["BYE", "ended", "media stop", "CDR answered 200"]
    );
    // the 200 to bob's BYE goes once the record is durable
    match got.last() {
        Some(Action::Record {
            then: Some(then), ..
        }) => assert_eq!(what(then), "200"),
        _ => panic!("no record with the BYE's answer"),
    }
    // alice's BYE after the end: 481 (the call is over)
    let got = lab.alice_sends(5.1, "BYE", 2);
    assert_eq!(whats(&got), ["481"]);
}

#[test]
fn a_reinvite_is_relayed_and_its_2xx_acked_again_when_retransmitted() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    let got = lab.alice_sends(2.0, "INVITE", 2);
    assert_eq!(whats(&got), ["INVITE"]);
    let reinvite = message(&got[0]).unwrap();
    let got = lab.answer(2.1, Side::B(0), &reinvite, 200);
    assert_eq!(whats(&got), ["ACK", "200"]);
    // bob did not get our ACK and sends his 200 again: ACKed again, alice not bothered
    let got = lab.answer(2.6, Side::B(0), &reinvite, 200);
    assert_eq!(whats(&got), ["ACK"]);
}

#[test]
fn reinvite_glare_gets_491() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    // alice's re-INVITE goes to bob; bob's own re-INVITE crosses it
    let got = lab.alice_sends(2.0, "INVITE", 2);
    assert_eq!(whats(&got), ["INVITE"]);
    let got = lab.bob_sends(2.05, 0, "INVITE", 2);
    assert_eq!(whats(&got), ["491"]);
    // and alice's second re-INVITE before the first was answered: 500 + Retry-After
    let got = lab.alice_sends(2.1, "INVITE", 3);
    assert_eq!(whats(&got), ["500"]);
    assert!(message(&got[0]).unwrap().get("Retry-After").is_some());
}

#[test]
fn a_request_with_an_old_cseq_gets_500() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    lab.alice_sends(2.0, "INFO", 5);
    let got = lab.alice_sends(2.1, "INFO", 4);
    assert_eq!(whats(&got), ["500"]);
}

#[test]
fn a_relayed_request_without_answer_ends_the_call_at_32_s() {
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    lab.alice_acks(0.2);
    lab.alice_sends(1.0, "INFO", 2);
    let run = lab.run(40.0);
    // Timer F: 408 to alice, BYE to both, the call ends as "peer vanished"
    assert_eq!(times_of(&run, "408"), [33.0]);
    assert!(run.iter().any(|(_, a)| what(a) == "CDR peer_vanished 408"));
}

#[test]
fn a_late_offer_travels_in_the_ack() {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], false, LIMITS);
    let got = lab.branch_says(0.1, 0, 200, "OK");
    // the answer goes to alice in the 200; our ACK to bob waits for hers
    assert_eq!(whats(&got), ["media answered", "200"]);
    let ack = format!(
        "ACK sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKack;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: 1 ACK\nMax-Forwards: 70\nContent-Type: application/sdp\nContent-Length: {}\n\n{}",
        lab.call.a.local_tag,
        SDP.len() + SDP.matches('\n').count(),
        SDP.replace('\n', "\r\n")
    );
    let got = lab.at(0.2, Event::Ack(incoming(&ack)));
    assert_eq!(whats(&got), ["ACK"]);
    assert!(
        !message(&got[0]).unwrap().body.is_empty(),
        "the ACK has no answer"
    );
}

/// A call whose client wants voice notifications (the shipped sounds), with a relay.
fn notifying_call(limits: Limits) -> Lab {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], true, limits);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds");
    let (prompts, _) = crate::media::prompts::Prompts::load(&dir);
    lab.call.notices = Some(crate::b2bua::call::Notices {
        prompts: std::sync::Arc::new(prompts),
        language: "en".into(),
    });
    lab.call.relay = Some(crate::b2bua::call::Relay {
        a: addr("127.0.0.1:20000"),
        b: addr("127.0.0.1:20002"),
    });
    lab
}

#[test]
fn a_notification_is_not_cut_off_by_the_no_answer_limit() {
    let limits = Limits {
        no_answer: Duration::from_secs(10),
        ..LIMITS
    };
    let mut lab = notifying_call(limits);
    lab.branch_says(0.1, 0, 180, "Ringing");
    let got = lab.branch_says(9.5, 0, 486, "Busy Here");
    // the caller hears "busy" first: 183 and the locution, no final response yet
    assert_eq!(whats(&got), ["ACK", "other", "183", "other"]);
    assert!(matches!(got[3], Action::Play { .. }));
    let run = lab.run(30.0);
    assert!(
        run.iter().all(|(_, a)| !matches!(message(a).map(|m| m.start), Some(StartLine::Response { code, .. }) if code >= 300)),
        "a final response during the notification: {:?}",
        run.iter().map(|(t, a)| (*t, what(a))).collect::<Vec<_>>()
    );
    // its end brings the final response the notification owed: 486, busy
    let got = lab.at(31.0, Event::PlaybackDone);
    assert_eq!(whats(&got), ["486", "ended", "media stop", "CDR busy 486"]);
}

#[test]
fn an_operator_hang_up_while_ringing_is_not_explained() {
    let mut lab = notifying_call(LIMITS);
    lab.branch_says(0.1, 0, 180, "Ringing");
    let got = lab.at(1.0, Event::HangUp);
    assert_eq!(
        whats(&got),
        ["CANCEL", "480", "ended", "media stop", "CDR hung_up 480"]
    );
}

#[test]
fn a_6xx_whose_sibling_answers_our_cancel_with_2xx_still_fails_the_call() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call(targets, true, LIMITS);
    lab.branch_says(0.1, 0, 180, "Ringing");
    lab.branch_says(0.1, 1, 180, "Ringing");
    // branch 0 declines everywhere: branch 1 is cancelled ...
    let got = lab.branch_says(0.5, 0, 603, "Decline");
    assert_eq!(whats(&got), ["ACK", "CANCEL"]);
    // ... but answers before our CANCEL: ACK and BYE it, and alice gets the 603 now
    let got = lab.branch_says(0.6, 1, 200, "OK");
    assert_eq!(whats(&got)[..3], ["ACK", "BYE", "603"]);
    assert!(lab.call.is_ended());
}

#[test]
fn the_cancels_own_200_stops_its_retransmission() {
    let targets = vec![target(0, Proto::Udp, false), target(1, Proto::Udp, false)];
    let (mut lab, _) = Lab::call(targets, true, LIMITS);
    lab.branch_says(0.1, 0, 180, "Ringing");
    lab.branch_says(0.2, 1, 200, "OK");
    lab.alice_acks(0.3);
    lab.at(0.4, Event::CancelAnswered { index: 0 });
    assert_eq!(
        lab.call.forks[0].state,
        ForkState::Cancelling { answered: true }
    );
    let run = lab.run(40.0);
    assert!(
        times_of(&run, "CANCEL").is_empty(),
        "CANCEL resent after its 200"
    );
    // the INVITE's final response never came: given up at 64·T1
    assert_eq!(lab.call.forks[0].state, ForkState::Failed);
}

/// A leg whose connection closes mid-call (a TCP phone gone): the call goes on — its media
/// may still flow, and the relay's media timeout ends a silent call — until a request
/// that cannot reach the leg gives up (Timer F): 408 to whoever sent it, BYE to the other
/// side, the record says the peer vanished.
#[test]
fn a_leg_whose_connection_closes_mid_call() {
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Tcp, false)], true, LIMITS);
    lab.branch_says(0.1, 0, 200, "OK");
    lab.alice_acks(0.2);
    // the answered branch waits for nothing: a closed connection changes nothing yet
    assert!(lab.call.waiting_branches(|_| true).is_empty());
    assert!(lab.at(5.0, Event::BranchesLost(vec![0])).is_empty());
    assert!(matches!(lab.call.phase, Phase::Answered { .. }));
    // alice's re-INVITE cannot reach bob (over TCP nothing is resent): at 64·T1 it fails
    lab.alice_sends(10.0, "INVITE", 2);
    let run = lab.run(50.0);
    assert_eq!(times_of(&run, "INVITE"), Vec::<f64>::new());
    assert_eq!(times_of(&run, "408"), [42.0]);
    assert!(run.iter().any(|(_, a)| what(a) == "CDR peer_vanished 408"));
}

#[test]
fn a_billed_call_ends_when_its_budget_is_spent_and_is_priced_at_its_answer_rate() {
    use crate::model::Rate;
    use crate::policy::money::Money;
    use crate::policy::rating::{Price, Tariff};
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], true, LIMITS);
    let rate = Rate {
        prefix: "+34".into(),
        connection_fee: "0.10".into(),
        per_minute: "6.00".into(),
        increment: 1,
        ..Rate::default()
    };
    let price = Price::parse(&rate).unwrap();
    lab.call.info.billing = Some(std::sync::Arc::new(super::super::call::Billing {
        tariff: Tariff {
            profile: "p".into(),
            prefix: "+34".into(),
            rates: vec![rate],
            tz: jiff::tz::TimeZone::UTC,
        },
        at_setup: price,
        currency: "EUR".into(),
        // 0.10 the connection and 0.10 a second: 5 s
        budget: Some((
            Money::parse("0.60").unwrap(),
            crate::policy::Block::NoCredit,
        )),
        prepaid: true,
        provisioned: "0.60".into(),
    }));
    lab.branch_says(0.1, 0, 200, "OK");
    lab.alice_acks(0.2);
    let run = lab.run(60.0);
    assert_eq!(times_of(&run, "BYE")[..2], [5.1, 5.1]);
    assert_eq!(times_of(&run, "CDR no_credit 200"), [5.1]);
    let cdr = run
        .iter()
        .find_map(|(_, a)| match a {
            Action::Record { cdr, .. } => Some(cdr.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((cdr.duration, cdr.price.as_deref()), (5, Some("0.6000")));
    assert_eq!(cdr.currency.as_deref(), Some("EUR"));
}

#[test]
fn a_cut_ends_a_ringing_call_with_403_and_an_answered_one_with_bye_both_ways() {
    use crate::policy::Block;
    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], true, LIMITS);
    lab.branch_says(0.1, 0, 180, "Ringing");
    let got = lab.at(1.0, Event::Cut(Block::DailyLimit));
    assert_eq!(whats(&got)[..2], ["CANCEL", "403"]);
    assert!(
        whats(&got).contains(&"CDR daily_limit 403".to_string()),
        "{:?}",
        whats(&got)
    );

    let (mut lab, _) = Lab::call(vec![target(0, Proto::Udp, false)], true, LIMITS);
    lab.branch_says(0.1, 0, 200, "OK");
    lab.alice_acks(0.2);
    let got = lab.at(3.0, Event::Cut(Block::NoCredit));
    let w = whats(&got);
    assert_eq!(w.iter().filter(|x| *x == "BYE").count(), 2, "{:?}", w);
    assert!(w.contains(&"CDR no_credit 200".to_string()), "{:?}", w);
    // a second cut changes nothing
    assert!(lab.at(3.5, Event::Cut(Block::NoCredit)).is_empty());
}

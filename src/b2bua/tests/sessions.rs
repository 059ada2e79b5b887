//! Session timers (RFC 4028) in virtual time: each leg its own interval and refresher;
//! vozbox refreshes at half the interval (UPDATE, re-INVITE to a peer without UPDATE); a
//! leg whose peer does not refresh in time, or whose refresh fails, ends the call (BYE
//! both ways, `session_expired`); 422 below Min-SE.

use super::super::session_timer::{self, Refresher, Settings};
use super::*;

/// alice calls bob (one UDP branch) with these extra header lines in her INVITE.
pub(super) fn call_with(extra: &str) -> Lab {
    let (mut lab, _) = Lab::simple();
    let text = invite(true).replacen(
        "Max-Forwards: 70\n",
        &format!("Max-Forwards: 70\n{extra}"),
        1,
    );
    let inc = incoming(&text);
    let a = Leg::caller(&inc.msg, &inc.checked, dest(Proto::Udp, ALICE));
    let forks = std::mem::take(&mut lab.call.forks);
    let mut call = Call::new(
        1,
        a,
        (inc.msg, inc.checked.via, inc.flow, None),
        Info::default(),
        LIMITS,
        (lab.t0, 1_000_000),
    );
    call.forks = forks;
    lab.call = call;
    lab
}

/// bob answers at `secs` with these extra header lines in his 200.
fn bob_answers(lab: &mut Lab, secs: f64, extra: &[(&str, &str)]) -> Vec<Action> {
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 200, "OK", "bobtag");
    r.push_header("Contact", "<sip:bob@127.0.0.1:5080>");
    for (k, v) in extra {
        r.push_header(k, *v);
    }
    r.push_header("Content-Type", "application/sdp");
    r.body = SDP.replace('\n', "\r\n").into_bytes();
    lab.at(secs, Event::ForkResponse { index: 0, msg: r })
}

/// A call answered at 1 s (and ACKed): alice's INVITE and bob's 200 with these headers.
fn answered(alice: &str, bob: &[(&str, &str)]) -> (Lab, Message) {
    let mut lab = call_with(alice);
    let got = bob_answers(&mut lab, 1.0, bob);
    let ok = got
        .iter()
        .filter_map(message)
        .find(|m| matches!(m.start, StartLine::Response { code: 200, .. }))
        .expect("200 to alice");
    lab.alice_acks(1.1);
    (lab, ok)
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.get(name).map(str::to_string)
}

/// The requests of a run sent to `port` (127.0.0.1:port), with their times.
fn sent_to(run: &[(f64, Action)], port: u16) -> Vec<(f64, Message)> {
    run.iter()
        .filter_map(|(t, a)| match a {
            Action::Send { dest, bytes } if dest.to.port() == port => {
                Message::parse(bytes).ok().map(|m| (*t, m))
            }
            _ => None,
        })
        .collect()
}

fn run_whats(run: &[(f64, Action)]) -> Vec<(f64, String)> {
    run.iter().map(|(t, a)| (*t, what(a))).collect()
}

const BOB_ALLOWS: (&str, &str) = ("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE");

#[test]
fn the_outbound_invite_offers_timers_and_100rel() {
    let (lab, _) = Lab::simple();
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let supported = header(&inv, "Supported").unwrap_or_default();
    assert!(
        supported.contains("100rel") && supported.contains("timer"),
        "{supported}"
    );
    // the interval and Min-SE come with the branch's headers (`invite_headers`)
    let hs = session_timer::invite_headers(Settings::default());
    assert_eq!(
        hs,
        [
            ("Session-Expires".to_string(), "1800".to_string()),
            ("Min-SE".to_string(), "90".to_string())
        ]
    );
}

#[test]
fn an_invite_below_min_se_gets_422_only_from_a_caller_that_supports_timers() {
    let small = incoming(&invite(true).replacen(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nSession-Expires: 30\nSupported: timer\n",
        1,
    ));
    assert_eq!(session_timer::too_small(&small.msg, 90), Some(90));
    assert_eq!(session_timer::too_small(&small.msg, 30), None);
    // compact form `x`, refresher parameter
    let compact = incoming(&invite(true).replacen(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nx: 60;refresher=uac\nk: timer\n",
        1,
    ));
    assert_eq!(session_timer::too_small(&compact.msg, 90), Some(90));
    assert_eq!(
        session_timer::parse(&compact.msg),
        Some((60, Some("uac".to_string())))
    );
    // a Session-Expires a proxy put in for a caller without timers: not refused, raised
    let proxied = incoming(&invite(true).replacen(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nSession-Expires: 30\n",
        1,
    ));
    assert_eq!(session_timer::too_small(&proxied.msg, 90), None);
    let (lab, ok) = answered("Session-Expires: 30\n", &[]);
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("90;refresher=uas")
    );
    assert_eq!(header(&ok, "Require"), None);
    assert_eq!(lab.call.sessions.a.as_ref().map(|t| t.interval), Some(90));
}

#[test]
fn the_callers_2xx_says_its_interval_and_refresher() {
    // the caller asks to refresh
    let (_, ok) = answered(
        "Session-Expires: 600;refresher=uac\nSupported: timer\n",
        &[],
    );
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("600;refresher=uac")
    );
    assert_eq!(header(&ok, "Require").as_deref(), Some("timer"));
    // no refresher named: a caller that supports timers refreshes
    let (_, ok) = answered("Session-Expires: 600\nSupported: timer\n", &[]);
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("600;refresher=uac")
    );
    // it asks vozbox to; an interval above ours is brought down to ours
    let (lab, ok) = answered(
        "Session-Expires: 7200;refresher=uas\nSupported: timer\n",
        &[],
    );
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("1800;refresher=uas")
    );
    assert_eq!(
        lab.call.sessions.a.as_ref().map(|t| t.refresher),
        Some(Refresher::Vozbox)
    );
    // timers supported but none asked: vozbox's own interval, the caller refreshes
    let (_, ok) = answered("Supported: timer\n", &[]);
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("1800;refresher=uac")
    );
    // no timers at all: none
    let (lab, ok) = answered("", &[]);
    assert_eq!(header(&ok, "Session-Expires"), None);
    assert!(lab.call.sessions.a.is_none() && lab.call.sessions.b.is_none());
}

#[test]
fn a_caller_that_never_refreshes_is_hung_up_both_ways_at_the_expiry() {
    let (mut lab, _) = answered("Session-Expires: 90;refresher=uac\nSupported: timer\n", &[]);
    let run = lab.run(200.0);
    // RFC 4028 §10: interval − min(32, interval/3) = 90 − 30 = 60 s after the answer
    assert_eq!(
        times_of(&run, "BYE")[..2],
        [61.0, 61.0],
        "{:?}",
        run_whats(&run)
    );
    assert_eq!(times_of(&run, "CDR session_expired 408"), [61.0]);
    assert!(lab.call.is_ended());
    // BYE to bob and to alice
    let byes: Vec<u16> = run
        .iter()
        .filter(|(_, a)| what(a) == "BYE")
        .filter_map(|(_, a)| match a {
            Action::Send { dest, .. } => Some(dest.to.port()),
            _ => None,
        })
        .collect();
    assert!(byes.contains(&5080) && byes.contains(&5070), "{byes:?}");
}

#[test]
fn each_leg_expires_by_its_own_interval() {
    // alice's leg: 1800 s; bob's: 120 s, bob refreshes (he never does)
    let (mut lab, _) = answered(
        "Session-Expires: 1800;refresher=uac\nSupported: timer\n",
        &[("Session-Expires", "120;refresher=uas"), BOB_ALLOWS],
    );
    let run = lab.run(300.0);
    // 1 + 120 − 32 = 89 s
    assert_eq!(
        times_of(&run, "CDR session_expired 408"),
        [89.0],
        "{:?}",
        run_whats(&run)
    );
}

#[test]
fn a_refresh_restarts_the_leg_it_came_on_and_its_relayed_2xx_the_other() {
    let (mut lab, _) = answered(
        "Session-Expires: 90;refresher=uac\nSupported: timer\n",
        &[("Session-Expires", "120;refresher=uas"), BOB_ALLOWS],
    );
    let got = alice_refresh(
        &mut lab,
        40.0,
        "UPDATE",
        2,
        "Session-Expires: 90;refresher=uac\n",
    );
    // relayed to bob as a request of his leg, keeping his leg's timer on
    let update = got
        .iter()
        .filter_map(message)
        .find(|m| m.method() == Some("UPDATE"))
        .expect("UPDATE relayed to bob");
    assert_eq!(
        header(&update, "Session-Expires").as_deref(),
        Some("120;refresher=uas")
    );
    let back = lab.answer(40.1, Side::B(0), &update, 200);
    // alice's 200 says her leg's interval
    let ok = back.iter().filter_map(message).next().unwrap();
    assert_eq!(
        header(&ok, "Session-Expires").as_deref(),
        Some("90;refresher=uac")
    );
    assert_eq!(header(&ok, "Require").as_deref(), Some("timer"));
    // alice's leg from 40 s: 40 + 60 = 100 s (bob's from 40.1 s: 128.1 s) — not 61
    let run = lab.run(300.0);
    assert_eq!(
        times_of(&run, "CDR session_expired 408"),
        [100.0],
        "{:?}",
        run_whats(&run)
    );
}

/// alice's re-INVITE or UPDATE with these extra header lines.
fn alice_refresh(lab: &mut Lab, secs: f64, method: &str, cseq: u32, extra: &str) -> Vec<Action> {
    let text = format!(
        "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKr{cseq};rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: {cseq} {method}\nContact: <sip:100@{ALICE}>\n{extra}Supported: timer\n\
         Max-Forwards: 70\nContent-Length: 0\n\n",
        lab.call.a.local_tag
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

#[test]
fn vozbox_refreshes_its_leg_with_update_at_half_the_interval() {
    let (mut lab, _) = answered("", &[("Session-Expires", "90;refresher=uac"), BOB_ALLOWS]);
    assert_eq!(
        lab.call.sessions.b.as_ref().map(|t| t.refresher),
        Some(Refresher::Vozbox)
    );
    let run = lab.run(46.5);
    let sent = sent_to(&run, 5080);
    assert_eq!(sent.len(), 2, "{:?}", run_whats(&run)); // sent at 46, resent at 46.5
    let (t, update) = &sent[0];
    assert_eq!(*t, 46.0);
    assert_eq!(update.method(), Some("UPDATE"));
    assert_eq!(
        header(update, "Session-Expires").as_deref(),
        Some("90;refresher=uac")
    );
    let update = update.clone();
    lab.answer(46.6, Side::B(0), &update, 200);
    // the next refresh 45 s after the last; the call lives on past the interval
    let run = lab.run(300.0);
    let times: Vec<f64> = sent_to(&run, 5080)
        .iter()
        .filter(|(_, m)| m.method() == Some("UPDATE"))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        times.first().is_some_and(|t| (*t - 91.6).abs() < 1e-6),
        "{times:?}"
    );
    // unanswered this time: resent, given up at 64·T1 and the call ends
    let end = times_of(&run, "CDR session_expired 408");
    assert!(
        end.len() == 1 && (end[0] - 123.6).abs() < 1e-6,
        "{:?}",
        run_whats(&run)
    );
}

#[test]
fn a_peer_without_update_is_refreshed_with_a_reinvite_offering_the_same_sdp() {
    let (mut lab, _) = answered(
        "",
        &[
            ("Session-Expires", "90;refresher=uac"),
            ("Allow", "INVITE, ACK, BYE, CANCEL"),
        ],
    );
    let run = lab.run(46.0);
    let (_, reinvite) = sent_to(&run, 5080).into_iter().next().expect("refresh");
    assert_eq!(reinvite.method(), Some("INVITE"));
    assert_eq!(reinvite.body, lab.call.forks[0].offer.clone().unwrap());
    assert_eq!(
        header(&reinvite, "Session-Expires").as_deref(),
        Some("90;refresher=uac")
    );
    // its 200 is ACKed and refreshes the leg
    let back = lab.answer(46.2, Side::B(0), &reinvite, 200);
    assert_eq!(whats(&back), ["ACK"]);
    assert!(lab.call.sessions.b.as_ref().unwrap().sent.is_none());
}

#[test]
fn a_refresh_answered_481_ends_the_call() {
    let (mut lab, _) = answered("", &[("Session-Expires", "90;refresher=uac"), BOB_ALLOWS]);
    let run = lab.run(46.0);
    let (_, update) = sent_to(&run, 5080).into_iter().next().unwrap();
    let got = lab.answer(46.1, Side::B(0), &update, 481);
    assert_eq!(
        whats(&got),
        [
            "BYE",
            "BYE",
            "ended",
            "media stop",
            "CDR session_expired 408"
        ]
    );
}

#[test]
fn a_refresh_below_min_se_is_refused_with_422() {
    let (mut lab, _) = answered("Session-Expires: 90;refresher=uac\nSupported: timer\n", &[]);
    let got = alice_refresh(&mut lab, 20.0, "UPDATE", 2, "Session-Expires: 30\n");
    assert_eq!(whats(&got), ["422"]);
    let r = message(&got[0]).unwrap();
    assert_eq!(header(&r, "Min-SE").as_deref(), Some("90"));
    // not a refresh: the leg still expires at 61 s
    let run = lab.run(100.0);
    assert_eq!(times_of(&run, "CDR session_expired 408"), [61.0]);
}

#[test]
fn a_refresh_without_session_expires_turns_the_legs_timer_off() {
    let (mut lab, _) = answered("Session-Expires: 90;refresher=uac\nSupported: timer\n", &[]);
    lab.alice_sends(10.0, "UPDATE", 2);
    assert!(lab.call.sessions.a.is_none());
    let run = lab.run(300.0);
    assert!(times_of(&run, "CDR session_expired 408").is_empty());
}

#[test]
fn a_refused_refresh_is_tried_again_and_an_update_refused_turns_to_reinvite() {
    let (mut lab, _) = answered("", &[("Session-Expires", "90;refresher=uac"), BOB_ALLOWS]);
    let run = lab.run(46.0);
    let (_, update) = sent_to(&run, 5080).into_iter().next().unwrap();
    // glare on bob's side: 491, tried again 2 s later
    assert!(lab.answer(46.1, Side::B(0), &update, 491).is_empty());
    let run = lab.run(48.1);
    let again: Vec<_> = sent_to(&run, 5080);
    assert_eq!(again.len(), 1, "{:?}", run_whats(&run));
    assert_eq!(again[0].0, 48.1);
    assert_eq!(again[0].1.method(), Some("UPDATE"));
    // UPDATE not implemented after all: a re-INVITE with the leg's SDP at once
    let update = again[0].1.clone();
    let got = lab.answer(48.2, Side::B(0), &update, 501);
    let run = lab.run(48.2);
    let reinvite = got
        .iter()
        .chain(run.iter().map(|(_, a)| a))
        .filter_map(message)
        .find(|m| m.method() == Some("INVITE"))
        .expect("re-INVITE");
    assert!(!reinvite.body.is_empty());
    // answered: the leg is refreshed, the call goes on
    lab.answer(48.3, Side::B(0), &reinvite, 200);
    let run = lab.run(90.0);
    assert!(
        times_of(&run, "CDR session_expired 408").is_empty(),
        "{:?}",
        run_whats(&run)
    );
}

#[test]
fn a_call_vozbox_answered_itself_has_no_session_timer_to_spin_on() {
    let (mut lab, _) = Lab::call(Vec::new(), true, LIMITS);
    lab.at(
        0.1,
        Event::ForwardedHere {
            answer: SDP.replace('\n', "\r\n").into_bytes(),
            label: "voicemail:bob".into(),
        },
    );
    let text = format!(
        "UPDATE sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKu9;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: 5 UPDATE\nSession-Expires: 90\nSupported: timer\nMax-Forwards: 70\nContent-Length: 0\n\n",
        lab.call.a.local_tag
    );
    lab.at(1.0, Event::Request(incoming(&text)));
    assert!(lab.call.sessions.a.is_none());
    // no deadline of a session timer: the next is the call's maximum duration or a resend
    let run = lab.run(200.0);
    assert!(run.len() < 100, "{} actions", run.len());
}

#[test]
fn a_branch_that_answers_422_gets_the_invite_again_with_its_min_se() {
    let (mut lab, _) = Lab::simple();
    let inv = Message::parse(&lab.call.forks[0].invite).unwrap();
    let mut r = response(&inv, 422, "Session Interval Too Small", "bobtag");
    r.push_header("Min-SE", "3600");
    let got = lab.at(
        0.2,
        Event::ForkResponse {
            index: 0,
            msg: r.clone(),
        },
    );
    assert_eq!(whats(&got), ["ACK", "INVITE"]);
    let again = message(&got[1]).unwrap();
    assert_eq!(again.get("Session-Expires"), Some("3600"));
    assert_eq!(again.get("Min-SE"), Some("3600"));
    assert_eq!(again.cseq(), Some((2, "INVITE")));
    assert!(!again.body.is_empty());
    // a second 422 asking no more than that: the branch fails, the caller gets it
    let mut r2 = response(&again, 422, "Session Interval Too Small", "bobtag");
    r2.push_header("Min-SE", "3600");
    let got = lab.at(0.4, Event::ForkResponse { index: 0, msg: r2 });
    assert_eq!(
        whats(&got),
        ["ACK", "422", "ended", "media stop", "CDR failed 422"]
    );
}

/// bob's answer `code` to our request `req`, with these header fields.
fn bob_answers_with(
    lab: &mut Lab,
    secs: f64,
    req: &Message,
    code: u16,
    extra: &[(&str, &str)],
) -> Vec<Action> {
    let mut r = response(req, code, "Whatever", "");
    for (k, v) in extra {
        r.push_header(k, *v);
    }
    let branch = super::transfers::branch_of(req);
    lab.at(
        secs,
        Event::Response {
            side: Side::B(0),
            branch,
            msg: r,
        },
    )
}

#[test]
fn intervals_a_peer_sets_are_held_between_min_se_and_a_day() {
    // a callee that would have vozbox refresh every half second
    let (mut lab, _) = answered("", &[("Session-Expires", "1;refresher=uac"), BOB_ALLOWS]);
    let interval = |lab: &Lab| lab.call.sessions.b.as_ref().map(|t| t.interval);
    assert_eq!(interval(&lab), Some(90));
    let run = lab.run(45.9);
    assert!(sent_to(&run, 5080).is_empty(), "{:?}", run_whats(&run));
    // its answer to our refresh asks the same: still Min-SE
    let run = lab.run(46.0);
    let (_, update) = sent_to(&run, 5080).into_iter().next().unwrap();
    let se = [("Session-Expires", "1;refresher=uac")];
    bob_answers_with(&mut lab, 46.1, &update, 200, &se);
    assert_eq!(interval(&lab), Some(90));
    let run = lab.run(91.0);
    assert!(sent_to(&run, 5080).is_empty(), "{:?}", run_whats(&run));
    // a 422 whose Min-SE is beyond a day is not followed
    let run = lab.run(91.1);
    let (_, update) = sent_to(&run, 5080).into_iter().next().unwrap();
    bob_answers_with(&mut lab, 91.2, &update, 422, &[("Min-SE", "100000")]);
    assert_eq!(interval(&lab), Some(90));
    let run = lab.run(92.0);
    assert!(sent_to(&run, 5080).is_empty(), "{:?}", run_whats(&run));
}

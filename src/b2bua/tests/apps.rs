//! The core's rules for calls vozbox answers itself (voicemail) and for recordings, in
//! virtual time: a no-answer forward to a mailbox answers the caller and starts the
//! application; keys of INFO requests go to it; a new offer is declined; INFO `Record:`
//! is obeyed or refused as the client says, and keys in a bridged call reach the
//! recording code watch while still relayed.

use super::*;

/// A request from alice inside her dialog with extra header lines and a body.
fn alice_with(
    lab: &mut Lab,
    secs: f64,
    method: &str,
    cseq: u32,
    extra: &str,
    body: &str,
) -> Vec<Action> {
    let text = format!(
        "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa{cseq}y;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
         CSeq: {cseq} {method}\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\n{extra}Content-Length: {}\n\n{body}",
        lab.call.a.local_tag,
        body.len()
    );
    lab.at(secs, Event::Request(incoming(&text)))
}

/// A call vozbox answered itself at 0.1 s (a mailbox).
fn answered_here() -> Lab {
    let (mut lab, _) = Lab::call(Vec::new(), true, LIMITS);
    let mut out = Actions::default();
    let at = lab.t0 + Duration::from_millis(100);
    lab.call
        .answer_with(at, b"v=0\r\n".to_vec(), None, &mut out);
    lab.now = at;
    lab
}

#[test]
fn a_no_answer_forward_to_the_mailbox_answers_the_caller_and_starts_it() {
    let (mut lab, _) = Lab::simple();
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
    // bob's ringing is cancelled then (and the CANCEL sent again until answered)
    assert_eq!(times_of(&run, "CANCEL").first(), Some(&10.0));
    let got = lab.at(
        10.6,
        Event::ForwardedHere {
            answer: b"v=0\r\n".to_vec(),
            label: "user:bob >no_answer> voicemail:bob".into(),
        },
    );
    assert_eq!(whats(&got), ["200", "app"]);
    assert_eq!(lab.call.info.route, "user:bob >no_answer> voicemail:bob");
    assert!(matches!(
        lab.call.phase,
        Phase::Answered { winner: None, .. }
    ));
    // a second answer (a late driver) changes nothing
    let got = lab.at(
        10.7,
        Event::ForwardedHere {
            answer: b"v=0\r\n".to_vec(),
            label: "other".into(),
        },
    );
    assert!(got.is_empty(), "{:?}", whats(&got));
}

#[test]
fn keys_of_info_reach_the_application_and_a_new_offer_is_declined() {
    let mut lab = answered_here();
    let got = alice_with(
        &mut lab,
        1.0,
        "INFO",
        2,
        "Content-Type: application/dtmf-relay\n",
        "Signal=7\r\nDuration=160\r\n",
    );
    assert_eq!(whats(&got), ["200", "key 7"]);
    // an INFO without a key is answered and nothing more
    let got = alice_with(&mut lab, 1.1, "INFO", 3, "", "");
    assert_eq!(whats(&got), ["200"]);
    let got = lab.alice_sends(1.2, "INVITE", 4);
    assert_eq!(whats(&got), ["488"]);
    let got = lab.alice_sends(1.3, "OPTIONS", 5);
    assert_eq!(whats(&got), ["200"]);
    // the application's end hangs up
    let got = lab.at(3.0, Event::PlaybackDone);
    assert!(
        whats(&got).contains(&"BYE".to_string()),
        "{:?}",
        whats(&got)
    );
}

#[test]
fn record_on_and_off_by_info_as_the_client_allows() {
    // a client with on-demand recording: 200 Record On / Off, the driver told
    let (mut lab, _) = Lab::simple();
    lab.call.info.record.info = true;
    lab.branch_says(0.1, 0, 200, "OK");
    let got = alice_with(&mut lab, 1.0, "INFO", 2, "Record: on\n", "");
    assert_eq!(whats(&got), ["200", "record on by caller"]);
    assert_eq!(
        message(&got[0]).map(|m| m.start),
        Some(StartLine::Response {
            version: "SIP/2.0".into(),
            code: 200,
            reason: "Record On".into()
        })
    );
    let got = alice_with(&mut lab, 2.0, "INFO", 3, "Record: off\n", "");
    assert_eq!(whats(&got), ["200", "record off by caller"]);
    // without it: 403, nothing relayed, nothing recorded
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    let got = alice_with(&mut lab, 1.0, "INFO", 2, "Record: on\n", "");
    assert_eq!(whats(&got), ["403"]);
}

#[test]
fn keys_in_a_bridged_call_are_relayed_and_watched_for_the_code() {
    let (mut lab, _) = Lab::simple();
    lab.call.info.record.code = Some("5".into());
    lab.branch_says(0.1, 0, 200, "OK");
    let got = alice_with(
        &mut lab,
        1.0,
        "INFO",
        2,
        "Content-Type: application/dtmf-relay\n",
        "Signal=*\r\n",
    );
    assert_eq!(whats(&got), ["record key * of caller", "INFO"]);
    // a client without a code: relayed only
    let (mut lab, _) = Lab::simple();
    lab.branch_says(0.1, 0, 200, "OK");
    let got = alice_with(
        &mut lab,
        1.0,
        "INFO",
        2,
        "Content-Type: application/dtmf-relay\n",
        "Signal=5\r\n",
    );
    assert_eq!(whats(&got), ["INFO"]);
}

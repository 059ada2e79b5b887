//! Attended transfers in the call core, in virtual time: another call gives its party away
//! only to its own transferor (tags and party checked), and the joined party is asked for
//! an offer, which the remaining party gets; our ACK carries the answer.

use super::super::authn::Caller;
use super::super::transfer::{Ask, Step};
use super::transfers::*;
use super::*;

#[test]
fn another_call_gives_its_party_away_only_to_its_own_party() {
    let mut lab = answered();
    let (l, r) = (
        lab.call.a.local_tag.clone(),
        lab.call.a.remote_tag.clone().unwrap(),
    );
    let mut out = Actions::default();
    let now = lab.t0 + Duration::from_secs(5);
    // tags that are not the dialog's
    let bad = lab.call.give_away(
        now,
        "c1",
        &(l.clone(), "x".into()),
        &user("alice"),
        &mut out,
    );
    assert_eq!(bad.err(), Some((481, "Call/Transaction Does Not Exist")));
    // somebody else's call
    let other = lab.call.give_away(
        now,
        "c1",
        &(r.clone(), l.clone()),
        &user("mallory"),
        &mut out,
    );
    assert_eq!(other.err(), Some((403, "Forbidden")));
    let other_client = Caller::User {
        client: "redbird".into(),
        name: "alice".into(),
    };
    let other = lab
        .call
        .give_away(now, "c1", &(r.clone(), l.clone()), &other_client, &mut out);
    assert_eq!(other.err(), Some((403, "Forbidden")));
    assert!(out.iter().next().is_none());
    // alice's own: her leg is hung up, bob's dialog handed over, the record says so
    let (fork, seg) = lab
        .call
        .give_away(now, "c1", &(r, l), &user("alice"), &mut out)
        .unwrap();
    assert_eq!(fork.leg.call_id, lab.call.forks[0].leg.call_id);
    assert_eq!(fork.party, Some(user("bob")));
    assert_eq!(seg.callee, lab.call.info.callee);
    let got = out.take();
    let byes = sent_to(&got, "BYE");
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].call_id(), Some("c1"));
    let Some(Action::Record { cdr, .. }) = got.iter().find(|a| matches!(a, Action::Record { .. }))
    else {
        unreachable!()
    };
    assert_eq!(cdr.disposition, "transferred");
    assert_eq!(cdr.transferred_by.as_deref(), Some("user:alice"));
}

#[test]
fn an_attended_transfer_joins_the_other_calls_party() {
    // alice talks to bob (this call) and to dave (another call, given away)
    let mut lab = answered();
    let got = alice_refers(
        &mut lab,
        1.0,
        2,
        "Refer-To: <sip:103@127.0.0.1?Replaces=c2%3Bto-tag%3Dv2%3Bfrom-tag%3Da2>\n",
    );
    assert_eq!(named(&got), ["202", "NOTIFY", "transfer replacing c2"]);
    let Some(Action::Transfer(ask)) = got.iter().find(|a| matches!(a, Action::Transfer(_))) else {
        unreachable!()
    };
    let Ask::Attended { tags, .. } = ask.as_ref() else {
        unreachable!()
    };
    assert_eq!(tags, &("v2".to_string(), "a2".to_string()));
    // dave's dialog, as the other call hands it over
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
    // dave is asked for an offer
    assert_eq!(whats(&got), ["INVITE"]);
    let ask_offer = message(&got[0]).unwrap();
    assert_eq!(ask_offer.call_id(), Some("d2"));
    assert!(ask_offer.body.is_empty());
    let r = ok_with_sdp(&ask_offer, "", "<sip:dave@127.0.0.1:5090>");
    let got = lab.at(
        1.4,
        Event::Response {
            side: Side::B(1),
            branch: branch_of(&ask_offer),
            msg: r,
        },
    );
    // bob gets dave's offer
    assert_eq!(whats(&got), ["INVITE"]);
    let reinvite = message(&got[0]).unwrap();
    assert_eq!(
        reinvite.call_id(),
        Some(lab.call.forks[0].leg.call_id.as_str())
    );
    let r = ok_with_sdp(&reinvite, "", "<sip:bob@127.0.0.1:5080>");
    let got = lab.at(
        1.6,
        Event::Response {
            side: Side::B(0),
            branch: branch_of(&reinvite),
            msg: r,
        },
    );
    let acks = sent_to(&got, "ACK");
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[1].call_id(), Some("d2"));
    assert_eq!(acks[1].cseq().map(|c| c.0), ask_offer.cseq().map(|c| c.0));
    assert!(!acks[1].body.is_empty());
    assert_eq!(
        notifies(&got),
        [(
            "SIP/2.0 200 OK".into(),
            "terminated;reason=noresource".into()
        )]
    );
    assert_eq!(sent_to(&got, "BYE")[0].call_id(), Some("c1"));
    // bob and dave: dave hangs up (he is the A side now), bob gets the BYE
    assert_eq!(lab.call.a.call_id, "d2");
    assert_eq!(lab.call.winner(), Some(0));
}

//! The shared state: answers matched by Call-ID, branch and source; what routing reads.

use super::*;
use crate::sip::transport::Proto;

fn spec(kind: PeerKind, owner: &str, name: &str, to: &str) -> Spec {
    Spec {
        kind,
        owner: owner.into(),
        name: name.into(),
        proto: Proto::Udp,
        to: Some(to.parse().expect("addr")),
        host: "192.0.2.9".into(),
        transport: "udp".into(),
        port: None,
        tls: None,
        interval: 1,
    }
}

fn answer(call_id: &str, branch: &str, code: u16) -> Message {
    let raw = format!(
        "SIP/2.0 {code} Whatever\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport=5060\r\n\
         From: <sip:qualify@192.0.2.1:5060>;tag=a\r\n\
         To: <sip:192.0.2.9:5060>;tag=b\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(raw.as_bytes()).expect("parses")
}

fn from(addr: &str) -> Flow {
    Flow {
        proto: Proto::Udp,
        local: "192.0.2.1:5060".parse().expect("addr"),
        remote: addr.parse().expect("addr"),
        conn: None,
    }
}

/// Runs every probe due at `now`: (Call-ID, branch) of each.
fn probes(q: &Qualify, now: Instant) -> Vec<(String, String)> {
    q.due(now)
        .into_iter()
        .map(|(e, s)| (e.call_id.clone(), s.branch))
        .collect()
}

#[test]
fn a_silent_peer_goes_down_and_only_its_own_answer_brings_it_back() {
    let q = Qualify::default();
    let t0 = Instant::now();
    q.reconcile(
        vec![spec(PeerKind::Carrier, "acme", "out", "192.0.2.9:5060")],
        t0,
    );
    assert!(q.is_up(PeerKind::Carrier, "acme", "out"));
    // not probed: always up
    assert!(q.is_up(PeerKind::Carrier, "acme", "other"));
    let mut last = Vec::new();
    for i in 0..=3u64 {
        last = probes(&q, t0 + Duration::from_secs(1 + i));
        assert_eq!(last.len(), 1);
    }
    assert!(!q.is_up(PeerKind::Carrier, "acme", "out"));
    assert_eq!(q.views()[0].state, "down");
    let (call_id, branch) = last[0].clone();
    // the right branch from another port, a wrong branch from the peer: still down
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.9:5099")));
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.66:5060")));
    assert!(q.on_response(
        &answer(&call_id, "z9hG4bKforged", 200),
        &from("192.0.2.9:5060")
    ));
    assert!(!q.is_up(PeerKind::Carrier, "acme", "out"));
    // its own answer, whatever the status: up, with a round trip
    assert!(q.on_response(&answer(&call_id, &branch, 405), &from("192.0.2.9:5060")));
    assert!(q.is_up(PeerKind::Carrier, "acme", "out"));
    let v = &q.views()[0];
    assert_eq!((v.state, v.missed), ("up", 0));
    assert!(v.rtt_ms.is_some() && v.last_seen.is_some());
    assert_eq!(v.brand.as_deref(), Some("acme"));
    assert_eq!(v.address, "udp:192.0.2.9:5060");
}

#[test]
fn responses_of_other_call_ids_are_left_to_the_b2bua() {
    let q = Qualify::default();
    let m = answer("abc@phone", "z9hG4bK1", 200);
    assert!(!q.on_response(&m, &from("192.0.2.9:5060")));
    // one of ours for a peer no longer probed: taken, nothing else would want it
    let m = answer("qualify-0000@vozbox", "z9hG4bK1", 200);
    assert!(q.on_response(&m, &from("192.0.2.9:5060")));
}

#[test]
fn a_changed_model_starts_changed_peers_again_and_forgets_removed_ones() {
    let q = Qualify::default();
    let t0 = Instant::now();
    let a = spec(PeerKind::Friend, "bluebird", "pbx", "192.0.2.9:5060");
    let b = spec(PeerKind::Carrier, "acme", "out", "192.0.2.10:5060");
    q.reconcile(vec![a.clone(), b.clone()], t0);
    for i in 0..=3u64 {
        probes(&q, t0 + Duration::from_secs(1 + i));
    }
    assert!(!q.is_up(PeerKind::Friend, "bluebird", "pbx"));
    let old = q.views().len();
    assert_eq!(old, 2);
    // the friend moves: a new peer (unknown, so up); the carrier is removed
    let moved = spec(PeerKind::Friend, "bluebird", "pbx", "192.0.2.11:5060");
    q.reconcile(vec![moved], t0 + Duration::from_secs(5));
    let v = q.views();
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].state, v[0].address.as_str()),
        ("unknown", "udp:192.0.2.11:5060")
    );
    assert!(q.is_up(PeerKind::Friend, "bluebird", "pbx"));
    assert_eq!(q.by_call_id.len(), 1);
    // an unchanged peer keeps its state
    let t = t0 + Duration::from_secs(20);
    for i in 0..=3u64 {
        probes(&q, t + Duration::from_secs(i));
    }
    q.reconcile(
        vec![spec(PeerKind::Friend, "bluebird", "pbx", "192.0.2.11:5060")],
        t + Duration::from_secs(4),
    );
    assert!(!q.is_up(PeerKind::Friend, "bluebird", "pbx"));
}

#[test]
fn the_next_deadline_is_the_earliest_probe() {
    let q = Qualify::default();
    assert_eq!(q.next_deadline(), None);
    let t0 = Instant::now();
    q.reconcile(
        vec![spec(PeerKind::Carrier, "acme", "out", "192.0.2.9:5060")],
        t0,
    );
    let first = q.next_deadline().expect("a peer");
    assert!(first >= t0 && first <= t0 + Duration::from_secs(1));
    probes(&q, first);
    assert_eq!(q.next_deadline(), Some(first + Duration::from_secs(1)));
}

/// One carrier probed by host name (`sip.test`), and its entry.
fn by_name() -> (Qualify, Arc<Entry>) {
    let q = Qualify::default();
    let mut s = spec(PeerKind::Carrier, "acme", "trunk", "192.0.2.9:5060");
    s.to = None;
    s.host = "sip.test".into();
    q.reconcile(vec![s], Instant::now());
    let e = q.peers.iter().next().map(|e| e.value().clone());
    (q, e.expect("the peer"))
}

#[test]
fn a_peer_by_name_counts_answers_only_from_where_its_name_resolved() {
    let (q, e) = by_name();
    let now = Instant::now() + Duration::from_secs(2);
    let sent = probes(&q, now);
    let (call_id, branch) = sent[0].clone();
    assert_eq!(e.at(), None);
    assert_eq!(q.views()[0].address, "udp:sip.test");
    // not resolved yet: an answer from anywhere is nobody's
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.9:5060")));
    assert_eq!(q.views()[0].state, "unknown");
    // resolved: an answer from that address counts, and the view says both
    e.aim((Proto::Udp, "192.0.2.7:5070".parse().expect("addr")));
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.9:5060")));
    assert_eq!(q.views()[0].state, "unknown");
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.7:5070")));
    assert_eq!(q.views()[0].state, "up");
    assert_eq!(q.views()[0].address, "udp:192.0.2.7:5070 (sip.test)");
}

#[test]
fn a_peer_by_name_stays_on_the_address_that_answers_and_moves_on_after_a_miss() {
    let (q, e) = by_name();
    let a = |i: u8| {
        (
            Proto::Udp,
            format!("192.0.2.{}:5060", i).parse().expect("addr"),
        )
    };
    let t0 = Instant::now() + Duration::from_secs(2);
    let at = |i: u64| t0 + Duration::from_secs(i);
    // not probed anywhere yet: the first; nothing resolved: nowhere
    probes(&q, at(0));
    assert_eq!(e.choose(&[a(1), a(2)]), Some(a(1)));
    assert_eq!(e.choose(&[]), None);
    e.aim(a(1));
    // missed: the one after it, in whatever order the name resolved this time
    probes(&q, at(1));
    assert_eq!(e.choose(&[a(2), a(1), a(3)]), Some(a(3)));
    assert_eq!(e.choose(&[a(1), a(2)]), Some(a(2)));
    e.aim(a(2));
    // answered there: it stays there, wherever it comes in the list
    let (call_id, branch) = probes(&q, at(2))[0].clone();
    assert!(q.on_response(&answer(&call_id, &branch, 200), &from("192.0.2.2:5060")));
    assert_eq!(e.choose(&[a(1), a(2)]), Some(a(2)));
    assert_eq!(e.choose(&[a(2), a(1)]), Some(a(2)));
    // gone from the records: the first
    assert_eq!(e.choose(&[a(4), a(5)]), Some(a(4)));
}

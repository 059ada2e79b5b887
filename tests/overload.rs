//! Overload control against the real binary (issue 22): past `[overload] max_setup` calls
//! being set up, a new INVITE is answered `503` + `Retry-After` before any digest or
//! routing, while the calls already admitted complete.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

/// An INVITE from alice to 101 without credentials; with a To-tag it continues a call.
fn invite(from: &UdpSocket, branch: &str, to_tag: &str) -> Vec<u8> {
    let l = from.local_addr().expect("an address");
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{branch};rport\r\n\
         From: <sip:alice@127.0.0.1>;tag=raw\r\nTo: <sip:101@127.0.0.1>{to_tag}\r\n\
         Call-ID: {branch}@raw\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{l}>\r\n\
         Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The ACK of `answer`, a non-2xx answer to `invite` (the INVITE's branch, the answer's
/// To, RFC 3261 §17.1.1.3).
fn ack(invite: &[u8], answer: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(invite);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut out = String::from("ACK sip:101@127.0.0.1 SIP/2.0\r\n");
    let to = answer.lines().filter(|l| l.starts_with("To:"));
    for line in head
        .lines()
        .skip(1)
        .filter(|l| {
            ["Via:", "From:", "Call-ID:", "Max-Forwards:"]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .chain(to)
    {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
    out.into_bytes()
}

/// Sends `data` from `sock` to vozbox and returns the first answer, whole.
fn answer(v: &Vozbox, sock: &UdpSocket, data: &[u8]) -> String {
    sock.send_to(data, v.addr()).expect("sent");
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("an answer");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The first answer's status line.
fn status(v: &Vozbox, sock: &UdpSocket, data: &[u8]) -> String {
    answer(v, sock, data)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn an_invite_past_max_setup_gets_503_while_the_admitted_calls_complete() {
    let v = Vozbox::start("overload-setup", "[overload]\nmax_setup = 2\n", PROVISION);
    // an INVITE challenged before the limit is reached; its retransmission comes later
    let raw = UdpSocket::bind("127.0.0.1:0").expect("a socket");
    raw.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let early = invite(&raw, "early1", "");
    assert!(status(&v, &raw, &early).starts_with("SIP/2.0 407"));
    // bob rings 2 s before answering each of two calls
    let bob = callee_with(
        &v,
        "127.0.0.1",
        ("bob", "Bob-Secret-22"),
        "uas_answer_late.xml",
        &["-m", "2"],
    );
    let admitted: Vec<_> = (0..2)
        .map(|_| {
            let addr = v.addr();
            let csv = call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101");
            std::thread::spawn(move || {
                let uri = format!("101@{}", addr);
                sipp(
                    "uac_call.xml",
                    &addr,
                    "u1",
                    "127.0.0.1",
                    &csv,
                    &["-auth_uri", &uri, "-d", "300"],
                )
            })
        })
        .collect();
    // both are ringing: the third is refused at once, with no challenge first
    std::thread::sleep(Duration::from_millis(1000));
    let during = v.api_get("/metrics");
    assert!(during.contains("vozbox_calls_setting_up 2"), "{}", during);
    // what continues known work is not refused: a retransmission of a request whose
    // transaction is known gets that transaction's answer, and an INVITE with a To-tag
    // belongs to a call (none here: 481)
    assert!(status(&v, &raw, &early).starts_with("SIP/2.0 407"));
    let reinvite = invite(&raw, "reinv1", ";tag=nosuch");
    assert!(status(&v, &raw, &reinvite).starts_with("SIP/2.0 481"));
    // a new one is refused, and its retransmission gets the same answer, counted once
    let late = invite(&raw, "late1", "");
    let first = answer(&v, &raw, &late);
    assert!(first.starts_with("SIP/2.0 503"), "{}", first);
    assert!(first.contains("\r\nRetry-After: 5\r\n"), "{}", first);
    assert!(first.contains(";received=127.0.0.1"), "{}", first);
    assert_eq!(answer(&v, &raw, &late), first, "the same 503 again");
    // its ACK is taken without an answer
    assert!(first.contains(";tag=vb"), "{}", first);
    raw.send_to(&ack(&late, &first), v.addr()).expect("sent");
    raw.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    assert!(raw.recv(&mut buf).is_err(), "nothing answers an ACK");
    raw.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    // one the glance cannot read (a folded line) is refused after the full parse, the
    // same way
    let folded = String::from_utf8_lossy(&invite(&raw, "late2", "")).replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nSubject: a\r\n folded\r\n",
    );
    let refused = answer(&v, &raw, folded.as_bytes());
    assert!(refused.starts_with("SIP/2.0 503"), "{}", refused);
    assert_eq!(answer(&v, &raw, folded.as_bytes()), refused);
    let third = alice_dials(&v, "uac_unavailable.xml", "101", "u1", "127.0.0.1", &[]);
    sipp_ok(&third);
    assert!(
        third.messages.contains("Retry-After: 5"),
        "{}",
        third.messages
    );
    // the admitted calls are answered and hung up normally
    for call in admitted {
        sipp_ok(&call.join().unwrap());
    }
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let cdrs = v.cdrs(2);
    assert_eq!(cdrs.matches("answered").count(), 2, "{}", cdrs);
    let after = v.api_get("/metrics");
    assert!(after.contains("vozbox_calls_setting_up 0"), "{}", after);
    // no more overload: a late copy of the refused INVITE still gets its 503 (admitting it
    // would ring bob for a caller that has given up), not counted again
    assert!(answer(&v, &raw, &late).starts_with("SIP/2.0 503"));
    assert_eq!(answer(&v, &raw, folded.as_bytes()), refused);
    let after = v.api_get("/metrics");
    assert!(
        after.contains("vozbox_overload_refused_total{reason=\"max_setup\"} 3"),
        "{}",
        after
    );
    // the raw INVITE and SIPp's refused from a glance, the folded one after its parse; the
    // raw INVITE's two copies answered and its ACK dropped the same way (SIPp's too, whose
    // ACK has a branch of its own)
    for (what, n) in [("refused", 2), ("again", 2), ("ack", 2)] {
        let line = format!("vozbox_overload_unparsed_total{{what=\"{what}\"}} {n}\n");
        assert!(after.contains(&line), "{line}{after}");
    }
    assert!(
        v.log().contains("overload: 1 new request(s) refused"),
        "{}",
        v.log()
    );
}

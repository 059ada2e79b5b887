//! Attended transfer (REFER with `Replaces`, RFC 3891 in the Refer-To) against the real
//! binary: a transferor with two calls — a small UDP phone written here, since it must read
//! the tags of its second call to name it — joins their far ends (SIPp callees), and
//! cannot take a call that is not its own (403).

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const CAROL: (&str, &str) = ("carol", "Carol-Secret-33");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");
const DAVE: (&str, &str) = ("dave", "Dave-Secret-44");

fn provision() -> String {
    format!(
        "{}\n[[user]]\nclient = \"bluebird\"\nname = \"carol\"\nextension = \"102\"\npassword = \"Carol-Secret-33\"\n\n[[user]]\nclient = \"bluebird\"\nname = \"dave\"\nextension = \"103\"\npassword = \"Dave-Secret-44\"\n",
        PROVISION
    )
}

/// A header's value in a message (first line with that name).
fn header(msg: &str, name: &str) -> Option<String> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// A Via branch part from a Call-ID (no `@`).
fn branch_of(call_id: &str) -> String {
    call_id.replace(['@', '.'], "x")
}

fn md5_hex(s: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{:02x}", b))
        .collect()
}

fn param(v: &str, name: &str) -> Option<String> {
    let at = v.find(&format!("{}=", name))? + name.len() + 1;
    let rest = &v[at..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q.split('"').next()?.to_string(),
        None => rest.split([',', ' ']).next()?.to_string(),
    })
}

/// One call of the phone: its dialog with vozbox.
struct Dialog {
    call_id: String,
    from_tag: String,
    to_tag: String,
    target: String,
    number: String,
}

/// A user phone over UDP that answers every request vozbox sends it with 200.
struct Phone {
    sock: UdpSocket,
    server: String,
    user: &'static str,
    password: &'static str,
    /// Every message received.
    seen: Vec<String>,
}

impl Phone {
    fn new(v: &Vozbox, (user, password): (&'static str, &'static str)) -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Phone {
            sock,
            server: v.addr(),
            user,
            password,
            seen: Vec::new(),
        }
    }

    fn me(&self) -> String {
        self.sock.local_addr().unwrap().to_string()
    }

    fn send(&self, text: &str) {
        let text = text.replace('\n', "\r\n");
        self.sock.send_to(text.as_bytes(), &self.server).unwrap();
    }

    /// The next message matching `want` (requests on the way are answered 200).
    fn wait(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 8192];
        while Instant::now() < deadline {
            let Ok(n) = self.sock.recv(&mut buf) else {
                continue;
            };
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !m.starts_with("SIP/2.0") && !m.starts_with("ACK") {
                let vias: String = m
                    .lines()
                    .filter(|l| l.starts_with("Via:"))
                    .map(|l| format!("{}\n", l))
                    .collect();
                let h = |n| header(&m, n).unwrap_or_default();
                self.send(&format!(
                    "SIP/2.0 200 OK\n{vias}From: {}\nTo: {}\nCall-ID: {}\nCSeq: {}\nContent-Length: 0\n\n",
                    h("From"),
                    h("To"),
                    h("Call-ID"),
                    h("CSeq")
                ));
            }
            self.seen.push(m.clone());
            if want(&m) {
                return m;
            }
        }
        panic!("no {} in:\n{}", what, self.seen.join("\n----\n"));
    }

    fn invite(&self, d: &Dialog, cseq: u32, auth: &str) {
        let sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";
        self.send(&format!(
            "INVITE sip:{n}@{s} SIP/2.0\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{b}{cseq};rport\n\
             From: <sip:{u}@127.0.0.1>;tag={ft}\nTo: <sip:{n}@127.0.0.1>\nCall-ID: {c}\n\
             CSeq: {cseq} INVITE\nContact: <sip:{u}@{me}>\n{auth}Max-Forwards: 70\n\
             Content-Type: application/sdp\nContent-Length: {len}\n\n{sdp}",
            n = d.number,
            s = self.server,
            me = self.me(),
            b = branch_of(&d.call_id),
            c = d.call_id,
            u = self.user,
            ft = d.from_tag,
            len = sdp.len() + sdp.matches('\n').count(),
        ));
    }

    /// Calls `number` (digest after the 407) until it is answered; ACKs.
    fn call(&mut self, number: &str, call_id: &str) -> Dialog {
        let mut d = Dialog {
            call_id: call_id.to_string(),
            from_tag: format!("t-{}", branch_of(call_id)),
            to_tag: String::new(),
            target: String::new(),
            number: number.to_string(),
        };
        self.invite(&d, 1, "");
        let id = d.call_id.clone();
        let challenge = self.wait("407", |m| {
            m.starts_with("SIP/2.0 407") && header(m, "Call-ID").as_deref() == Some(id.as_str())
        });
        self.send(&format!(
            "ACK sip:{}@{} SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bK{}1;rport\nFrom: <sip:{}@127.0.0.1>;tag={}\nTo: {}\nCall-ID: {}\nCSeq: 1 ACK\nContent-Length: 0\n\n",
            number, self.server, self.me(), branch_of(&d.call_id), self.user, d.from_tag,
            header(&challenge, "To").unwrap_or_default(), d.call_id
        ));
        let ch = challenge
            .lines()
            .filter(|l| l.starts_with("Proxy-Authenticate:"))
            .find(|l| l.contains("MD5") || !l.contains("algorithm"))
            .expect("an MD5 challenge")
            .to_string();
        let (realm, nonce) = (param(&ch, "realm").unwrap(), param(&ch, "nonce").unwrap());
        let uri = format!("sip:{}@{}", number, self.server);
        let ha1 = md5_hex(&format!("{}:{}:{}", self.user, realm, self.password));
        let ha2 = md5_hex(&format!("INVITE:{}", uri));
        let resp = md5_hex(&format!("{}:{}:00000001:c0ffee:auth:{}", ha1, nonce, ha2));
        let auth = format!(
            "Proxy-Authorization: Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\n",
            self.user, realm, nonce, uri, resp
        );
        self.invite(&d, 2, &auth);
        let ok = self.wait("200 to the INVITE", |m| {
            m.starts_with("SIP/2.0 200")
                && header(m, "Call-ID").as_deref() == Some(id.as_str())
                && header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
        });
        let to = header(&ok, "To").unwrap_or_default();
        d.to_tag = to.split("tag=").nth(1).unwrap_or("").to_string();
        let contact = header(&ok, "Contact").unwrap_or_default();
        d.target = contact
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("")
            .to_string();
        self.in_dialog(&d, "ACK", 2, "");
        d
    }

    fn in_dialog(&self, d: &Dialog, method: &str, cseq: u32, extra: &str) {
        self.send(&format!(
            "{method} {} SIP/2.0\nVia: SIP/2.0/UDP {};branch=z9hG4bK{}{method}{cseq};rport\n\
             From: <sip:{}@127.0.0.1>;tag={}\nTo: <sip:{}@127.0.0.1>;tag={}\nCall-ID: {}\n\
             CSeq: {cseq} {method}\nContact: <sip:{}@{}>\n{extra}Max-Forwards: 70\nContent-Length: 0\n\n",
            d.target,
            self.me(),
            branch_of(&d.call_id),
            self.user,
            d.from_tag,
            d.number,
            d.to_tag,
            d.call_id,
            self.user,
            self.me()
        ));
    }

    /// REFER on `d` naming dialog `other` (its Call-ID and both tags) in `Replaces`.
    fn refer_replacing(&self, d: &Dialog, other: &Dialog) {
        let replaces = format!(
            "{}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
            other.call_id.replace('@', "%40"),
            other.to_tag,
            other.from_tag
        );
        self.in_dialog(
            d,
            "REFER",
            3,
            &format!(
                "Refer-To: <sip:{}@127.0.0.1?Replaces={}>\n",
                other.number, replaces
            ),
        );
    }
}

fn is_notify(m: &str, line: &str) -> bool {
    m.starts_with("NOTIFY") && m.contains(line)
}

fn done(uas: SippUas) -> Sipp {
    let s = uas.wait(Duration::from_secs(30));
    sipp_ok(&s);
    s
}

fn records(v: &Vozbox, n: usize) -> Vec<serde_json::Value> {
    v.cdrs(n);
    let (_, r) = v.api_as(&v.token(), "GET", "/api/cdrs", None);
    r["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_attended_transfer_joins_the_far_ends_of_the_transferors_two_calls() {
    let v = Vozbox::start("xfer-attended", "[media]\ntimeout = 0\n", &provision());
    let bob = callee(&v, "127.0.0.1", BOB, "uas_transferee.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_joined.xml");
    let mut alice = Phone::new(&v, ("alice", "Alice-Secret-1"));
    let to_bob = alice.call("101", "first@alice");
    let to_carol = alice.call("102", "second@alice");
    alice.refer_replacing(&to_bob, &to_carol);
    alice.wait("202", |m| m.starts_with("SIP/2.0 202"));
    alice.wait("NOTIFY 100", |m| is_notify(m, "SIP/2.0 100 Trying"));
    alice.wait("NOTIFY 200", |m| is_notify(m, "SIP/2.0 200 OK"));
    // both of alice's legs are hung up by vozbox
    for id in ["first@alice", "second@alice"] {
        if !alice
            .seen
            .iter()
            .any(|m| m.starts_with("BYE") && header(m, "Call-ID").as_deref() == Some(id))
        {
            alice.wait("BYE", |m| {
                m.starts_with("BYE") && header(m, "Call-ID").as_deref() == Some(id)
            });
        }
    }
    // bob got carol's offer and hangs up a second later: carol gets his BYE
    done(bob);
    done(carol);
    let cdrs = records(&v, 3);
    let transferred: Vec<_> = cdrs
        .iter()
        .filter(|c| c["disposition"] == "transferred")
        .collect();
    assert_eq!(transferred.len(), 2, "{:?}", cdrs);
    assert!(transferred
        .iter()
        .all(|c| c["transferred_by"] == "user:alice"));
    let joined = cdrs
        .iter()
        .find(|c| c["disposition"] == "answered")
        .unwrap_or_else(|| panic!("{:?}", cdrs));
    assert_eq!(joined["transferred_by"], "user:alice");
}

#[test]
fn replaces_naming_somebody_elses_call_is_refused() {
    let v = Vozbox::start("xfer-theft", "[media]\ntimeout = 0\n", &provision());
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let dave = callee(&v, "127.0.0.1", DAVE, "uas_answer.xml");
    let mut alice = Phone::new(&v, ("alice", "Alice-Secret-1"));
    let mut carol = Phone::new(&v, CAROL);
    let alices = alice.call("101", "mine@alice");
    let carols = carol.call("103", "hers@carol");
    // alice knows every tag of carol's call, and still may not take it
    alice.refer_replacing(&alices, &carols);
    alice.wait("202", |m| m.starts_with("SIP/2.0 202"));
    alice.wait("NOTIFY 403", |m| is_notify(m, "SIP/2.0 403 Forbidden"));
    assert!(!carol.seen.iter().any(|m| m.starts_with("BYE")));
    // both calls are still up: each caller's BYE reaches its callee
    alice.in_dialog(&alices, "BYE", 4, "");
    carol.in_dialog(&carols, "BYE", 3, "");
    alice.wait("200 to BYE", |m| {
        m.starts_with("SIP/2.0 200") && m.contains("BYE")
    });
    carol.wait("200 to BYE", |m| {
        m.starts_with("SIP/2.0 200") && m.contains("BYE")
    });
    done(bob);
    done(dave);
    let cdrs = records(&v, 2);
    assert!(
        cdrs.iter().all(|c| c["disposition"] == "answered"),
        "{:?}",
        cdrs
    );
}

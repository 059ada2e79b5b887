//! The registrar against SIPp, over UDP and TCP, on the real binary.

mod common;
use common::*;
use std::time::Duration;

const ALICE: (&str, &str) = ("alice", "Alice-Secret-1");

fn alice() -> String {
    creds("127.0.0.1", ALICE.0, ALICE.1)
}

#[test]
fn register_with_digest_over_udp_and_tcp() {
    let v = Vozbox::start("reg", "", PROVISION);
    for t in ["u1", "t1"] {
        sipp_ok(&sipp(
            "register.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &alice(),
            &[],
        ));
    }
    let list = v.registrations();
    assert!(list.contains("sip:alice@127.0.0.1"), "{}", list);
    assert!(
        list.contains("transport=UDP") && list.contains("udp:"),
        "{}",
        list
    );
    assert!(
        list.contains("transport=TCP") && list.contains("tcp:"),
        "{}",
        list
    );
    assert!(list.contains("2 binding(s)"), "{}", list);
}

#[test]
fn register_mode_friend_registers_like_a_terminal() {
    let v = Vozbox::start("friend", "", PROVISION);
    let c = creds("127.0.0.1", "hq-asterisk", "HqAsterisk-Pass+1");
    sipp_ok(&sipp("register.xml", &v.addr(), "t1", "127.0.0.1", &c, &[]));
    assert!(v.registrations().contains("sip:hq-asterisk@127.0.0.1"));
}

#[test]
fn wrong_password_is_refused_over_udp_and_tcp() {
    let v = Vozbox::start("wrongpw", "", PROVISION);
    for t in ["u1", "t1"] {
        let c = creds("127.0.0.1", "alice", "not-the-password");
        sipp_ok(&sipp(
            "register_refused.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &c,
            &[],
        ));
    }
    assert!(v.registrations().contains("0 binding(s)"));
}

/// Strips what differs from one exchange to another (nonces, tags, ids, branches, ports).
fn shape(messages: &str) -> Vec<String> {
    let nonce = regex::Regex::new("nonce=\"[0-9a-f]+\"").unwrap();
    let mut out = Vec::new();
    for block in messages.split("message received").skip(1) {
        let mut lines = Vec::new();
        for l in block.lines().skip(2) {
            if l.starts_with("----") || l.is_empty() && !lines.is_empty() {
                break;
            }
            if l.is_empty() {
                continue;
            }
            let name = l.split(':').next().unwrap_or("");
            let value = match name {
                "WWW-Authenticate" => nonce.replace(l, "nonce=N").into_owned(),
                "Via" | "From" | "To" | "Call-ID" => name.to_string(),
                _ => l.to_string(),
            };
            lines.push(value);
        }
        out.push(lines.join("\n"));
    }
    out
}

#[test]
fn unknown_user_gets_exactly_the_answers_of_a_wrong_password() {
    let v = Vozbox::start("enum", "", PROVISION);
    for t in ["u1", "t1"] {
        let wrong = sipp(
            "register_refused.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &creds("127.0.0.1", "alice", "bad-password"),
            &[],
        );
        sipp_ok(&wrong);
        let unknown = sipp(
            "register_refused.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &creds("127.0.0.1", "mallory", "bad-password"),
            &[],
        );
        sipp_ok(&unknown);
        let (a, b) = (shape(&wrong.messages), shape(&unknown.messages));
        assert_eq!(a.len(), 2, "{:?}", a);
        assert_eq!(a, b, "over {}", t);
    }
}

#[test]
fn replayed_authorization_is_refused() {
    let v = Vozbox::start("replay", "", PROVISION);
    let s = sipp("register.xml", &v.addr(), "u1", "127.0.0.1", &alice(), &[]);
    sipp_ok(&s);
    // The authenticated REGISTER exactly as SIPp sent it, captured and sent again with a
    // new branch (so it is a new transaction, not a retransmission).
    let sent: Vec<&str> = s.messages.split("UDP message sent").collect();
    let second = sent
        .iter()
        .find(|b| b.contains("Authorization:"))
        .expect("authorized REGISTER in the trace");
    let start = second.find("REGISTER ").unwrap();
    let msg = &second[start..];
    let head: Vec<&str> = msg
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.is_empty())
        .collect();
    let msg = head.join("\r\n") + "\r\n\r\n";
    let replay = msg.replace("branch=z9hG4bK", "branch=z9hG4bKreplay");
    let r = udp_exchange(
        &v.addr(),
        "127.0.0.1",
        replay.as_bytes(),
        Duration::from_secs(3),
    )
    .expect("an answer");
    assert!(r.starts_with("SIP/2.0 401"), "{}", r);
}

#[test]
fn expired_nonce_is_stale() {
    let v = Vozbox::start("stale", "[auth]\nnonce_ttl = 1\n", PROVISION);
    for t in ["u1", "t1"] {
        sipp_ok(&sipp("stale.xml", &v.addr(), t, "127.0.0.1", &alice(), &[]));
    }
}

#[test]
fn expires_zero_and_star_remove_bindings() {
    let v = Vozbox::start("unreg", "", PROVISION);
    for t in ["u1", "t1"] {
        sipp_ok(&sipp(
            "unregister.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &alice(),
            &[],
        ));
    }
    assert!(v.registrations().contains("0 binding(s)"));
}

#[test]
fn too_brief_interval_gets_423() {
    let v = Vozbox::start("brief", "", PROVISION);
    sipp_ok(&sipp(
        "interval.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &alice(),
        &[],
    ));
}

#[test]
fn several_contacts_with_q_values() {
    let v = Vozbox::start("multi", "", PROVISION);
    sipp_ok(&sipp(
        "multi_contact.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &alice(),
        &[],
    ));
    assert!(v.registrations().contains("2 binding(s)"));
}

#[test]
fn bindings_survive_a_restart() {
    let mut v = Vozbox::start("restart", "", PROVISION);
    for t in ["u1", "t1"] {
        sipp_ok(&sipp(
            "register.xml",
            &v.addr(),
            t,
            "127.0.0.1",
            &alice(),
            &[],
        ));
    }
    v.kill(); // SIGKILL: each 200 was sent only after its binding was durable
    v.spawn(None);
    let list = v.registrations();
    assert!(
        list.contains("transport=UDP") && list.contains("transport=TCP"),
        "{}",
        list
    );
    for t in ["u1", "t1"] {
        sipp_ok(&sipp("query.xml", &v.addr(), t, "127.0.0.1", &alice(), &[]));
    }
}

#[test]
fn natted_udp_binding_gets_options_pings_on_its_flow() {
    let v = Vozbox::start("nat", "[registrar]\nkeepalive_interval = 1\n", PROVISION);
    let ooc = format!("{}/tests/sipp/ping_answer.xml", env!("CARGO_MANIFEST_DIR"));
    let s = sipp(
        "nat_keepalive.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &alice(),
        &["-oocsf", &ooc],
    );
    sipp_ok(&s);
    // at least two pings (interval 1 s) reached SIPp's own socket, addressed to the Contact
    let pings = s
        .messages
        .matches("OPTIONS sip:alice@192.0.2.1:5999 SIP/2.0")
        .count();
    assert!(pings >= 2, "{} pings:\n{}", pings, s.messages);
}

#[test]
fn options_answers_200_over_udp_and_tcp() {
    let v = Vozbox::start("options", "", PROVISION);
    for t in ["u1", "t1"] {
        sipp_ok(&options_from(&v, t, "127.0.0.1", &[]));
    }
}

#[test]
fn repeated_failures_ban_the_address_but_not_others() {
    let v = Vozbox::start(
        "ban",
        "[auth]\nban_threshold = 3\nban_window = 60\nban_duration = 60\n",
        PROVISION,
    );
    let bad = creds("127.0.0.1", "alice", "guess-1234");
    // three failed authentications from 127.0.0.2 …
    let s = sipp(
        "register_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.2",
        &bad,
        &["-m", "3"],
    );
    sipp_ok(&s);
    // … after which 127.0.0.2 gets no answer at all, even with the right password
    let s = sipp(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.2",
        &alice(),
        &["-timeout", "4s"],
    );
    assert!(!s.ok, "a banned address was answered:\n{}", s.messages);
    assert!(!s.messages.contains("message received"), "{}", s.messages);
    // … nor over TCP (the connection is not even kept)
    let s = sipp(
        "register.xml",
        &v.addr(),
        "t1",
        "127.0.0.2",
        &alice(),
        &["-timeout", "4s"],
    );
    assert!(
        !s.ok,
        "a banned address was answered over TCP:\n{}",
        s.messages
    );
    assert!(!s.messages.contains("message received"), "{}", s.messages);
    // while 127.0.0.3 registers normally, over both
    for t in ["u1", "t1"] {
        sipp_ok(&sipp(
            "register.xml",
            &v.addr(),
            t,
            "127.0.0.3",
            &alice(),
            &[],
        ));
    }
    assert!(v.log().contains("banning 127.0.0.2"), "{}", v.log());
}

/// A second, independent peer: baresip registers (and unregisters when it quits).
#[test]
fn baresip_registers_and_unregisters() {
    let v = Vozbox::start("baresip", "", PROVISION);
    let dir = temp_dir("baresip-alice");
    let sip_port = free_port("127.0.0.1");
    std::fs::write(
        dir.join("config"),
        format!(
            "module_path /usr/lib/baresip/modules\nmodule account.so\nmodule g711.so\nsip_listen 127.0.0.1:{}\n",
            sip_port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("accounts"),
        format!(
            "<sip:alice@127.0.0.1:{};transport=udp>;auth_pass=Alice-Secret-1;regint=60\n",
            v.port
        ),
    )
    .unwrap();
    let out = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", "3"])
        .output()
        .expect("run baresip (apt-get install baresip-core)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("200 OK (vozbox/0.1) [1 binding]"), "{}", text);
    // it sent Expires: 0 when it quit
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        v.registrations().contains("0 binding(s)"),
        "{}",
        v.registrations()
    );
}

/// SHA-256 digest (RFC 7616/8760) end to end: the client side is computed by the test
/// with the sha2 crate directly, from the challenge the server sent.
#[test]
fn sha256_digest_registers() {
    let v = Vozbox::start("sha256", "[auth]\nalgorithms = [\"SHA-256\"]\n", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "sha");
    let (r, nonce) = ua.challenge();
    assert!(
        r.contains("algorithm=SHA-256") && !r.contains("algorithm=MD5"),
        "{}",
        r
    );
    ua.register(2, &RawUa::authorization("SHA-256", &nonce, 1));
    let r = ua.recv().expect("an answer");
    assert!(r.starts_with("SIP/2.0 200"), "{}", r);
    assert!(v.registrations().contains("sip:alice@127.0.0.1"));
}

/// Overload is shed, not queued without bound: with a store queue of one, a burst of
/// authenticated REGISTERs gets 200s and 503s with Retry-After, nothing else, and the
/// server keeps answering.
#[test]
fn a_full_store_queue_sheds_with_503_retry_after() {
    // (The burst comes from one address: no rate limit here, only the store queue.)
    let v = Vozbox::start(
        "shed",
        "rate_limit = 0\n[storage]\nwrite_queue = 1\n",
        PROVISION,
    );
    let mut ua = RawUa::new(&v.addr(), "shed");
    let (_, nonce) = ua.challenge();
    let burst = 400u32;
    for i in 1..=burst {
        ua.register(1 + i, &RawUa::authorization("MD5", &nonce, i));
    }
    let (mut ok, mut shed) = (0, 0);
    for _ in 0..burst {
        let Some(r) = ua.recv() else { break };
        if r.starts_with("SIP/2.0 200") {
            ok += 1;
        } else if r.starts_with("SIP/2.0 503") {
            assert!(r.contains("Retry-After: 5"), "{}", r);
            shed += 1;
        } else {
            panic!("unexpected answer: {}", r);
        }
    }
    assert_eq!(ok + shed, burst, "every request answered");
    assert!(ok > 0 && shed > 0, "{} ok, {} shed", ok, shed);
    sipp_ok(&options_from(&v, "u1", "127.0.0.1", &[]));
}

/// After a restart the nonces phones hold are not ours any more: right credentials with such
/// a nonce get `stale=true` and count as no failure (a whole office behind one NAT would be
/// banned otherwise).
#[test]
fn a_nonce_from_before_a_restart_is_stale_not_a_failure() {
    let mut v = Vozbox::start("restart-nonce", "[auth]\nban_threshold = 3\n", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "oldnonce");
    let (_, nonce) = ua.challenge();
    v.kill();
    v.spawn(None);
    for i in 1..=5u32 {
        ua.register(1 + i, &RawUa::authorization("MD5", &nonce, i));
        let r = ua.recv().expect("an answer, not a ban");
        assert!(
            r.starts_with("SIP/2.0 401") && r.contains("stale=true"),
            "{}",
            r
        );
    }
    let (_, fresh) = ua.challenge();
    ua.register(10, &RawUa::authorization("MD5", &fresh, 1));
    let r = ua.recv().expect("an answer");
    assert!(r.starts_with("SIP/2.0 200"), "{}", r);
}

/// A REGISTER captured and sent again, byte for byte, from another address neither moves
/// the binding nor registers anything: the attacker gets no 200.
#[test]
fn a_replayed_register_from_elsewhere_does_not_move_the_binding() {
    // a transaction memory of one entry: the copy is processed, as it would be once the
    // memory has forgotten the original (32 s) or under load
    let v = Vozbox::start("hijack", "transaction_cache = 1\n", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "hijack");
    let (_, nonce) = ua.challenge();
    let auth = RawUa::authorization("MD5", &nonce, 1);
    ua.register(2, &auth);
    let r = ua.recv().expect("an answer");
    assert!(r.starts_with("SIP/2.0 200"), "{}", r);
    let before = v.registrations();
    // the attacker sends the same request (same branch, CSeq, nc) from another socket
    let mut attacker = RawUa::new(&v.addr(), "hijack");
    let phone = ua.sock.local_addr().unwrap();
    let l = attacker.sock.local_addr().unwrap();
    let copy = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {p};branch=z9hG4bKhijack2;rport\r\nFrom: <sip:alice@127.0.0.1>;tag=s\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: hijack@test\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@{p};n=2>\r\n{auth}Max-Forwards: 70\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n",
        p = phone
    );
    assert_ne!(phone, l);
    attacker.sock.send_to(copy.as_bytes(), v.addr()).unwrap();
    if let Some(r) = attacker.recv() {
        assert!(!r.starts_with("SIP/2.0 200"), "{}", r);
    }
    // and once the transaction memory would have forgotten it: a different branch
    let later = copy.replace("branch=z9hG4bKhijack2", "branch=z9hG4bKhijack2b");
    attacker.sock.send_to(later.as_bytes(), v.addr()).unwrap();
    let r = attacker.recv().expect("an answer");
    assert!(!r.starts_with("SIP/2.0 200"), "{}", r);
    // same AoR, contact and flow (only the remaining time differs)
    let strip = |t: String| -> Vec<String> {
        t.lines()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(strip(v.registrations()), strip(before));
}

/// A REGISTER without credentials is challenged statelessly (RFC 3261 §8.2.7): sent again
/// with the same branch (a retransmission), it gets a new 401 with a fresh nonce instead of
/// the first one kept for 32 s, and either nonce authenticates. With credentials, the same
/// request again is a retransmission, answered with the same 200, not refused as a replay.
#[test]
fn a_challenge_is_stateless_and_an_authenticated_register_is_not() {
    let v = Vozbox::start("stateless", "", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "stateless");
    let (_, first) = ua.challenge();
    let (_, again) = ua.challenge();
    assert_ne!(first, again, "a retransmission is challenged afresh");
    for (n, nonce) in [(2, &first), (3, &again)] {
        let auth = RawUa::authorization("MD5", nonce, 1);
        ua.register(n, &auth);
        let r = ua.recv().expect("an answer");
        assert!(r.starts_with("SIP/2.0 200"), "{}", r);
        // the same request again (same branch, CSeq and nc): the same 200, from memory
        ua.register(n, &auth);
        let copy = ua.recv().expect("an answer to the retransmission");
        assert_eq!(copy, r);
    }
    let regs = v.registrations();
    assert!(regs.contains(";n=2") && regs.contains(";n=3"), "{}", regs);
}

/// A refresh that writes its Contact differently (host case, parameter case and order) is
/// the same binding (RFC 3261 §19.1.4), stored once under the new spelling.
#[test]
fn a_contact_written_differently_is_the_same_binding() {
    let v = Vozbox::start("uri-eq", "", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "urieq");
    let (_, nonce) = ua.challenge();
    let port = ua.sock.local_addr().unwrap().port();
    let first = format!("sip:alice@localhost:{};transport=udp;line=7", port);
    let second = format!("sip:alice@LocalHost:{};Line=7;transport=UDP", port);
    for (n, contact) in [(2u32, &first), (3, &second)] {
        ua.register_contact(n, &RawUa::authorization("MD5", &nonce, n), contact);
        let r = ua.recv().expect("an answer");
        assert!(r.starts_with("SIP/2.0 200"), "{}", r);
        assert_eq!(r.matches("Contact:").count(), 1, "{}", r);
    }
    let list = v.registrations();
    assert!(
        list.contains("1 binding(s)") && list.contains("LocalHost"),
        "{}",
        list
    );
    // and after a restart, still one (the old spelling left the store)
    let mut v = v;
    v.kill();
    v.spawn(None);
    assert!(
        v.registrations().contains("1 binding(s)"),
        "{}",
        v.registrations()
    );
}

/// The digest must be made for this request's URI (RFC 2617 §3.2.2.5).
#[test]
fn a_digest_for_another_uri_is_a_bad_request() {
    let v = Vozbox::start("digest-uri", "", PROVISION);
    let mut ua = RawUa::new(&v.addr(), "digesturi");
    let (_, nonce) = ua.challenge();
    let auth = RawUa::authorization("MD5", &nonce, 1)
        .replace("uri=\"sip:127.0.0.1\"", "uri=\"sip:other.example\"");
    ua.register(2, &auth);
    let r = ua.recv().expect("an answer");
    assert!(r.starts_with("SIP/2.0 400"), "{}", r);
}

#[test]
fn a_response_via_echoes_parameter_names_as_written_and_fills_rport_in_any_case() {
    // RFC 3261 §8.2.6.2: the response's Via is the request's, `received`/`rport` filled in
    let v = Vozbox::start("viacase", "", PROVISION);
    let req = "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:9;Branch=z9hG4bKcase1;RPORT;X-Mark=Kept\r\n\
        From: <sip:alice@127.0.0.1>;Tag=t1\r\n\
        To: <sip:alice@127.0.0.1>\r\n\
        Call-ID: viacase@test\r\n\
        CSeq: 1 REGISTER\r\n\
        Contact: <sip:alice@127.0.0.1:9>\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";
    let r = udp_exchange(
        &v.addr(),
        "127.0.0.1",
        req.as_bytes(),
        Duration::from_secs(3),
    )
    .expect("an answer");
    assert!(r.starts_with("SIP/2.0 401"), "{}", r);
    let via = r
        .lines()
        .find(|l| l.starts_with("Via:"))
        .expect("a Via in the answer");
    assert!(
        via.contains(";Branch=z9hG4bKcase1;X-Mark=Kept;received=127.0.0.1;rport="),
        "{}",
        via
    );
    assert!(!via.contains("RPORT"), "{}", via);
    assert!(r.contains(";Tag=t1"), "{}", r);
}

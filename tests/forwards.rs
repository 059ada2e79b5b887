//! Call forwarding (issue 16) against the real binary with SIPp phones: busy, no answer,
//! not registered and unconditional forwards of a user to another extension (the forwarded
//! INVITE carries a Diversion header naming the forwarding user's extension), a forward to
//! a number refused by the forwarding user's ACL, and a forward loop cut with 482.

mod common;
use common::*;
use std::time::Duration;

const CAROL: (&str, &str) = ("carol", "Carol-Secret-33");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

fn provision(forwards: &str) -> String {
    format!(
        "{}\n[[user]]\nclient = \"bluebird\"\nname = \"carol\"\nextension = \"102\"\npassword = \"Carol-Secret-33\"\n\n[[call_acl]]\nclient = \"bluebird\"\nname = \"nothing-out\"\ndefault_policy = \"deny\"\n{}",
        PROVISION, forwards
    )
}

fn forward(user: &str, ty: &str, target: &str, extra: &str) -> String {
    format!(
        "\n[[call_forward]]\nclient = \"bluebird\"\nuser = \"{}\"\ncall_type = \"any\"\nforward_type = \"{}\"\n{}\n{}\n",
        user, ty, target, extra
    )
}

/// alice calls 101 (bob) with `scenario`.
fn alice_calls_bob(v: &Vozbox, scenario: &str) -> Sipp {
    alice_dials(v, scenario, "101", "u1", "127.0.0.1", &["-d", "300"])
}

fn done(uas: SippUas) -> Sipp {
    let s = uas.wait(Duration::from_secs(30));
    sipp_ok(&s);
    s
}

/// The last call record, once there are `n`.
fn nth_cdr(v: &Vozbox, n: usize) -> String {
    let list = v.cdrs(n);
    list.lines().nth(n).unwrap_or("").to_string()
}

/// The call record of a test's only call.
fn last_cdr(v: &Vozbox) -> String {
    nth_cdr(v, 1)
}

#[test]
fn a_busy_user_is_forwarded_to_another_extension() {
    let v = Vozbox::start(
        "fwd-busy",
        "",
        &provision(&forward(
            "bob",
            "busy",
            "target = \"extension\"\nextension = \"102\"",
            "",
        )),
    );
    let bob = callee(&v, "127.0.0.1", BOB, "uas_busy.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer_diverted.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    done(bob);
    done(carol);
    let cdr = last_cdr(&v);
    assert!(
        cdr.contains("user:bob >busy> user:carol") && cdr.contains("answered"),
        "{}",
        cdr
    );
}

#[test]
fn an_unanswered_user_is_forwarded_after_its_timeout() {
    let v = Vozbox::start(
        "fwd-noanswer",
        "",
        &provision(&forward(
            "bob",
            "no_answer",
            "target = \"extension\"\nextension = \"102\"",
            "timeout = 2",
        )),
    );
    let bob = callee(&v, "127.0.0.1", BOB, "uas_ring.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer_diverted.xml");
    let t = std::time::Instant::now();
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "forwarded before its timeout"
    );
    // bob's phone was cancelled when the forward took over
    done(bob);
    done(carol);
    let cdr = last_cdr(&v);
    assert!(cdr.contains("user:bob >no_answer> user:carol"), "{}", cdr);
}

#[test]
fn an_unregistered_user_is_forwarded_and_so_is_every_call_with_an_unconditional_forward() {
    let v = Vozbox::start(
        "fwd-unreg",
        "",
        &provision(&forward(
            "bob",
            "not_registered",
            "target = \"extension\"\nextension = \"102\"",
            "",
        )),
    );
    // bob has no phone registered
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer_diverted.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    done(carol);
    let cdr = last_cdr(&v);
    assert!(
        cdr.contains("user:bob >not_registered> user:carol") && cdr.contains("answered"),
        "{}",
        cdr
    );

    let v = Vozbox::start(
        "fwd-uncond",
        "",
        &provision(&forward(
            "bob",
            "unconditional",
            "target = \"extension\"\nextension = \"102\"",
            "",
        )),
    );
    // bob's phone is registered but never rings
    let _bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer_diverted.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    done(carol);
    assert!(last_cdr(&v).contains("user:bob >unconditional> user:carol"));
}

#[test]
fn a_forward_is_no_way_around_an_acl_and_a_loop_is_cut() {
    // bob may call nothing outside: his forward to a number is refused like his own call
    let v = Vozbox::start(
        "fwd-acl",
        "",
        &format!(
            "{}\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\n",
            provision(&forward(
                "bob",
                "unconditional",
                "target = \"number\"\nnumber = \"+34600111222\"",
                ""
            ))
        )
        .replace(
            "name = \"bob\"\nextension = \"101\"",
            "name = \"bob\"\nextension = \"101\"\ncall_acl = \"nothing-out\"",
        ),
    );
    let s = alice_calls_bob(&v, "uac_refused.xml");
    assert!(s.messages.contains("SIP/2.0 403"), "{}", s.messages);
    assert!(last_cdr(&v).contains("acl_denied"), "{}", last_cdr(&v));

    // bob forwards to carol, carol back to bob: 482
    let loops = format!(
        "{}{}",
        forward(
            "bob",
            "unconditional",
            "target = \"extension\"\nextension = \"102\"",
            ""
        ),
        forward(
            "carol",
            "unconditional",
            "target = \"extension\"\nextension = \"101\"",
            ""
        )
    );
    let v = Vozbox::start("fwd-loop", "", &provision(&loops));
    let s = alice_calls_bob(&v, "uac_refused.xml");
    assert!(s.messages.contains("SIP/2.0 482"), "{}", s.messages);
    assert!(
        v.log()
            .contains("call forward loop: bluebird/bob → bluebird/carol"),
        "{}",
        v.log()
    );
    assert!(last_cdr(&v).contains("forward_loop"), "{}", last_cdr(&v));
}

/// alice dials `*code` (a locution answers): SIPp's result and the RTP packets she got.
fn alice_dials_code(v: &Vozbox, code: &str) -> (Sipp, usize) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let number = format!("*{}", code);
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;{};{}\n",
        number, port
    );
    let addr = v.addr();
    std::thread::scope(|s| {
        let caller = s.spawn(|| {
            sipp(
                "uac_locution.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &csv,
                &["-auth_uri", &format!("{}@{}", number, addr)],
            )
        });
        let (mut n, mut buf) = (0, [0u8; 2048]);
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < deadline && !caller.is_finished() {
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                if len >= 12 && buf[0] >> 6 == 2 {
                    n += 1;
                }
            }
        }
        (caller.join().expect("caller"), n)
    })
}

/// The call forwards listed by the admin API, as `owner/type → target` lines.
fn forwards_listed(v: &Vozbox) -> String {
    let (s, r) = v.api_as(&v.token(), "GET", "/api/call_forwards", None);
    assert_eq!(s, 200, "{}", r);
    r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}/{} → {} {}",
                f["user"].as_str().unwrap_or("?"),
                f["forward_type"].as_str().unwrap_or("?"),
                f["target"].as_str().unwrap_or("?"),
                f["extension"]
                    .as_str()
                    .or(f["number"].as_str())
                    .unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_user_sets_and_removes_a_forward_from_the_phone() {
    let v = Vozbox::start("fwd-codes", "", &provision(""));
    // *80102: alice forwards everything to carol, and hears it is on
    let (s, rtp) = alice_dials_code(&v, "80102");
    sipp_ok(&s);
    assert!(rtp > 40, "{} RTP packets of the confirmation", rtp);
    assert_eq!(forwards_listed(&v), "alice/unconditional → extension 102");
    let cdr = nth_cdr(&v, 1);
    assert!(cdr.contains("service:80102"), "{}", cdr);
    // it works at once: bob's call to alice (100) reaches carol
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer.xml");
    sipp_ok(&sipp(
        "uac_call.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &call_csv("127.0.0.1", BOB.0, BOB.1, "100"),
        &["-auth_uri", &format!("100@{}", v.addr()), "-d", "300"],
    ));
    done(carol);
    let cdr = nth_cdr(&v, 2);
    assert!(
        cdr.contains("user:alice >unconditional> user:carol"),
        "{}",
        cdr
    );
    // the audit trail names her
    let (_, r) = v.api_as(&v.token(), "GET", "/api/audit", None);
    assert_eq!(r["items"][0]["who"], "alice@bluebird", "{}", r);
    // *80: removed
    let (s, _) = alice_dials_code(&v, "80");
    sipp_ok(&s);
    assert_eq!(forwards_listed(&v), "");
}

/// A client with its own codes: `*21` is its unconditional forward (and `*82*` its
/// no-answer forward to voicemail); the default `*80` is no code of its any more.
#[test]
fn a_client_has_its_own_service_codes() {
    let lab = provision("").replace(
        "domain = \"127.0.0.1\"\n",
        "domain = \"127.0.0.1\"\nservice_codes = { forward_unconditional = \"21\" }\n",
    );
    assert!(lab.contains("service_codes"));
    let v = Vozbox::start("fwd-own-codes", "", &lab);
    let (s, _) = alice_dials_code(&v, "21102");
    sipp_ok(&s);
    assert_eq!(forwards_listed(&v), "alice/unconditional → extension 102");
    assert!(nth_cdr(&v, 1).contains("service:80102"));
    let (s, _) = alice_dials_code(&v, "82*");
    sipp_ok(&s);
    assert!(
        forwards_listed(&v).contains("alice/no_answer → voicemail"),
        "{}",
        forwards_listed(&v)
    );
    // *80 is not a code of this client: refused, nothing changed
    let refused = sipp(
        "uac_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &call_csv("127.0.0.1", "alice", "Alice-Secret-1", "*80"),
        &["-auth_uri", &format!("*80@{}", v.addr())],
    );
    assert!(
        refused.messages.contains("SIP/2.0 501"),
        "{}",
        refused.messages
    );
    assert!(forwards_listed(&v).contains("alice/unconditional → extension 102"));
}

#[test]
fn an_internal_only_forward_leaves_calls_from_outside_alone() {
    let internal_only = forward(
        "bob",
        "unconditional",
        "target = \"extension\"\nextension = \"102\"",
        "",
    )
    .replace("call_type = \"any\"", "call_type = \"internal\"");
    let ddi = "\n[[ddi_provider]]\nbrand = \"acme\"\nname = \"trunk-in\"\naddresses = [\"127.0.0.6\"]\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000101\"\nroute = \"user\"\nuser = \"bob\"\n";
    let v = Vozbox::start(
        "fwd-internal",
        "",
        &format!("{}{}", provision(&internal_only), ddi),
    );
    // from a DDI provider to bob's DDI: bob rings, no forward
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    sipp_ok(&sipp(
        "uac_noauth.xml",
        &v.addr(),
        "u1",
        "127.0.0.6",
        &call_csv("127.0.0.1", "-", "600111222", "+34944000101"),
        &[],
    ));
    done(bob);
    let cdr = nth_cdr(&v, 1);
    assert!(
        cdr.contains("user:bob") && !cdr.contains("forwarded"),
        "{}",
        cdr
    );
    // from alice (internal): forwarded to carol
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer_diverted.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    done(carol);
    assert!(nth_cdr(&v, 2).contains("user:bob >unconditional> user:carol"));
}

/// A forward to a number is an external call of the forwarding party's client: it goes
/// out through the brand's carrier and its record carries the client's price.
#[test]
fn a_forward_out_through_the_carrier_is_priced_as_the_forwarding_clients_call() {
    let carrier_port = free_port("127.0.0.5");
    let billed = format!(
        "{}\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\nport = {}\n\n[[rating_profile]]\nclient = \"bluebird\"\nname = \"std\"\nactive_from = \"2020-01-01T00:00:00Z\"\nrates = [{{ prefix = \"+34\", connection_fee = \"0.10\", per_minute = \"0.60\", increment = 1 }}]\n",
        provision(&forward(
            "bob",
            "unconditional",
            "target = \"number\"\nnumber = \"+34600111222\"",
            "",
        )),
        carrier_port
    )
    .replacen(
        "domain = \"127.0.0.1\"\n",
        "domain = \"127.0.0.1\"\nbilling_method = \"postpaid\"\noutgoing_ddi = \"+34944000100\"\n",
        1,
    )
    // alice has a DDI of her own: the carrier sees it (not bob's, not the client's)
    .replacen(
        "extension = \"100\"\n",
        "extension = \"100\"\noutgoing_ddi = \"+34944000111\"\n",
        1,
    )
        + "\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000100\"\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000111\"\n";
    let v = Vozbox::start("fwd-priced", "[media]\ntimeout = 0\n", &billed);
    let carrier = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", carrier_port);
    sipp_ok(&alice_dials(
        &v,
        "uac_call.xml",
        "101",
        "u1",
        "127.0.0.1",
        &["-d", "1000"],
    ));
    let seen = done(carrier);
    let from = seen
        .messages
        .lines()
        .find(|l| l.starts_with("From:"))
        .unwrap_or("");
    assert!(from.contains("+34944000111"), "{}", from);
    let cdr = nth_cdr(&v, 1);
    assert!(
        cdr.contains("user:bob >unconditional> carrier:upstream:+34600111222")
            && cdr.contains("answered"),
        "{}",
        cdr
    );
    let (_, r) = v.api_as(&v.token(), "GET", "/api/cdrs", None);
    let price = r["items"][0]["price"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r));
    assert!(price.starts_with("0.1"), "{}", r);
    assert_eq!(r["items"][0]["client"], "bluebird", "{}", r);
}

/// Busy (a 486 from bob's phone) and unconditional forwards to voicemail: the caller is
/// answered by bob's mailbox, and the record says so.
#[test]
fn busy_and_unconditional_forwards_lead_to_the_mailbox() {
    let v = Vozbox::start(
        "fwd-busy-vm",
        "",
        &provision(&forward("bob", "busy", "target = \"voicemail\"", "")),
    );
    let bob = callee(&v, "127.0.0.1", BOB, "uas_busy.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    done(bob);
    let cdr = last_cdr(&v);
    assert!(
        cdr.contains("user:bob >busy> voicemail:bob") && cdr.contains("answered"),
        "{}",
        cdr
    );

    let v = Vozbox::start(
        "fwd-uncond-vm",
        "",
        &provision(&forward(
            "bob",
            "unconditional",
            "target = \"voicemail\"",
            "",
        )),
    );
    let _bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
    let cdr = last_cdr(&v);
    assert!(
        cdr.contains("user:bob >unconditional> voicemail:bob") && cdr.contains("answered"),
        "{}",
        cdr
    );
}

/// bob's own max calls (1): while he talks with alice, carol's call finds him busy — 486
/// without a busy forward; his busy forward (to carol's own extension: a loop back to the
/// caller is fine, she is not a forwarding party) when he has one.
#[test]
fn a_user_at_its_own_max_calls_is_busy() {
    let lab = provision("").replace(
        "extension = \"101\"\npassword = \"Bob-Secret-22\"",
        "extension = \"101\"\npassword = \"Bob-Secret-22\"\nmax_calls = 1",
    );
    assert!(lab.contains("max_calls = 1"));
    let v = Vozbox::start("fwd-maxcalls", "", &lab);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let addr = v.addr();
    let talking = std::thread::spawn(move || {
        sipp(
            "uac_call.xml",
            &addr,
            "u1",
            "127.0.0.1",
            &call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101"),
            &["-auth_uri", &format!("101@{}", addr), "-d", "4000"],
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !v.calls().contains("answered") {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's call not answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let carol = sipp(
        "uac_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &call_csv("127.0.0.1", "carol", "Carol-Secret-33", "101"),
        &["-auth_uri", &format!("101@{}", v.addr())],
    );
    assert!(
        carol.messages.contains("SIP/2.0 486 Busy Here"),
        "{}",
        carol.messages
    );
    sipp_ok(&talking.join().unwrap());
    done(bob);
    let cdrs = v.cdrs(2);
    let carols = cdrs.lines().find(|l| l.contains("(carol)")).unwrap_or("");
    assert!(
        carols.contains("busy") && carols.contains("486"),
        "{}",
        cdrs
    );
}

/// Busy, no-answer and not-registered forwards to a number: each goes out through the
/// carrier as bob's external call (the record names the forward and the carrier).
#[test]
fn every_forward_type_reaches_a_number_through_the_carrier() {
    for (ty, bob_answers, extra) in [
        ("busy", Some("uas_busy.xml"), ""),
        ("no_answer", Some("uas_ring.xml"), "timeout = 2"),
        ("not_registered", None, ""),
    ] {
        let carrier_port = free_port("127.0.0.5");
        let lab = format!(
            "{}\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\nport = {}\n",
            provision(&forward(
                "bob",
                ty,
                "target = \"number\"\nnumber = \"+34600111222\"",
                extra,
            )),
            carrier_port
        )
        .replacen(
            "domain = \"127.0.0.1\"\n",
            "domain = \"127.0.0.1\"\noutgoing_ddi = \"+34944000100\"\n",
            1,
        ) + "\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000100\"\n";
        let v = Vozbox::start(&format!("fwd-number-{}", ty), "", &lab);
        let bob = bob_answers.map(|s| callee(&v, "127.0.0.1", BOB, s));
        let carrier = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", carrier_port);
        sipp_ok(&alice_calls_bob(&v, "uac_call.xml"));
        if let Some(b) = bob {
            done(b);
        }
        let seen = done(carrier);
        assert!(
            seen.messages.lines().any(|l| l.starts_with("Diversion:")
                && l.contains("+34944000100")
                && l.contains(if ty == "busy" {
                    "user-busy"
                } else if ty == "no_answer" {
                    "no-answer"
                } else {
                    "unavailable"
                })),
            "{}: {}",
            ty,
            seen.messages
        );
        let cdr = last_cdr(&v);
        assert!(
            cdr.contains(&format!("user:bob >{}> carrier:upstream:+34600111222", ty))
                && cdr.contains("answered"),
            "{}: {}",
            ty,
            cdr
        );
    }
}

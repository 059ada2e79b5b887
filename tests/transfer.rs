//! Call transfers (REFER, issue 21) against the real binary with SIPp phones: alice calls
//! bob and transfers the call — to an extension (carol), to a number out through the
//! carrier (also one by host name whose first SRV target answers `503`), to a busy target
//! (the call survives), to a number her ACL refuses (403, the carrier never called); bob
//! transfers alice; baresip phones hear each other after it. The NOTIFY bodies
//! (message/sipfrag) are read from alice's trace; the records tell the story.

mod common;
use common::*;
use std::time::Duration;

const CAROL: (&str, &str) = ("carol", "Carol-Secret-33");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

fn provision(extra: &str) -> String {
    format!(
        "{}\n[[user]]\nclient = \"bluebird\"\nname = \"carol\"\nextension = \"102\"\npassword = \"Carol-Secret-33\"\n\n[[call_acl]]\nclient = \"bluebird\"\nname = \"nothing-out\"\ndefault_policy = \"deny\"\n{}",
        PROVISION, extra
    )
}

/// alice calls 101 (bob) and, once answered, sends REFER with `Refer-To: refer_to`.
fn alice_transfers(v: &Vozbox, scenario: &str, refer_to: &str) -> Sipp {
    alice_transfers_with(&v.addr(), scenario, refer_to, &[])
}

/// The same with more SIPp arguments (`-d`: how long a failed transfer's call goes on).
fn alice_transfers_with(addr: &str, scenario: &str, refer_to: &str, extra: &[&str]) -> Sipp {
    let uri = format!("101@{}", addr);
    let mut args = vec!["-auth_uri", uri.as_str()];
    args.extend_from_slice(extra);
    sipp(
        scenario,
        addr,
        "u1",
        "127.0.0.1",
        &format!(
            "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;101;{}\n",
            refer_to
        ),
        &args,
    )
}

fn done(uas: SippUas) -> Sipp {
    let s = uas.wait(Duration::from_secs(30));
    sipp_ok(&s);
    s
}

/// The sipfrag status lines of the NOTIFYs a transferor received, in order.
fn sipfrags(transferor: &Sipp) -> Vec<String> {
    transferor
        .messages
        .split("NOTIFY sip:")
        .skip(1)
        .filter_map(|m| {
            m.lines()
                .find(|l| l.trim_start().starts_with("SIP/2.0 "))
                .map(|l| l.trim().to_string())
        })
        .collect()
}

/// The records, once there are `n`, as JSON (newest first).
fn records(v: &Vozbox, n: usize) -> Vec<serde_json::Value> {
    v.cdrs(n);
    let (_, r) = v.api_as(&v.token(), "GET", "/api/cdrs", None);
    r["items"].as_array().cloned().unwrap_or_default()
}

/// The record among `cdrs` with that disposition.
fn with(cdrs: &[serde_json::Value], disposition: &str) -> serde_json::Value {
    cdrs.iter()
        .find(|c| c["disposition"] == disposition)
        .cloned()
        .unwrap_or_else(|| panic!("no {} record in {:?}", disposition, cdrs))
}

/// The INVITE a SIPp callee received first.
fn first_invite(s: &Sipp) -> String {
    let at = s.messages.find("INVITE sip:").unwrap_or(0);
    s.messages[at..].chars().take(2000).collect()
}

#[test]
fn a_blind_transfer_to_an_extension_joins_the_callee_and_the_target() {
    let v = Vozbox::start("xfer-ext", "[media]\ntimeout = 0\n", &provision(""));
    let bob = callee(&v, "127.0.0.1", BOB, "uas_transferee.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer.xml");
    let alice = alice_transfers(&v, "uac_refer.xml", "<sip:102@127.0.0.1>");
    sipp_ok(&alice);
    // carol was called without an offer (hers goes to bob), and bob hung up on her
    let carol = done(carol);
    let invite = first_invite(&carol);
    assert!(invite.contains("Content-Length: 0"), "{}", invite);
    assert!(carol.messages.contains("BYE sip:"), "{}", carol.messages);
    done(bob);
    assert_eq!(
        sipfrags(&alice),
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    let cdrs = records(&v, 2);
    let before = with(&cdrs, "transferred");
    assert_eq!(before["transferred_by"], "user:alice");
    assert_eq!(before["route"], "user:bob");
    let after = with(&cdrs, "answered");
    assert_eq!(after["transferred_by"], "user:alice");
    assert_eq!(after["route"], "user:carol");
    assert_eq!(after["callee"], "102");
}

#[test]
fn a_blind_transfer_to_a_number_goes_out_through_the_carrier_as_the_transferors_call() {
    let carrier_port = free_port("127.0.0.5");
    let prov = provision(&format!(
        "\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\nport = {}\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000111\"\n",
        carrier_port
    ))
    .replacen(
        "extension = \"100\"\n",
        "extension = \"100\"\noutgoing_ddi = \"+34944000111\"\n",
        1,
    );
    let v = Vozbox::start("xfer-out", "[media]\ntimeout = 0\n", &prov);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_transferee.xml");
    let carrier = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", carrier_port);
    let alice = alice_transfers(&v, "uac_refer.xml", "<sip:+34600111222@127.0.0.1>");
    sipp_ok(&alice);
    let seen = done(carrier);
    done(bob);
    // the carrier sees alice's own number: the call is hers
    let invite = first_invite(&seen);
    let from = invite
        .lines()
        .find(|l| l.trim_start().starts_with("From:"))
        .unwrap_or("");
    assert!(from.contains("+34944000111"), "{}", invite);
    assert_eq!(
        sipfrags(&alice),
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    let cdrs = records(&v, 2);
    let after = with(&cdrs, "answered");
    assert_eq!(after["route"], "carrier:upstream:+34600111222");
    assert_eq!(after["direction"], "outbound");
    assert_eq!(after["transferred_by"], "user:alice");
}

#[test]
fn a_transfer_to_a_number_fails_over_through_the_srv_targets_of_a_carrier_by_name() {
    // sip.test's first SRV target answers 503, the second the call
    let (p1, p2) = (free_port("127.0.0.5"), free_port("127.0.0.8"));
    let dns = common::dns::dns_server(
        "xfer-dns",
        &format!(
            "_sip._udp.sip.test. 60 IN SRV 10 10 {p1} a.sip.test.\na.sip.test. 60 IN A 127.0.0.5\n\
             _sip._udp.sip.test. 60 IN SRV 20 10 {p2} b.sip.test.\nb.sip.test. 60 IN A 127.0.0.8\n"
        ),
    );
    let prov = provision(
        "\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"sip.test\"\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000111\"\n",
    )
    .replacen(
        "extension = \"100\"\n",
        "extension = \"100\"\noutgoing_ddi = \"+34944000111\"\n",
        1,
    );
    let config = format!(
        "[media]\ntimeout = 0\n[calls]\ncarrier_timeout = 2\n{}",
        dns.config()
    );
    let v = Vozbox::start("xfer-dns", &config, &prov);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_transferee.xml");
    let first = SippUas::start("uas_503.xml", "u1", "127.0.0.5", p1);
    let second = SippUas::start("uas_answer.xml", "u1", "127.0.0.8", p2);
    let alice = alice_transfers(&v, "uac_refer.xml", "<sip:+34600111222@127.0.0.1>");
    sipp_ok(&alice);
    let first = done(first);
    let second = done(second);
    done(bob);
    // both were asked as alice's call, by the carrier's name (RFC 3263)
    for seen in [&first, &second] {
        let invite = first_invite(seen);
        assert!(
            invite.starts_with("INVITE sip:+34600111222@sip.test SIP/2.0"),
            "{}",
            invite
        );
        assert!(invite.contains("+34944000111"), "{}", invite);
    }
    assert_eq!(
        sipfrags(&alice),
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    let cdrs = records(&v, 2);
    let after = with(&cdrs, "answered");
    assert_eq!(after["route"], "carrier:upstream:+34600111222");
    assert_eq!(after["carrier"], "upstream");
    assert_eq!(after["transferred_by"], "user:alice");
}

#[test]
fn a_transfer_to_a_busy_target_leaves_the_call_as_it_was() {
    let v = Vozbox::start("xfer-busy", "[media]\ntimeout = 0\n", &provision(""));
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_busy.xml");
    let alice = alice_transfers(&v, "uac_refer_failed.xml", "<sip:102@127.0.0.1>");
    sipp_ok(&alice);
    done(carol);
    // bob is still talking to alice: her BYE reaches him
    let bob = done(bob);
    assert!(bob.messages.contains("BYE sip:"), "{}", bob.messages);
    assert_eq!(
        sipfrags(&alice),
        ["SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"]
    );
    let cdrs = records(&v, 1);
    assert_eq!(cdrs.len(), 1, "{:?}", cdrs);
    assert_eq!(cdrs[0]["disposition"], "answered");
    assert!(cdrs[0].get("transferred_by").is_none(), "{:?}", cdrs[0]);
}

/// An internal call holds no place in the client's max calls; a transfer of it to a number
/// takes one for the call through the carrier, and gives it back when that fails: the
/// client's calls are not held down by a call that stays internal.
#[test]
fn a_failed_transfer_to_a_number_gives_back_its_place_in_the_max_calls() {
    let carrier_port = free_port("127.0.0.5");
    let prov = provision(&format!(
        "\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\nport = {}\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000111\"\n",
        carrier_port
    ))
    .replacen(
        "extension = \"100\"\n",
        "extension = \"100\"\noutgoing_ddi = \"+34944000111\"\n",
        1,
    )
    .replacen(
        "name = \"bluebird\"\ndomain = \"127.0.0.1\"\n",
        "name = \"bluebird\"\ndomain = \"127.0.0.1\"\nmax_calls = 1\n",
        1,
    );
    let v = Vozbox::start("xfer-uncount", "[media]\ntimeout = 0\n", &prov);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let carrier = SippUas::start("uas_ring_busy.xml", "u1", "127.0.0.5", carrier_port);
    let usage = || v.cli_args(&["usage", "--client", "bluebird"]);
    let until = |what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while !usage().contains(what) {
            assert!(std::time::Instant::now() < deadline, "{}", usage());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::thread::scope(|s| {
        // alice's call goes on 4 s after her transfer failed
        let addr = v.addr();
        let alice = s.spawn(move || {
            let to = "<sip:+34600111222@127.0.0.1>";
            alice_transfers_with(&addr, "uac_refer_failed.xml", to, &["-d", "4000"])
        });
        // while the carrier rings, the transfer holds the client's one place
        until(" 1/1 ");
        // it said 486: the place is given back at once, the call goes on
        done(carrier);
        until(" 0/1 ");
        let alice = alice.join().expect("alice");
        sipp_ok(&alice);
        assert_eq!(
            sipfrags(&alice),
            [
                "SIP/2.0 100 Trying",
                "SIP/2.0 180 Ringing",
                "SIP/2.0 486 Busy Here"
            ]
        );
    });
    done(bob);
}

#[test]
fn a_transfer_is_no_way_around_the_transferors_acl() {
    let carrier_port = free_port("127.0.0.5");
    let prov = provision(&format!(
        "\n[[carrier]]\nbrand = \"acme\"\nname = \"upstream\"\naddress = \"127.0.0.5\"\nport = {}\n",
        carrier_port
    ))
    .replacen(
        "extension = \"100\"\n",
        "extension = \"100\"\ncall_acl = \"nothing-out\"\n",
        1,
    );
    let v = Vozbox::start("xfer-acl", "[media]\ntimeout = 0\n", &prov);
    let carrier = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", carrier_port);
    let bob = callee(&v, "127.0.0.1", BOB, "uas_answer.xml");
    let alice = alice_transfers(&v, "uac_refer_failed.xml", "<sip:+34600111222@127.0.0.1>");
    sipp_ok(&alice);
    done(bob);
    let frags = sipfrags(&alice);
    assert_eq!(frags.len(), 2, "{:?}", frags);
    assert!(frags[1].starts_with("SIP/2.0 403"), "{:?}", frags);
    // the carrier was never called
    let seen = carrier.wait(Duration::from_millis(500));
    assert!(!seen.messages.contains("INVITE sip:"), "{}", seen.messages);
    let cdrs = records(&v, 1);
    assert_eq!(cdrs.len(), 1, "{:?}", cdrs);
    assert_eq!(cdrs[0]["disposition"], "answered");
}

/// A baresip phone answering automatically with a `tone` Hz sine, quitting after `secs`.
fn baresip_phone(
    v: &Vozbox,
    name: &str,
    (user, pw): (&str, &str),
    tone: u32,
    secs: u32,
) -> (std::path::PathBuf, std::process::Child) {
    let (dir, _) = baresip_dir(
        name,
        &format!(
            "<sip:{}@127.0.0.1:{};transport=udp>;auth_pass={};regint=60;answermode=auto;audio_codecs=PCMU",
            user, v.port, pw
        ),
        tone,
    );
    let child = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", &secs.to_string(), "-s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run baresip (apt-get install baresip-core)");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !v
        .registrations()
        .contains(&format!("sip:{}@127.0.0.1", user))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not register",
            user
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (dir, child)
}

/// alice (SIPp, no media of her own) calls bob's baresip phone and transfers him to
/// carol's: once the transfer is made they hear each other's tone through the relay.
#[test]
fn baresip_phones_hear_each_other_after_a_transfer() {
    let v = Vozbox::start("xfer-audio", "[media]\ntimeout = 0\n", &provision(""));
    let (bob_dir, bob) = baresip_phone(&v, "bob", BOB, 880, 12);
    let (carol_dir, carol) = baresip_phone(&v, "carol", CAROL, 440, 9);
    let alice = alice_transfers(&v, "uac_refer.xml", "<sip:102@127.0.0.1>");
    sipp_ok(&alice);
    let frags = sipfrags(&alice);
    // (a baresip phone answering at once may not ring)
    let rang = [
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
    ];
    assert!(
        frags == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"] || frags == rang,
        "{:?}",
        frags
    );
    let out = |c: std::process::Child| {
        let o = c.wait_with_output().expect("baresip");
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let carol_out = out(carol);
    let bob_out = out(bob);
    assert!(
        carol_out.contains("Call established") || carol_out.contains("established"),
        "{}",
        carol_out
    );
    assert!(!bob_out.is_empty());
    // each heard the other's tone (bob: only silence from alice before)
    assert_heard(&carol_dir, 880.0, 440.0);
    assert_heard(&bob_dir, 440.0, 880.0);
    let cdrs = records(&v, 2);
    assert!(
        cdrs.iter()
            .any(|c| c["disposition"] == "answered" && c["transferred_by"] == "user:alice"),
        "{:?}",
        cdrs
    );
}

/// The callee transfers: bob (SIPp) answers alice and REFERs her to carol (102); alice is
/// re-INVITEd with carol's offer, and her hang-up reaches carol.
#[test]
fn a_blind_transfer_by_the_callee_joins_the_caller_and_the_target() {
    let v = Vozbox::start("xfer-callee", "[media]\ntimeout = 0\n", &provision(""));
    let bob = callee(&v, "127.0.0.1", BOB, "uas_refer.xml");
    let carol = callee(&v, "127.0.0.1", CAROL, "uas_answer.xml");
    let alice = alice_dials(
        &v,
        "uac_transferee.xml",
        "101",
        "u1",
        "127.0.0.1",
        &["-d", "1500"],
    );
    sipp_ok(&alice);
    let bob = done(bob);
    let carol = done(carol);
    // bob heard how it went (carol rang, then answered), then was hung up; alice's BYE
    // reached carol
    assert_eq!(
        sipfrags(&bob),
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ]
    );
    assert!(carol.messages.contains("BYE sip:"), "{}", carol.messages);
    let cdrs = records(&v, 2);
    let before = with(&cdrs, "transferred");
    assert_eq!(before["transferred_by"], "user:bob");
    let after = with(&cdrs, "answered");
    assert_eq!(after["transferred_by"], "user:bob");
    assert_eq!(after["route"], "user:carol");
}

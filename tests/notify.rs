//! Voice notifications against real peers: a baresip phone records the locution it hears
//! as early media before the final response (three causes); SIPp sees 183 with SDP before
//! the final and the test checks the RTP itself (pacing fields, codec, length); the
//! client's language picks the folder (with English as fallback); with notifications off
//! only the final response comes.

mod common;
use common::audio::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const NOTIFY: &str = r#"
[[brand]]
name = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = 5099
transport = "udp"

[[ddi_provider]]
brand = "acme"
name = "trunk-in"
addresses = ["127.0.0.6"]

[[ddi]]
client = "bluebird"
number = "+34944000150"
route = "extension"
extension = "500"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
country = "ES"
voice_notifications = true
language = "en"

[[client]]
brand = "acme"
name = "azulejo"
domain = "es.example"
outgoing_ddi = "+34944000200"
country = "ES"
voice_notifications = true
language = "es"

[[client]]
brand = "acme"
name = "bleu"
domain = "fr.example"
outgoing_ddi = "+34944000300"
country = "ES"
voice_notifications = true
language = "fr"

[[client]]
brand = "acme"
name = "quiet"
domain = "quiet.example"
outgoing_ddi = "+34944000400"
country = "ES"

[[call_acl]]
client = "bluebird"
name = "national"
default_policy = "deny"
rules = [{ priority = 1, policy = "allow", pattern = "^\\+34[0-9]+$" }]

[[call_acl]]
client = "azulejo"
name = "none"
default_policy = "deny"

[[call_acl]]
client = "bleu"
name = "none"
default_policy = "deny"

[[call_acl]]
client = "quiet"
name = "none"
default_policy = "deny"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"
call_acl = "national"

[[extension]]
client = "bluebird"
number = "500"
route = "locution"
locution = "welcome"

[[extension]]
client = "azulejo"
number = "500"
route = "locution"
locution = "welcome"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

[[user]]
client = "azulejo"
name = "maria"
extension = "100"
password = "Maria-Secret-4"
call_acl = "none"

[[user]]
client = "bleu"
name = "pierre"
extension = "100"
password = "Pierre-Secret-5"
call_acl = "none"

[[user]]
client = "quiet"
name = "quinn"
extension = "100"
password = "Quinn-Secret-6"
call_acl = "none"
"#;
/// alice (baresip) dials `number`, hears the notification as early media and gets `code`;
/// what she recorded must be the `cause` locution: as long (±10 %) and with its envelope.
fn baresip_hears(number: &str, cause: &str, code: &str) {
    let v = Vozbox::start(&format!("notify-{}", cause), "", NOTIFY);
    let (dir, _) = baresip_dir(
        "alice",
        &format!(
            "<sip:alice@127.0.0.1:{};transport=udp>;auth_pass=Alice-Secret-1;regint=0",
            v.port
        ),
        440,
    );
    let out = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", "6", "-s", "-e"])
        .arg(format!("/dial sip:{}@127.0.0.1:{}", number, v.port))
        .output()
        .expect("run baresip (apt-get install baresip-core)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let early = text
        .find("SIP/2.0 183")
        .expect("a 183 with the notification");
    let fin = text
        .find(&format!("SIP/2.0 {}", code))
        .unwrap_or_else(|| panic!("no {} in {}", code, text));
    assert!(early < fin, "the 183 must come before the final response");
    let rec = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("no recording: {}", text));
    let heard = wav_samples(&rec);
    let want = sound("en", cause);
    let (h, w) = (trimmed(&heard), trimmed(&want));
    let ratio = h.len() as f64 / w.len() as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "heard {} samples of sound, the locution has {}",
        h.len(),
        w.len()
    );
    let c = correlation(&envelope(h), &envelope(w));
    assert!(c > 0.8, "envelope correlation {:.2}", c);
}

#[test]
fn acl_denied_call_hears_not_allowed_then_403() {
    baresip_hears("0044207946000", "not_allowed", "403");
}

#[test]
fn unregistered_callee_hears_not_available_then_480() {
    baresip_hears("101", "not_available", "480");
}

#[test]
fn unknown_number_hears_not_in_service_then_404() {
    baresip_hears("nobody", "not_in_service", "404");
}

/// A SIPp caller (`domain`, user, password) dials `number`; the test listens where its SDP
/// asks for audio. Returns SIPp's messages and the RTP packets received.
fn sipp_notice(
    v: &Vozbox,
    (domain, user, pw): (&str, &str, &str),
    number: &str,
    scenario: &str,
) -> (Sipp, Vec<Vec<u8>>) {
    let auth = format!("[authentication username={} password={}]", user, pw);
    listening(v, scenario, "127.0.0.1", (domain, &auth, user, number))
}

/// Runs `scenario` from `local_ip` with the fields (domain, credentials, user, number) and
/// the port of a socket of the test as field 4, and collects what arrives on that socket.
fn listening(
    v: &Vozbox,
    scenario: &str,
    local_ip: &str,
    (domain, auth, user, number): (&str, &str, &str, &str),
) -> (Sipp, Vec<Vec<u8>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let csv = format!(
        "SEQUENTIAL\n{};{};{};{};{}\n",
        domain, auth, user, number, port
    );
    let addr = v.addr();
    std::thread::scope(|s| {
        let caller = s.spawn(|| {
            sipp(
                scenario,
                &addr,
                "u1",
                local_ip,
                &csv,
                &["-auth_uri", &format!("{}@{}", number, addr)],
            )
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => got.push(buf[..n].to_vec()),
                Err(_) if caller.is_finished() => break,
                Err(_) => {}
            }
        }
        (caller.join().expect("caller"), got)
    })
}

fn frames(lang: &str, cause: &str) -> usize {
    sound(lang, cause).len().div_ceil(160)
}

/// alice dials a number her ACL denies and must hear the whole `not_allowed` locution (183
/// first, frame for frame within 2) and then the 403.
fn alice_hears_not_allowed(v: &Vozbox) {
    let (c, rtp) = sipp_notice(
        v,
        ("127.0.0.1", "alice", "Alice-Secret-1"),
        "0044207946000",
        "uac_notice.xml",
    );
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 183"), "{}", c.messages);
    assert!(c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    let n = frames("en", "not_allowed");
    assert!(
        rtp.len().abs_diff(n) <= 2,
        "{} packets for {} frames",
        rtp.len(),
        n
    );
}

#[test]
fn sipp_sees_183_then_403_and_the_rtp_is_paced_right() {
    let v = Vozbox::start("notify-sipp", "", NOTIFY);
    let (c, rtp) = sipp_notice(
        &v,
        ("127.0.0.1", "alice", "Alice-Secret-1"),
        "0044207946000",
        "uac_notice.xml",
    );
    sipp_ok(&c);
    let i183 = c.messages.find("SIP/2.0 183").expect("183");
    let i403 = c.messages.find("SIP/2.0 403").expect("403");
    assert!(i183 < i403);
    let n = frames("en", "not_allowed");
    assert!(
        rtp.len().abs_diff(n) <= 2,
        "{} packets for {} frames",
        rtp.len(),
        n
    );
    assert_eq!(rtp[0][1], 0x80, "marker and PCMU on the first packet");
    let field =
        |p: &[u8], i: usize, len: usize| p[i..i + len].iter().fold(0u64, |a, &b| a << 8 | b as u64);
    for w in rtp.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert_eq!(b.len(), 172);
        assert_eq!(b[0] >> 6, 2, "RTP version 2");
        assert_eq!(b[1] & 0x7f, 0, "PCMU");
        assert_eq!(field(b, 8, 4), field(a, 8, 4), "one SSRC");
        assert_eq!(
            (field(b, 2, 2) + 65536 - field(a, 2, 2)) % 65536,
            1,
            "sequence +1"
        );
        assert_eq!(
            (field(b, 4, 4) + (1 << 32) - field(a, 4, 4)) % (1 << 32),
            160,
            "timestamp +160"
        );
    }
}

#[test]
fn the_clients_language_picks_the_folder_with_english_as_fallback() {
    let v = Vozbox::start("notify-lang", "", NOTIFY);
    let (c, es) = sipp_notice(
        &v,
        ("es.example", "maria", "Maria-Secret-4"),
        "0044207946000",
        "uac_notice.xml",
    );
    sipp_ok(&c);
    let n = frames("es", "not_allowed");
    assert!(
        es.len().abs_diff(n) <= 2,
        "es: {} packets for {} frames",
        es.len(),
        n
    );
    let (c, fr) = sipp_notice(
        &v,
        ("fr.example", "pierre", "Pierre-Secret-5"),
        "0044207946000",
        "uac_notice.xml",
    );
    sipp_ok(&c);
    let n = frames("en", "not_allowed");
    assert!(
        fr.len().abs_diff(n) <= 2,
        "fr → en: {} packets for {} frames",
        fr.len(),
        n
    );
    assert_ne!(frames("es", "not_allowed"), frames("en", "not_allowed"));
}

#[test]
fn notifications_off_gives_only_the_final_response() {
    let v = Vozbox::start("notify-off", "", NOTIFY);
    let (c, rtp) = sipp_notice(
        &v,
        ("quiet.example", "quinn", "Quinn-Secret-6"),
        "0044207946000",
        "uac_refused.xml",
    );
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    assert!(!c.messages.contains("SIP/2.0 183"), "{}", c.messages);
    assert!(rtp.is_empty());
}

/// A branch's failure (the callee is busy) is told as well: 183 with "busy", then 486.
#[test]
fn a_busy_callee_is_told_then_486() {
    let v = Vozbox::start("notify-busy", "", NOTIFY);
    let port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), port);
    let bob = SippUas::start("uas_busy.xml", "u1", "127.0.0.1", port);
    let (c, rtp) = sipp_notice(
        &v,
        ("127.0.0.1", "alice", "Alice-Secret-1"),
        "101",
        "uac_notice.xml",
    );
    sipp_ok(&c);
    sipp_ok(&bob.wait(Duration::from_secs(10)));
    assert!(c.messages.contains("SIP/2.0 486"), "{}", c.messages);
    let n = frames("en", "busy");
    assert!(
        rtp.len().abs_diff(n) <= 2,
        "{} packets for {} frames",
        rtp.len(),
        n
    );
}

/// An extension routed to a locution answers, plays it in the client's language and hangs
/// up when it ends.
#[test]
fn an_extension_plays_a_locution_then_hangs_up() {
    let v = Vozbox::start("notify-locution", "", NOTIFY);
    for (who, lang) in [
        (("127.0.0.1", "alice", "Alice-Secret-1"), "en"),
        (("es.example", "maria", "Maria-Secret-4"), "es"),
    ] {
        let (c, rtp) = sipp_notice(&v, who, "500", "uac_locution.xml");
        sipp_ok(&c);
        assert!(c.messages.contains("BYE sip:"), "{}", c.messages);
        let n = frames(lang, "welcome");
        assert!(
            rtp.len().abs_diff(n) <= 2,
            "{}: {} packets for {} frames",
            lang,
            rtp.len(),
            n
        );
    }
    // and by DDI, from a DDI provider, through that extension
    let (c, rtp) = listening(
        &v,
        "uac_locution_noauth.xml",
        "127.0.0.6",
        ("127.0.0.1", "-", "trunk", "+34944000150"),
    );
    sipp_ok(&c);
    let n = rtp.len();
    assert!(
        n.abs_diff(frames("en", "welcome")) <= 2,
        "{} packets by DDI",
        n
    );
    let cdrs = v.cdrs(3);
    assert!(
        cdrs.contains("locution:welcome") && cdrs.contains("answered"),
        "{}",
        cdrs
    );
    assert!(cdrs.contains("inbound"), "{}", cdrs);
}

/// Without the sound files the start names what is missing and a failed call gets the
/// plain final response (never a silent stream).
#[test]
fn a_sounds_folder_overrides_file_by_file_and_a_broken_file_is_named() {
    let dir = temp_dir("notify-missing");
    let port = free_port("127.0.0.1");
    let custom = dir.join("custom-sounds");
    std::fs::create_dir_all(custom.join("en")).unwrap();
    std::fs::write(custom.join("en/not_allowed.wav"), b"not a wav").unwrap();
    let v = Vozbox::start_in(
        dir,
        port,
        &format!("[media]\nsounds = \"{}\"\n", custom.display()),
        NOTIFY,
    );
    assert!(
        v.log().contains("not_allowed.wav") && v.log().contains("the built-in one plays"),
        "{}",
        v.log()
    );
    // the broken file is not used: the built-in locution plays in full, then the 403
    alice_hears_not_allowed(&v);
}

/// The binary copied to an empty directory and run from there (no `sounds/` beside it, the
/// default `[media] sounds`): the built-in locution plays, frame for frame.
#[test]
fn the_binary_run_from_an_empty_directory_plays_the_built_in_locution() {
    let v = Vozbox::start_elsewhere("notify-anywhere", "", NOTIFY);
    assert!(
        v.log().contains("the built-in sounds (") && v.log().contains("sounds is not a folder)"),
        "{}",
        v.log()
    );
    alice_hears_not_allowed(&v);
}

/// The caller hangs up while hearing the notification: CANCEL gets 200 and the INVITE 487,
/// the locution stops, and nothing is left running.
#[test]
fn cancel_during_a_notification_stops_it_with_487() {
    let v = Vozbox::start("notify-cancel", "", NOTIFY);
    let (c, rtp) = sipp_notice(
        &v,
        ("127.0.0.1", "alice", "Alice-Secret-1"),
        "0044207946000",
        "uac_notice_cancel.xml",
    );
    sipp_ok(&c);
    assert!(!c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    let n = frames("en", "not_allowed");
    assert!(
        rtp.len() + 40 < n,
        "{} of {} packets: it did not stop",
        rtp.len(),
        n
    );
    assert!(v.cdrs(1).contains("cancelled"), "{}", v.cdrs(1));
    // (a relay thread lets go of an ended session within 100 ms: `media/relay.rs`, REAP)
    let idle = |c: &str| c.contains("0 active call(s)") && c.contains("0 relay port pair(s)");
    let start = std::time::Instant::now();
    let mut calls = v.calls();
    while !idle(&calls) && start.elapsed() < std::time::Duration::from_secs(3) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        calls = v.calls();
    }
    assert!(idle(&calls), "{}", calls);
}

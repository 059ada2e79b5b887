//! Call recording against real peers: a DDI that records every call (two baresip phones
//! with their own tones: the caller left, the callee right), on demand by `*` + the code
//! as RFC 4733 events (only that window is kept) and by SIP INFO `Record: on|off` (`403`
//! when the client has none), a stalled writer (a tiny queue) marking the recording
//! incomplete while the relay forwards every packet, and removal as the client allows.

mod common;
use common::rtp::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const LAB: &str = r#"
[[brand]]
name = "acme"

[[ddi_provider]]
brand = "acme"
name = "trunk-in"
addresses = ["127.0.0.6"]

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
on_demand_record = "ONDEMAND"
recording_code = "5"
allow_recording_removal = REMOVAL

[[ddi]]
client = "bluebird"
number = "+34944000150"
route = "user"
user = "bob"
record = true

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"
"#;

fn lab(on_demand: &str, removal: bool) -> String {
    LAB.replace("ONDEMAND", on_demand)
        .replace("REMOVAL", &removal.to_string())
}

fn recordings(v: &Vozbox) -> Vec<serde_json::Value> {
    let out = v.cli_args(&["recordings", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {}", e, out))
}

/// The recordings once there are `n` (a recording is kept when its call has ended).
fn wait_for(v: &Vozbox, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = recordings(v);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Left and right channels of a stereo 16-bit WAV.
fn channels(path: &str) -> (Vec<i16>, Vec<i16>) {
    let s = wav_samples(std::path::Path::new(path));
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}

fn ulaw(sample: i16) -> u8 {
    // the encoder vozbox's prompts use, written here from G.711 (µ-law, bias 0x84)
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s - 1;
        0x80
    } else {
        0
    };
    s = s.min(32635) + 0x84;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// The caller's media, from the test's socket: a 440 Hz tone in 20 ms PCMU packets to the
/// relay for `secs`, and `*5` as RFC 4733 events (payload type 101) at the seconds in
/// `codes`; with `burst`, the packets go 8 at a time (a tiny queue overflows).
fn speak(sock: &UdpSocket, relay: u16, secs: f64, codes: &[f64], burst: bool) -> u64 {
    speak_in(sock, relay, 0, secs, codes, burst)
}

/// `speak` in payload type `pt` (the µ-law bytes whatever it says: 18 is G.729's number).
fn speak_in(sock: &UdpSocket, relay: u16, pt: u8, secs: f64, codes: &[f64], burst: bool) -> u64 {
    let to = ("127.0.0.1", relay);
    let (mut seq, mut ts, mut sent) = (0u16, 0u32, 0u64);
    let start = Instant::now();
    let mut codes: Vec<f64> = codes.to_vec();
    let packets = (secs * 50.0) as u32;
    let mut phase = 0f64;
    for i in 0..packets {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&SSRC.to_be_bytes());
        for _ in 0..160 {
            p.push(ulaw((phase.sin() * 8000.0) as i16));
            phase += 2.0 * std::f64::consts::PI * 440.0 / 8000.0;
        }
        sock.send_to(&p, to).unwrap();
        sent += 1;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        let at = i as f64 * 0.02;
        if codes.first().is_some_and(|&c| at >= c) {
            codes.remove(0);
            // (the keys on their own: not lost in a burst)
            std::thread::sleep(Duration::from_millis(100));
            for (n, event) in [10u8, 5].into_iter().enumerate() {
                let ets = ts.wrapping_add(n as u32 * 800);
                for end in [false, false, true, true, true] {
                    let mut e = vec![0x80, 101];
                    e.extend_from_slice(&seq.to_be_bytes());
                    e.extend_from_slice(&ets.to_be_bytes());
                    e.extend_from_slice(&SSRC.to_be_bytes());
                    e.extend_from_slice(&[event, if end { 0x8a } else { 0x0a }, 0x01, 0x40]);
                    sock.send_to(&e, to).unwrap();
                    seq = seq.wrapping_add(1);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        if burst {
            // 8 at once (what the relay reads in one go), then their time
            if i % 8 == 7 {
                std::thread::sleep(Duration::from_millis(160));
            }
        } else {
            let due = start + Duration::from_millis(20 * (i as u64 + 1));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
    sent
}

/// alice calls bob (SIPp echoing what reaches it) with her media at the test's socket,
/// for `ms`; the socket and the SIPp caller.
fn alice_calls_echoing_bob(
    v: &Vozbox,
    ms: u32,
) -> (UdpSocket, std::thread::JoinHandle<Sipp>, SippUas) {
    let bob = echoing_bob(v, "uas_answer.xml");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let addr = v.addr();
    let caller =
        std::thread::spawn(move || alice_calls_with_sdp(&addr, "101", ("127.0.0.1", port), ms));
    (sock, caller, bob)
}

#[test]
fn a_code_pressed_during_the_call_records_that_window_only() {
    let v = Vozbox::start("rec-code", "", &lab("info_dtmf", true));
    let (sock, caller, bob) = alice_calls_echoing_bob(&v, 10_000);
    let relay = caller_port(&v);
    speak(&sock, relay, 8.0, &[2.0, 5.0], false);
    sipp_ok(&caller.join().unwrap());
    let _ = bob.wait(Duration::from_secs(20));
    let list = wait_for(&v, 1);
    assert_eq!(list.len(), 1, "{:?}", list);
    let r = &list[0];
    assert_eq!(r["kind"], "ondemand");
    assert!(r["who"].as_str().unwrap_or("").contains("caller"), "{}", r);
    let secs = r["duration_s"].as_f64().unwrap();
    assert!(
        (secs - 3.0).abs() <= 0.2,
        "recorded {} s of the 3 s between the codes",
        secs
    );
    let (left, right) = channels(r["file"].as_str().unwrap());
    assert!(
        tone_power(&left, 8000.0, 440.0) > 100.0 * tone_power(&left, 8000.0, 1000.0).max(1.0),
        "no tone on the caller's channel"
    );
    // the callee echoed it back: the right channel carries it too
    assert!(
        tone_power(&right, 8000.0, 440.0) > 1000.0,
        "nothing on the callee's channel"
    );
    // the client allows removal: removed, file and all
    let id = r["id"].to_string();
    let out = v.cli_args(&["recordings", "--delete", &id]);
    assert!(out.contains("deleted"), "{}", out);
    assert!(recordings(&v).is_empty());
    assert!(!std::path::Path::new(r["file"].as_str().unwrap()).exists());
}

#[test]
fn record_on_and_off_by_info_and_refused_without_on_demand() {
    let v = Vozbox::start("rec-info", "", &lab("info", true));
    let bob = echoing_bob(&v, "uas_answer.xml");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let addr = v.addr();
    let caller = std::thread::spawn(move || {
        alice_calls_bob_from("uac_record_info.xml", &addr, port, &["-d", "3000"])
    });
    let relay = caller_port(&v);
    speak(&sock, relay, 4.0, &[], false);
    let s = caller.join().unwrap();
    sipp_ok(&s);
    assert!(s.messages.contains("200 Record On") && s.messages.contains("200 Record Off"));
    let _ = bob.wait(Duration::from_secs(20));
    let list = wait_for(&v, 1);
    assert_eq!(list.len(), 1, "{:?}", list);
    assert!(
        list[0]["who"].as_str().unwrap_or("").contains("INFO"),
        "{:?}",
        list
    );
    // the call's record says which recording was made of it
    let (_, cdrs) = v.api_as(&v.token(), "GET", "/api/cdrs", None);
    assert_eq!(
        cdrs["items"][0]["recording"],
        format!("recording {}", list[0]["id"])
    );

    // a codec it cannot decode (G.729's number): nothing kept, and the record says why
    let v = Vozbox::start("rec-info-g729", "", &lab("info", true));
    let bob = echoing_bob(&v, "uas_answer.xml");
    let addr = v.addr();
    let caller = std::thread::spawn(move || {
        alice_calls_bob_from("uac_record_info.xml", &addr, port, &["-d", "3000"])
    });
    let relay = caller_port(&v);
    speak_in(&sock, relay, 18, 4.0, &[], false);
    sipp_ok(&caller.join().unwrap());
    let _ = bob.wait(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    assert!(recordings(&v).is_empty());
    let (_, cdrs) = v.api_as(&v.token(), "GET", "/api/cdrs", None);
    let why = cdrs["items"][0]["recording"].as_str().unwrap_or("");
    assert!(why.contains("not recorded: payload type 18"), "{}", cdrs);
    assert!(v.log().contains("cannot be decoded"));

    let v = Vozbox::start("rec-info-off", "", &lab("off", true));
    let bob = echoing_bob(&v, "uas_answer.xml");
    sipp_ok(&alice_calls_bob_from(
        "uac_record_info_refused.xml",
        &v.addr(),
        port,
        &[],
    ));
    let _ = bob.wait(Duration::from_secs(20));
    assert!(recordings(&v).is_empty());
}

#[test]
fn a_stalled_writer_marks_the_recording_incomplete_and_the_call_goes_on() {
    let v = Vozbox::start(
        "rec-stalled",
        "[storage]\nrecording_queue = 2\n",
        &lab("info_dtmf", false),
    );
    let (sock, caller, bob) = alice_calls_echoing_bob(&v, 8_000);
    let relay = caller_port(&v);
    let sent = speak(&sock, relay, 5.0, &[0.1], true);
    // every packet was relayed to bob all the same
    let calls = v.calls();
    let from_a: u64 = calls
        .split(&format!("A {}: ", relay))
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // (the 10 event packets are relayed too)
    assert!(from_a >= sent, "relayed {} of {}: {}", from_a, sent, calls);
    sipp_ok(&caller.join().unwrap());
    let _ = bob.wait(Duration::from_secs(20));
    let list = wait_for(&v, 1);
    assert_eq!(list.len(), 1, "{:?}", list);
    let why = list[0]["incomplete"].as_str().unwrap_or("");
    assert!(why.contains("packets lost"), "{:?}", list);
    // the client does not allow removal: refused, by the CLI and by the API
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vozbox"))
        .args([
            "recordings",
            "--delete",
            &list[0]["id"].to_string(),
            "--config",
        ])
        .arg(&v.config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("does not allow"),
        "{}",
        err
    );
    let (code, _) = v.api("DELETE", &format!("/api/recordings/{}", list[0]["id"]));
    assert_eq!(code, 403);
    assert_eq!(recordings(&v).len(), 1);
}

/// baresip phones: alice (440 Hz) calls in through the DDI provider to the DDI that
/// records, bob (880 Hz) answers; the WAV's left channel is alice's tone and the right
/// bob's, as long as the answered call.
#[test]
fn a_ddi_records_the_whole_call_in_stereo() {
    // the trunk is on this machine's loopback address too (baresip's RTP leaves from it
    // whatever address its SIP uses)
    let v = Vozbox::start(
        "rec-ddi",
        "",
        &lab("off", true).replace("addresses = [\"127.0.0.6\"]", "addresses = [\"127.0.0.1\"]"),
    );
    let (alice_dir, _) = baresip_dir("rec-alice", "<sip:alice@127.0.0.1>;regint=0", 440);
    let (bob_dir, _) = baresip_dir(
        "rec-bob",
        &format!(
            "<sip:bob@127.0.0.1:{};transport=udp>;auth_pass=Bob-Secret-22;answermode=auto",
            v.port
        ),
        880,
    );
    let bob = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&bob_dir)
        .args(["-n", "127.0.0.1", "-t", "14", "-s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run baresip (apt-get install baresip-core)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.registrations().contains("sip:bob@127.0.0.1") {
        assert!(Instant::now() < deadline, "bob did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&alice_dir)
        .args(["-n", "127.0.0.1", "-t", "8", "-s", "-e"])
        .arg(format!("/dial sip:+34944000150@127.0.0.1:{}", v.port))
        .output()
        .expect("run baresip");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("SIP/2.0 200 OK"), "not answered: {}", text);
    let mut bob = bob;
    let _ = bob.kill();
    let _ = bob.wait();
    let list = wait_for(&v, 1);
    assert_eq!(list.len(), 1, "{:?}", list);
    let r = &list[0];
    assert_eq!(r["kind"], "ddi");
    let (left, right) = channels(r["file"].as_str().unwrap());
    let (l440, l880) = (
        tone_power(&left, 8000.0, 440.0),
        tone_power(&left, 8000.0, 880.0),
    );
    let (r440, r880) = (
        tone_power(&right, 8000.0, 440.0),
        tone_power(&right, 8000.0, 880.0),
    );
    assert!(
        l440 > 10.0 * l880,
        "left: 440 Hz {:.0}, 880 Hz {:.0}",
        l440,
        l880
    );
    assert!(
        r880 > 10.0 * r440,
        "right: 440 Hz {:.0}, 880 Hz {:.0}",
        r440,
        r880
    );
    // as long as the answered call, to 0.2 s: from the answer (the recorder starts there)
    // to the call's end, as the log timed them (the record's duration is whole seconds)
    let secs = r["duration_s"].as_f64().unwrap();
    assert!((left.len() as f64 / 8000.0 - secs).abs() < 0.05);
    let log = v.log();
    let at = |needle: &str| -> f64 {
        let line = log
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {:?} in the log", needle));
        // 2026-12-05T13:34:21.021245Z: seconds of the day
        let t = &line[11..26];
        let h: f64 = t[0..2].parse().unwrap();
        let m: f64 = t[3..5].parse().unwrap();
        let sec: f64 = t[6..].parse().unwrap();
        h * 3600.0 + m * 60.0 + sec
    };
    let answered = at("call ended") - at("started: ddi");
    assert!(
        (secs - answered).abs() <= 0.2,
        "recorded {} s, answered {:.3} s",
        secs,
        answered
    );
}

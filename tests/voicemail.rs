//! Voicemail against real peers: a baresip phone calls a user whose phone is off (its
//! not-registered forward leads to its mailbox), hears the greeting and leaves a tone; the
//! stored WAV holds that tone for as long as it was sent, the CDR says voicemail, a real
//! SMTP server gets the e-mail with the WAV attached; the owner (SIPp) dials `*93`,
//! receives the message as RTP and deletes it with `7` (SIP INFO). A message being left
//! when vozbox is killed leaves no record without a file and no file without a record.

mod common;
use common::audio::*;
use common::smtp::Sink;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const LAB: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"

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

[[voicemail]]
client = "bluebird"
name = "bob"
user = "bob"
email = "bob@bluebird.example"
send_mail = true

[[call_forward]]
client = "bluebird"
user = "bob"
call_type = "any"
forward_type = "not_registered"
target = "voicemail"
"#;

fn smtp(sink: &Sink) -> String {
    format!(
        "[smtp]\nserver = \"127.0.0.1\"\nport = {}\nfrom = \"pbx@bluebird.example\"\n",
        sink.port
    )
}

/// alice (baresip, a 440 Hz tone) calls 101 for `secs` seconds; what she printed and
/// recorded.
fn alice_calls_bob(port: u16, secs: u32) -> (String, std::path::PathBuf) {
    let (dir, _) = baresip_dir(
        "vm-alice",
        &format!(
            "<sip:alice@127.0.0.1:{};transport=udp>;auth_pass=Alice-Secret-1;regint=0",
            port
        ),
        440,
    );
    let out = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", &secs.to_string(), "-s", "-e"])
        .arg(format!("/dial sip:101@127.0.0.1:{}", port))
        .output()
        .expect("run baresip (apt-get install baresip-core)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text, dir)
}

fn messages(v: &Vozbox) -> Vec<serde_json::Value> {
    let out = v.cli_args(&["voicemail", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {}", e, out))
}

/// Whether a 20 ms frame is (nearly all) `freq` Hz: for a pure tone the Goertzel
/// magnitude is sqrt(N/2) times the frame's energy norm.
fn dominated_by(samples: &[i16], freq: f64) -> bool {
    let energy: f64 = samples
        .iter()
        .map(|&x| (x as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let pure = (samples.len() as f64 / 2.0).sqrt();
    energy > 1000.0 && tone_power(samples, 8000.0, freq) > 0.7 * pure * energy
}

/// µ-law payloads of the RTP packets `sock` receives for `secs`, decoded.
fn receive_audio(sock: &UdpSocket, secs: u64) -> Vec<i16> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n > 12 && buf[1] & 0x7f == 0 {
                out.extend(buf[12..n].iter().map(|&b| ulaw(b)));
            }
        }
    }
    out
}

fn ulaw(code: u8) -> i16 {
    let c = !code;
    let exponent = (c >> 4) & 0x07;
    let magnitude = ((((c & 0x0f) as i32) << 3) + 0x84) << exponent;
    let m = (magnitude - 0x84) as i16;
    if c & 0x80 != 0 {
        -m
    } else {
        m
    }
}

#[test]
fn a_message_is_left_mailed_heard_and_deleted() {
    let sink = Sink::start();
    let v = Vozbox::start("voicemail", &smtp(&sink), LAB);
    let (text, dir) = alice_calls_bob(v.port, 16);
    assert!(text.contains("SIP/2.0 200 OK"), "not answered: {}", text);
    // she heard the greeting first (its length and envelope)
    let heard = received(&dir);
    let want = sound("en", "vm_greeting");
    let start = heard
        .iter()
        .position(|x| x.unsigned_abs() > 300)
        .unwrap_or(0);
    let h = &heard[start..(start + want.len()).min(heard.len())];
    let c = correlation(&envelope(h), &envelope(trimmed(&want)));
    assert!(c > 0.8, "greeting envelope correlation {:.2}", c);

    // one message: the tone, for what was left of the 16 s after greeting and tone
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let l = messages(&v);
        if !l.is_empty() || Instant::now() > deadline {
            break l;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(list.len(), 1, "{:?}", list);
    let m = &list[0];
    assert_eq!(m["mailbox"], "bob");
    assert_eq!(m["new"], true);
    let secs = m["duration_s"].as_f64().unwrap();
    assert!((4.0..=8.0).contains(&secs), "message of {} s", secs);
    let file = std::path::PathBuf::from(m["file"].as_str().unwrap());
    let wav = wav_samples(&file);
    assert!(
        ((wav.len() as f64 / 8000.0) - secs).abs() < 0.1,
        "file of {} samples for {} s",
        wav.len(),
        secs
    );
    let tone = tone_power(&wav, 8000.0, 440.0);
    let other = tone_power(&wav, 8000.0, 1000.0);
    assert!(
        tone > 100.0 * other.max(1.0),
        "440 Hz {:.0} vs {:.0}",
        tone,
        other
    );
    let cdrs = v.cli_args(&["cdrs"]);
    assert!(cdrs.contains("voicemail:bob"), "{}", cdrs);

    // the e-mail, with the WAV
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mail = sink.received();
    assert!(
        mail.contains("Subject: New voicemail 1 from ") && mail.contains(" in bob"),
        "{}",
        mail
    );
    assert!(
        mail.contains("msg0001.wav") && mail.contains("audio/x-wav"),
        "{}",
        mail
    );

    // bob dials *93 from his phone: the message comes as RTP, 7 deletes it
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username=bob password=Bob-Secret-22];bob;*93;127.0.0.1;{}\n",
        port
    );
    let addr = v.addr();
    let uri = format!("*93@{}", addr);
    let listener = std::thread::spawn(move || {
        sipp(
            "uac_voicemail.xml",
            &addr,
            "u1",
            "127.0.0.1",
            &csv,
            &[
                "-auth_uri",
                &uri,
                "-d",
                &((secs as u64 + 4) * 1000).to_string(),
            ],
        )
    });
    let audio = receive_audio(&sock, secs as u64 + 8);
    let s = listener.join().unwrap();
    sipp_ok(&s);
    let tone_frames = audio.chunks(160).filter(|f| dominated_by(f, 440.0)).count();
    let tone_secs = tone_frames as f64 * 0.02;
    assert!(
        (tone_secs - secs).abs() < 0.6,
        "{} s of the tone played back, the message has {} s",
        tone_secs,
        secs
    );
    assert!(messages(&v).is_empty(), "7 did not delete the message");
    assert!(!file.exists(), "the file stayed");
}

/// bob's phone (baresip, registered, subscribed to its mailbox, never answering): alice's
/// call rings it, its no-answer forward leads to bob's mailbox after 2 s; the phone's MWI
/// goes 0 → 1 when the message is kept and back to 0 when it is deleted.
#[test]
fn the_phone_sees_its_messages_waiting_come_and_go() {
    let lab = LAB.replace(
        "forward_type = \"not_registered\"",
        "forward_type = \"no_answer\"\ntimeout = 2",
    );
    let v = Vozbox::start("voicemail-mwi", "", &lab);
    let (bob_dir, _) = baresip_dir(
        "vm-bob",
        &format!(
            "<sip:bob@127.0.0.1:{};transport=udp>;auth_pass=Bob-Secret-22;regint=60;mwi=yes;answermode=manual",
            v.port
        ),
        880,
    );
    let config = bob_dir.join("config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("module mwi.so\n");
    std::fs::write(&config, text).unwrap();
    let log = bob_dir.join("out.txt");
    let mut bob = std::process::Command::new("baresip")
        .arg("-f")
        .arg(&bob_dir)
        .args(["-n", "127.0.0.1", "-t", "60", "-s"])
        .stdout(std::process::Stdio::from(
            std::fs::File::create(&log).unwrap(),
        ))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run baresip (apt-get install baresip-core)");
    let seen = |what: &str, times: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            if out.matches(what).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {:?} ({} times) in {}",
                what,
                times,
                out
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    seen("Voice-Message: 0/0", 1);
    let (text, _) = alice_calls_bob(v.port, 16);
    assert!(text.contains("SIP/2.0 200 OK"), "not answered: {}", text);
    seen("Voice-Message: 1/0", 1);
    let list = messages(&v);
    assert_eq!(list.len(), 1, "{:?}", list);
    let cdrs = v.cli_args(&["cdrs"]);
    assert!(
        cdrs.contains("user:bob >no_answer> voicemail:bob"),
        "{}",
        cdrs
    );
    // deleted through the running server: the phone is told
    let id = list[0]["id"].to_string();
    let out = v.cli_args(&["voicemail", "--delete", &id]);
    assert!(out.contains("deleted"), "{}", out);
    seen("Voice-Message: 0/0", 2);
    let _ = bob.kill();
    let _ = bob.wait();
}

/// vozbox killed while a message is being left, and started again: no record without a
/// file, no file without a record (the message being left is lost whole).
#[test]
fn a_crash_while_a_message_is_left_leaves_nothing_half_done() {
    let mut v = Vozbox::start("voicemail-crash", "", LAB);
    let port = v.port;
    let caller = std::thread::spawn(move || alice_calls_bob(port, 16));
    // the greeting (8.5 s) and the tone are over: recording
    std::thread::sleep(Duration::from_secs(11));
    v.kill();
    let _ = caller.join();
    v.spawn(None);
    assert!(messages(&v).is_empty());
    let folder = v.dir.join("voicemail");
    let files: Vec<_> = std::fs::read_dir(&folder)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        files.iter().all(|f| f == "greetings"),
        "files left in {}: {:?}",
        folder.display(),
        files
    );
}

/// The mail of a message left while the SMTP server is down goes out once it is up, also
/// when vozbox was restarted meanwhile (the outbox is in the database).
#[test]
fn the_mail_waits_for_the_smtp_server_across_a_restart() {
    let port = free_port("127.0.0.1");
    let smtp = format!(
        "[smtp]\nserver = \"127.0.0.1\"\nport = {}\nfrom = \"pbx@bluebird.example\"\n",
        port
    );
    let mut v = Vozbox::start("voicemail-mail-later", &smtp, LAB);
    let (text, _) = alice_calls_bob(v.port, 13);
    assert!(text.contains("SIP/2.0 200 OK"), "not answered: {}", text);
    assert_eq!(messages(&v).len(), 1);
    v.kill();
    let sink = Sink::start_on(port);
    v.spawn(None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mail = sink.received();
    assert!(
        mail.contains("New voicemail 1 from") && mail.contains("msg0001.wav"),
        "{}",
        mail
    );
}

/// A user cannot subscribe to another user's mailbox (`403`), not even of its own client.
#[test]
fn another_users_mailbox_is_not_for_subscribing() {
    let v = Vozbox::start("voicemail-sub-other", "", LAB);
    let s = sipp(
        "subscribe_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;bob\n",
        &["-auth_uri", &format!("bob@{}", v.addr())],
    );
    sipp_ok(&s);
    assert!(!v.log().contains("subscribed to"), "{}", v.log());
}

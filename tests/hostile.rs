//! Hostile traffic against the real binary: SIPVicious scanners (svmap, svwar, svcrack)
//! and a flood from one address, each while a legitimate call from another address goes
//! through.

mod common;
use common::*;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// bob answers on 127.0.0.4 (registered from there), alice calls from 127.0.0.3: neither
/// shares an address with the attacker.
fn legitimate_call(v: &Vozbox) {
    let port = free_port("127.0.0.4");
    sipp_ok(&sipp_at(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.4",
        port,
        &creds("127.0.0.1", "bob", "Bob-Secret-22"),
        &[],
    ));
    let bob = SippUas::start("uas_answer.xml", "u1", "127.0.0.4", port);
    sipp_ok(&alice_dials(
        v,
        "uac_call.xml",
        "101",
        "u1",
        "127.0.0.3",
        &[],
    ));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
}

/// A running scanner, killed if the test fails before it ends.
struct Scan(Option<Child>);

impl Drop for Scan {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sipvicious(tool: &str, args: &[&str], v: &Vozbox) -> Scan {
    let c = Command::new(tool)
        .args(args)
        .args(["-p", &v.port.to_string(), "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} (apt-get install sipvicious): {}", tool, e));
    Scan(Some(c))
}

/// What the scanner printed once it ended.
fn finish(mut s: Scan) -> String {
    let out = s.0.take().unwrap().wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn scanners_learn_no_extension_and_a_password_cracker_is_banned() {
    let v = Vozbox::start("hostile-scan", "", PROVISION);
    let dir = temp_dir("hostile-scan-lists");
    let names = dir.join("names.txt");
    std::fs::write(
        &names,
        "alice\nbob\n100\n101\nhq-asterisk\nnobody\nadmin\n200\n999\n",
    )
    .unwrap();

    // svmap finds a SIP server (allowed: it is one).
    let scan = sipvicious("svmap", &[], &v);
    legitimate_call(&v);
    let out = finish(scan);
    assert!(out.contains("vozbox"), "{}", out);

    // svwar, with every method and forced past its sanity check, learns no extension:
    // real and unknown users are answered alike.
    let names = names.display().to_string();
    for method in ["REGISTER", "INVITE", "OPTIONS"] {
        for force in [false, true] {
            let mut args = vec!["-d", names.as_str(), "-m", method];
            if force {
                args.push("--force");
            }
            let scan = sipvicious("svwar", &args, &v);
            legitimate_call(&v);
            let out = finish(scan);
            assert!(out.contains("found nothing"), "svwar {:?}: {}", args, out);
            for user in ["alice", "bob", "100", "101", "hq-asterisk"] {
                assert!(
                    !out.lines().any(|l| l.starts_with(&format!("| {} ", user))),
                    "svwar {:?} found {}: {}",
                    args,
                    user,
                    out
                );
            }
        }
    }

    // svcrack against alice: alice's real password is the 24th guess; the cracker is
    // banned after 10 failures and never gets to it.
    let guesses = dir.join("guesses.txt");
    let mut list: Vec<String> = (1..24).map(|i| format!("guess-{}", i)).collect();
    list.push("Alice-Secret-1".into());
    std::fs::write(&guesses, list.join("\n") + "\n").unwrap();
    let scan = sipvicious(
        "svcrack",
        &["-u", "alice", "-d", &guesses.display().to_string()],
        &v,
    );
    std::thread::sleep(Duration::from_secs(2));
    legitimate_call(&v);
    let out = finish(scan);
    assert!(out.contains("found nothing"), "{}", out);
    assert!(!out.contains("Alice-Secret-1"), "{}", out);
    let log = v.log();
    assert!(log.contains("after 10 authentication failures"), "{}", log);
}

#[test]
fn a_flood_from_one_address_is_dropped_while_another_calls() {
    let v = Vozbox::start("hostile-flood", "", PROVISION);
    let target = v.addr();
    // 127.0.0.2 sends OPTIONS as fast as it can for 4 seconds (bounded) and counts answers.
    let flood = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.2:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let (mut sent, mut answered) = (0u64, 0u64);
        let mut buf = [0u8; 4096];
        let end = Instant::now() + Duration::from_secs(4);
        while Instant::now() < end && sent < 400_000 {
            let m = format!(
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:9;rport;branch=z9hG4bKf{sent}\r\nFrom: <sip:x@127.0.0.2>;tag=f\r\nTo: <sip:127.0.0.1>\r\nCall-ID: flood-{sent}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            );
            if s.send_to(m.as_bytes(), &target).is_ok() {
                sent += 1;
            }
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    answered += 1;
                }
            }
            if sent % 64 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        (sent, answered)
    });
    std::thread::sleep(Duration::from_millis(500));
    legitimate_call(&v);
    let (sent, answered) = flood.join().unwrap();
    assert!(sent > 5_000, "the flood sent only {}", sent);
    // The first second's allowance (200) is answered, hardly more: the rest is dropped.
    assert!(
        answered > 0 && answered <= 400,
        "{} of {} flood messages answered",
        answered,
        sent
    );
    assert!(
        v.log()
            .contains("127.0.0.2 sends over 200 messages a second"),
        "{}",
        v.log()
    );
    // Still ignored right after the flood; 127.0.0.3 is answered.
    sipp_ok(&options_from(&v, "u1", "127.0.0.3", &[]));
    let probe = options_from(&v, "u1", "127.0.0.2", &["-timeout", "3s"]);
    assert!(
        !probe.ok && !probe.messages.contains("SIP/2.0 200"),
        "a flooding address was answered: {}",
        probe.messages
    );
}

//! Media through the relay against real peers: two baresip phones sending different tones
//! hear each other's tone (PCMU and PCMA; over IPv6 with SIP over UDP and TCP; through the
//! kernel fast path); a caller behind "NAT" (its SDP unreachable)
//! gets its audio back by latching; telephone-events pass; a call without media is ended
//! by the media timeout; ports run out with 503 and always come back; a stalled relay
//! relays the newest of its backlog.

mod common;
use common::rtp::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn relay_ports(v: &Vozbox) -> String {
    v.calls().lines().last().unwrap_or_default().to_string()
}

/// `relay_ports` once every pair is back, or after 3 s: a relay thread with sessions lets
/// go of an ended one within 100 ms, not at once (`media/relay.rs`, `REAP`).
fn ports_back(v: &Vozbox) -> String {
    let start = Instant::now();
    loop {
        let ports = relay_ports(v);
        if ports.starts_with("0 relay port pair(s)") || start.elapsed() > Duration::from_secs(3) {
            return ports;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// alice (440 Hz) calls bob (880 Hz) with `codec`; each recording must hold the other's
/// tone, and the SDP each phone got must point at the relay. The server, for more checks.
fn two_phones_hear_each_other(codec: &str, config: &str) -> Vozbox {
    two_phones_hear_each_other_on(Family::V4, "udp", codec, config)
}

/// The same with the server (SIP and its relay) and both phones on `family`'s loopback,
/// SIP over `transport` ("udp", "tcp", "tls" over IPv6):
/// over IPv6 vozbox listens on [::1] alone, and the phones reach the client's domain
/// (127.0.0.1, standing for a name that resolves to ::1) through their outbound proxy.
fn two_phones_hear_each_other_on(
    family: Family,
    transport: &str,
    codec: &str,
    config: &str,
) -> Vozbox {
    let name = format!("media-{}", codec);
    // (the server, and the port the phones send SIP to)
    let (v, sip_port) = match family {
        Family::V4 => {
            let v = Vozbox::start(&name, config, PROVISION);
            let port = v.port;
            (v, port)
        }
        Family::V6 => {
            let relay = "[media]\nbind = \"::1\"\nadvertised = \"::1\"\n";
            let config = if config.contains("[media]\n") {
                config.replace("[media]\n", relay)
            } else {
                format!("{config}\n{relay}")
            };
            let port = free_port("[::1]");
            // TLS: a listener of its own beside the UDP and TCP ones
            let (config, sip_port) = if transport == "tls" {
                let tls = free_port("[::1]");
                let listen = format!(
                    "listen = [\"udp:[::1]:{port}\", \"tcp:[::1]:{port}\", \"tls:[::1]:{tls}\"]\n"
                );
                (listen + &config, tls)
            } else {
                (config, port)
            };
            let v = Vozbox::start_on("[::1]", temp_dir(&name), port, &config, PROVISION);
            (v, sip_port)
        }
    };
    let outbound = match family {
        Family::V4 => String::new(),
        Family::V6 => format!(";outbound=\"sip:[::1]:{sip_port};transport={transport}\""),
    };
    let account = |user: &str, password: &str, extra: &str| {
        let host = match family {
            Family::V4 => format!("127.0.0.1:{}", v.port),
            Family::V6 => "127.0.0.1".to_string(),
        };
        format!(
            "<sip:{user}@{host};transport={transport}>;auth_pass={password};regint=60;{extra}audio_codecs={codec}{outbound}"
        )
    };
    let (bob_dir, _) = baresip_dir_on(
        family,
        "bob",
        &account("bob", "Bob-Secret-22", "answermode=auto;"),
        880,
    );
    let (alice_dir, _) = baresip_dir_on(
        family,
        "alice",
        &account("alice", "Alice-Secret-1", ""),
        440,
    );
    let uri = match family {
        Family::V4 => format!("sip:101@127.0.0.1:{}", v.port),
        Family::V6 => "sip:101@127.0.0.1".to_string(),
    };
    let (alice_out, bob_out) = baresip_dial_on(family, &v, &alice_dir, &bob_dir, (6, 9), &uri);
    // the SIP trace: each phone's requests went over `transport`
    let via = format!("Via: SIP/2.0/{} ", transport.to_uppercase());
    assert!(alice_out.contains(&via), "{}", alice_out);
    assert!(bob_out.contains(&via), "{}", bob_out);
    let decoder = format!("Set audio decoder: {}", codec);
    assert!(alice_out.contains(&decoder), "{}", alice_out);
    assert!(bob_out.contains(&decoder), "{}", bob_out);
    // Each phone was given the relay's address and a port of this server's range.
    let first = media_range(v.port);
    let relay_c = match family {
        Family::V4 => "c=IN IP4 127.0.0.1",
        Family::V6 => "c=IN IP6 ::1",
    };
    for out in [&alice_out, &bob_out] {
        let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
        let relayed = lines.iter().position(|l| {
            l.starts_with("m=audio ")
                && l.split(' ')
                    .nth(1)
                    .and_then(|p| p.parse::<u16>().ok())
                    .is_some_and(|p| (first..first + 200).contains(&p))
        });
        let Some(at) = relayed else {
            panic!("no relay port in the SDP: {}", out);
        };
        // the relay's SDP (the body of that m= line, from its v=) gives its address of
        // the family, at session level and in the stream
        let body = lines[..at]
            .iter()
            .rposition(|l| l.starts_with("v="))
            .unwrap_or(0);
        let end = lines[at + 1..]
            .iter()
            .position(|l| !l.contains('=') || l.starts_with("v="))
            .map_or(lines.len(), |n| at + 1 + n);
        let cs: Vec<&&str> = lines[body..end]
            .iter()
            .filter(|l| l.starts_with("c="))
            .collect();
        assert!(!cs.is_empty(), "{}", out);
        assert!(cs.iter().all(|c| **c == relay_c), "{cs:?}: {out}");
    }
    // What each phone heard: the other's tone, loud, for most of the call.
    assert_heard(&alice_dir, 880.0, 440.0);
    assert_heard(&bob_dir, 440.0, 880.0);
    assert!(last_line(&v.cdrs(1)).contains("answered"));
    assert!(
        ports_back(&v).starts_with("0 relay port pair(s)"),
        "{}",
        v.calls()
    );
    v
}

fn last_line(s: &str) -> String {
    s.lines().rev().nth(1).unwrap_or_default().to_string()
}

#[test]
fn two_baresip_phones_hear_each_other_pcmu() {
    two_phones_hear_each_other("PCMU", "");
}

/// The same with the relay's kernel fast path (root): once both phones are settled their
/// audio goes through the kernel, and is heard the same.
#[test]
fn two_baresip_phones_hear_each_other_through_the_kernel() {
    let v = two_phones_hear_each_other("PCMU", "[media]\nkernel_forwarding = true\n");
    assert_through_the_kernel(&v);
}

/// SIP and media over IPv6: the phones register and call over [::1], the relay (bound to
/// ::1) gives each an `IN IP6` SDP of its own, and each hears the other.
#[test]
fn two_baresip_phones_hear_each_other_over_ipv6() {
    two_phones_hear_each_other_on(Family::V6, "udp", "PCMU", "");
}

/// The same with SIP over TCP: connections from and to IPv6 addresses.
#[test]
fn two_baresip_phones_hear_each_other_over_ipv6_and_tcp() {
    two_phones_hear_each_other_on(Family::V6, "tcp", "PCMU", "");
}

/// The same with SIP over TLS to a TLS listener on [::1].
#[test]
fn two_baresip_phones_hear_each_other_over_ipv6_and_tls() {
    two_phones_hear_each_other_on(Family::V6, "tls", "PCMU", "");
}

/// The same through the kernel fast path: its IPv6 rules, made by the running server for a
/// real call.
#[test]
fn two_baresip_phones_hear_each_other_over_ipv6_through_the_kernel() {
    let v = two_phones_hear_each_other_on(
        Family::V6,
        "udp",
        "PCMU",
        "[media]\nkernel_forwarding = true\n",
    );
    assert_through_the_kernel(&v);
}

/// The fast path started, and carried nearly all of the call's packets.
fn assert_through_the_kernel(v: &Vozbox) {
    assert!(
        v.log().contains("kernel_forwarding: settled streams"),
        "the fast path did not start (run as root): {}",
        v.log()
    );
    let (status, body) = v.api("GET", "/metrics");
    assert_eq!(status, 200);
    let count = |name: &str| -> u64 {
        body.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let (kernel, all) = (
        count("vozbox_relay_kernel_packets_total"),
        count("vozbox_relay_packets_total{"),
    );
    // 6–9 s of 20 ms packets both ways: all but the first few went through the kernel
    assert!(
        kernel >= 400 && kernel * 10 >= all * 9,
        "kernel {kernel} of {all}: {body}"
    );
}

#[test]
fn two_baresip_phones_hear_each_other_pcma() {
    // one forwarding thread serving every packet at once (the other run: the defaults)
    two_phones_hear_each_other("PCMA", "[media]\nthreads = 1\nbatch_us = 0\n");
}

/// A caller whose SDP says 192.0.2.33 (unreachable) sends its RTP from another address:
/// the relay latches onto that address, so the callee's RTP (SIPp echoing) reaches it.
/// Telephone-events (payload 101) pass like any RTP.
#[test]
fn latching_gets_audio_to_a_caller_behind_nat_and_dtmf_passes() {
    let v = Vozbox::start("media-nat", "", PROVISION);
    let bob = echoing_bob(&v, "uas_answer.xml");
    let addr = v.addr();
    let got = std::thread::scope(|s| {
        let caller = s.spawn(move || alice_calls_with_sdp(&addr, "101", ("192.0.2.33", 9), 4000));
        let relay = caller_port(&v);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        for seq in 0..60u16 {
            let pt = if seq >= 50 { 101 } else { 8 };
            sock.send_to(&rtp(pt, seq), ("127.0.0.1", relay)).unwrap();
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        sipp_ok(&caller.join().expect("caller"));
        got
    });
    let bob = bob.wait(Duration::from_secs(20));
    sipp_ok(&bob);
    assert!(got.len() >= 40, "only {} packets came back", got.len());
    assert!(
        got.iter().any(|p| p.len() > 1 && p[1] & 0x7f == 101),
        "no telephone-event came back"
    );
    assert!(got.iter().all(|p| p.len() == 172), "packets were altered");
}

#[test]
fn a_call_without_media_is_ended_by_the_media_timeout() {
    let dir = temp_dir("media-timeout");
    let port = free_port("127.0.0.1");
    let v = Vozbox::start_in(dir, port, "[media]\ntimeout = 2\n", PROVISION);
    let bob_port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), bob_port);
    let bob = SippUas::start("uas_answer.xml", "u1", "127.0.0.1", bob_port);
    // alice sends no RTP and waits for vozbox's BYE
    sipp_ok(&alice_dials(
        &v,
        "uac_call_remote_bye.xml",
        "101",
        "u1",
        "127.0.0.1",
        &[],
    ));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert!(
        last_line(&v.cdrs(1)).contains("media_timeout"),
        "{}",
        v.cdrs(1)
    );
    assert!(
        ports_back(&v).starts_with("0 relay port pair(s)"),
        "{}",
        v.calls()
    );
}

#[test]
fn no_free_relay_port_gives_503_and_ports_come_back() {
    // two port pairs: exactly one call
    let (v, _) = Vozbox::start_with_one_call_of_ports("media-ports", PROVISION);
    let bob_port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), bob_port);
    let bob = SippUas::start("uas_answer.xml", "u1", "127.0.0.1", bob_port);
    let addr = v.addr();
    std::thread::scope(|s| {
        let held = s.spawn(|| {
            sipp(
                "uac_call.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101"),
                &["-auth_uri", &format!("101@{}", addr), "-d", "3000"],
            )
        });
        caller_port(&v);
        assert!(
            relay_ports(&v).starts_with("2 relay port pair(s)"),
            "{}",
            v.calls()
        );
        let second = sipp(
            "uac_refused.xml",
            &addr,
            "u1",
            "127.0.0.1",
            &call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101"),
            &["-auth_uri", &format!("101@{}", addr)],
        );
        sipp_ok(&second);
        assert!(
            second.messages.contains("SIP/2.0 503"),
            "{}",
            second.messages
        );
        sipp_ok(&held.join().expect("held call"));
    });
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert!(
        ports_back(&v).starts_with("0 relay port pair(s)"),
        "{}",
        v.calls()
    );
    assert!(v.cdrs(2).contains("no_media_ports"));
}

/// A client with its own media relay set uses its ports; hold (sendonly) and resume from
/// another RTP port (re-INVITEs) keep the audio flowing: the relay follows the new port and
/// latches again onto the real source.
#[test]
fn hold_and_resume_keep_media_flowing_through_the_clients_relay_set() {
    let dir = temp_dir("media-hold");
    let port = free_port("127.0.0.1");
    let first = media_range(port) + 100;
    let prov = PROVISION.replace(
        "[[client]]\nbrand = \"acme\"\nname = \"bluebird\"\ndomain = \"127.0.0.1\"\n",
        &format!(
            "[[media_relay_set]]\nname = \"lab\"\nbind = \"127.0.0.1\"\nadvertised = \"127.0.0.1\"\nport_min = {}\nport_max = {}\n\n[[client]]\nbrand = \"acme\"\nname = \"bluebird\"\ndomain = \"127.0.0.1\"\nmedia_relay_set = \"lab\"\n",
            first,
            first + 99
        ),
    );
    assert!(prov.contains("media_relay_set = \"lab\""), "{}", prov);
    let v = Vozbox::start_in(dir, port, "", &prov);
    let bob = echoing_bob(&v, "uas_hold.xml");
    let addr = v.addr();
    let (before, after) = std::thread::scope(|s| {
        let caller = s.spawn(move || {
            sipp(
                "uac_hold_media.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &call_csv("127.0.0.1", "alice", "Alice-Secret-1", "101"),
                &["-auth_uri", &format!("101@{}", addr)],
            )
        });
        let relay = caller_port(&v);
        assert!(
            (first..first + 100).contains(&relay),
            "port {} not from the client's set {}..",
            relay,
            first
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let start = Instant::now();
        let (mut before, mut after) = (0, 0);
        let mut buf = [0u8; 2048];
        let mut seq = 0u16;
        // answered + 1.5 s hold + 1 s resume + 2 s: count echoes before the hold and
        // after the resume
        while start.elapsed() < Duration::from_millis(4200) {
            sock.send_to(&rtp(0, seq), ("127.0.0.1", relay)).unwrap();
            seq = seq.wrapping_add(1);
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(20) {
                if sock.recv_from(&mut buf).is_ok() {
                    let at = start.elapsed();
                    if at < Duration::from_millis(1200) {
                        before += 1;
                    } else if at > Duration::from_millis(3000) {
                        after += 1;
                    }
                }
            }
        }
        sipp_ok(&caller.join().expect("caller"));
        (before, after)
    });
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert!(before >= 20, "only {} packets before the hold", before);
    assert!(after >= 20, "only {} packets after the resume", after);
}

/// Twenty calls one after another: every port pair comes back.
#[test]
fn ports_come_back_after_a_load() {
    let v = Vozbox::start("media-load", "", PROVISION);
    let bob_port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), bob_port);
    let bob = SippUas::start_with("uas_answer.xml", "u1", "127.0.0.1", bob_port, &["-m", "20"]);
    sipp_ok(&alice_dials(
        &v,
        "uac_call.xml",
        "101",
        "u1",
        "127.0.0.1",
        &["-m", "20", "-r", "10", "-d", "200"],
    ));
    sipp_ok(&bob.wait(Duration::from_secs(30)));
    assert!(v.cdrs(20).contains("20 record(s)"), "{}", v.cdrs(20));
    assert!(
        ports_back(&v).starts_with("0 relay port pair(s)"),
        "{}",
        v.calls()
    );
}

/// A relay that falls behind relays the newest of the backlog, not the queue: the caller
/// (behind "NAT", as above) gets its audio echoed by the callee; then vozbox is stopped
/// (SIGSTOP) while the caller sends 12 packets at once, and resumed. The 12 wait on the
/// relay's socket; it finds the stream far behind and relays only the newest 4, which
/// come back through the callee's echo — the 8 stale ones never reach it.
#[test]
fn a_stalled_relay_relays_the_newest_of_its_backlog() {
    let v = Vozbox::start("media-backlog", "", PROVISION);
    let bob = echoing_bob(&v, "uas_answer.xml");
    let addr = v.addr();
    let pid = v.child.as_ref().expect("vozbox runs").id().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {} {}", sig, pid);
    };
    let (before, after) = std::thread::scope(|s| {
        let caller = s.spawn(move || alice_calls_with_sdp(&addr, "101", ("192.0.2.33", 9), 4000));
        let relay = caller_port(&v);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 2048];
        let mut seqs = |sock: &UdpSocket| {
            let mut got = Vec::new();
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n >= 4 {
                    got.push(u16::from_be_bytes([buf[2], buf[3]]));
                }
            }
            got
        };
        // latched, one packet at a time
        for seq in 0..10u16 {
            sock.send_to(&rtp(8, seq), ("127.0.0.1", relay)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = seqs(&sock);
        signal("-STOP");
        std::thread::sleep(Duration::from_millis(100));
        for seq in 100..112u16 {
            sock.send_to(&rtp(8, seq), ("127.0.0.1", relay)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        signal("-CONT");
        let after = seqs(&sock);
        sipp_ok(&caller.join().expect("caller"));
        (before, after)
    });
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    assert_eq!(
        before,
        (0..10).collect::<Vec<u16>>(),
        "not relayed one by one"
    );
    assert_eq!(
        after,
        vec![108, 109, 110, 111],
        "not the newest of the backlog"
    );
}

/// The echo test extension (the demo's 400, Asterisk's `*43`): vozbox answers and sends the
/// caller's own audio back, packet for packet, until the caller hangs up; the record says
/// `echo`.
#[test]
fn the_echo_test_extension_sends_the_callers_audio_back() {
    let provision = format!(
        "{}\n[[extension]]\nclient = \"bluebird\"\nnumber = \"400\"\nroute = \"echo\"\n",
        PROVISION
    );
    let v = Vozbox::start("echo-test", "", &provision);
    let alice = UdpSocket::bind("127.0.0.1:0").unwrap();
    let own = alice.local_addr().unwrap().port();
    let addr = v.addr();
    let echoed = std::thread::scope(|s| {
        let caller = s.spawn(|| alice_calls_with_sdp(&addr, "400", ("127.0.0.1", own), 4000));
        let relay = caller_port(&v);
        let echoed = talk(&alice, relay, 100);
        sipp_ok(&caller.join().expect("caller"));
        echoed
    });
    let mine = echoed.iter().filter(|p| ssrc(p) == Some(SSRC)).count();
    assert!(mine >= 95, "{} of 100 packets came back", mine);
    let cdrs = v.cdrs(1);
    assert!(
        cdrs.contains(" echo ") && cdrs.contains("answered"),
        "{}",
        cdrs
    );
}

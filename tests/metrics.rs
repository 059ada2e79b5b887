//! `GET /metrics` against the real binary: it needs the admin API's token like every other
//! route, it parses as Prometheus text with a real parser (the Python client's,
//! `prometheus_client.parser`, installed by test.sh), every family it exports is named in
//! docs/operations.md, and real traffic moves the counters by exactly what happened: a SIPp
//! registration, a registration with a wrong password, and a SIPp call with RTP through the
//! relay.

mod common;
use common::rtp::*;
use common::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

/// The samples of one scrape: sample name with its labels (`name{k="v",…}`, labels
/// sorted) → value; and each family's type.
struct Scrape {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

/// Parses `text` with `prometheus_client.parser.text_string_to_metric_families`.
fn parse(text: &str) -> Scrape {
    let file = temp_dir("metrics-text").join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families, samples = [], []
with open(sys.argv[1]) as f:
    for fam in text_string_to_metric_families(f.read()):
        families.append([fam.name, fam.type])
        for s in fam.samples:
            samples.append([s.name, s.labels, s.value])
print(json.dumps([families, samples]))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3 (test.sh installs it)");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition ({}):\n{}",
        String::from_utf8_lossy(&out.stderr),
        text
    );
    type Sample = (String, BTreeMap<String, String>, f64);
    let (families, samples): (Vec<(String, String)>, Vec<Sample>) =
        serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    Scrape {
        types: families.into_iter().collect(),
        samples: samples
            .into_iter()
            .map(|(name, labels, value)| (key(&name, &labels), value))
            .collect(),
    }
}

fn key(name: &str, labels: &BTreeMap<String, String>) -> String {
    let l: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", k, v))
        .collect();
    format!("{}{{{}}}", name, l.join(","))
}

impl Scrape {
    /// A sample's value; 0 when the series is not there (yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(&key(name, &labels))
            .copied()
            .unwrap_or(0.0)
    }
}

/// `GET /metrics` with the server's token, parsed.
fn scrape(v: &Vozbox) -> Scrape {
    let (status, body) = v.api("GET", "/metrics");
    assert_eq!(status, 200, "{}", body);
    parse(&body)
}

/// How much each sample moved between two scrapes.
struct Delta<'a>(&'a Scrape, &'a Scrape);

impl Delta<'_> {
    fn of(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.1.get(name, labels) - self.0.get(name, labels)
    }
}

/// `GET /metrics` without a credential, and with a wrong one.
fn status_with(v: &Vozbox, token: Option<&str>) -> u16 {
    let cfg = vozbox::config::Config::load(&v.config).expect("config");
    let addr = cfg.api.addr().expect("api address");
    match vozbox::api::client::request(addr, "GET", "/metrics", token, None, "") {
        Ok(vozbox::api::client::Reply::Http { status, .. }) => status,
        _ => panic!("no admin API at {}", addr),
    }
}

/// A TLS handshake with vozbox's TLS port by Python's `ssl` (the certificate not checked):
/// whether it succeeded.
fn handshake(port: u16) -> bool {
    let script = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
ctx.wrap_socket(s).close()
"#;
    Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .expect("python3")
        .status
        .success()
}

#[test]
fn metrics_need_the_token_and_parse_as_prometheus_text() {
    let dir = temp_dir("metrics-auth");
    let (port, tls) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let listen = format!(
        "listen = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\", \"tls:127.0.0.1:{tls}\"]\n"
    );
    let v = Vozbox::start_in(dir, port, &listen, PROVISION);
    assert_eq!(status_with(&v, None), 401);
    assert_eq!(status_with(&v, Some("not-the-token")), 401);
    let s = scrape(&v);
    // Every family is vozbox's, typed, and documented by name.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .expect("docs/operations.md");
    for (family, kind) in &s.types {
        assert!(family.starts_with("vozbox_"), "{}", family);
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{} is {}",
            family,
            kind
        );
        assert!(
            doc.contains(&format!("`{}", family)),
            "{} is not in docs/operations.md",
            family
        );
    }
    // The Grafana dashboard reads only what is exported.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/grafana-dashboard.json"
    ))
    .expect("docs/grafana-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("JSON");
    let mut read = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("vozbox_"))
            {
                let family = ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|f| s.types.contains_key(*f))
                    .unwrap_or(name);
                assert!(s.types.contains_key(family), "the dashboard reads {}", name);
                read += 1;
            }
        }
    }
    assert!(read >= 7, "the dashboard reads {} metrics", read);
    // What the issue asks for is there, with its type.
    for (family, kind) in [
        ("vozbox_registrations", "gauge"),
        ("vozbox_registrations_accepted", "counter"),
        ("vozbox_registrations_refused", "counter"),
        ("vozbox_auth_failures", "counter"),
        ("vozbox_auth_bans", "counter"),
        ("vozbox_pike_blocks", "counter"),
        ("vozbox_sip_requests_received", "counter"),
        ("vozbox_sip_responses_sent", "counter"),
        ("vozbox_calls_in_progress", "gauge"),
        ("vozbox_calls_started", "counter"),
        ("vozbox_calls_ended", "counter"),
        ("vozbox_call_setup_seconds", "histogram"),
        ("vozbox_calls_setting_up", "gauge"),
        ("vozbox_overload_refused", "counter"),
        ("vozbox_overload_unparsed", "counter"),
        ("vozbox_cdrs_written", "counter"),
        ("vozbox_store_commit_seconds", "histogram"),
        ("vozbox_store_queue_depth", "gauge"),
        ("vozbox_relay_sessions", "gauge"),
        ("vozbox_relay_port_pairs_in_use", "gauge"),
        ("vozbox_relay_port_pairs_kept_bound", "gauge"),
        ("vozbox_relay_packets", "counter"),
        ("vozbox_relay_bytes", "counter"),
        ("vozbox_relay_dropped_packets", "counter"),
        ("vozbox_tls_handshakes", "counter"),
    ] {
        assert_eq!(
            s.types.get(family).map(String::as_str),
            Some(kind),
            "{}",
            family
        );
    }
    assert_eq!(
        s.get("vozbox_call_setup_seconds_bucket", &[("le", "+Inf")]),
        0.0
    );

    // A TLS handshake that succeeds, and a client that speaks no TLS at all.
    assert!(handshake(tls), "no TLS handshake with port {}", tls);
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", tls)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain.write_all(b"OPTIONS sip:x SIP/2.0\r\n\r\n").unwrap();
    let _ = plain.read_to_end(&mut Vec::new());
    let inbound = |result| [("direction", "inbound"), ("result", result)];
    let hs = "vozbox_tls_handshakes_total";
    let after = settle(&v, |a| a.get(hs, &inbound("failed")) >= 1.0);
    assert_eq!(after.get(hs, &inbound("ok")), 1.0);
    assert_eq!(after.get(hs, &inbound("failed")), 1.0);
    assert_eq!(after.get(hs, &inbound("timeout")), 0.0);
}

/// Alice's media: `n` RTP packets to the relay port facing her, one every 20 ms; how many
/// came back (bob echoes).
fn talk(sock: &UdpSocket, relay: u16, n: u16) -> usize {
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut back = 0;
    let mut buf = [0u8; 2048];
    let end = |sent: bool| {
        if sent {
            Instant::now() + Duration::from_millis(500)
        } else {
            Instant::now() + Duration::from_millis(20)
        }
    };
    for seq in 0..=n {
        if seq < n {
            sock.send_to(&rtp(8, seq), ("127.0.0.1", relay)).unwrap();
        }
        let until = end(seq == n);
        while Instant::now() < until {
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                if ssrc(&buf[..len]) == Some(SSRC) {
                    back += 1;
                }
            }
        }
    }
    back
}

/// Waits until `done(scrape)` holds (a call record is committed a little after the call).
fn settle(v: &Vozbox, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(v);
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn traffic_moves_the_counters_by_what_happened() {
    let v = Vozbox::start("metrics-traffic", "", PROVISION);
    let before = scrape(&v);

    // bob registers (401, then 200) and waits for a call, echoing its audio.
    let bob = echoing_bob(&v, "uas_answer.xml");
    // alice's password is wrong: 401, then 401 again.
    sipp_ok(&sipp(
        "register_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &creds("127.0.0.1", "alice", "not-her-password"),
        &[],
    ));
    let registered = scrape(&v);
    let d = Delta(&before, &registered);
    let refused = "vozbox_registrations_refused_total";
    assert_eq!(d.of("vozbox_registrations_accepted_total", &[]), 1.0);
    assert_eq!(d.of(refused, &[("cause", "challenge")]), 2.0);
    assert_eq!(d.of(refused, &[("cause", "auth_failed")]), 1.0);
    assert_eq!(d.of(refused, &[("cause", "stale_nonce")]), 0.0);
    assert_eq!(d.of("vozbox_auth_failures_total", &[]), 1.0);
    assert_eq!(registered.get("vozbox_registrations", &[]), 1.0);
    let register = [("method", "REGISTER")];
    assert!(d.of("vozbox_sip_requests_received_total", &register) >= 4.0);
    assert!(d.of("vozbox_sip_responses_sent_total", &[("code", "401")]) >= 3.0);
    assert!(d.of("vozbox_sip_responses_sent_total", &[("code", "200")]) >= 1.0);
    // the binding's commit
    assert!(d.of("vozbox_store_commits_total", &[]) >= 1.0);
    assert!(d.of("vozbox_store_commit_seconds_count", &[]) >= 1.0);

    // alice calls bob (from her own socket, her SDP naming it) and talks for 1 s; a few
    // datagrams that are not RTP go to the relay from her address too.
    let alice = UdpSocket::bind("127.0.0.1:0").unwrap();
    let own = alice.local_addr().unwrap().port();
    let addr = v.addr();
    let (during, echoed) = std::thread::scope(|s| {
        let caller = s.spawn(|| alice_calls_with_sdp(&addr, "101", ("127.0.0.1", own), 3000));
        let relay = caller_port(&v);
        let during = scrape(&v);
        let echoed = talk(&alice, relay, 50);
        for _ in 0..3 {
            alice.send_to(b"not rtp", ("127.0.0.1", relay)).unwrap();
        }
        sipp_ok(&caller.join().expect("caller"));
        (during, echoed)
    });
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let internal = [("direction", "internal")];
    assert_eq!(during.get("vozbox_calls_in_progress", &internal), 1.0);
    assert_eq!(during.get("vozbox_relay_sessions", &[]), 1.0);
    assert_eq!(during.get("vozbox_relay_port_pairs_in_use", &[]), 2.0);
    assert_eq!(during.get("vozbox_relay_port_pairs_kept_bound", &[]), 0.0);

    let answered = [("direction", "internal"), ("disposition", "answered")];
    let after = settle(&v, |s| {
        s.get("vozbox_calls_ended_total", &answered) >= 1.0
            && s.get("vozbox_cdrs_written_total", &[]) >= 1.0
            && s.get("vozbox_relay_sessions", &[]) == 0.0
            && s.get("vozbox_relay_port_pairs_kept_bound", &[]) == 2.0
    });
    let d = Delta(&registered, &after);
    assert_eq!(d.of("vozbox_calls_started_total", &internal), 1.0);
    assert_eq!(d.of("vozbox_calls_ended_total", &answered), 1.0);
    assert_eq!(after.get("vozbox_calls_in_progress", &internal), 0.0);
    assert_eq!(d.of("vozbox_cdrs_written_total", &[]), 1.0);
    assert_eq!(d.of("vozbox_call_setup_seconds_count", &[]), 1.0);
    assert_eq!(
        d.of("vozbox_call_setup_seconds_bucket", &[("le", "+Inf")]),
        1.0
    );
    assert!(d.of("vozbox_call_setup_seconds_sum", &[]) > 0.0);
    assert_eq!(after.get("vozbox_relay_sessions", &[]), 0.0);
    assert_eq!(after.get("vozbox_relay_port_pairs_in_use", &[]), 0.0);
    // the call's two pairs went back to the pool still bound
    assert_eq!(after.get("vozbox_relay_port_pairs_kept_bound", &[]), 2.0);
    // the challenge and the authenticated INVITE; both ACKs; alice's BYE
    let invite = [("method", "INVITE")];
    assert!(d.of("vozbox_sip_requests_received_total", &invite) >= 2.0);
    assert!(d.of("vozbox_sip_requests_received_total", &[("method", "BYE")]) >= 1.0);
    assert!(d.of("vozbox_sip_responses_sent_total", &[("code", "407")]) >= 1.0);
    assert!(d.of("vozbox_sip_responses_sent_total", &[("code", "200")]) >= 2.0);
    // Her 50 packets went to bob, and his echo came back to her: each one relayed.
    assert!(echoed >= 45, "only {} of 50 packets came back", echoed);
    let rtp = [("kind", "rtp")];
    let packets = d.of("vozbox_relay_packets_total", &rtp);
    assert!(
        packets >= 50.0 + echoed as f64 && packets <= 100.0,
        "{} RTP packets relayed, {} echoed",
        packets,
        echoed
    );
    // 12 bytes of header and 160 of G.711 each
    assert_eq!(d.of("vozbox_relay_bytes_total", &rtp), packets * 172.0);
    assert_eq!(
        d.of(
            "vozbox_relay_dropped_packets_total",
            &[("reason", "source")]
        ),
        3.0
    );
    assert_eq!(
        d.of(
            "vozbox_relay_dropped_packets_total",
            &[("reason", "overload")]
        ),
        0.0
    );
}

//! Peer health ("qualify") against real peers: a SIPp carrier answering vozbox's OPTIONS is
//! up (API, CLI, metrics); killed, it is down after 3 intervals and calls to it are refused
//! at once; forged answers do not bring it back; a SIPp on the same port answering again
//! does. A carrier by host name is probed at the SRV target that answers. Carriers and
//! friends live on their own loopback addresses (recognised by address).

mod common;
use common::*;
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const LAB: &str = r#"
[[brand]]
name = "acme"

[[corporation]]
name = "acme-group"
brand = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = CARRIER_PORT
transport = "udp"
qualify_interval = 1

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
corporation = "acme-group"
outgoing_ddi = "+34944000100"
country = "ES"

[[client]]
brand = "acme"
name = "redwing"
domain = "redwing.example"
corporation = "acme-group"
outgoing_ddi = "+34944000200"
country = "ES"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[friend]]
client = "bluebird"
name = "branch-pbx"
mode = "direct"
transport = "udp"
address = "127.0.0.7"
port = SILENT_PORT
patterns = ["^5[0-9]{2}$"]
qualify_interval = 1

[[friend]]
client = "redwing"
name = "their-pbx"
mode = "direct"
transport = "udp"
address = "127.0.0.8"
port = SILENT_PORT
patterns = ["^5[0-9]{2}$"]
qualify_interval = 1

[[friend]]
client = "bluebird"
name = "not-probed"
mode = "direct"
transport = "udp"
address = "127.0.0.9"
patterns = ["^6[0-9]{2}$"]
"#;

/// A SIPp carrier on 127.0.0.5:`port` answering every OPTIONS with `scenario`.
fn answering(port: u16, scenario: &str) -> SippUas {
    SippUas::start_with(scenario, "u1", "127.0.0.5", port, &["-timeout", "120s"])
}

fn peers(v: &Vozbox) -> Vec<Value> {
    let (s, body) = v.api("GET", "/api/peers");
    assert_eq!(s, 200, "{}", body);
    serde_json::from_str(&body).expect("JSON")
}

/// The peer of that kind and name as `GET /api/peers` lists it.
fn peer(v: &Vozbox, kind: &str, name: &str) -> Value {
    peers(v)
        .into_iter()
        .find(|p| p["kind"] == kind && p["name"] == name)
        .unwrap_or_else(|| panic!("no {} {} in {:?}", kind, name, peers(v)))
}

/// Waits (at most `timeout`) for the peer's state to be `state`: how long it took.
fn wait_state(v: &Vozbox, kind: &str, name: &str, state: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let p = peer(v, kind, name);
        if p["state"] == state {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < timeout,
            "{} {} not {} after {:?}: {}",
            kind,
            name,
            state,
            timeout,
            p
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of header `name` in a SIP message's text.
fn header(msg: &str, name: &str) -> String {
    msg.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {} in {}", name, msg))
}

/// A 200 to `options` with its Via's branch replaced by `branch` (when given).
fn forged_answer(options: &str, branch: Option<&str>) -> String {
    let mut via = header(options, "Via");
    if let Some(b) = branch {
        let start = via.find("branch=").expect("a branch") + "branch=".len();
        let end = via[start..].find(';').map_or(via.len(), |e| start + e);
        via.replace_range(start..end, b);
    }
    format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=forged\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        via,
        header(options, "From"),
        header(options, "To"),
        header(options, "Call-ID"),
        header(options, "CSeq"),
    )
}

/// The next OPTIONS that arrives at `sock` (those already waiting are old probes: skipped).
fn next_options(sock: &UdpSocket) -> String {
    let mut buf = [0u8; 4096];
    sock.set_nonblocking(true).expect("nonblocking");
    while sock.recv(&mut buf).is_ok() {}
    sock.set_nonblocking(false).expect("blocking");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("OPTIONS ") {
                return text;
            }
        }
    }
    panic!("no OPTIONS arrived");
}

/// Waits (at most 2 s) for the server's log to have a line with `needle`.
fn log_says(v: &Vozbox, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !v.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {:?} in the log:\n{}",
            needle,
            v.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric_line(v: &Vozbox, prefix: &str) -> String {
    let text = v.api_get("/metrics");
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {} in\n{}", prefix, text))
        .to_string()
}

#[test]
fn a_carrier_that_stops_answering_is_down_refused_at_once_and_up_again_when_it_answers() {
    let carrier_port = free_port("127.0.0.5");
    let silent = free_port("127.0.0.7");
    let prov = LAB
        .replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("SILENT_PORT", &silent.to_string());
    let carrier = answering(carrier_port, "qualify_answer.xml");
    let v = Vozbox::start("qualify", "", &prov);

    // Answering: up, with a round trip and when it was last seen.
    wait_state(&v, "carrier", "upstream", "up", Duration::from_secs(5));
    let p = peer(&v, "carrier", "upstream");
    assert_eq!(p["brand"], "acme");
    assert_eq!(p["address"], format!("udp:127.0.0.5:{}", carrier_port));
    assert_eq!(p["interval"], 1);
    let rtt = p["rtt_ms"].as_f64().expect("a round trip");
    assert!(rtt > 0.0 && rtt < 1000.0, "{}", p);
    assert!(p["last_seen"].as_u64().is_some(), "{}", p);
    // a direct friend without qualify_interval is not probed
    assert!(!peers(&v).iter().any(|p| p["name"] == "not-probed"));
    let table = v.cli_args(&["peers"]);
    let row = table
        .lines()
        .find(|l| l.contains("acme/upstream"))
        .unwrap_or_else(|| panic!("{}", table));
    assert!(
        row.contains("carrier") && row.contains(" up ") && row.contains(" ms"),
        "{}",
        row
    );
    let listed: Vec<Value> = serde_json::from_str(&v.cli_args(&["peers", "--json"])).expect("JSON");
    assert!(listed
        .iter()
        .any(|p| p["name"] == "upstream" && p["state"] == "up"));
    let up = metric_line(
        &v,
        "vozbox_peer_up{kind=\"carrier\",peer=\"acme/upstream\"}",
    );
    assert!(up.ends_with(" 1"), "{}", up);
    metric_line(
        &v,
        "vozbox_peer_rtt_seconds{kind=\"carrier\",peer=\"acme/upstream\"}",
    );

    // The friends nobody answers for are down after 3 unanswered probes; a client
    // administrator sees its own client's only, and no carrier.
    wait_state(&v, "friend", "branch-pbx", "down", Duration::from_secs(8));
    wait_state(&v, "friend", "their-pbx", "down", Duration::from_secs(8));
    let op = v.token();
    let (s, r) = v.api_as(
        &op,
        "POST",
        "/api/admins",
        Some(json!({"name": "ann", "client": "bluebird", "password": "Long-Enough-Pass-1"})),
    );
    assert_eq!(s, 201, "{}", r);
    let (s, r) = v.api_as(
        "",
        "POST",
        "/api/login",
        Some(json!({"name": "ann", "password": "Long-Enough-Pass-1"})),
    );
    assert_eq!(s, 200, "{}", r);
    let ann = r["token"].as_str().expect("a session token").to_string();
    let (s, seen) = v.api_as(&ann, "GET", "/api/peers", None);
    assert_eq!(s, 200, "{}", seen);
    let names: Vec<&str> = seen
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["branch-pbx"], "{}", seen);

    // A call to the down direct friend is refused at once, like one to a down carrier.
    let t0 = Instant::now();
    let c = alice_dials(&v, "uac_refused.xml", "500", "u1", "127.0.0.1", &[]);
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 503"), "{}", c.messages);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // The carrier stops answering: a socket on its address takes the OPTIONS unanswered.
    drop(carrier);
    let dead = UdpSocket::bind(("127.0.0.5", carrier_port)).expect("the carrier's port");
    dead.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let took = wait_state(&v, "carrier", "upstream", "down", Duration::from_secs(6));
    assert!(took >= Duration::from_secs(2), "down after {:?}", took);
    log_says(&v, "peer carrier acme/upstream down");
    let down = metric_line(
        &v,
        "vozbox_peer_up{kind=\"carrier\",peer=\"acme/upstream\"}",
    );
    assert!(down.ends_with(" 0"), "{}", down);
    assert!(v
        .cli_args(&["peers"])
        .lines()
        .any(|l| l.contains("acme/upstream") && l.contains(" down ")));

    // A call to it is refused at once (503), not after Timer B's 32 s.
    let t0 = Instant::now();
    let c = alice_dials(&v, "uac_refused.xml", "600111222", "u1", "127.0.0.1", &[]);
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 503"), "{}", c.messages);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // Forged answers: its probe's branch from another address and port, a wrong branch
    // from another address, a wrong branch from the carrier's own: still down.
    let options = next_options(&dead);
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let to = v.addr();
    let forged = [
        (&stranger, forged_answer(&options, None)),
        (&stranger, forged_answer(&options, Some("z9hG4bKforged1"))),
        (&dead, forged_answer(&options, Some("z9hG4bKforged2"))),
    ];
    for (sock, text) in &forged {
        sock.send_to(text.as_bytes(), &to).expect("sent");
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(peer(&v, "carrier", "upstream")["state"], "down");
    // the real answer to the probe now outstanding, from the carrier's address: up
    let options = next_options(&dead);
    dead.send_to(forged_answer(&options, None).as_bytes(), &to)
        .expect("sent");
    wait_state(&v, "carrier", "upstream", "up", Duration::from_secs(2));
    drop(dead);

    // Killed again, then a SIPp on the same port that answers 404: any answer is up.
    wait_state(&v, "carrier", "upstream", "down", Duration::from_secs(6));
    let _carrier = answering(carrier_port, "qualify_answer_404.xml");
    wait_state(&v, "carrier", "upstream", "up", Duration::from_secs(3));
    log_says(&v, "peer carrier acme/upstream up after ");
    let up = metric_line(
        &v,
        "vozbox_peer_up{kind=\"carrier\",peer=\"acme/upstream\"}",
    );
    assert!(up.ends_with(" 1"), "{}", up);
}

#[test]
fn a_tcp_carrier_is_probed_over_the_connection_vozbox_opens() {
    let carrier_port = free_port("127.0.0.5");
    let silent = free_port("127.0.0.7");
    let prov = LAB
        .replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("SILENT_PORT", &silent.to_string())
        .replace(
            "transport = \"udp\"\nqualify_interval = 1",
            "transport = \"tcp\"\nqualify_interval = 1",
        );
    assert!(prov.contains("transport = \"tcp\""));
    let carrier = SippUas::start_with(
        "qualify_answer.xml",
        "t1",
        "127.0.0.5",
        carrier_port,
        &["-timeout", "120s"],
    );
    let v = Vozbox::start("qualify-tcp", "", &prov);
    wait_state(&v, "carrier", "upstream", "up", Duration::from_secs(5));
    let p = peer(&v, "carrier", "upstream");
    assert_eq!(p["address"], format!("tcp:127.0.0.5:{}", carrier_port));
    // the connection closes with the carrier: down after 3 intervals
    drop(carrier);
    wait_state(&v, "carrier", "upstream", "down", Duration::from_secs(6));
    let _carrier = SippUas::start_with(
        "qualify_answer.xml",
        "t1",
        "127.0.0.5",
        carrier_port,
        &["-timeout", "120s"],
    );
    // a new connection to it: up again
    wait_state(&v, "carrier", "upstream", "up", Duration::from_secs(4));
}

/// A carrier by host name: `trunk.test` has two SRV targets of one priority (drawn in a
/// new order each time it is resolved): 127.0.0.7 never answers, 127.0.0.5 (SIPp) does.
/// Once it answered, its probes stay there; once that one is silent too, the carrier is
/// down. Its probes name the host (RFC 3263).
#[test]
fn a_carrier_by_name_is_probed_at_the_srv_target_that_answers_and_down_when_none_does() {
    let (port, silent_port) = (free_port("127.0.0.5"), free_port("127.0.0.7"));
    let dns = common::dns::dns_server(
        "qualify-dns",
        &format!(
            "_sip._udp.trunk.test. 1 IN SRV 10 10 {silent_port} a.trunk.test.\n\
             a.trunk.test. 1 IN A 127.0.0.7\n\
             _sip._udp.trunk.test. 1 IN SRV 10 10 {port} b.trunk.test.\n\
             b.trunk.test. 1 IN A 127.0.0.5\n"
        ),
    );
    let silent = UdpSocket::bind(("127.0.0.7", silent_port)).expect("the first target");
    let carrier = answering(port, "qualify_answer.xml");
    let prov = "[[brand]]\nname = \"acme\"\n\n[[carrier]]\nbrand = \"acme\"\nname = \"named\"\n\
                address = \"trunk.test\"\ntransport = \"udp\"\nqualify_interval = 1\n";
    let v = Vozbox::start("qualify-dns", &dns.config(), prov);
    wait_state(&v, "carrier", "named", "up", Duration::from_secs(6));
    let address = format!("udp:127.0.0.5:{} (trunk.test)", port);
    assert_eq!(peer(&v, "carrier", "named")["address"], address.as_str());
    // it stays on the target that answers: nothing more reaches the silent one, whatever
    // order the next resolutions draw
    let mut buf = [0u8; 4096];
    silent.set_nonblocking(true).expect("nonblocking");
    while silent.recv(&mut buf).is_ok() {}
    std::thread::sleep(Duration::from_millis(3_500));
    assert!(
        silent.recv(&mut buf).is_err(),
        "probed at the silent target again"
    );
    let p = peer(&v, "carrier", "named");
    assert_eq!(
        (&p["state"], &p["missed"]),
        (&json!("up"), &json!(0)),
        "{}",
        p
    );

    // the answering target goes silent too: down once three probes in a row went
    // unanswered (at either target: `Entry::choose`'s rule is in the unit tests)
    drop(carrier);
    let dead = UdpSocket::bind(("127.0.0.5", port)).expect("the second target's port");
    wait_state(&v, "carrier", "named", "down", Duration::from_secs(8));
    log_says(&v, "peer carrier acme/named down");
    dead.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let n = dead.recv(&mut buf).expect("a probe");
    let options = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        options.starts_with("OPTIONS sip:trunk.test SIP/2.0\r\n"),
        "{}",
        options
    );
}

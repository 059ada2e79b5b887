//! SIP over TLS and connection flows against real peers: baresip registers over TLS and
//! calls a UDP phone (audio both ways); a register-mode friend behind a "NAT" (a TCP relay)
//! gets its calls over the connection it opened; a direct friend is called over TLS with its
//! pinned certificate; certificates are made, reloaded and refused with clear errors;
//! TLS 1.0/1.1 are refused; idle, unbound and excess connections are closed.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts vozbox listening on UDP and TCP on its port and TLS on another; returns the TLS
/// port too.
fn start_tls(name: &str, extra: &str, provision: &str) -> (Vozbox, u16) {
    let dir = temp_dir(name);
    let port = free_port("127.0.0.1");
    let tls = free_port("127.0.0.1");
    let listen = format!(
        "listen = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\", \"tls:127.0.0.1:{tls}\"]\n{extra}"
    );
    (Vozbox::start_in(dir, port, &listen, provision), tls)
}

/// A TLS client (Python's `ssl`, OpenSSL underneath) limited to `versions`: prints the
/// negotiated version, the server certificate's SHA-256 fingerprint and the first reply to
/// `payload`, or the handshake error.
const TLS_CLIENT: &str = r#"
import hashlib, json, socket, ssl, sys, warnings
warnings.simplefilter("ignore")
port, lo, hi, payload = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = getattr(ssl.TLSVersion, lo)
ctx.maximum_version = getattr(ssl.TLSVersion, hi)
try:
    ctx.set_ciphers("ALL:@SECLEVEL=0")
except ssl.SSLError:
    pass
s = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    t = ctx.wrap_socket(s)
except (ssl.SSLError, OSError) as e:
    print(json.dumps({"ok": False, "error": str(e)}))
    sys.exit(0)
der = t.getpeercert(binary_form=True)
fp = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
reply = ""
if payload:
    t.sendall(payload.encode().decode("unicode_escape").encode())
    reply = t.recv(65536).decode(errors="replace")
print(json.dumps({"ok": True, "version": t.version(), "fingerprint": fp, "reply": reply}))
"#;

fn tls_client(port: u16, lo: &str, hi: &str, payload: &str) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", TLS_CLIENT, &port.to_string(), lo, hi, payload])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "python ssl client: {} {}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The fingerprint vozbox printed when it made its certificate.
fn printed_fingerprint(v: &Vozbox) -> String {
    let line = v
        .stdout
        .iter()
        .find(|l| l.contains("Made a self-signed TLS certificate"))
        .unwrap_or_else(|| panic!("no certificate line in {:?}", v.stdout));
    line.rsplit(' ').next().unwrap_or_default().to_string()
}

/// Whether the server closed `s` within `within` (EOF or reset).
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0) | Err(_))
        && {
            // A timeout is an error too: tell it apart from a close.
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            !matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut)
        }
}

/// A self-signed certificate made by OpenSSL for 127.0.0.1: (pem with cert + key, cert
/// path, key path, SHA-256 fingerprint).
fn openssl_cert(dir: &Path, name: &str) -> (String, String, String, String) {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&crt)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .to_string();
    let pem = dir.join(format!("{name}.pem"));
    let both = std::fs::read_to_string(&crt).unwrap() + &std::fs::read_to_string(&key).unwrap();
    std::fs::write(&pem, both).unwrap();
    let s = |p: &Path| p.display().to_string();
    (s(&pem), s(&crt), s(&key), fp)
}

#[test]
fn baresip_registers_over_tls_and_calls_a_udp_phone_with_audio() {
    let (v, tls) = start_tls("tls-call", "[tls]\nhandshake_timeout = 2\n", PROVISION);
    // Someone connects to the TLS port and says nothing: it must hold up no one, and is
    // dropped once the handshake time is over.
    let mut idle = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    let opened = Instant::now();
    let (bob_dir, _) = baresip_dir(
        "bob",
        &format!(
            "<sip:bob@127.0.0.1:{};transport=udp>;auth_pass=Bob-Secret-22;regint=60;answermode=auto;audio_codecs=PCMU",
            v.port
        ),
        880,
    );
    let (alice_dir, _) = baresip_dir(
        "alice",
        &format!(
            "<sip:alice@127.0.0.1:{};transport=tls>;auth_pass=Alice-Secret-1;regint=60;audio_codecs=PCMU",
            tls
        ),
        440,
    );
    let uri = format!("sip:101@127.0.0.1:{};transport=tls", tls);
    let (alice_out, bob_out) = baresip_dial(&v, &alice_dir, &bob_dir, (6, 9), &uri);
    // alice registered and called over TLS (401 then 200; 407 then 200), bob over UDP.
    assert!(
        alice_out.contains("{0/TLS/v4} 200 OK"),
        "alice did not register over TLS:\n{}",
        alice_out
    );
    assert!(
        alice_out.contains(&format!("TLS 127.0.0.1:{} -> ", tls)),
        "{}",
        alice_out
    );
    assert!(bob_out.contains("INVITE sip:bob"), "{}", bob_out);
    assert_heard(&alice_dir, 880.0, 440.0);
    assert_heard(&bob_dir, 440.0, 880.0);
    let cdr = v.cdrs(1);
    assert!(cdr.contains("alice") && cdr.contains("answered"), "{}", cdr);
    // The silent connection was closed by the server after the handshake timeout (2 s),
    // long before the call ended.
    assert!(
        closed_by_server(&mut idle, Duration::from_secs(1)),
        "idle connection still open after {:?}",
        opened.elapsed()
    );
    assert!(v.log().contains("handshake timed out"), "{}", v.log());
}

/// A TCP relay standing for a NAT box: connections to it go on to `to`; every SIP start
/// line that crosses it is recorded with its direction (">" towards vozbox, "<" back).
fn nat_relay(to: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.9:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for inside in l.incoming().map_while(Result::ok) {
            let Ok(outside) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            for (mut a, mut b, dir) in [
                (
                    inside.try_clone().unwrap(),
                    outside.try_clone().unwrap(),
                    ">",
                ),
                (outside, inside, "<"),
            ] {
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = a.read(&mut buf) {
                        if n == 0 || b.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        let text = String::from_utf8_lossy(&buf[..n]);
                        for l in text.lines() {
                            if l.starts_with("SIP/2.0 ") || l.contains(" SIP/2.0") {
                                log.lock().unwrap().push(format!("{} {}", dir, l));
                            }
                        }
                    }
                    let _ = b.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (port, seen)
}

#[test]
fn a_register_mode_friend_over_tcp_behind_nat_gets_its_calls_over_its_connection() {
    let v = Vozbox::start("tcp-friend", "tcp_idle_timeout = 2\n", PROVISION);
    let (relay, seen) = nat_relay(v.port);
    // baresip (the friend's PBX) registers through the NAT: vozbox sees the relay's
    // connection, and a Contact with baresip's own address behind it.
    // (Its second account, 250, answers the number dialled, as the PBX's dialplan would.)
    let (hq_dir, hq_port) = baresip_dir(
        "hq",
        &format!(
            "<sip:hq-asterisk@127.0.0.1;transport=tcp>;auth_pass=HqAsterisk-Pass+1;regint=60;answermode=auto;outbound=\"sip:127.0.0.9:{};transport=tcp\"\n<sip:250@127.0.0.1>;regint=0;answermode=auto",
            relay
        ),
        880,
    );
    let mut hq = Command::new("baresip")
        .arg("-f")
        .arg(&hq_dir)
        .args(["-n", "127.0.0.1", "-t", "20", "-s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("baresip");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.registrations().contains("sip:hq-asterisk@127.0.0.1") {
        assert!(Instant::now() < deadline, "hq did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
    let regs = v.registrations();
    assert!(
        regs.contains(&format!("@127.0.0.1:{};transport=tcp", hq_port)),
        "{}",
        regs
    );
    assert!(!regs.contains(&format!(":{}->", hq_port)), "{}", regs);
    // Longer than the idle timeout: a connection a binding uses stays open, while one that
    // carries no registration is closed.
    let mut unbound = TcpStream::connect(("127.0.0.1", v.port)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(closed_by_server(&mut unbound, Duration::from_secs(1)));
    // alice dials 250: the friend's pattern; the INVITE goes back through the relay.
    sipp_ok(&alice_dials(
        &v,
        "uac_call.xml",
        "250",
        "u1",
        "127.0.0.1",
        &[],
    ));
    let crossed = seen.lock().unwrap().clone();
    assert!(
        crossed.iter().any(|l| l.starts_with("< INVITE sip:250@")),
        "INVITE not sent over the friend's connection: {:?}",
        crossed
    );
    assert!(
        crossed.iter().any(|l| l.starts_with("> SIP/2.0 200")),
        "{:?}",
        crossed
    );
    assert!(v.cdrs(1).contains("friend:hq-asterisk"));
    let _ = hq.kill();
    let _ = hq.wait();
}

#[test]
fn a_direct_friend_is_called_over_tls_with_its_pinned_certificate() {
    let dir = temp_dir("tls-friend-certs");
    let (pem, _, _, fp) = openssl_cert(&dir, "pbx");
    // baresip is the friend's PBX, answering over TLS with that certificate.
    let pbx = common::peer::tls_peer("pbx", "300", &pem);
    let mut wrong = fp.clone();
    wrong.replace_range(0..2, if fp.starts_with("00") { "11" } else { "00" });
    let friend = |name: &str, prefix: u8, pin: Option<&str>| {
        format!(
            "\n[[friend]]\nclient = \"bluebird\"\nname = \"{name}\"\nmode = \"direct\"\npriority = {prefix}\npatterns = [\"^{prefix}[0-9]{{2}}$\"]\naddress = \"127.0.0.5\"\nport = {}\ntransport = \"tls\"\n{}",
            pbx.port,
            pin.map(|p| format!("tls_fingerprint = \"{}\"\n", p)).unwrap_or_default()
        )
    };
    let provision = format!(
        "{}{}{}{}",
        PROVISION,
        friend("pbx-pinned", 3, Some(&fp.replace(':', "").to_lowercase())),
        friend("pbx-wrong-pin", 4, Some(&wrong)),
        friend("pbx-system-roots", 5, None),
    );
    let (v, _) = start_tls("tls-friend", "", &provision);
    let call =
        |number: &str, scenario: &str| alice_dials(&v, scenario, number, "u1", "127.0.0.1", &[]);
    // The pinned certificate: the call is answered over TLS.
    sipp_ok(&call("300", "uac_call.xml"));
    // Another certificate than the pinned one, or one no system root signed: the handshake
    // fails and the call is refused at once with 503 (RFC 3261 §8.1.3.1).
    for number in ["400", "500"] {
        let started = Instant::now();
        let s = call(number, "uac_refused.xml");
        sipp_ok(&s);
        assert!(s.messages.contains("SIP/2.0 503"), "{}", s.messages);
        assert!(started.elapsed() < Duration::from_secs(5), "{}", s.messages);
    }
    let port = pbx.port;
    let pbx_out = pbx.stop();
    let invites = common::peer::TlsPeer::invites(&pbx_out);
    assert!(
        !invites.is_empty() && invites.iter().all(|l| l.starts_with("INVITE sip:300@")),
        "{:?}",
        invites
    );
    assert!(
        pbx_out.contains(&format!("-> 127.0.0.5:{}", port)),
        "{}",
        pbx_out
    );
    let log = v.log();
    assert!(log.contains("invalid peer certificate"), "{}", log);
    let cdrs = v.cdrs(3);
    assert!(cdrs.contains("friend:pbx-pinned"), "{}", cdrs);
    assert!(
        cdrs.lines().filter(|l| l.contains(" 503 ")).count() >= 2,
        "{}",
        cdrs
    );
}

#[test]
fn old_tls_versions_are_refused_and_a_new_certificate_is_picked_up_without_a_restart() {
    let (mut v, tls) = start_tls("tls-reload", "", PROVISION);
    let made = printed_fingerprint(&v);
    for hi in ["TLSv1", "TLSv1_1"] {
        let r = tls_client(tls, hi, hi, "");
        assert_eq!(r["ok"], false, "{} accepted: {}", hi, r);
        // The server refused it (its alert), not the client.
        assert!(
            r["error"].as_str().unwrap_or("").contains("ALERT"),
            "{}: {}",
            hi,
            r
        );
    }
    for (ver, name) in [("TLSv1_2", "TLSv1.2"), ("TLSv1_3", "TLSv1.3")] {
        let r = tls_client(tls, ver, ver, "");
        assert_eq!(r["version"], name, "{}", r);
        assert_eq!(r["fingerprint"], made.as_str());
    }
    assert!(v.cli("tls").contains(&made));
    // The operator puts another certificate in place and sends SIGHUP.
    let other = temp_dir("tls-reload-new");
    let (_, crt, key, fp) = openssl_cert(&other, "replacement");
    std::fs::copy(&crt, v.dir.join("certs/vozbox.crt")).unwrap();
    std::fs::copy(&key, v.dir.join("certs/vozbox.key")).unwrap();
    let pid = v.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = tls_client(tls, "TLSv1_2", "TLSv1_3", "");
        if r["fingerprint"] == fp.as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still the old certificate: {}",
            r
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(v.cli("tls").contains(&fp));
    // A broken file is refused by name on reload (admin call), and the current certificate
    // stays.
    std::fs::write(v.dir.join("certs/vozbox.crt"), "not a certificate\n").unwrap();
    let out = Command::new(BIN)
        .args(["tls", "--reload", "--config"])
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vozbox.crt") && err.contains("no certificate"),
        "{}",
        err
    );
    assert_eq!(
        tls_client(tls, "TLSv1_2", "TLSv1_3", "")["fingerprint"],
        fp.as_str()
    );
    // And a restart with it stops with the same message.
    v.kill();
    let err = start_fails(&v.config);
    assert!(
        err.contains("vozbox.crt") && err.contains("no certificate"),
        "{}",
        err
    );
}

/// `vozbox run` with `config`, which must stop with an error within 20 s: what it printed.
fn start_fails(config: &Path) -> String {
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vozbox started instead of stopping with an error");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn an_expired_certificate_stops_the_start_naming_the_file() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let dir = temp_dir("tls-expired");
    let port = free_port("127.0.0.1");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sip]\nlisten = [\"tls:127.0.0.1:{}\"]\n[tls]\ncertificate = \"{}\"\nkey = \"{}\"\n[storage]\npath = \"{}\"\n[api]\nlisten = \"\"\n",
            port,
            data.join("expired.crt").display(),
            data.join("expired.key").display(),
            dir.join("db.redb").display()
        ),
    )
    .unwrap();
    let err = start_fails(&config);
    assert!(
        err.contains("expired.crt") && err.contains("expired on"),
        "{}",
        err
    );
}

#[test]
fn sips_uris_keepalives_and_connection_limits() {
    let (v, tls) = start_tls("tls-sips", "max_connections_per_ip = 3\n", PROVISION);
    // RFC 5626 §3.5.1: a double CRLF is answered with a single one.
    let r = tls_client(tls, "TLSv1_2", "TLSv1_3", "\\r\\n\\r\\n");
    assert_eq!(r["reply"], "\r\n", "{}", r);
    // sips: URIs are SIP URIs: OPTIONS is answered 200, REGISTER is challenged, over TLS.
    let req = |method: &str, uri: &str, to: &str| {
        format!(
            "{method} {uri} SIP/2.0\\r\\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{method}\\r\\nFrom: <{to}>;tag=1\\r\\nTo: <{to}>\\r\\nCall-ID: {method}@x\\r\\nCSeq: 1 {method}\\r\\nContact: <sips:alice@127.0.0.1:5999>\\r\\nMax-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n"
        )
    };
    let r = tls_client(
        tls,
        "TLSv1_2",
        "TLSv1_3",
        &req("OPTIONS", "sips:127.0.0.1", "sips:probe@127.0.0.1"),
    );
    assert!(
        r["reply"].as_str().unwrap().starts_with("SIP/2.0 200 OK"),
        "{}",
        r
    );
    assert!(
        r["reply"].as_str().unwrap().contains("Via: SIP/2.0/TLS"),
        "{}",
        r
    );
    let r = tls_client(
        tls,
        "TLSv1_2",
        "TLSv1_3",
        &req("REGISTER", "sips:127.0.0.1", "sips:alice@127.0.0.1"),
    );
    let reply = r["reply"].as_str().unwrap();
    assert!(reply.starts_with("SIP/2.0 401"), "{}", r);
    assert!(reply.contains("WWW-Authenticate: Digest"), "{}", r);
    // The same sips: request over UDP asks for TLS it did not get: 416 (RFC 3261 §26.2.2).
    let plain = String::from_utf8(options("127.0.0.1", "sipsudp"))
        .unwrap()
        .replacen("OPTIONS sip:", "OPTIONS sips:", 1);
    let r = udp_exchange(
        &v.addr(),
        "127.0.0.1",
        plain.as_bytes(),
        Duration::from_secs(2),
    )
    .expect("an answer to a sips: OPTIONS over UDP");
    assert!(r.starts_with("SIP/2.0 416"), "{}", r);
    // At most 3 connections from one address, counted from the TCP accept (also while
    // the TLS handshake has not even started): the 4th is closed at once; another address
    // is still served.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", tls)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    assert!(closed_by_server(&mut fourth, Duration::from_secs(2)));
    let r = tls_client(tls, "TLSv1_2", "TLSv1_3", "");
    assert_eq!(
        r["ok"], false,
        "a 4th connection from 127.0.0.1 was served: {}",
        r
    );
    sipp_ok(&options_from(&v, "t1", "127.0.0.2", &[]));
    drop(held);
    // Once they are gone, 127.0.0.1 is served again.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tls_client(tls, "TLSv1_2", "TLSv1_3", "")["ok"], true);
}

#[test]
fn a_binding_whose_connection_closed_is_not_reached_until_it_registers_again() {
    let v = Vozbox::start("tcp-closed", "", PROVISION);
    // bob registers over TCP; SIPp then exits and its connection closes.
    sipp_ok(&sipp(
        "register.xml",
        &v.addr(),
        "t1",
        "127.0.0.1",
        &creds("127.0.0.1", "bob", "Bob-Secret-22"),
        &[],
    ));
    assert!(v.registrations().contains("sip:bob@127.0.0.1"));
    let api = v.api_get("/api/registrations");
    assert!(api.contains("\"reachable\":false"), "{}", api);
    // A call to bob takes the not-registered path (480) instead of waiting on a dead flow.
    sipp_ok(&alice_dials(
        &v,
        "uac_refused.xml",
        "101",
        "u1",
        "127.0.0.1",
        &[],
    ));
    assert!(v.cdrs(1).contains("not_registered"), "{}", v.cdrs(1));
    // bob registers again (over UDP, answering there): reached.
    let bob = callee(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), "uas_answer.xml");
    sipp_ok(&alice_dials(
        &v,
        "uac_call.xml",
        "101",
        "u1",
        "127.0.0.1",
        &[],
    ));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
}

#[test]
fn a_connection_a_call_uses_stays_open_past_the_idle_timeout() {
    // alice calls over TCP without a registration on that connection; the call lasts
    // longer than the idle timeout (2 s) and her BYE still travels over it.
    let v = Vozbox::start("tcp-call-idle", "tcp_idle_timeout = 2\n", PROVISION);
    let bob = callee(&v, "127.0.0.1", ("bob", "Bob-Secret-22"), "uas_answer.xml");
    sipp_ok(&alice_dials(
        &v,
        "uac_call.xml",
        "101",
        "t1",
        "127.0.0.1",
        &["-d", "3500"],
    ));
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let cdr = v.cdrs(1);
    assert!(cdr.contains("answered"), "{}", cdr);
    assert!(!v.log().contains("idle and unused"), "{}", v.log());
}

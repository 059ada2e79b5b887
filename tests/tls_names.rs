//! A carrier reached by host name over TLS (RFC 3263, RFC 5922): its certificate must be
//! valid for the name vozbox was given, not merely for the address it resolved to. A test
//! CA (OpenSSL) signs a certificate for `trunk.test`, which a baresip carrier presents;
//! vozbox trusts that CA (`SSL_CERT_FILE`) and resolves both `trunk.test` and
//! `alias.test` to the carrier's address through a DNS server on loopback. The call
//! through `trunk.test` is answered; the one through `alias.test`, same address and
//! certificate, is refused at once with `503`.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate it signs for `name`, in `dir`: (the CA's certificate,
/// the server's certificate and key in one PEM).
fn ca_and_server_cert(dir: &Path, name: &str) -> (String, String) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "30", "-subj", "/CN=vozbox test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(dir, &ca);
    let subject = format!("/CN={}", name);
    let mut req = vec!["req", "-subj", subject.as_str()];
    req.extend(ec);
    req.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &req);
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName=DNS:{}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            name
        ),
    )
    .expect("the extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("a PEM");
    let pem = dir.join("server.pem");
    std::fs::write(&pem, read("server.crt") + &read("server.key")).expect("the PEM");
    (
        dir.join("ca.crt").display().to_string(),
        pem.display().to_string(),
    )
}

/// Two carriers at one address under two names, after the client's lab.
const CARRIERS: &str = r#"
[[carrier]]
brand = "acme"
name = "trunk"
address = "trunk.test"
port = CARRIER_PORT
transport = "tls"

# The same address under another name: its certificate does not carry it.
[[carrier]]
brand = "acme"
name = "alias"
address = "alias.test"
port = CARRIER_PORT
transport = "tls"

[[outgoing_route]]
brand = "acme"
name = "to-trunk"
prefix = "+346"
carriers = ["trunk"]

[[outgoing_route]]
brand = "acme"
name = "to-alias"
prefix = "+347"
carriers = ["alias"]
"#;

#[test]
fn a_tls_carrier_by_name_must_present_a_certificate_for_that_name() {
    let certs = temp_dir("tls-names-certs");
    let (ca, pem) = ca_and_server_cert(&certs, "trunk.test");
    // baresip is the carrier, answering over TLS with that certificate
    let carrier = common::peer::tls_peer("trunk", "+34600111222", &pem);
    let dns = common::dns::dns_server(
        "tls-names-dns",
        "trunk.test. 60 IN A 127.0.0.5\nalias.test. 60 IN A 127.0.0.5\n",
    );
    let (sip, tls) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let extra = format!(
        "listen = [\"udp:127.0.0.1:{sip}\", \"tcp:127.0.0.1:{sip}\", \"tls:127.0.0.1:{tls}\"]\n{}",
        dns.config()
    );
    let carriers = CARRIERS.replace("CARRIER_PORT", &carrier.port.to_string());
    let prov = format!("{}{}", SPANISH_CLIENT, carriers);
    let v = Vozbox::start_with_env(
        temp_dir("tls-names"),
        sip,
        &extra,
        &prov,
        &[("SSL_CERT_FILE", ca.as_str())],
    );
    let call =
        |number: &str, scenario: &str| alice_dials(&v, scenario, number, "u1", "127.0.0.1", &[]);
    // its certificate carries trunk.test, signed by a CA vozbox trusts: answered
    sipp_ok(&call("600111222", "uac_call.xml"));
    // alias.test: the same address and certificate, not its name: refused at once
    let started = Instant::now();
    let refused = call("700111222", "uac_refused.xml");
    sipp_ok(&refused);
    assert!(
        refused.messages.contains("SIP/2.0 503"),
        "{}",
        refused.messages
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let seen = carrier.stop();
    let invites = common::peer::TlsPeer::invites(&seen);
    assert!(
        !invites.is_empty()
            && invites
                .iter()
                .all(|l| l.starts_with("INVITE sip:+34600111222@trunk.test:")),
        "{:?}",
        invites
    );
    let log = v.log();
    assert!(log.contains("invalid peer certificate"), "{}", log);
    let cdrs = v.cdrs(2);
    assert!(cdrs.contains("carrier:trunk:+34600111222"), "{}", cdrs);
    assert!(cdrs.contains("carrier:alias:+34700111222"), "{}", cdrs);
}

//! Raw SIP over UDP for what SIPp cannot do: one datagram and its answer, and a minimal
//! user agent computing its own digests.

use super::*;

/// Sends raw bytes over UDP and returns the first response (if any within `wait`).
pub fn udp_exchange(to: &str, from_ip: &str, data: &[u8], wait: Duration) -> Option<String> {
    let s = UdpSocket::bind(format!("{}:0", from_ip)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(data, to.parse::<SocketAddr>().unwrap()).unwrap();
    let mut buf = vec![0u8; 65536];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

/// A minimal, well-formed OPTIONS for liveness checks.
pub fn options(target: &str, branch: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{t} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{b};rport\r\nFrom: <sip:probe@127.0.0.1>;tag={b}\r\nTo: <sip:{t}>\r\nCall-ID: {b}@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        t = target,
        b = branch
    )
    .into_bytes()
}

/// A minimal UDP user agent for tests that need what SIPp cannot do (SHA-256 digest,
/// bursts with chosen nonce-counts): alice@127.0.0.1 registering with her password. The
/// digest is computed here with the md-5/sha2 crates, not with vozbox's own code.
pub struct RawUa {
    pub sock: UdpSocket,
    pub server: String,
    call: String,
    buf: Vec<u8>,
}

impl RawUa {
    pub fn new(server: &str, call: &str) -> RawUa {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // room for every answer of a burst still being sent
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        RawUa {
            sock,
            server: server.to_string(),
            call: call.to_string(),
            buf: vec![0u8; 4096],
        }
    }

    /// Sends REGISTER number `n` (CSeq and branch), with an Authorization line or "".
    pub fn register(&self, n: u32, auth: &str) {
        let l = self.sock.local_addr().unwrap();
        self.register_contact(n, auth, &format!("sip:alice@{};n={}", l, n));
    }

    /// The same with a Contact URI of the caller's choice.
    pub fn register_contact(&self, n: u32, auth: &str, contact: &str) {
        let l = self.sock.local_addr().unwrap();
        let msg = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{c}{n};rport\r\nFrom: <sip:alice@127.0.0.1>;tag=s\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {c}@test\r\nCSeq: {n} REGISTER\r\nContact: <{contact}>\r\n{auth}Max-Forwards: 70\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n",
            c = self.call
        );
        self.sock.send_to(msg.as_bytes(), &self.server).unwrap();
    }

    pub fn recv(&mut self) -> Option<String> {
        let n = self.sock.recv(&mut self.buf).ok()?;
        Some(String::from_utf8_lossy(&self.buf[..n]).into_owned())
    }

    /// Registers without credentials and returns the 401 and its nonce.
    pub fn challenge(&mut self) -> (String, String) {
        self.register(1, "");
        let r = self.recv().expect("an answer to REGISTER");
        assert!(r.starts_with("SIP/2.0 401"), "{}", r);
        let nonce = r
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a nonce")
            .to_string();
        (r, nonce)
    }

    /// The Authorization line for alice with `algorithm` ("MD5" or "SHA-256").
    pub fn authorization(algorithm: &str, nonce: &str, nc: u32) -> String {
        let h = |s: String| -> String {
            let bytes: Vec<u8> = if algorithm == "SHA-256" {
                use sha2::Digest;
                sha2::Sha256::digest(s.as_bytes()).to_vec()
            } else {
                use md5::Digest;
                md5::Md5::digest(s.as_bytes()).to_vec()
            };
            bytes.iter().map(|b| format!("{:02x}", b)).collect()
        };
        let nc = format!("{:08x}", nc);
        let ha1 = h("alice:127.0.0.1:Alice-Secret-1".into());
        let ha2 = h("REGISTER:sip:127.0.0.1".into());
        let resp = h(format!("{}:{}:{}:c0ffee:auth:{}", ha1, nonce, nc, ha2));
        format!(
            "Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"{}\", uri=\"sip:127.0.0.1\", response=\"{}\", algorithm={}, qop=auth, nc={}, cnonce=\"c0ffee\"\r\n",
            nonce, resp, algorithm, nc
        )
    }
}

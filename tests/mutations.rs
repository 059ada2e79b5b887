//! Never a panic, never a stalled listener: many deterministic random mutations of the
//! RFC 4475 messages and of a SIPp REGISTER are fed to the parser and the request checks
//! (in process), then a sample of them to the running server, which must still answer.

mod common;
use common::*;
use std::time::Duration;
use vozbox::sip::message::Message;
use vozbox::sip::validate::check_request;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const REGISTER: &str = "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1-1;rport\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: 1@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@127.0.0.1:5060;transport=UDP>;q=0.5;expires=60\r\nAuthorization: Digest username=\"alice\",realm=\"127.0.0.1\",cnonce=\"6b8b4567\",nc=00000001,qop=auth,uri=\"sip:127.0.0.1\",nonce=\"0000000069f0c0de\",response=\"4c0242fb1304c6f16053fd8c45259aa9\",algorithm=MD5\r\nMax-Forwards: 70\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n";

const TOKENS: &[&[u8]] = &[
    "\\é".as_bytes(),
    "é".as_bytes(),
    b"\\\"",
    b"\"\"",
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"%",
    b"%00",
    b"@",
    b"=",
    b"sip:",
    b"sips:",
    b"tel:",
    b"SIP/2.0",
    b"SIP/7.0",
    b"Via: ",
    b"Content-Length: 99999999999999999999",
    b"l: 5",
    b"CSeq: 4294967296 REGISTER",
    b";branch=",
    b";rport",
    b"[::1]",
    b":65536",
    b"\xff\xfe",
    b"\0",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(m.len() + 1);
        match rng.below(4) {
            0 if !m.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(m.len());
                m.drain(at.min(m.len())..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                m.splice(at..at, t.iter().copied());
            }
            2 if at < m.len() => m[at] = rng.next() as u8,
            _ => {
                // duplicate a slice (header repeated, message doubled)
                let from = rng.below(m.len());
                let len = rng.below(64).min(m.len() - from);
                let piece: Vec<u8> = m[from..from + len].to_vec();
                m.splice(at..at, piece);
            }
        }
    }
    m
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/data/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.push(REGISTER.as_bytes().to_vec());
    out
}

#[test]
fn parser_and_checks_survive_200k_mutations() {
    let corpus = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..200_000 {
        let base = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, base);
        if let Ok(msg) = Message::parse(&m) {
            if let Ok(checked) = check_request(&msg) {
                let _ = checked.to.uri();
                for c in &checked.contacts {
                    let _ = c.uri();
                }
            }
            if let Some(a) = msg.get("Authorization") {
                if let Ok(c) = vozbox::auth::digest::Credentials::parse(a) {
                    let _ = c.nonce_count();
                }
            }
            let _ = msg.to_bytes();
        }
    }
}

#[test]
fn server_survives_mutated_traffic_over_udp_and_tcp() {
    use std::io::Write;
    // Robustness, not the rate limit, is tested here: the mutated traffic comes from the
    // address that asks OPTIONS afterwards (tests/hostile.rs covers the limit).
    let mut v = Vozbox::start("mutations", "rate_limit = 0\n", PROVISION);
    let corpus = corpus();
    let mut rng = Rng(0x0ddb_a11c_0ffe_e002);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3000 {
        let i = rng.below(corpus.len());
        let m = mutate(&mut rng, &corpus[i]);
        let _ = sock.send_to(&m, v.addr());
    }
    for _ in 0..20 {
        if let Ok(mut s) = std::net::TcpStream::connect(v.addr()) {
            for _ in 0..50 {
                let i = rng.below(corpus.len());
                let m = mutate(&mut rng, &corpus[i]);
                if s.write_all(&m).is_err() {
                    break;
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(v.is_running(), "vozbox died: {}", v.log());
    let r = udp_exchange(
        &v.addr(),
        "127.0.0.1",
        &options("127.0.0.1", "after-mutations"),
        Duration::from_secs(3),
    );
    assert!(
        r.as_deref().is_some_and(|r| r.starts_with("SIP/2.0 200")),
        "{:?}",
        r
    );
    sipp_ok(&sipp(
        "register.xml",
        &v.addr(),
        "t1",
        "127.0.0.1",
        &creds("127.0.0.1", "alice", "Alice-Secret-1"),
        &[],
    ));
}

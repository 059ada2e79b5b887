//! RFC 4475 torture messages, one test per message, each sent over UDP and over TCP to a
//! fresh server: the process stays up and still answers OPTIONS, and the answer (if the
//! message is a request a response can be addressed to) is the one the RFC prescribes.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// This exact status code.
    Code(u16),
    /// Over UDP this code; over TCP nothing (the stream waits for a body that never comes).
    UdpOnly(u16),
    /// Any answer that is not a complaint about the syntax (not 400, 416 or 505).
    Valid,
    /// A response or an unaddressable message: nothing comes back.
    Nothing,
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/rfc4475/{}.dat",
        env!("CARGO_MANIFEST_DIR"),
        name
    ))
    .unwrap()
}

fn status(resp: &str) -> Option<u16> {
    resp.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn check(name: &str, got: Option<String>, expect: Expect, transport: &str) {
    let code = got.as_deref().and_then(status);
    let ok = match expect {
        Expect::Code(c) => code == Some(c),
        Expect::UdpOnly(c) if transport == "udp" => code == Some(c),
        Expect::UdpOnly(_) | Expect::Nothing => got.is_none(),
        Expect::Valid => !matches!(code, Some(400) | Some(416) | Some(505)),
    };
    assert!(
        ok,
        "{} over {}: expected {:?}, got {:?}",
        name, transport, expect, got
    );
}

/// The process is up and answers a well-formed OPTIONS.
fn alive(v: &mut Vozbox, tag: &str) {
    assert!(v.is_running(), "vozbox died; log:\n{}", v.log());
    let r = udp_exchange(
        &v.addr(),
        "127.0.0.1",
        &options("127.0.0.1", tag),
        Duration::from_secs(3),
    );
    assert!(
        r.as_deref().is_some_and(|r| r.starts_with("SIP/2.0 200")),
        "no 200 to OPTIONS: {:?}",
        r
    );
}

fn run(name: &str, index: u8, expect: Expect) {
    let mut v = Vozbox::start(name, "", PROVISION);
    let msg = data(name);

    // UDP from 127.0.0.(20+index), on the port of the Via's sent-by (5060 when absent):
    // where responses to Vias without rport are sent
    let ip = format!("127.0.0.{}", 20 + index);
    let text = String::from_utf8_lossy(&msg);
    let via_port = text
        .lines()
        .find(|l| l.starts_with("Via:") || l.starts_with("v:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|h| h.split(';').next())
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(5060);
    let sock = UdpSocket::bind(format!("{}:{}", ip, via_port)).expect("bind the Via port");
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    sock.send_to(&msg, v.addr()).unwrap();
    let mut buf = vec![0u8; 65536];
    let got = sock
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    check(name, got, expect, "udp");
    alive(&mut v, &format!("{}u", index));

    // TCP: the response comes back on the connection
    let mut s = TcpStream::connect(v.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    s.write_all(&msg).unwrap();
    let mut buf = vec![0u8; 65536];
    let got = match s.read(&mut buf) {
        Ok(n) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    };
    check(name, got, expect, "tcp");
    alive(&mut v, &format!("{}t", index));
}

macro_rules! torture {
    ($($name:ident = $idx:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            run(stringify!($name), $idx, $expect);
        }
    )*};
}

use Expect::*;

torture! {
    // 3.1.1 valid messages: parsed and processed
    wsinv = 1 => Valid;
    intmeth = 2 => Code(501);
    esc01 = 3 => Valid;
    escnull = 4 => Valid;
    esc02 = 5 => Valid;
    lwsdisp = 6 => Valid;
    longreq = 7 => Valid;
    dblreq = 8 => Valid;
    semiuri = 9 => Valid;
    transports = 10 => Valid;
    mpart01 = 11 => Valid;
    unreason = 12 => Nothing;
    noreason = 13 => Nothing;
    // 3.1.2 invalid messages
    badinv01 = 14 => Code(400);
    clerr = 15 => UdpOnly(400);
    scalar02 = 16 => Code(400);
    scalarlg = 17 => Nothing;
    quotbal = 18 => Code(400);
    ltgtruri = 19 => Code(400);
    lwsruri = 20 => Code(400);
    lwsstart = 21 => Code(400);
    trws = 22 => Code(400);
    escruri = 23 => Code(400);
    baddate = 24 => Code(400);
    regbadct = 25 => Code(400);
    badaspec = 26 => Code(400);
    // the file has no empty line after the headers: a stream waits for it
    baddn = 27 => UdpOnly(400);
    badvers = 28 => Code(505);
    mismatch01 = 29 => Code(400);
    mismatch02 = 30 => Code(400);
    bigcode = 31 => Nothing;
    badbranch = 32 => Valid;
    // 3.2 transaction layer
    insuf = 33 => Code(400);
    // 3.3 application layer
    unkscm = 34 => Code(416);
    novelsc = 35 => Code(416);
    // a registrar refuses a To that is not a SIP URI
    unksm2 = 36 => Code(400);
    bext01 = 37 => Code(420);
    invut = 38 => Valid;
    regaut01 = 39 => Code(401);
    multi01 = 40 => Code(400);
    mcl01 = 41 => Code(400);
    bcast = 42 => Valid;
    zeromf = 43 => Valid;
    cparam01 = 44 => Valid;
    cparam02 = 45 => Valid;
    regescrt = 46 => Valid;
    sdp01 = 47 => Valid;
    inv2543 = 48 => Valid;
}

/// One bad message on a TCP connection gets its 400 and the connection keeps serving.
#[test]
fn tcp_connection_survives_a_bad_message() {
    let v = Vozbox::start("tcpbad", "", PROVISION);
    let mut s = TcpStream::connect(v.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let bad = "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbad1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nThis line has no colon\r\nContent-Length: 0\r\n\r\n";
    s.write_all(bad.as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("SIP/2.0 400"), "{}", r);
    let good = String::from_utf8(options("127.0.0.1", "good1"))
        .unwrap()
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    s.write_all(good.as_bytes()).unwrap();
    let n = s.read(&mut buf).unwrap();
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("SIP/2.0 200"), "{}", r);
    // and a double-CRLF keep-alive is answered with a CRLF (RFC 5626 §3.5.1)
    s.write_all(b"\r\n\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
}

/// Oversized messages are refused: over UDP dropped, over TCP the connection ends; the
/// server keeps serving others.
#[test]
fn oversized_messages_are_refused() {
    let mut v = Vozbox::start("oversize", "max_message_size = 1024\n", PROVISION);
    let big = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbig;rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(3000)
    );
    assert_eq!(
        udp_exchange(
            &v.addr(),
            "127.0.0.1",
            big.as_bytes(),
            Duration::from_millis(700)
        ),
        None
    );
    let mut s = TcpStream::connect(v.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(big.replace("/UDP", "/TCP").as_bytes());
    let mut buf = [0u8; 16];
    assert!(
        matches!(s.read(&mut buf), Ok(0) | Err(_)),
        "the connection stays open"
    );
    alive(&mut v, "oversize");
}

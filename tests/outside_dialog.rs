//! Requests outside any dialog (no To tag) of methods vozbox allows only in one — REFER,
//! BYE, UPDATE, INFO — are answered `481` (RFC 3515 §2.4.2 for REFER), not a `405` whose
//! `Allow` lists them; a method vozbox does not know is `405`.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn dialog_methods_outside_a_dialog_get_481_and_unknown_methods_405() {
    let v = Vozbox::start("outside-dialog", "", PROVISION);
    for (method, code) in [
        ("REFER", "481"),
        ("BYE", "481"),
        ("UPDATE", "481"),
        ("INFO", "481"),
        ("PUBLISH", "405"),
    ] {
        let m = format!(
            "{method} sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKout{method};rport\r\nFrom: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: out-{method}@test\r\nCSeq: 1 {method}\r\nRefer-To: <sip:102@127.0.0.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        let r = udp_exchange(&v.addr(), "127.0.0.1", m.as_bytes(), Duration::from_secs(3))
            .expect("an answer");
        assert!(r.starts_with(&format!("SIP/2.0 {code} ")), "{method}: {r}");
        if code == "405" {
            assert!(r.contains("Allow: "), "{r}");
        }
    }
}

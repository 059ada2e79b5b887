//! Responses built from the request they answer (RFC 3261 §8.2.6).

use super::glance::Glance;
use super::message::{HeaderField, Message, StartLine, H};
use super::text::Text;

pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, REFER";
pub const ACCEPT: &str = "application/sdp";
pub const SERVER: &str = "vozbox/0.1";

/// Builds a response: Via (all), From, To (with `to_tag` added when the request had
/// none), Call-ID, CSeq. The transport layer fills in `received`/`rport` on the top Via.
pub fn response(req: &Message, code: u16, reason: &str, to_tag: &str) -> Message {
    let mut headers = Vec::with_capacity(12);
    for h in &req.headers {
        if h.kind == H::Via {
            headers.push(HeaderField::new("Via", h.value.clone()));
        }
    }
    for (kind, name) in [
        (H::From, "From"),
        (H::To, "To"),
        (H::CallId, "Call-ID"),
        (H::CSeq, "CSeq"),
    ] {
        if let Some(h) = req.headers.iter().find(|h| h.kind == kind) {
            let mut value = h.value.clone();
            if kind == H::To && code > 100 && !has_tag(&h.value) && !to_tag.is_empty() {
                value.push_str(";tag=");
                value.push_str(to_tag);
            }
            headers.push(HeaderField::new(name, value));
        }
    }
    headers.push(HeaderField::new("Server", Text::from_static(SERVER)));
    Message {
        start: StartLine::Response {
            version: Text::from_static("SIP/2.0"),
            code,
            reason: reason.into(),
        },
        headers,
        body: Vec::new(),
        framing_error: None,
    }
}

/// A response printed by `to_bytes` or `Answer::print` (the same bytes) as `printed`,
/// answered instead with `code` and `reason`: its Via, From, To, Call-ID and CSeq lines kept
/// byte for byte, then `Server` and `extra` (printed as given: full names, no
/// `Content-Length`), no body. (Both print one line per header field, full names.)
pub fn restatus(printed: &[u8], code: u16, reason: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    debug_assert!(
        printed.starts_with(b"SIP/2.0 ") && super::message::header_end(printed).is_some()
    );
    let head = &printed[..super::message::header_end(printed).unwrap_or(printed.len())];
    let mut out = Vec::with_capacity(head.len());
    let mut digits = itoa::Buffer::new();
    for part in ["SIP/2.0 ", digits.format(code), " ", reason, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    // the status line is skipped; the lines kept end with their own CRLF
    for line in head.split_inclusive(|&b| b == b'\n').skip(1) {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let kind = std::str::from_utf8(name).map_or(H::Other, |n| H::of(n.trim()));
        if matches!(kind, H::Via | H::From | H::To | H::CallId | H::CSeq) && line.contains(&b':') {
            out.extend_from_slice(line);
        }
    }
    for (name, value) in [("Server", SERVER)].iter().chain(extra) {
        for part in [*name, ": ", *value, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

/// The same response as `response(…).to_bytes()` with `top_via` stamped on it, printed
/// straight from a glance at the request (no parse, one allocation): a new request refused
/// past capacity (`server/shed.rs`). The request's To has no tag (`shed.rs` sends one that
/// may have one to the parsed path): a tag is added; `extra` header fields follow `Server`.
pub fn glanced_response(
    g: &Glance,
    top_via: &str,
    code: u16,
    reason: &str,
    to_tag: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut put = |parts: &[&str]| {
        for p in parts {
            out.extend_from_slice(p.as_bytes());
        }
    };
    let status = code.to_string();
    put(&["SIP/2.0 ", &status, " ", reason, "\r\n"]);
    for (i, via) in g.vias().iter().enumerate() {
        put(&["Via: ", if i == 0 { top_via } else { via }, "\r\n"]);
    }
    put(&["From: ", g.from, "\r\nTo: ", g.to]);
    if code > 100 && !to_tag.is_empty() {
        put(&[";tag=", to_tag]);
    }
    put(&[
        "\r\nCall-ID: ",
        g.call_id,
        "\r\nCSeq: ",
        g.cseq,
        "\r\nServer: ",
        SERVER,
        "\r\n",
    ]);
    for (k, v) in extra {
        put(&[k, ": ", v, "\r\n"]);
    }
    put(&["Content-Length: 0\r\n\r\n"]);
    out
}

pub(super) fn has_tag(v: &str) -> bool {
    // a tag parameter is spelt with "tag" (any case): without it, no parse is needed
    if !v
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"tag"))
    {
        return false;
    }
    match super::headers::NameAddr::parse(v) {
        Ok(na) => na.tag().is_some(),
        Err(_) => v.contains(";tag="),
    }
}

impl Message {
    pub fn push_header(&mut self, name: &str, value: impl Into<Text>) {
        self.headers.push(HeaderField::new(name, value));
    }

    /// Replaces the top Via value (used to add `received` and `rport`).
    pub fn set_top_via(&mut self, value: String) {
        if let Some(h) = self.headers.iter_mut().find(|h| h.kind == H::Via) {
            // A header field may carry several Vias; only the first element changes.
            let rest: Vec<&str> = if h.value.contains(',') {
                super::message::split_commas(&h.value)
            } else {
                Vec::new()
            };
            if rest.len() <= 1 {
                h.value = value.into();
            } else {
                let mut parts = vec![value];
                parts.extend(rest.iter().skip(1).map(|s| s.to_string()));
                h.value = parts.join(", ").into();
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        // Writing to a Vec cannot fail.
        match &self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                for part in [method, " ", uri, " ", version, "\r\n"] {
                    out.extend_from_slice(part.as_bytes());
                }
            }
            StartLine::Response {
                version,
                code,
                reason,
            } => {
                let mut digits = itoa::Buffer::new();
                for part in [version, " ", digits.format(*code), " ", reason, "\r\n"] {
                    out.extend_from_slice(part.as_bytes());
                }
            }
        }
        for h in &self.headers {
            if h.kind == H::ContentLength {
                continue;
            }
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(self.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_dialog_headers_and_adds_to_tag() {
        let raw = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let req = Message::parse(raw.as_bytes()).unwrap();
        let r = response(&req, 200, "OK", "abc");
        assert_eq!(r.all("Via").count(), 2);
        assert_eq!(r.get("To"), Some("<sip:a@b>;tag=abc"));
        let bytes = String::from_utf8(r.to_bytes()).unwrap();
        assert!(bytes.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(bytes.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn a_glanced_response_is_the_parsed_one_byte_for_byte() {
        let raw = "INVITE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP h:5070;branch=z9hG4bK1;rport\r\nMax-Forwards: 70\r\nVia:SIP/2.0/UDP g;branch=z9hG4bK2 , SIP/2.0/UDP k;branch=z9hG4bK3\r\nf: \"A\" <sip:a@b>;tag=1\r\nt: <sip:b@h>\r\ni:  x@y \r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let req = Message::parse(raw.as_bytes()).unwrap();
        let mut r = response(&req, 503, "Service Unavailable", "vb1");
        r.push_header("Retry-After", "5");
        r.set_top_via("SIP/2.0/UDP h:5070;branch=z9hG4bK1;rport=5070;received=1.2.3.4".into());
        let g = Glance::of(raw.as_bytes()).unwrap();
        let bytes = glanced_response(
            &g,
            "SIP/2.0/UDP h:5070;branch=z9hG4bK1;rport=5070;received=1.2.3.4",
            503,
            "Service Unavailable",
            "vb1",
            &[("Retry-After", "5")],
        );
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            String::from_utf8(r.to_bytes()).unwrap()
        );
    }

    #[test]
    fn a_printed_200_restatused_is_the_refusal_built_from_the_request() {
        let requests = [
            "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\nFrom: <sip:a@d>;tag=1\r\nTo: <sip:a@d>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nContact: <sip:a@h:5070>\r\nContent-Length: 0\r\n\r\n",
            // compact names, two Vias in one field and one more, a To with a tag already
            "REGISTER sip:d SIP/2.0\r\nv: SIP/2.0/UDP h:5070;branch=z9hG4bK1, SIP/2.0/UDP g;branch=z9hG4bK2\r\nVia: SIP/2.0/TCP k;branch=z9hG4bK3\r\nf: <sip:a@d>;tag=1\r\nt: <sip:a@d>;TAG=x\r\ni: x@y\r\nCSeq: 2 REGISTER\r\nm: <sip:a@h:5070>\r\n\r\n",
            // folded lines: values that start or end with a space
            "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\nFrom: <sip:a@d>;tag=1\r\n \r\nTo: <sip:a@d>\r\nCall-ID:\r\n x\r\nCSeq: 2 REGISTER\r\n\r\n",
        ];
        let stamped = "SIP/2.0/UDP h:5070;branch=z9hG4bK1;received=1.2.3.4";
        for raw in requests {
            let req = Message::parse(raw.as_bytes()).unwrap();
            let mut ok = response(&req, 200, "OK", "vb1");
            ok.push_header("Contact", "<sip:a@h:5070>;expires=60");
            ok.push_header("Date", "Thu, 01 Jan 1970 00:00:00 GMT");
            ok.set_top_via(stamped.into());
            let mut busy = response(&req, 503, "Service Unavailable", "vb1");
            busy.push_header("Retry-After", "5");
            busy.set_top_via(stamped.into());
            let again = restatus(
                &ok.to_bytes(),
                503,
                "Service Unavailable",
                &[("Retry-After", "5")],
            );
            assert_eq!(
                String::from_utf8(again).unwrap(),
                String::from_utf8(busy.to_bytes()).unwrap()
            );
        }
    }
}

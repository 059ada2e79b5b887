//! A response described by its status and the header fields it adds, printed straight
//! from the request it answers (RFC 3261 §8.2.6): no `Message` is built for it, and its
//! bytes are allocated once, at their size. The registrar answers every REGISTER so (a
//! 401 and a 200 a registration); the bytes are those of `reply::response`, the top Via
//! stamped, the fields pushed, then `to_bytes` (a test holds the two together).

use super::commas::split_commas;
use super::message::{Message, H};
use super::reply::{has_tag, SERVER};
use std::borrow::Cow;

/// A response yet to be printed: its status, and the header fields that follow `Server`,
/// in order (full names, no `Content-Length`: it has no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub reason: &'static str,
    pub extra: Vec<(&'static str, Cow<'static, str>)>,
}

impl Answer {
    pub fn new(code: u16, reason: &'static str) -> Answer {
        Answer {
            code,
            reason,
            extra: Vec::new(),
        }
    }

    /// Adds a header field after those already added: a full name, as `HeaderField::new`
    /// would write it (`to_bytes` wrote a known header under its canonical name), and never
    /// `Content-Length` (printed last, from the body).
    pub fn push(&mut self, name: &'static str, value: impl Into<Cow<'static, str>>) {
        debug_assert!(
            H::of(name).canonical().is_none_or(|c| c == name) && H::of(name) != H::ContentLength,
            "{name} is not a field an answer adds as written"
        );
        self.extra.push((name, value.into()));
    }

    /// `push`, for a response built in one expression.
    pub fn with(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Answer {
        self.push(name, value);
        self
    }

    /// The response to `req`: its Vias (the first element of the first replaced by
    /// `top_via`, the stamped one), From, To (with `to_tag` added when it has no tag and
    /// this is not a 100), Call-ID and CSeq, then `Server`, the added fields and
    /// `Content-Length: 0`.
    pub fn print(&self, req: &Message, top_via: &str, to_tag: &str) -> Vec<u8> {
        let mut size = 0;
        self.pieces(req, top_via, to_tag, |p| size += p.len());
        let mut out = Vec::with_capacity(size);
        self.pieces(req, top_via, to_tag, |p| out.extend_from_slice(p));
        out
    }

    /// Hands the response's bytes to `put`, piece by piece, in order.
    fn pieces(&self, req: &Message, top_via: &str, to_tag: &str, mut put: impl FnMut(&[u8])) {
        let mut line = |parts: &[&str]| {
            for p in parts {
                put(p.as_bytes());
            }
            put(b"\r\n");
        };
        let mut digits = itoa::Buffer::new();
        line(&["SIP/2.0 ", digits.format(self.code), " ", self.reason]);
        let mut first = true;
        for h in req.headers.iter().filter(|h| h.kind == H::Via) {
            let value = h.value.as_str();
            if !std::mem::take(&mut first) {
                line(&["Via: ", value]);
                continue;
            }
            // a field with several Vias: only its first element is replaced
            let rest = if value.contains(',') {
                split_commas(value)
            } else {
                Vec::new()
            };
            if rest.len() <= 1 {
                line(&["Via: ", top_via]);
            } else {
                put_via_list(&mut line, top_via, &rest[1..]);
            }
        }
        for (kind, name) in [
            (H::From, "From: "),
            (H::To, "To: "),
            (H::CallId, "Call-ID: "),
            (H::CSeq, "CSeq: "),
        ] {
            let Some(h) = req.headers.iter().find(|h| h.kind == kind) else {
                continue;
            };
            let value = h.value.as_str();
            if kind == H::To && self.code > 100 && !to_tag.is_empty() && !has_tag(value) {
                line(&[name, value, ";tag=", to_tag]);
            } else {
                line(&[name, value]);
            }
        }
        line(&["Server: ", SERVER]);
        for (name, value) in &self.extra {
            line(&[name, ": ", value]);
        }
        line(&["Content-Length: 0\r\n"]);
    }
}

/// `Via: top, rest[0], rest[1], …` as one line.
fn put_via_list(line: &mut impl FnMut(&[&str]), top: &str, rest: &[&str]) {
    let mut parts = Vec::with_capacity(2 + 2 * rest.len());
    parts.extend(["Via: ", top]);
    for r in rest {
        parts.extend([", ", *r]);
    }
    line(&parts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::reply::response;

    /// Requests whose answers must print as the built responses do: compact names, Vias
    /// several to a field and in more fields, a To with a tag already (any case), folded
    /// values, no Via at all.
    const REQUESTS: &[&str] = &[
        "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\nFrom: <sip:a@d>;tag=1\r\nTo: <sip:a@d>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nContact: <sip:a@h:5070>\r\nContent-Length: 0\r\n\r\n",
        "REGISTER sip:d SIP/2.0\r\nv: SIP/2.0/UDP h:5070;branch=z9hG4bK1 ,SIP/2.0/UDP g;branch=z9hG4bK2,  SIP/2.0/UDP k\r\nVia: SIP/2.0/TCP k;branch=z9hG4bK3\r\nf: <sip:a@d>;tag=1\r\nt: <sip:a@d>;TAG=x\r\ni: x@y\r\nCSeq: 2 REGISTER\r\nm: <sip:a@h:5070>\r\n\r\n",
        "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\nFrom: <sip:a@d>;tag=1\r\n \r\nTo: \"tag\" <sip:a@d>\r\nCall-ID:\r\n x\r\nCSeq: 2 REGISTER\r\n\r\n",
        "OPTIONS sip:d SIP/2.0\r\nFrom: <sip:a@d>;tag=1\r\nTo: <sip:a@d>\r\nCall-ID: x\r\nCSeq: 2 OPTIONS\r\n\r\n",
    ];

    #[test]
    fn an_answer_prints_as_the_response_built_from_the_request() {
        let stamped = "SIP/2.0/UDP h:5070;branch=z9hG4bK1;received=1.2.3.4;rport=5070";
        for raw in REQUESTS {
            let req = Message::parse(raw.as_bytes()).unwrap();
            for (code, reason, tag) in [
                (200, "OK", "vb1"),
                (401, "Unauthorized", "vb2"),
                (100, "Trying", "vb3"),
                (200, "OK", ""),
            ] {
                let mut built = response(&req, code, reason, tag);
                let mut answer = Answer::new(code, reason)
                    .with("Contact", "<sip:a@h:5070>;expires=60")
                    .with("Contact", format!("<sip:a@{}>;expires=3600", "g"));
                answer.push("Date", "Thu, 01 Jan 1970 00:00:00 GMT");
                for (k, v) in &answer.extra {
                    built.push_header(k, v.to_string());
                }
                built.set_top_via(stamped.into());
                let printed = answer.print(&req, stamped, tag);
                assert_eq!(
                    String::from_utf8(printed.clone()).unwrap(),
                    String::from_utf8(built.to_bytes()).unwrap(),
                    "{raw:?} answered {code}"
                );
            }
        }
    }

    #[test]
    fn the_printed_answer_parses_back() {
        let req = Message::parse(REQUESTS[1].as_bytes()).unwrap();
        let printed = Answer::new(401, "Unauthorized")
            .with("WWW-Authenticate", "Digest realm=\"d\", nonce=\"n\"")
            .print(&req, "SIP/2.0/UDP h:5070;branch=z9hG4bK1", "vb9");
        let resp = Message::parse(&printed).unwrap();
        assert_eq!(resp.all("Via").count(), 2);
        assert_eq!(resp.list("Via").len(), 4);
        assert_eq!(resp.get("To"), Some("<sip:a@d>;TAG=x"));
        assert_eq!(resp.get("Content-Length"), Some("0"));
        assert!(resp.body.is_empty());
    }
}

//! Responses built from the request they answer (RFC 3261 §8.2.6).

use super::message::{name_is, HeaderField, Message, StartLine};

pub const ALLOW: &str = "REGISTER, OPTIONS";
pub const ACCEPT: &str = "application/sdp";
pub const SERVER: &str = "vozbox/0.1";

/// Builds a response: Via (all, the top one with `received`/`rport` as the transport
/// found), From, To (with `to_tag` added when the request had none), Call-ID, CSeq.
pub fn response(req: &Message, code: u16, reason: &str, to_tag: &str) -> Message {
    let mut headers = Vec::with_capacity(10);
    for h in &req.headers {
        if name_is(&h.name, "Via") {
            headers.push(HeaderField {
                name: "Via".into(),
                value: h.value.clone(),
            });
        }
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if let Some(v) = req.get(name) {
            let mut value = v.to_string();
            if name == "To" && code > 100 && !has_tag(v) && !to_tag.is_empty() {
                value.push_str(";tag=");
                value.push_str(to_tag);
            }
            headers.push(HeaderField {
                name: name.into(),
                value,
            });
        }
    }
    headers.push(HeaderField {
        name: "Server".into(),
        value: SERVER.into(),
    });
    Message {
        start: StartLine::Response {
            version: "SIP/2.0".into(),
            code,
            reason: reason.into(),
        },
        headers,
        body: Vec::new(),
        framing_error: None,
    }
}

fn has_tag(v: &str) -> bool {
    match super::headers::NameAddr::parse(v) {
        Ok(na) => na.tag().is_some(),
        Err(_) => v.contains(";tag="),
    }
}

impl Message {
    pub fn push_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push(HeaderField {
            name: name.to_string(),
            value: value.into(),
        });
    }

    /// Rewrites the top Via value (used to add `received` and `rport`).
    pub fn set_top_via(&mut self, value: String) {
        if let Some(h) = self.headers.iter_mut().find(|h| name_is(&h.name, "Via")) {
            // A header field may carry several Vias; only the first element changes.
            let rest: Vec<&str> = super::message::split_commas(&h.value);
            let mut parts = vec![value];
            parts.extend(rest.iter().skip(1).map(|s| s.to_string()));
            h.value = parts.join(", ");
        }
    }
}

pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        _ => "Unknown",
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
}

//! A SIP message as it came off the wire: the start line, the header fields in order and the
//! body. Parsing is strict about framing (the things that make a message ambiguous) and
//! lenient about the rest; typed access to single headers lives in `headers.rs`.

pub use super::commas::{commas, split_commas, Commas};
use super::text::Text;
use std::borrow::Cow;
use std::sync::Arc;

/// Why a message could not be taken apart. The transport turns this into `400` where a
/// response can still be addressed, or drops the message where it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Text,
        uri: Text,
        version: Text,
    },
    Response {
        version: Text,
        code: u16,
        reason: Text,
    },
}

/// One header field: its name as written, which header that is, and its value with
/// folding undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// As written for unknown headers; the canonical long name for known ones (a compact
    /// `v:` is written back as `Via:`), which needs no allocation.
    pub name: Cow<'static, str>,
    pub kind: H,
    pub value: Text,
}

impl HeaderField {
    /// Whether this field is the header `name`, of kind `kind` (`H::of(name)`).
    fn is(&self, kind: H, name: &str) -> bool {
        if kind == H::Other {
            name_is(&self.name, name)
        } else {
            self.kind == kind
        }
    }

    pub fn new(name: &str, value: impl Into<Text>) -> HeaderField {
        let kind = H::of(name);
        HeaderField {
            name: match kind.canonical() {
                Some(c) => Cow::Borrowed(c),
                None => Cow::Owned(name.to_string()),
            },
            kind,
            value: value.into(),
        }
    }
}

/// The header fields vozbox looks up, recognised once when a message is parsed so that
/// lookups compare a byte instead of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    ContentLength,
    ContentType,
    Authorization,
    Expires,
    MaxForwards,
    Require,
    Date,
    Path,
    UserAgent,
    Other,
}

impl H {
    pub fn canonical(self) -> Option<&'static str> {
        Some(match self {
            H::Via => "Via",
            H::From => "From",
            H::To => "To",
            H::CallId => "Call-ID",
            H::CSeq => "CSeq",
            H::Contact => "Contact",
            H::ContentLength => "Content-Length",
            H::ContentType => "Content-Type",
            H::Authorization => "Authorization",
            H::Expires => "Expires",
            H::MaxForwards => "Max-Forwards",
            H::Require => "Require",
            H::Date => "Date",
            H::Path => "Path",
            H::UserAgent => "User-Agent",
            H::Other => return None,
        })
    }

    pub fn of(name: &str) -> H {
        let eq = |s: &str| name.eq_ignore_ascii_case(s);
        match name.len() {
            1 => match name.as_bytes()[0].to_ascii_lowercase() {
                b'v' => H::Via,
                b'f' => H::From,
                b't' => H::To,
                b'i' => H::CallId,
                b'm' => H::Contact,
                b'l' => H::ContentLength,
                b'c' => H::ContentType,
                _ => H::Other,
            },
            2 if eq("to") => H::To,
            3 if eq("via") => H::Via,
            4 if eq("from") => H::From,
            4 if eq("cseq") => H::CSeq,
            4 if eq("date") => H::Date,
            4 if eq("path") => H::Path,
            7 if eq("call-id") => H::CallId,
            7 if eq("contact") => H::Contact,
            7 if eq("expires") => H::Expires,
            7 if eq("require") => H::Require,
            10 if eq("user-agent") => H::UserAgent,
            12 if eq("content-type") => H::ContentType,
            12 if eq("max-forwards") => H::MaxForwards,
            13 if eq("authorization") => H::Authorization,
            14 if eq("content-length") => H::ContentLength,
            _ => H::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub start: StartLine,
    pub headers: Vec<HeaderField>,
    pub body: Vec<u8>,
    /// Set when the framing was wrong but the headers could be read (a `Content-Length`
    /// that does not match the body, for example): the request deserves a `400`.
    pub framing_error: Option<String>,
}

/// Compact header names (RFC 3261 §7.3.3) and their long forms.
const COMPACT: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("u", "Allow-Events"),
    ("x", "Session-Expires"),
];

/// Whether `a` names the header `long` (long or compact form, any case).
pub fn name_is(a: &str, long: &str) -> bool {
    if a.eq_ignore_ascii_case(long) {
        return true;
    }
    if a.len() == 1 {
        return COMPACT
            .iter()
            .any(|(c, l)| c.eq_ignore_ascii_case(a) && l.eq_ignore_ascii_case(long));
    }
    false
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

/// Finds the end of the header block: the index just after the empty line, accepting CRLF
/// and bare LF line ends (and a mix of them, e.g. CRLF followed by LF).
pub fn header_end(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(pos) = memchr_nl(&data[i..]) {
        let nl = i + pos;
        // the next line starts at nl + 1; it is empty if it is "\n" or "\r\n"
        let next = nl + 1;
        if data.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if data.get(next) == Some(&b'\r') && data.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

fn memchr_nl(data: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', data)
}

impl Message {
    /// Parses one whole message (a UDP datagram, or what the stream framer cut out).
    pub fn parse(data: &[u8]) -> Result<Message, ParseError> {
        let Some(end) = header_end(data) else {
            return err("no empty line after the header fields");
        };
        let head = match std::str::from_utf8(&data[..end]) {
            Ok(h) => h,
            Err(_) => return err("header section is not valid UTF-8"),
        };
        // the header section, kept once: every value below is a range of it
        let buf: Arc<str> = Arc::from(head);
        let head: &str = &buf;
        let mut pos = 0;
        let mut lines = std::iter::from_fn(|| {
            if pos >= head.len() {
                return None;
            }
            let end =
                memchr::memchr(b'\n', &head.as_bytes()[pos..]).map_or(head.len(), |i| pos + i);
            // cut at a '\n': on a character boundary
            let line = head.get(pos..end).unwrap_or("");
            pos = end + 1;
            Some(line.strip_suffix('\r').unwrap_or(line))
        });
        let first = lines.next().unwrap_or("");
        let start = parse_start_line(first, &buf)?;

        let mut headers: Vec<HeaderField> = Vec::with_capacity(16);
        for line in lines {
            if line.is_empty() {
                break;
            }
            let b = line.as_bytes()[0];
            if b == b' ' || b == b'\t' {
                match headers.last_mut() {
                    Some(h) => {
                        h.value.push(' ');
                        h.value.push_str(line.trim());
                    }
                    None => return err("continuation line before the first header field"),
                }
                continue;
            }
            let Some(colon) = memchr::memchr(b':', line.as_bytes()) else {
                return err(format!("header line without a colon: {:.40}", line));
            };
            let name = line[..colon].trim_end_matches([' ', '\t']);
            if !is_token(name) {
                return err(format!("invalid header name: {:.40}", name));
            }
            headers.push(HeaderField::new(
                name,
                Text::shared(&buf, line[colon + 1..].trim()),
            ));
        }

        let mut msg = Message {
            start,
            headers,
            body: Vec::new(),
            framing_error: None,
        };
        let available = &data[end..];
        // how many Content-Length fields, and the first one's number
        let (count, first) = {
            let mut cls = msg.all("Content-Length");
            let first = cls.next().map(|v| v.trim().parse::<usize>());
            (usize::from(first.is_some()) + cls.count(), first)
        };
        match (count, first) {
            (0, _) => {
                // Allowed over UDP (the body is the rest of the datagram).
                msg.body = available.to_vec();
            }
            (1, Some(number)) => match number {
                Ok(n) if n <= available.len() => {
                    msg.body = available[..n].to_vec();
                }
                Ok(n) => {
                    msg.body = available.to_vec();
                    msg.framing_error = Some(format!(
                        "Content-Length {} is larger than the {} body bytes received",
                        n,
                        available.len()
                    ));
                }
                Err(_) => {
                    msg.body = available.to_vec();
                    msg.framing_error = Some("Content-Length is not a number".into());
                }
            },
            _ => {
                msg.body = available.to_vec();
                msg.framing_error = Some("more than one Content-Length header".into());
            }
        }
        Ok(msg)
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The first value of the named header (long or compact name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_text(name).map(Text::as_str)
    }

    /// `get`'s value as the `Text` it is (its parts can share it).
    pub fn get_text(&self, name: &str) -> Option<&Text> {
        let kind = H::of(name);
        self.headers
            .iter()
            .find(|h| h.is(kind, name))
            .map(|h| &h.value)
    }

    /// Every header field of that name, in order, as `Text`s.
    pub fn all_text<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Text> + 'a {
        let kind = H::of(name);
        self.headers
            .iter()
            .filter(move |h| h.is(kind, name))
            .map(|h| &h.value)
    }

    /// Every header field of that name, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.all_text(name).map(Text::as_str)
    }

    /// Every element of comma-separated header fields of that name (quotes and angle
    /// brackets respected).
    pub fn list<'a>(&'a self, name: &'a str) -> Vec<Cow<'a, str>> {
        let mut out = Vec::new();
        for v in self.all(name) {
            for item in commas(v) {
                out.push(Cow::Borrowed(item));
            }
        }
        out
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.get("CSeq")?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse::<u32>().ok()?;
        let m = it.next()?;
        if it.next().is_some() {
            return None;
        }
        Some((n, m))
    }

    pub fn call_id(&self) -> Option<&str> {
        self.get("Call-ID").filter(|v| !v.is_empty())
    }
}

fn parse_start_line(line: &str, buf: &Arc<str>) -> Result<StartLine, ParseError> {
    if line.is_empty() {
        return err("empty start line");
    }
    if line.starts_with(' ') || line.starts_with('\t') {
        return err("start line begins with white space");
    }
    if let Some(rest) = line.strip_prefix("SIP/") {
        let mut parts = rest.splitn(3, ' ');
        let v = parts.next().unwrap_or("");
        let code = parts.next().unwrap_or("");
        let reason = parts.next().unwrap_or("");
        let code: u16 = match code.parse() {
            Ok(c) if (100..=699).contains(&c) && code.len() == 3 => c,
            _ => return err(format!("bad status code: {:.20}", code)),
        };
        let version = match v {
            "2.0" => Text::from_static("SIP/2.0"),
            _ => format!("SIP/{}", v).into(),
        };
        return Ok(StartLine::Response {
            version,
            code,
            reason: Text::shared(buf, reason),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly single spaces.
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return err("request line is not Method SP Request-URI SP SIP-Version");
    };
    if method.is_empty() || uri.is_empty() || version.is_empty() {
        return err("request line is not Method SP Request-URI SP SIP-Version");
    }
    if !is_token(method) {
        return err(format!("invalid method: {:.20}", method));
    }
    Ok(StartLine::Request {
        method: Text::shared(buf, method),
        uri: Text::shared(buf, uri),
        version: Text::shared(buf, version),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_length_in_its_compact_and_full_forms_is_two() {
        let raw = "OPTIONS sip:a@h SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n";
        let msg = super::Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(
            msg.framing_error.as_deref(),
            Some("more than one Content-Length header")
        );
        let one = super::Message::parse(b"OPTIONS sip:a@h SIP/2.0\r\nl: 2\r\n\r\nabc").unwrap();
        assert_eq!((one.body.as_slice(), one.framing_error), (&b"ab"[..], None));
    }

    use super::*;

    #[test]
    fn parses_register_with_compact_and_folded_headers() {
        let raw = b"REGISTER sip:example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\ni: x\r\nCSeq: 1\r\n REGISTER\r\nl: 0\r\n\r\n";
        let m = Message::parse(raw).unwrap();
        assert_eq!(m.method(), Some("REGISTER"));
        assert_eq!(m.get("Via"), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
        assert_eq!(m.cseq(), Some((1, "REGISTER")));
        assert!(m.framing_error.is_none());
    }

    #[test]
    fn content_length_too_large_is_a_framing_error() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc";
        let m = Message::parse(raw).unwrap();
        assert!(m.framing_error.is_some());
    }

    #[test]
    fn bad_request_lines() {
        assert!(Message::parse(b"INVITE  sip:a@b SIP/2.0\r\n\r\n").is_err());
        assert!(Message::parse(b"IN<VITE sip:a@b SIP/2.0\r\n\r\n").is_err());
        assert!(Message::parse(b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n").is_err());
        assert!(Message::parse(b"INVITE sip:a@b SIP/2.0\r\n").is_err());
    }

    fn request(line: &str, headers: &str) -> Message {
        let raw = format!("{}\r\n{}Content-Length: 0\r\n\r\n", line, headers);
        Message::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn request_uri_parts() {
        let m = request(
            "INVITE sip:%2B3491%20555@Example.COM;user=phone SIP/2.0",
            "",
        );
        assert_eq!(m.request_uri_user().as_deref(), Some("+3491 555"));
        assert_eq!(m.request_uri_host().as_deref(), Some("example.com"));
        let m = request("INVITE sips:bob@10.0.0.2:5061 SIP/2.0", "");
        assert_eq!(m.request_uri_user().as_deref(), Some("bob"));
        assert_eq!(m.request_uri_host().as_deref(), Some("10.0.0.2"));
        // tel: has no user part in the grammar: the number reads as the host.
        let m = request("INVITE tel:+34915550000;phone-context=x SIP/2.0", "");
        assert_eq!(m.request_uri_user(), None);
        assert_eq!(m.request_uri_host().as_deref(), Some("+34915550000"));
        let m = request("INVITE sip:100@ SIP/2.0", "");
        assert_eq!(m.request_uri_user(), None);
        let r = Message::parse(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(r.request_uri().is_none());
    }

    #[test]
    fn content_type_and_sdp() {
        assert!(request("INVITE sip:a@b SIP/2.0", "").is_sdp());
        assert_eq!(request("INVITE sip:a@b SIP/2.0", "").content_type(), None);
        let m = request("INVITE sip:a@b SIP/2.0", "c: Application/SDP ; x=1\r\n");
        assert!(m.is_sdp());
        assert_eq!(m.content_type(), Some("Application/SDP ; x=1"));
        let m = request("INVITE sip:a@b SIP/2.0", "Content-Type: text/plain\r\n");
        assert!(!m.is_sdp());
        assert!(!request("INVITE sip:a@b SIP/2.0", "Content-Type: sdp\r\n").is_sdp());
    }

    #[test]
    fn max_forwards_values() {
        assert_eq!(request("INVITE sip:a@b SIP/2.0", "").max_forwards(), None);
        let m = request("INVITE sip:a@b SIP/2.0", "Max-Forwards:  0 \r\n");
        assert_eq!(m.max_forwards(), Some(0));
        let m = request("INVITE sip:a@b SIP/2.0", "Max-Forwards: abc\r\n");
        assert_eq!(m.max_forwards(), None);
        let m = request("INVITE sip:a@b SIP/2.0", "Max-Forwards: -1\r\n");
        assert_eq!(m.max_forwards(), None);
    }

    #[test]
    fn name_addr_and_top_via() {
        let m = request(
            "INVITE sip:a@b SIP/2.0",
            "To: <sip:b@c>;tag=9\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bKx, SIP/2.0/TCP g\r\n",
        );
        assert_eq!(
            m.name_addr("To")
                .and_then(|n| n.tag().map(str::to_string))
                .as_deref(),
            Some("9")
        );
        assert!(m.name_addr("Contact").is_none());
        let via = m.top_via().unwrap();
        assert_eq!((via.host.as_str(), via.port), ("h", Some(5070)));
        assert_eq!(via.branch(), Some("z9hG4bKx"));
    }
}

//! Typed views of the header fields vozbox reads. A URI whose parts are needed is parsed by
//! `parse_uri` (the one URI grammar, `uri.rs`; `docs/sip-stack.md`), and `uri_equal`
//! compares on the same parse; the header framing around URIs (Via, name-addr,
//! parameters) is read here so that the raw text of a Contact can be kept and echoed exactly
//! as the phone sent it.

use super::message::{Message, StartLine};
use super::text::Text;
use super::uri::Host;

/// URI equality (RFC 3261 §19.1.4), in `uri_equal.rs`.
pub use super::challenge::Challenge;
/// A parsed URI (`sip::uri::Uri`; parts are read through the functions below).
pub use super::uri::{percent_decode, Uri};
pub use super::uri_equal::uri_equal;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// `;name=value` parameters in order, names and values as written (parts of the header
/// value: no copy of their own where the value is a parsed message's).
pub type Params = Vec<(Text, Option<Text>)>;

/// A parameter by name (any case): `Some(None)` for one without a value.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref().map(Text::as_str))
}

/// `s`, a part of `src`, as parameters.
fn parse_params(src: &Text, s: &str) -> Result<Params, String> {
    let mut out = Vec::new();
    let s = s.trim();
    if s.is_empty() {
        return Ok(out);
    }
    let Some(rest) = s.strip_prefix(';') else {
        return Err(format!("junk before parameters: {:.20}", s));
    };
    out.reserve(1 + memchr::memchr_iter(b';', rest.as_bytes()).count());
    for part in rest.split(';') {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty parameter".into());
        }
        out.push(one_param(src, part)?);
    }
    Ok(out)
}

/// `name[=value]` (trimmed, not empty).
fn one_param(src: &Text, part: &str) -> Result<(Text, Option<Text>), String> {
    match memchr::memchr(b'=', part.as_bytes()).map(|i| (&part[..i], &part[i + 1..])) {
        Some((n, v)) => {
            let n = n.trim();
            if !super::message::is_token(n) {
                return Err(format!("bad parameter name {:.20}", n));
            }
            Ok((src.slice(n), Some(src.slice(v.trim()))))
        }
        None => {
            if !super::message::is_token(part) {
                return Err(format!("bad parameter {:.20}", part));
            }
            Ok((src.slice(part), None))
        }
    }
}

/// The top Via of a request: where to send the response.
#[derive(Debug, Clone)]
pub struct Via {
    /// Upper-cased (`UDP`, `TCP`, `TLS` …).
    pub transport: Text,
    pub host: Text,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    /// Strict parse: every parameter well formed.
    pub fn parse(v: &str) -> Result<Via, String> {
        Self::parse_inner(&Text::share(v), true)
    }

    /// `parse` of a part of a header value (no copy of the parts).
    pub fn parse_in(src: &Text, v: &str) -> Result<Via, String> {
        Self::parse_inner(&src.slice(v), true)
    }

    /// Enough to address a response: protocol and sent-by; malformed parameters skipped.
    pub fn parse_lenient(v: &str) -> Result<Via, String> {
        Self::parse_inner(&Text::share(v), false)
    }

    fn parse_inner(src: &Text, strict: bool) -> Result<Via, String> {
        let v = src.trim();
        let sp = v
            .bytes()
            .position(|c| c == b' ' || c == b'\t')
            .ok_or("Via without sent-by")?;
        let (proto, rest) = (&v[..sp], &v[sp + 1..]);
        // `SIP / 2.0 / transport`: exactly two slashes
        let mut slashes = memchr::memchr_iter(b'/', proto.as_bytes());
        let (Some(s1), Some(s2), None) = (slashes.next(), slashes.next(), slashes.next()) else {
            return Err(format!("bad Via protocol {:.30}", proto));
        };
        let (name, version, transport) = (
            proto[..s1].trim(),
            proto[s1 + 1..s2].trim(),
            proto[s2 + 1..].trim(),
        );
        if !name.eq_ignore_ascii_case("SIP") || transport.is_empty() {
            return Err(format!("bad Via protocol {:.30}", proto));
        }
        if strict && version != "2.0" {
            return Err(format!("Via version SIP/{}", version));
        }
        let transport = match ["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]
            .into_iter()
            .find(|t| t.eq_ignore_ascii_case(transport))
        {
            Some(t) => Text::from_static(t),
            None => Text::from(transport.to_ascii_uppercase()),
        };
        let rest = rest.trim();
        let (sent_by, params) = match memchr::memchr(b';', rest.as_bytes()) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = host_port(sent_by.trim())?;
        let params = if strict {
            parse_params(src, params)?
        } else {
            params
                .split(';')
                .filter_map(|p| {
                    let p = p.trim();
                    (!p.is_empty()).then(|| one_param(src, p).ok()).flatten()
                })
                .collect()
        };
        Ok(Via {
            transport,
            host: src.slice(host),
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch").flatten()
    }
}

/// Splits `host[:port]`, with `[v6]` literals (kept in their brackets).
fn host_port(s: &str) -> Result<(&str, Option<u16>), String> {
    if s.is_empty() {
        return Err("empty host".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed IPv6 literal")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.trim().parse::<u16>().map_err(|_| "bad port")?),
            None if after.trim().is_empty() => None,
            None => return Err("junk after IPv6 literal".into()),
        };
        // `[` + the literal + `]`, as written
        return Ok((&s[..h.len() + 2], port));
    }
    match memchr::memrchr(b':', s.as_bytes()) {
        Some(i) => {
            let p = &s[i + 1..];
            let p = p
                .trim()
                .parse::<u16>()
                .map_err(|_| format!("bad port {:.10}", p))?;
            Ok((s[..i].trim(), Some(p)))
        }
        None => {
            if has_white_space(s) {
                return Err("white space in host".into());
            }
            Ok((s, None))
        }
    }
}

/// `"Display" <uri>;params` or `uri;params` (From, To, Contact, Route …).
#[derive(Debug, Clone)]
pub struct NameAddr {
    pub display: Option<Text>,
    /// The URI text exactly as sent, without the angle brackets. Its grammar is checked
    /// by `uri()`, only where a part of it is needed.
    pub uri_text: Text,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(v: &str) -> Result<NameAddr, String> {
        Self::parse_in(&Text::share(v), v)
    }

    /// `v`, a part of `src` (a header value, or one element of it), without copying its
    /// parts.
    pub fn parse_in(src: &Text, v: &str) -> Result<NameAddr, String> {
        let src = src.slice(v);
        let v = src.trim();
        let (display, uri_text, rest) = if let Some(lt) = find_unquoted(v, b'<') {
            let gt = memchr::memchr(b'>', &v.as_bytes()[lt..])
                .map(|i| lt + i)
                .ok_or("missing '>'")?;
            let d = v[..lt].trim();
            let display = if d.is_empty() {
                None
            } else {
                Some(src.slice(d.trim_matches('"')))
            };
            (display, &v[lt + 1..gt], &v[gt + 1..])
        } else {
            // Without angle brackets the URI cannot contain ';' header parameters of its own.
            match memchr::memchr(b';', v.as_bytes()) {
                Some(i) => (None, &v[..i], &v[i..]),
                None => (None, v, ""),
            }
        };
        if uri_text.is_empty() || has_white_space(uri_text) {
            return Err("bad URI".into());
        }
        if !has_scheme(uri_text) {
            return Err("URI without scheme".into());
        }
        Ok(NameAddr {
            display,
            uri_text: src.slice(uri_text),
            params: parse_params(&src, rest)?,
        })
    }

    /// The URI, parsed.
    pub fn uri(&self) -> Result<Uri, String> {
        parse_uri(&self.uri_text).map_err(|e| format!("bad URI: {}", e))
    }

    pub fn tag(&self) -> Option<&str> {
        param(&self.params, "tag").flatten()
    }
}

/// Where `ch` (ASCII) is outside quotes. Read byte by byte: the bytes looked for are
/// ASCII, which never occur inside a multi-byte character; an escape skips one byte, and
/// whatever it skips (a lead byte, say) is no quote or `ch` either.
fn find_unquoted(s: &str, ch: u8) -> Option<usize> {
    debug_assert!(ch.is_ascii(), "an index found must be a character boundary");
    let b = s.as_bytes();
    // without quotes, the first `ch` is it
    if memchr::memchr(b'"', b).is_none() {
        return memchr::memchr(ch, b);
    }
    let (mut in_q, mut esc) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            b'\\' if in_q => esc = true,
            b'"' => in_q = !in_q,
            c if c == ch && !in_q => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether a URI starts with a well-formed scheme (`uri_scheme` without the copy).
fn has_scheme(text: &str) -> bool {
    let b = text.as_bytes();
    let Some(colon) = memchr::memchr(b':', b) else {
        return false;
    };
    let s = &b[..colon];
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Whether `s` holds white space (any Unicode white space, as `char::is_whitespace`).
fn has_white_space(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| b.is_ascii_whitespace() || b == 0x0b)
    } else {
        s.contains(char::is_whitespace)
    }
}

/// The scheme of a URI as text, lower-cased ("sip", "sips", "tel", …).
pub fn uri_scheme(text: &str) -> Option<Cow<'_, str>> {
    let (s, _) = text.split_once(':')?;
    if s.is_empty()
        || !s.starts_with(|c: char| c.is_ascii_alphabetic())
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    Some(if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    })
}

/// The URI grammar of vozbox: every URI whose parts are needed goes through here
/// (`sip::uri`, RFC 3261 §25).
pub fn parse_uri(text: &str) -> Result<Uri, String> {
    super::uri::parse_uri(text)
}

/// The user part, percent-decoded (None without one).
pub fn uri_user(uri: &Uri) -> Option<String> {
    uri.user_decoded()
}

/// The host, lower-cased; an IP literal in its canonical form (IPv6 without brackets).
pub fn uri_host(uri: &Uri) -> String {
    match &uri.host {
        Host::Name(d) => d.to_ascii_lowercase(),
        Host::Ipv4(ip) => {
            let mut out = String::with_capacity(15);
            super::uri::push_ip(&mut out, IpAddr::V4(*ip));
            out
        }
        Host::Ipv6(ip) => ip.to_string(),
    }
}

pub fn uri_port(uri: &Uri) -> Option<u16> {
    uri.port
}

/// The socket address a URI points at when its host is an IP literal.
pub fn uri_socket(uri: &Uri, default_port: u16) -> Option<SocketAddr> {
    let ip = match &uri.host {
        Host::Ipv4(ip) => IpAddr::V4(*ip),
        Host::Ipv6(ip) => IpAddr::V6(*ip),
        Host::Name(_) => return None,
    };
    Some(SocketAddr::new(ip, uri.port.unwrap_or(default_port)))
}

/// Typed access to the header fields the services read, so that none of them parses header
/// text itself.
impl Message {
    /// The Request-URI, parsed (None for a response or a URI that cannot be read). Read
    /// as a name-addr without brackets: its `;` parameters are not part of it.
    pub fn request_uri(&self) -> Option<Uri> {
        let StartLine::Request { uri, .. } = &self.start else {
            return None;
        };
        NameAddr::parse(uri).ok()?.uri().ok()
    }

    /// The Request-URI's user part, percent-decoded (None without one: a `tel:` URI has
    /// its number where the grammar reads a host).
    pub fn request_uri_user(&self) -> Option<String> {
        uri_user(&self.request_uri()?)
    }

    /// The Request-URI's host, lower-cased.
    pub fn request_uri_host(&self) -> Option<String> {
        Some(uri_host(&self.request_uri()?))
    }

    /// The Content-Type as written (None when absent).
    pub fn content_type(&self) -> Option<&str> {
        self.get("Content-Type")
    }

    /// Whether the body is SDP: no Content-Type, or one starting `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        self.content_type()
            .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"))
    }

    /// Max-Forwards; None when absent or not a number (a request with a bad one was
    /// refused by `validate`).
    pub fn max_forwards(&self) -> Option<u32> {
        self.get("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
    }

    /// The first header field of that name read as a name-addr (From, To, Contact …);
    /// None when absent or unreadable.
    pub fn name_addr(&self, name: &str) -> Option<NameAddr> {
        NameAddr::parse(self.get(name)?).ok()
    }

    /// The top Via, read leniently (enough to match a response to its branch).
    pub fn top_via(&self) -> Option<Via> {
        first_via(self.get("Via")?).ok()
    }
}

/// The top Via of a Via header value, leniently: enough to address a response even to a
/// malformed request.
pub fn first_via(v: &str) -> Result<Via, String> {
    let first = super::message::commas(v).next().ok_or("empty Via")?;
    Via::parse_lenient(first)
}

/// The URI text with its user part replaced by `user` (a friend is called at the number
/// dialled, at the address it registered). A splice of the text after the scheme and
/// before the first `@`, not a parse: the rest is kept exactly as written.
pub fn uri_with_user(uri: &str, user: &str) -> String {
    let (scheme, rest) = match uri.split_once(':') {
        Some(x) => x,
        None => return uri.to_string(),
    };
    let hostpart = match rest.split_once('@') {
        Some((_, h)) => h,
        None => rest,
    };
    format!("{}:{}@{}", scheme, user, hostpart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_rport_and_branch() {
        let v = Via::parse("SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bKabc").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "10.0.0.1");
        assert_eq!(v.port, Some(5062));
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(param(&v.params, "rport"), Some(None));
        assert!(Via::parse("SIP/7.0/UDP h").is_err());
    }

    #[test]
    fn the_byte_scans_answer_as_the_char_functions_did() {
        for uri in [
            "sip:x",
            "1sip:x",
            ":x",
            "s_p:x",
            "sí:x",
            "SIP+a.b-c:x",
            "sip",
            "",
            "tel:+1",
        ] {
            assert_eq!(has_scheme(uri), uri_scheme(uri).is_some(), "{uri:?}");
        }
        for s in [
            "sip:a\u{0b}b",
            "sip:a\u{0c}b",
            "sip:a\u{85}b",
            "sip:a\u{a0}b",
            "sip:a\u{3000}b",
            "sip:ab",
            "sip:é",
            "sip:a\tb",
            "sip:a\rb",
        ] {
            assert_eq!(has_white_space(s), s.contains(char::is_whitespace), "{s:?}");
        }
        let at = |s: &str| find_unquoted(s, b'<');
        assert_eq!(at("\"a\\\"<b\" <sip:x>"), Some(8));
        assert_eq!(at("\"\\é<\" <sip:x>"), Some(7));
        assert_eq!(at("é<sip:x>"), Some(2));
        assert_eq!(at("\"unclosed <sip:x>"), None);
        let n = NameAddr::parse("\"\\é<\" <sip:x@h>;tag=1").unwrap();
        assert_eq!((n.uri_text.as_str(), n.tag()), ("sip:x@h", Some("1")));
    }

    #[test]
    fn via_protocol_and_sent_by_forms() {
        let sent_by =
            |v: &str| Via::parse(v).map(|v| (v.transport.to_string(), v.host.to_string(), v.port));
        let ok = |t: &str, h: &str, p: Option<u16>| Ok((t.to_string(), h.to_string(), p));
        // white space around the colon, any case, tabs, unknown transports (not around the
        // slashes: the first white space ends the protocol)
        assert_eq!(sent_by("SIP/2.0/udp h : 5060"), ok("UDP", "h", Some(5060)));
        assert!(sent_by("SIP / 2.0 / UDP h").is_err());
        assert_eq!(
            sent_by("sip/2.0/Tls\th.example"),
            ok("TLS", "h.example", None)
        );
        assert_eq!(
            sent_by("SIP/2.0/xyz h;branch=z9hG4bK1"),
            ok("XYZ", "h", None)
        );
        assert_eq!(
            sent_by("SIP/2.0/TCP [::1]:5061"),
            ok("TCP", "[::1]", Some(5061))
        );
        for bad in [
            "SIP/2.0/UDP",
            "SIP/2.0 h",
            "SIP/2.0/UDP/X h",
            "SIP/2.0/ h",
            "SIPX/2.0/UDP h",
            "SIP/2.0/UDP h:99999",
            "SIP/2.0/UDP h:",
            "SIP/2.0/UDP [::1",
            "SIP/2.0/UDP h;",
        ] {
            assert!(sent_by(bad).is_err(), "{bad}");
        }
        // the version is checked only when strict
        assert!(Via::parse("SIP/3.0/UDP h").is_err());
        assert!(Via::parse_lenient("SIP/3.0/UDP h;=;branch=z9hG4bK1")
            .is_ok_and(|v| v.branch() == Some("z9hG4bK1")));
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse("\"Alice\" <sip:alice@example.com;transport=tcp>;tag=7").unwrap();
        assert_eq!(n.display.as_deref(), Some("Alice"));
        assert_eq!(n.tag(), Some("7"));
        assert_eq!(uri_user(&n.uri().unwrap()).as_deref(), Some("alice"));
        assert_eq!(uri_host(&n.uri().unwrap()), "example.com");
        let n = NameAddr::parse("sip:bob@10.0.0.2:5070;expires=60").unwrap();
        assert_eq!(param(&n.params, "expires"), Some(Some("60")));
        assert_eq!(
            uri_socket(&n.uri().unwrap(), 5060),
            Some("10.0.0.2:5070".parse().unwrap())
        );
    }

    #[test]
    fn schemes() {
        assert_eq!(uri_scheme("sip:a@b").as_deref(), Some("sip"));
        assert_eq!(
            uri_scheme("nobodyKnowsThisScheme:x").as_deref(),
            Some("nobodyknowsthisscheme")
        );
        assert_eq!(uri_scheme("<sip:a@b>"), None);
    }

    #[test]
    fn challenges() {
        let www = Challenge::of_status(401).unwrap();
        assert_eq!(
            (www.header(), www.credentials_header()),
            ("WWW-Authenticate", "Authorization")
        );
        let proxy = Challenge::of_status(407).unwrap();
        assert_eq!(
            (proxy.header(), proxy.credentials_header()),
            ("Proxy-Authenticate", "Proxy-Authorization")
        );
        assert_eq!(Challenge::of_status(403), None);
    }

    #[test]
    fn user_splice() {
        assert_eq!(
            uri_with_user("sip:alice@10.0.0.1:5070;ob", "100"),
            "sip:100@10.0.0.1:5070;ob"
        );
        assert_eq!(uri_with_user("sip:10.0.0.1", "100"), "sip:100@10.0.0.1");
        assert_eq!(uri_with_user("nothing", "100"), "nothing");
    }
}

//! The URI grammar of vozbox, the only one in the project: RFC 3261 §25 for `sip:` and
//! `sips:` (userinfo, host, port, parameters, headers, every `%` escape checked), a loose
//! RFC 3966 for `tel:`, and any other scheme kept as opaque text. Limits are listed in
//! `docs/sip-stack.md` ("One URI grammar").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, lower-cased (`isbn`, `http` …): the rest is opaque.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ipv4(Ipv4Addr),
    /// Written `[…]` in the URI.
    Ipv6(Ipv6Addr),
    /// A host name as written; for `tel:` the number, for another scheme the opaque part.
    Name(String),
}

/// A parsed URI. Text parts are kept as written (escapes included); `user_decoded` and
/// `percent_decode` give them decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    /// `;name[=value]` in order; names lower-cased, values as written.
    pub params: Vec<(String, Option<String>)>,
    /// `?name=value&…` in order, as written.
    pub headers: Vec<(String, String)>,
}

impl Uri {
    /// The user part, percent-decoded (None without one).
    pub fn user_decoded(&self) -> Option<String> {
        self.user.as_deref().map(percent_decode)
    }
}

/// `ip` as `Display` prints it; an IPv4 address without the formatter's machinery (every
/// response over UDP carries one in its Via).
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(o));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write;
            let _ = write!(out, "{}", ip);
        }
    }
}

const MARK: &[u8] = b"-_.!~*'()";

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || MARK.contains(&c)
}

/// Every byte is `unreserved`, one of `extra`, or a `%HH` escape.
fn is_chars(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(unreserved(b[i]) || extra.contains(&b[i])) {
            return false;
        }
        i += 1;
    }
    true
}

const USER_UNRESERVED: &[u8] = b"&=+$,;?/";
const PASSWORD_EXTRA: &[u8] = b"&=+$,";
const PARAM_UNRESERVED: &[u8] = b"[]/:&+$";
const HNV_UNRESERVED: &[u8] = b"[]/?:+$";

/// `hostname`: labels of letters, digits and inner `-`, the last starting with a letter,
/// an optional final `.`.
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            // (`_` is outside RFC 3261's hostname, but container and lab host names use
            // it: accepted, be liberal in what a peer sends)
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let mut last = None;
    for l in s.split('.') {
        if !label_ok(l) {
            return false;
        }
        last = Some(l);
    }
    last.is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

fn parse_host(s: &str) -> Result<Host, String> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("unclosed IPv6 reference")?;
        return inner
            .parse::<Ipv6Addr>()
            .map(Host::Ipv6)
            .map_err(|_| format!("bad IPv6 reference {:.40}", s));
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(ip));
    }
    if is_hostname(s) {
        Ok(Host::Name(s.to_string()))
    } else {
        Err(format!("bad host {:.40}", s))
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("bad port {:.10}", s));
    }
    s.parse::<u16>()
        .map_err(|_| format!("port out of range {:.10}", s))
}

/// `;name[=value]…` (the text after the first `;`, possibly empty).
fn parse_params(s: Option<&str>) -> Result<Vec<(String, Option<String>)>, String> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in s.split(';') {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        let ok = |t: &str| !t.is_empty() && is_chars(t, PARAM_UNRESERVED);
        if !ok(name) || value.is_some_and(|v| !ok(v)) {
            return Err(format!("bad URI parameter {:.30}", p));
        }
        out.push((name.to_ascii_lowercase(), value.map(str::to_string)));
    }
    Ok(out)
}

fn parse_headers(s: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for h in s.split('&') {
        let (n, v) = h
            .split_once('=')
            .ok_or_else(|| format!("URI header without '=' {:.30}", h))?;
        if n.is_empty() || !is_chars(n, HNV_UNRESERVED) || !is_chars(v, HNV_UNRESERVED) {
            return Err(format!("bad URI header {:.30}", h));
        }
        out.push((n.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Parses a URI (no angle brackets, no surrounding white space).
pub fn parse_uri(text: &str) -> Result<Uri, String> {
    let (scheme, rest) = text.split_once(':').ok_or("URI without scheme")?;
    if !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(format!("bad URI scheme {:.20}", scheme));
    }
    let scheme = if scheme.eq_ignore_ascii_case("sip") {
        Scheme::Sip
    } else if scheme.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else if scheme.eq_ignore_ascii_case("tel") {
        Scheme::Tel
    } else {
        Scheme::Other(scheme.to_ascii_lowercase())
    };
    let mut uri = Uri {
        scheme,
        user: None,
        password: None,
        host: Host::Name(String::new()),
        port: None,
        params: Vec::new(),
        headers: Vec::new(),
    };
    match &uri.scheme {
        Scheme::Other(_) => {
            if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_graphic()) {
                return Err("bad opaque URI".into());
            }
            uri.host = Host::Name(rest.to_string());
        }
        Scheme::Tel => {
            let (number, params) = split_at(rest, ';');
            if number.is_empty() || !is_chars(number, b"+#") {
                return Err(format!("bad telephone number {:.30}", number));
            }
            uri.host = Host::Name(number.to_string());
            uri.params = parse_params(params)?;
        }
        Scheme::Sip | Scheme::Sips => {
            // '@' cannot appear unescaped after the userinfo: the first one ends it.
            let hostpart = match rest.split_once('@') {
                Some((userinfo, h)) => {
                    let (user, password) = split_at(userinfo, ':');
                    if user.is_empty() || !is_chars(user, USER_UNRESERVED) {
                        return Err(format!("bad URI user {:.30}", user));
                    }
                    if password.is_some_and(|p| !is_chars(p, PASSWORD_EXTRA)) {
                        return Err("bad URI password".into());
                    }
                    uri.user = Some(user.to_string());
                    uri.password = password.map(str::to_string);
                    h
                }
                None => rest,
            };
            let (before_headers, headers) = split_at(hostpart, '?');
            let (hostport, params) = split_at(before_headers, ';');
            let (host, port) = match hostport.rfind(':') {
                Some(i) if !hostport[i..].contains(']') => {
                    (&hostport[..i], Some(parse_port(&hostport[i + 1..])?))
                }
                _ => (hostport, None),
            };
            uri.host = parse_host(host)?;
            uri.port = port;
            uri.params = parse_params(params)?;
            uri.headers = parse_headers(headers)?;
        }
    }
    Ok(uri)
}

fn split_at(s: &str, c: char) -> (&str, Option<&str>) {
    match s.split_once(c) {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// `%HH` escapes decoded; anything else (a `%` not followed by two hex digits) kept.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_print_as_display_prints_them() {
        for ip in [
            "0.0.0.0",
            "192.0.2.7",
            "255.255.255.255",
            "10.0.10.100",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = String::new();
            super::push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    use super::*;

    /// (URI, Some((decoded user, host, port)) when it parses).
    type Case = (
        &'static str,
        Option<(Option<&'static str>, &'static str, Option<u16>)>,
    );

    fn host_text(h: &Host) -> String {
        match h {
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => format!("[{}]", ip),
            Host::Name(n) => n.clone(),
        }
    }

    fn check(cases: &[Case]) {
        for (text, want) in cases {
            let got = parse_uri(text)
                .ok()
                .map(|u| (u.user_decoded(), host_text(&u.host), u.port));
            let want = want.map(|(u, h, p)| (u.map(str::to_string), h.to_string(), p));
            assert_eq!(got, want, "{}", text);
        }
    }

    #[test]
    fn rfc4475_uris() {
        check(&[
            ("sip:user;par=u%40example.net@example.com", Some((Some("user;par=u@example.net"), "example.com", None))),
            ("sip:sips%3Auser%40example.com@example.net", Some((Some("sips:user@example.com"), "example.net", None))),
            ("sip:%61lice@atlanta.com;transport=TCP", Some((Some("alice"), "atlanta.com", None))),
            ("sip:%75se%72@example.com", Some((Some("user"), "example.com", None))),
            ("sip:null-%00-null@example.com", Some((Some("null-\0-null"), "example.com", None))),
            ("sip:%00%00@host5.example.com", Some((Some("\0\0"), "host5.example.com", None))),
            ("sip:I%20have%20spaces@example.net", Some((Some("I have spaces"), "example.net", None))),
            ("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", Some((Some("caller"), "host5.example.net", None))),
            ("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
                Some((Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"), "example.com", None))),
            ("sip:services.example.com;lr;unknownwith=value;unknown-no-value", Some((None, "services.example.com", None))),
            ("sip:user@example.com:6000;unknownparam1=x;longparamname=y", Some((Some("user"), "example.com", Some(6000)))),
            ("sip:user@example.com?Route=%3Csip:example.com%3E", Some((Some("user"), "example.com", None))),
            ("sip:vivekg@chair-dnrc.example.com;unknownparam", Some((Some("vivekg"), "chair-dnrc.example.com", None))),
            ("sip:+19725552222@gw1.example.net;unknownparam", Some((Some("+19725552222"), "gw1.example.net", None))),
            ("sip:UserB@example.com;maddr=ss1.example.com", Some((Some("UserB"), "example.com", None))),
            ("sip:j_user@example.com", Some((Some("j_user"), "example.com", None))),
            ("sip:example.com", Some((None, "example.com", None))),
        ]);
    }

    #[test]
    fn hosts_ports_and_schemes() {
        check(&[
            ("sip:[::1]", Some((None, "[::1]", None))),
            (
                "sip:alice@[2001:db8::1]:5070;transport=tcp",
                Some((Some("alice"), "[2001:db8::1]", Some(5070))),
            ),
            (
                "sip:a@[::ffff:1.2.3.4]",
                Some((Some("a"), "[::ffff:1.2.3.4]", None)),
            ),
            (
                "sips:bob@10.0.0.2:5061",
                Some((Some("bob"), "10.0.0.2", Some(5061))),
            ),
            ("SIP:A@HOST", Some((Some("A"), "HOST", None))),
            (
                "sip:a@example.com.",
                Some((Some("a"), "example.com.", None)),
            ),
            (
                "sip:a@example.com:0",
                Some((Some("a"), "example.com", Some(0))),
            ),
            (
                "sip:a@example.com:65535",
                Some((Some("a"), "example.com", Some(65535))),
            ),
            ("sip:a@example.com:65536", None),
            ("sip:a@example.com:", None),
            ("sip:a@host:abc", None),
            ("sip:a@host:+1", None),
            ("sip:a@ho st", None),
            ("sip:a@[::1", None),
            ("sip:a@::1", None),
            ("sip:a@[::1]x", None),
            ("sips:[fe80::1%25eth0]", None),
            ("sip:a@1.2.3.4.5", None),
            ("sip:a@1.2.3.999", None),
            ("sip:a@-bad.com", None),
            ("sip:a@bad-.com", None),
            ("sip:a@h_1.com", Some((Some("a"), "h_1.com", None))),
            ("sip:a@\u{e9}.com", None),
            ("sip:100@", None),
            ("sip:", None),
            ("sip:a@b@c", None),
            ("tel:+34915550000", Some((None, "+34915550000", None))),
            (
                "tel:+34-91-555-0000;phone-context=example.com",
                Some((None, "+34-91-555-0000", None)),
            ),
            ("tel:", None),
            ("tel:+1?x=y", None),
            (
                "nobodyKnowsThisScheme:totallyopaquecontent",
                Some((None, "totallyopaquecontent", None)),
            ),
            ("isbn:2983792873", Some((None, "2983792873", None))),
            ("1sip:a@b", None),
            ("sipab", None),
        ]);
        let u = parse_uri("tel:+1;phone-context=x").unwrap();
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(parse_uri("sips:a@b").unwrap().scheme, Scheme::Sips);
        assert_eq!(
            parse_uri("soap.beep://192.0.2.103:3002").unwrap().scheme,
            Scheme::Other("soap.beep".into())
        );
    }

    #[test]
    fn users_params_and_headers() {
        check(&[
            ("sip:@example.com", None),
            ("sip:a b@host", None),
            ("sip:a%zz@host", None),
            ("sip:a%4@host", None),
            ("sip:a@host;", None),
            ("sip:a@host;;x", None),
            ("sip:a@host;x=", None),
            ("sip:a@host;p=a b", None),
            ("sip:a@host?", None),
            ("sip:a@host?x", None),
            (
                "sip:a@host;transport=x-1;method=FOO;rport=x",
                Some((Some("a"), "host", None)),
            ),
            ("sip:a@host;maddr=[::1]", Some((Some("a"), "host", None))),
        ]);
        let u = parse_uri("sip:a:p%41ss@h;lr;Transport=TCP?subject=x%20y&priority=").unwrap();
        assert_eq!(u.user.as_deref(), Some("a"));
        assert_eq!(u.password.as_deref(), Some("p%41ss"));
        assert_eq!(
            u.params,
            vec![
                ("lr".into(), None),
                ("transport".into(), Some("TCP".into()))
            ]
        );
        assert_eq!(
            u.headers,
            vec![
                ("subject".into(), "x%20y".into()),
                ("priority".into(), String::new())
            ]
        );
        assert_eq!(parse_uri("sip:a:@h").unwrap().password.as_deref(), Some(""));
        assert_eq!(percent_decode("%2B1%2"), "+1%2");
    }
}

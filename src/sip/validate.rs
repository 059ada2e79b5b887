//! The checks every request passes before a service sees it: the answers the stack owes
//! (400, 416, 420, 501, 505) decided in one place, as data.

use super::headers::{parse_uri, uri_scheme, NameAddr, Via};
use super::message::{Message, H};

/// Methods vozbox understands (it may still refuse some of them with 405).
pub const KNOWN_METHODS: &[&str] = &[
    "REGISTER",
    "OPTIONS",
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

/// Option tags vozbox supports (RFC 3261 §8.2.2.3).
pub const SUPPORTED: &[&str] = &["path", "100rel", "timer", "norefersub"];
/// `SUPPORTED` as a `Supported` header's value.
pub const SUPPORTED_HEADER: &str = "path, 100rel, timer, norefersub";

/// A refusal decided before any service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
    /// Why, for the log and a `Warning`-less reason phrase.
    pub detail: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reject {
    fn new(code: u16, reason: &'static str, detail: impl Into<String>) -> Reject {
        Reject {
            code,
            reason,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }
}

/// The top Via, leniently: enough to address a response even to a malformed request.
pub use super::headers::first_via;

/// What the checks parsed, kept so that nothing downstream parses it again.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The top Via.
    pub via: Via,
    pub from: NameAddr,
    pub to: NameAddr,
    /// Every Contact but `*`, parsed.
    pub contacts: Vec<NameAddr>,
    /// Whether a `Contact: *` was among them.
    pub star: bool,
}

/// A `sips:` Request-URI asks for TLS on every hop (RFC 3261 §26.2.2): one that came over
/// UDP or TCP is refused with `416` rather than served insecurely.
pub fn check_secure(msg: &Message, over_tls: bool) -> Result<(), Reject> {
    let super::message::StartLine::Request { uri, .. } = &msg.start else {
        return Ok(());
    };
    if !over_tls && uri_scheme(uri).as_deref() == Some("sips") {
        return Err(Reject::new(
            416,
            "Unsupported URI Scheme",
            "sips: Request-URI over an insecure transport",
        ));
    }
    Ok(())
}

pub fn check_request(msg: &Message) -> Result<Checked, Reject> {
    let super::message::StartLine::Request {
        method,
        uri,
        version,
    } = &msg.start
    else {
        return Err(Reject::new(400, "Bad Request", "not a request"));
    };
    if version != "SIP/2.0" {
        return Err(Reject::new(
            505,
            "Version Not Supported",
            format!("version {:.20}", version),
        ));
    }
    if let Some(e) = &msg.framing_error {
        return Err(Reject::new(400, "Bad Request", e.clone()));
    }
    // Mandatory header fields, each once and well formed.
    // counted in one pass over the header fields
    let mut counts = [0usize; 4];
    for h in &msg.headers {
        match h.kind {
            H::CallId => counts[0] += 1,
            H::CSeq => counts[1] += 1,
            H::From => counts[2] += 1,
            H::To => counts[3] += 1,
            _ => {}
        }
    }
    for (name, n) in ["Call-ID", "CSeq", "From", "To"].into_iter().zip(counts) {
        if n == 0 {
            return Err(Reject::new(400, "Bad Request", format!("missing {}", name)));
        }
        if n > 1 {
            return Err(Reject::new(
                400,
                "Bad Request",
                format!("more than one {}", name),
            ));
        }
    }
    if msg.get("Via").is_none() {
        return Err(Reject::new(400, "Bad Request", "missing Via"));
    }
    let mut top: Option<Via> = None;
    for v in msg.all_text("Via") {
        if v.split(',').any(|e| e.trim().is_empty()) {
            return Err(Reject::new(400, "Bad Request", "empty Via element"));
        }
        for item in super::message::commas(v) {
            let via = Via::parse_in(v, item)
                .map_err(|e| Reject::new(400, "Bad Request", format!("Via: {}", e)))?;
            if top.is_none() {
                top = Some(via);
            }
        }
    }
    let Some(via) = top else {
        return Err(Reject::new(400, "Bad Request", "missing Via"));
    };
    let Some((cseq, cseq_method)) = msg.cseq() else {
        return Err(Reject::new(400, "Bad Request", "malformed CSeq"));
    };
    if cseq >= 1 << 31 {
        return Err(Reject::new(400, "Bad Request", "CSeq number too large"));
    }
    if cseq_method != method {
        return Err(Reject::new(
            400,
            "Bad Request",
            "CSeq method does not match the request",
        ));
    }
    if !KNOWN_METHODS.contains(&method.as_str()) {
        let mut r = Reject::new(501, "Not Implemented", format!("method {:.20}", method));
        r.headers.push(("Allow", super::reply::ALLOW.to_string()));
        return Err(r);
    }
    if let Some(mf) = msg.get("Max-Forwards") {
        match mf.trim().parse::<u32>() {
            Ok(n) if n <= 255 => {}
            _ => return Err(Reject::new(400, "Bad Request", "bad Max-Forwards")),
        }
    }
    let name_addr = |name: &str| -> Result<NameAddr, Reject> {
        let Some(text) = msg.get_text(name) else {
            return Err(Reject::new(400, "Bad Request", format!("missing {}", name)));
        };
        let v = text.as_str();
        let na = NameAddr::parse_in(text, v)
            .map_err(|e| Reject::new(400, "Bad Request", format!("{}: {}", name, e)))?;
        if let Some(d) = &na.display {
            check_display_name(d, v)
                .map_err(|e| Reject::new(400, "Bad Request", format!("{}: {}", name, e)))?;
        }
        Ok(na)
    };
    let from = name_addr("From")?;
    let to = name_addr("To")?;
    // Request-URI: the scheme decides between 416 and parsing.
    match uri_scheme(uri).as_deref() {
        Some("sip") | Some("sips") => {
            if uri.contains(['<', '>', '"']) {
                return Err(Reject::new(
                    400,
                    "Bad Request",
                    "angle brackets in Request-URI",
                ));
            }
            parse_uri(uri)
                .map_err(|e| Reject::new(400, "Bad Request", format!("Request-URI: {}", e)))?;
            if uri.contains('?') {
                return Err(Reject::new(400, "Bad Request", "headers in Request-URI"));
            }
        }
        Some("tel") if method != "REGISTER" => {}
        Some(_) => {
            return Err(Reject::new(
                416,
                "Unsupported URI Scheme",
                format!("scheme of {:.30}", uri),
            ));
        }
        None => {
            return Err(Reject::new(
                400,
                "Bad Request",
                "Request-URI without scheme",
            ))
        }
    }
    let mut contacts = Vec::new();
    let mut star = false;
    for (text, c) in msg
        .all_text("Contact")
        .flat_map(|t| super::message::commas(t).map(move |c| (t, c)))
    {
        if c.trim() == "*" {
            star = true;
            continue;
        }
        let na = NameAddr::parse_in(text, c)
            .map_err(|e| Reject::new(400, "Bad Request", format!("Contact: {}", e)))?;
        if !c.contains('<') && na.uri_text.contains(['?', ',']) {
            return Err(Reject::new(
                400,
                "Bad Request",
                "Contact URI with headers needs angle brackets",
            ));
        }
        contacts.push(na);
    }
    if let Some(ct) = msg.get("Content-Type") {
        if !ct.contains('/') {
            return Err(Reject::new(400, "Bad Request", "bad Content-Type"));
        }
    }
    if let Some(date) = msg.get("Date") {
        if httpdate_ok(date).is_err() {
            return Err(Reject::new(400, "Bad Request", "bad Date"));
        }
    }
    // Require: every option tag must be one we support (not for ACK and CANCEL).
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<String> = msg
            .list("Require")
            .into_iter()
            .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t.trim())))
            .map(|t| t.trim().to_string())
            .collect();
        if !unsupported.is_empty() {
            let mut r = Reject::new(420, "Bad Extension", "unsupported Require");
            r.headers.push(("Unsupported", unsupported.join(", ")));
            return Err(r);
        }
    }
    Ok(Checked {
        via,
        from,
        to,
        contacts,
        star,
    })
}

/// A display name must be a quoted string or a sequence of tokens.
fn check_display_name(d: &str, raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    if raw.starts_with('"') {
        // balanced quotes were already required to find '<'
        return Ok(());
    }
    for word in d.split_whitespace() {
        if !super::message::is_token(word) {
            return Err(format!("unquoted display name with {:.20}", word));
        }
    }
    Ok(())
}

/// RFC 3261 SIP-date: `Sat, 13 Nov 2010 23:29:00 GMT`.
fn httpdate_ok(v: &str) -> Result<(), ()> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" || !parts[0].ends_with(',') {
        return Err(());
    }
    let day = parts[0].trim_end_matches(',');
    if !["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&day) {
        return Err(());
    }
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if !months.contains(&parts[2]) || parts[1].len() != 2 || parts[3].len() != 4 {
        return Err(());
    }
    if parts[1].parse::<u8>().is_err() || parts[3].parse::<u16>().is_err() {
        return Err(());
    }
    let hms: Vec<&str> = parts[4].split(':').collect();
    if hms.len() != 3 || hms.iter().any(|x| x.len() != 2 || x.parse::<u8>().is_err()) {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_header_written_in_its_compact_and_full_forms_counts_twice() {
        let base =
            "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n";
        for (extra, why) in [
            (
                "i: x\r\nCall-ID: y\r\nf: <sip:a@h>;tag=1\r\nTo: <sip:a@h>\r\n",
                "more than one Call-ID",
            ),
            (
                "Call-ID: x\r\nf: <sip:a@h>;tag=1\r\nFrom: <sip:a@h>;tag=2\r\nt: <sip:a@h>\r\n",
                "more than one From",
            ),
            (
                "Call-ID: x\r\nFrom: <sip:a@h>;tag=1\r\nt: <sip:a@h>\r\nTo: <sip:a@h>\r\n",
                "more than one To",
            ),
            ("Call-ID: x\r\nFrom: <sip:a@h>;tag=1\r\n", "missing To"),
        ] {
            let raw = format!("{base}{extra}\r\n");
            let msg = super::Message::parse(raw.as_bytes()).unwrap();
            let r = super::check_request(&msg).unwrap_err();
            assert_eq!((r.code, r.detail.as_str()), (400, why));
        }
    }

    use super::*;

    #[test]
    fn the_supported_header_lists_the_supported_extensions() {
        assert_eq!(SUPPORTED_HEADER, SUPPORTED.join(", "));
    }

    fn req(s: &str) -> Message {
        Message::parse(s.replace('\n', "\r\n").as_bytes()).unwrap()
    }

    const BASE: &str =
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>\nCall-ID: x\n";

    #[test]
    fn the_checked_views_share_the_message_and_keep_parameter_names_as_written() {
        let m = req(
            "REGISTER sip:b SIP/2.0\nVia: SIP/2.0/UDP h:5070;Branch=z9hG4bK1;rport\nFrom: \"A\" <sip:a@b>;TAG=1\nTo: <sip:a@b>\nCall-ID: x\nCSeq: 1 REGISTER\nContact: <sip:a@10.0.0.1>;Expires=60, <sip:a@10.0.0.2>\n\n",
        );
        let c = check_request(&m).unwrap();
        let section = m.get_text("Via").unwrap();
        for t in [
            &c.via.host,
            &c.via.params[0].0,
            &c.from.uri_text,
            c.from.display.as_ref().unwrap(),
            &c.from.params[0].0,
            &c.contacts[1].uri_text,
        ] {
            assert!(t.same_section(section), "{:?} is a copy", t);
        }
        assert_eq!(c.via.params[0].0, "Branch");
        assert_eq!(c.via.branch(), Some("z9hG4bK1"));
        assert_eq!(c.from.tag(), Some("1"));
        assert_eq!(
            super::super::headers::param(&c.contacts[0].params, "expires"),
            Some(Some("60"))
        );
        assert_eq!(c.contacts[1].uri_text, "sip:a@10.0.0.2");
    }

    #[test]
    fn decides_the_stack_answers() {
        let ok = req(&format!(
            "OPTIONS sip:b SIP/2.0\n{}CSeq: 1 OPTIONS\n\n",
            BASE
        ));
        assert!(check_request(&ok).is_ok());
        let v = req(&format!(
            "OPTIONS sip:b SIP/7.0\n{}CSeq: 1 OPTIONS\n\n",
            BASE
        ));
        assert_eq!(check_request(&v).unwrap_err().code, 505);
        let m = req(&format!("FOO sip:b SIP/2.0\n{}CSeq: 1 FOO\n\n", BASE));
        assert_eq!(check_request(&m).unwrap_err().code, 501);
        let s = req(&format!(
            "OPTIONS foo:bar SIP/2.0\n{}CSeq: 1 OPTIONS\n\n",
            BASE
        ));
        assert_eq!(check_request(&s).unwrap_err().code, 416);
        let r = req(&format!(
            "OPTIONS sip:b SIP/2.0\n{}CSeq: 1 OPTIONS\nRequire: foo\n\n",
            BASE
        ));
        assert_eq!(check_request(&r).unwrap_err().code, 420);
        let c = req(&format!(
            "OPTIONS sip:b SIP/2.0\n{}CSeq: 1 INVITE\n\n",
            BASE
        ));
        assert_eq!(check_request(&c).unwrap_err().code, 400);
    }

    #[test]
    fn sips_only_over_tls() {
        let s = req(&format!(
            "OPTIONS sips:b SIP/2.0\n{}CSeq: 1 OPTIONS\n\n",
            BASE
        ));
        assert!(check_request(&s).is_ok());
        assert_eq!(check_secure(&s, false).unwrap_err().code, 416);
        assert!(check_secure(&s, true).is_ok());
        let plain = req(&format!(
            "OPTIONS sip:b SIP/2.0\n{}CSeq: 1 OPTIONS\n\n",
            BASE
        ));
        assert!(check_secure(&plain, false).is_ok());
    }
}

//! A glance at a request's header lines without parsing the message (issue 22): the
//! fields a stateless response is made of (every Via, From, To, Call-ID, CSeq) found line
//! by line and borrowed from the datagram, no allocation. For work that must cost less
//! than a full parse: refusing new requests past capacity (`server/shed.rs`). Anything
//! out of the ordinary gives `None` — folded lines, bare line feeds, a field that may
//! appear once appearing twice, a top Via line holding several values, more than
//! `MAX_VIAS` Via lines, bytes that are not UTF-8, a request line or header name the parser
//! would refuse — and the caller then takes the full parse, which knows the whole grammar.

/// The most Via lines a glanced request may have.
pub const MAX_VIAS: usize = 8;

use super::message::{is_token, H};

#[derive(Debug)]
pub struct Glance<'a> {
    /// The request line's method.
    pub method: &'a str,
    vias: [&'a str; MAX_VIAS],
    n_vias: usize,
    pub from: &'a str,
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: &'a str,
}

/// The lines of a header section (its final CRLF cut off): each ended by CRLF; `None`
/// for a line holding a bare CR or LF.
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Option<&'a str>> {
        if self.0.is_empty() {
            return None;
        }
        let text = self.0;
        let (line, rest) = match memchr::memchr(b'\n', text.as_bytes()) {
            Some(lf) => match text[..lf].strip_suffix('\r') {
                Some(line) => (line, &text[lf + 1..]),
                None => return Some(None),
            },
            None => (text, ""),
        };
        self.0 = rest;
        Some(
            memchr::memchr2(b'\r', b'\n', line.as_bytes())
                .is_none()
                .then_some(line),
        )
    }
}

/// A value set once: a second occurrence, or an empty value, spoils the glance.
fn once<'a>(slot: &mut Option<&'a str>, value: &'a str) -> Option<()> {
    if slot.is_some() || value.is_empty() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl<'a> Glance<'a> {
    /// The request in `data`, if it is an ordinary one (see the module's comment).
    pub fn of(data: &'a [u8]) -> Option<Glance<'a>> {
        let end = memchr::memmem::find(data, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&data[..end]).ok()?;
        let mut lines = Lines(head);
        let start = lines.next()??;
        // Method SP Request-URI SP SIP/2.0, single spaces, as the parser wants it
        let (method, rest) = start.split_once(' ')?;
        let (uri, version) = rest.split_once(' ')?;
        if method.is_empty()
            || !method.bytes().all(|b| b.is_ascii_uppercase())
            || uri.is_empty()
            || version != "SIP/2.0"
        {
            return None;
        }
        let mut vias = [""; MAX_VIAS];
        let mut n_vias = 0;
        let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
        for line in lines {
            let line = line?;
            if line.starts_with([' ', '\t']) {
                return None;
            }
            let colon = memchr::memchr(b':', line.as_bytes())?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let name = name.trim_end_matches([' ', '\t']);
            if !is_token(name) {
                return None;
            }
            // trimmed as the parser trims (its 503 echoes the same text)
            let value = value.trim();
            match H::of(name) {
                H::Via => {
                    if value.is_empty()
                        || n_vias == MAX_VIAS
                        || (n_vias == 0 && memchr::memchr(b',', value.as_bytes()).is_some())
                    {
                        return None;
                    }
                    vias[n_vias] = value;
                    n_vias += 1;
                }
                H::From => once(&mut from, value)?,
                H::To => once(&mut to, value)?,
                H::CallId => once(&mut call_id, value)?,
                H::CSeq => once(&mut cseq, value)?,
                _ => {}
            }
        }
        if n_vias == 0 {
            return None;
        }
        Some(Glance {
            method,
            vias,
            n_vias,
            from: from?,
            to: to?,
            call_id: call_id?,
            cseq: cseq?,
        })
    }

    /// The first Via line's value (one value: a line with several spoils the glance).
    pub fn top_via(&self) -> &'a str {
        self.vias[0]
    }

    /// The top Via's sent-by and `branch` as written (`SIP/2.0/UDP host:port;branch=…`),
    /// without parsing it: what identifies its transaction, the same text in each copy of
    /// a request. `None` when either is missing.
    pub fn sent_by_and_branch(&self) -> Option<(&'a str, &'a str)> {
        let via = self.top_via();
        let (_protocol, rest) = via.split_once([' ', '\t'])?;
        let mut parts = rest.split(';');
        let sent_by = parts.next()?.trim();
        let branch = parts.find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("branch")
                .then(|| value.trim())
        })?;
        (!sent_by.is_empty() && !branch.is_empty()).then_some((sent_by, branch))
    }

    /// Every Via line's value, top first.
    pub fn vias(&self) -> &[&'a str] {
        &self.vias[..self.n_vias]
    }
}

#[cfg(test)]
mod tests {
    use super::Glance;

    const INVITE: &str = "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\n\
        Max-Forwards: 70\r\nv:SIP/2.0/UDP g;branch=z9hG4bK2, SIP/2.0/UDP k\r\n\
        f: <sip:a@b>;tag=1\r\nt :  <sip:b@h>\r\ni: x@y\r\nCSeq: 1 INVITE\r\n\
        Content-Length: 4\r\n\r\nbody";

    #[test]
    fn an_ordinary_request_gives_its_response_fields() {
        let g = Glance::of(INVITE.as_bytes()).expect("a glance");
        assert_eq!(g.method, "INVITE");
        assert_eq!(
            g.vias(),
            [
                "SIP/2.0/UDP h:5070;branch=z9hG4bK1",
                "SIP/2.0/UDP g;branch=z9hG4bK2, SIP/2.0/UDP k"
            ]
        );
        assert_eq!(g.top_via(), "SIP/2.0/UDP h:5070;branch=z9hG4bK1");
        assert_eq!(g.sent_by_and_branch(), Some(("h:5070", "z9hG4bK1")));
        let odd = INVITE.replacen(
            "SIP/2.0/UDP h:5070;branch=z9hG4bK1",
            "SIP/2.0/UDP  h ; rport ; Branch = z9hG4bKx",
            1,
        );
        let g = Glance::of(odd.as_bytes()).expect("a glance");
        assert_eq!(g.sent_by_and_branch(), Some(("h", "z9hG4bKx")));
        let none = INVITE.replacen(";branch=z9hG4bK1", ";rport", 1);
        let g = Glance::of(none.as_bytes()).expect("a glance");
        assert_eq!(g.sent_by_and_branch(), None);
        assert_eq!(
            (g.from, g.to, g.call_id, g.cseq),
            ("<sip:a@b>;tag=1", "<sip:b@h>", "x@y", "1 INVITE")
        );
    }

    #[test]
    fn anything_unusual_is_left_to_the_full_parse() {
        let spoil = |from: &str, to: &str| {
            let s = INVITE.replacen(from, to, 1);
            assert!(Glance::of(s.as_bytes()).is_none(), "{from:?} -> {to:?}");
        };
        spoil("i: x@y\r\n", "i: x@y\r\n continued\r\n"); // folded
        spoil("i: x@y\r\n", "i: x@y\r\nCall-ID: z\r\n"); // twice
        spoil("t :  <sip:b@h>", "t:"); // empty
        spoil("CSeq: 1 INVITE\r\n", ""); // missing
        spoil("Via: SIP/2.0/UDP h:5070;branch=z9hG4bK1", "Via: a, b"); // several at the top
        spoil("Max-Forwards: 70\r\n", "Max-Forwards: 70\n"); // a bare line feed
        spoil("Max-Forwards: 70\r\n", "Max-Forwards\r\n"); // no colon
        spoil("INVITE sip:b@h SIP/2.0", "INVITE sip:b@h SIP/3.0");
        spoil("INVITE sip", "invite sip");
        spoil("INVITE sip:b@h SIP/2.0", "INVITE  sip:b@h SIP/2.0"); // two spaces
        spoil("INVITE sip:b@h SIP/2.0", "INVITE sip:b@h  SIP/2.0");
        spoil("Max-Forwards: 70", "Max Forwards: 70"); // not a token
        spoil("\r\n\r\nbody", "\r\n"); // no end of the header
        let mut bytes = INVITE.as_bytes().to_vec();
        bytes[60] = 0xff; // not UTF-8
        assert!(Glance::of(&bytes).is_none());
        let many = INVITE.replacen(
            "Max-Forwards: 70\r\n",
            &"Via: SIP/2.0/UDP x\r\n".repeat(super::MAX_VIAS),
            1,
        );
        assert!(Glance::of(many.as_bytes()).is_none());
        // a response, or nothing at all
        assert!(Glance::of(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n").is_none());
        assert!(Glance::of(b"").is_none());
    }
}

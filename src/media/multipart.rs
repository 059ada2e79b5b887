//! SDP inside a multipart body (RFC 5621, framed as RFC 2046 §5.1 says): a carrier's
//! SIP-I or SIP-T messages carry SDP with ISUP, an emergency call's INVITE SDP with a
//! location (RFC 6442). This finds the SDP part; the call core relays it and passes that
//! part on alone, as plain SDP.

/// A multipart body that cannot be framed as its Content-Type says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "multipart body: {}", self.0)
    }
}

/// What a body of a given Content-Type holds, for the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    /// The type is not `multipart/*`.
    NotMultipart,
    /// A multipart body without an `application/sdp` part.
    NoSdp,
    /// The content of its (first) `application/sdp` part.
    Sdp(&'a [u8]),
}

/// The boundary named by a `multipart/*` Content-Type (None for another type).
fn boundary(ctype: &str) -> Option<Result<&str, Malformed>> {
    let mut params = ctype.split(';');
    let kind = params.next().unwrap_or_default().trim();
    if !kind
        .get(..10)
        .is_some_and(|k| k.eq_ignore_ascii_case("multipart/"))
    {
        return None;
    }
    let value = params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then_some(value.trim())
    });
    let Some(value) = value else {
        return Some(Err(Malformed("no boundary")));
    };
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    // RFC 2046 §5.1.1: 1 to 70 characters
    if value.is_empty() || value.len() > 70 || value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Some(Err(Malformed("bad boundary")));
    }
    Some(Ok(value))
}

/// `line` (its line end removed) is the delimiter of `delim` (`--boundary`): Some(true)
/// for the closing one (`--boundary--`), Some(false) for one that opens a part.
fn delimiter(line: &[u8], delim: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(delim)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    // (transport padding: white space before the line end)
    rest.iter()
        .all(|b| *b == b' ' || *b == b'\t')
        .then_some(close)
}

/// A part's Content-Type (its headers, then an empty line, then its content) and its
/// content. Folded header lines are joined; a part without headers starts with the empty
/// line, and its type is text/plain (None here).
fn part(p: &[u8]) -> (Option<String>, &[u8]) {
    let mut headers: Vec<String> = Vec::new();
    let mut content = p.len();
    for (_, next, line) in lines(p) {
        if line.is_empty() {
            content = next;
            break;
        }
        let text = String::from_utf8_lossy(line);
        match headers.last_mut() {
            Some(h) if line[0] == b' ' || line[0] == b'\t' => h.push_str(&text),
            _ => headers.push(text.into_owned()),
        }
    }
    let ctype = headers.iter().find_map(|h| {
        let (name, value) = h.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_string())
    });
    (ctype, &p[content..])
}

/// The lines of `b`: where each starts, where the next starts, and the line without its
/// line end (LF or CRLF).
fn lines(b: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= b.len() {
            return None;
        }
        let end = b[at..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |i| at + i);
        let line = &b[at..end];
        let start = at;
        at = end + 1;
        Some((
            start,
            at.min(b.len()),
            line.strip_suffix(b"\r").unwrap_or(line),
        ))
    })
}

/// The media type of a Content-Type value (`application/sdp` of
/// `Application/SDP ; x=y`), lower case; a comment after it is not part of it.
fn media_type(ctype: &str) -> String {
    ctype
        .split([';', '('])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Multipart bodies inside a multipart body read at most this deep (RFC 5621 nests
/// `multipart/alternative` inside `multipart/mixed`).
const DEPTH: usize = 3;

/// The SDP part of `body`, of Content-Type `ctype`: the first `application/sdp` part,
/// looked for in nested multipart parts too.
pub fn sdp_part<'a>(ctype: &str, body: &'a [u8]) -> Result<Found<'a>, Malformed> {
    nested(ctype, body, 0)
}

fn nested<'a>(ctype: &str, body: &'a [u8], depth: usize) -> Result<Found<'a>, Malformed> {
    let Some(b) = boundary(ctype) else {
        return Ok(Found::NotMultipart);
    };
    let delim = [b"--".as_slice(), b?.as_bytes()].concat();
    // The parts: what lies between one delimiter line and the line end before the next.
    let mut open: Option<usize> = None;
    let mut found = None;
    let mut parts = 0;
    for (at, next, line) in lines(body) {
        let Some(close) = delimiter(line, &delim) else {
            continue;
        };
        if let Some(start) = open {
            // the line end before a delimiter is the delimiter's
            let mut stop = at.max(start);
            if stop > start && body[stop - 1] == b'\n' {
                stop -= 1;
                if stop > start && body[stop - 1] == b'\r' {
                    stop -= 1;
                }
            }
            parts += 1;
            if found.is_none() {
                let (ctype, content) = part(&body[start..stop]);
                let ctype = ctype.unwrap_or_default();
                let kind = media_type(&ctype);
                if kind == "application/sdp" {
                    found = Some(content);
                } else if kind.starts_with("multipart/") {
                    if depth + 1 >= DEPTH {
                        return Err(Malformed("multipart nested too deep"));
                    }
                    if let Found::Sdp(sdp) = nested(&ctype, content, depth + 1)? {
                        found = Some(sdp);
                    }
                }
            }
        }
        if close {
            if parts == 0 {
                return Err(Malformed("no part"));
            }
            return Ok(found.map_or(Found::NoSdp, Found::Sdp));
        }
        open = Some(next);
    }
    Err(Malformed("no closing boundary"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
                       t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";

    fn body(parts: &[(&str, &str)], boundary: &str) -> Vec<u8> {
        let mut out = String::from("a preamble, ignored\r\n");
        for (ctype, content) in parts {
            out.push_str(&format!(
                "--{boundary}\r\nContent-Type: {ctype}\r\n\r\n{content}\r\n"
            ));
        }
        out.push_str(&format!("--{boundary}--\r\nan epilogue\r\n"));
        out.into_bytes()
    }

    #[test]
    fn the_sdp_part_of_sdp_with_isup_is_found_whole() {
        let isup = "\u{1}\u{0}\u{49}binary ISUP";
        let b = body(
            &[
                ("application/sdp", SDP),
                ("application/ISUP;version=itu-t92+", isup),
            ],
            "unique-boundary-1",
        );
        let ctype = "multipart/mixed;boundary=unique-boundary-1";
        assert_eq!(sdp_part(ctype, &b), Ok(Found::Sdp(SDP.as_bytes())));
        // quoted, another parameter first, any case; the SDP second
        let b = body(&[("text/plain", "hello"), ("Application/SDP", SDP)], "b 1");
        let ctype = "Multipart/Mixed; charset=x ; BOUNDARY=\"b 1\"";
        assert_eq!(sdp_part(ctype, &b), Ok(Found::Sdp(SDP.as_bytes())));
    }

    #[test]
    fn other_types_and_bodies_without_sdp() {
        assert_eq!(sdp_part("application/sdp", b"v=0"), Ok(Found::NotMultipart));
        assert_eq!(sdp_part("multipar", b""), Ok(Found::NotMultipart));
        let b = body(&[("application/pidf+xml", "<presence/>")], "x");
        assert_eq!(sdp_part("multipart/mixed;boundary=x", &b), Ok(Found::NoSdp));
    }

    #[test]
    fn a_part_without_headers_is_text_and_lf_line_ends_are_read() {
        let b = format!("--x\n\nplain\n--x\ncontent-type:application/sdp\n\n{SDP}\n--x--");
        assert_eq!(
            sdp_part("multipart/mixed;boundary=x", b.as_bytes()),
            Ok(Found::Sdp(SDP.as_bytes()))
        );
    }

    #[test]
    fn nested_parts_folded_headers_and_comments_are_read() {
        // RFC 5621: multipart/alternative inside multipart/mixed
        let inner = String::from_utf8(body(&[("application/sdp", SDP)], "in")).unwrap();
        let b = body(
            &[
                ("application/pidf+xml", "<x/>"),
                ("multipart/alternative;boundary=in", &inner),
            ],
            "out",
        );
        assert_eq!(
            sdp_part("multipart/mixed;boundary=out", &b),
            Ok(Found::Sdp(SDP.as_bytes()))
        );
        // a type folded onto the next line, with a comment
        let b =
            format!("--x\r\nContent-Type:\r\n application/sdp (the offer)\r\n\r\n{SDP}\r\n--x--");
        assert_eq!(
            sdp_part("multipart/mixed;boundary=x", b.as_bytes()),
            Ok(Found::Sdp(SDP.as_bytes()))
        );
        // headers ended by LF alone, a CRLF blank line later in the content
        let content = "v=0\r\n\r\nx\r\n";
        let b = format!("--x\nContent-Type: application/sdp\n\n{content}\n--x--");
        assert_eq!(
            sdp_part("multipart/mixed;boundary=x", b.as_bytes()),
            Ok(Found::Sdp(content.as_bytes()))
        );
        // nested deeper than three levels: refused
        let mut b = String::from_utf8(body(&[("application/sdp", SDP)], "l0")).unwrap();
        for i in 1..4 {
            b = String::from_utf8(body(
                &[(&format!("multipart/mixed;boundary=l{}", i - 1), &b)],
                &format!("l{i}"),
            ))
            .unwrap();
        }
        assert_eq!(
            sdp_part("multipart/mixed;boundary=l3", b.as_bytes()),
            Err(Malformed("multipart nested too deep"))
        );
    }

    #[test]
    fn a_line_that_only_starts_like_the_boundary_is_content() {
        let content = "v=0\r\n--xy\r\n";
        let b = body(&[("application/sdp", content)], "x");
        assert_eq!(
            sdp_part("multipart/mixed;boundary=x", &b),
            Ok(Found::Sdp(content.as_bytes()))
        );
    }

    #[test]
    fn what_cannot_be_framed_is_refused() {
        let t = "multipart/mixed;boundary=x";
        assert_eq!(
            sdp_part("multipart/mixed", b""),
            Err(Malformed("no boundary"))
        );
        assert_eq!(
            sdp_part("multipart/mixed;boundary=\"\"", b""),
            Err(Malformed("bad boundary"))
        );
        let long = format!("multipart/mixed;boundary={}", "b".repeat(71));
        assert_eq!(sdp_part(&long, b""), Err(Malformed("bad boundary")));
        assert_eq!(
            sdp_part(t, b"--x\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"),
            Err(Malformed("no closing boundary"))
        );
        assert_eq!(sdp_part(t, b"--x--\r\n"), Err(Malformed("no part")));
        assert_eq!(sdp_part(t, b""), Err(Malformed("no closing boundary")));
        // bytes that are no text at all: no panic, no SDP
        assert_eq!(
            sdp_part(t, b"--x\r\n\xff\xfe\r\n\r\n\x00\r\n--x--"),
            Ok(Found::NoSdp)
        );
    }
}

//! An SDP body read as its lines (RFC 8866 §5): UTF-8, every line `<type>=<value>`, `v=0`
//! first, each `m=` line opening a media section. What the relay reads or replaces is
//! parsed and checked — the origin (`o=`, six fields), connection lines (`c=`, three),
//! media lines (`m=`, a port and formats), attribute names — and a second `o=`, `s=` or
//! session-level `c=` is refused. Lines of an unknown type, and session-only lines (`v= o=
//! s= u= e= p= t= r= z=`) inside a media section, are left out, as a full parser would
//! ignore them; every other line is kept as the peer wrote it. Editing the text this way
//! costs a fraction of parsing the body into a model and printing it again
//! (docs/performance.md), on every call.

use std::net::IpAddr;

#[derive(Debug, PartialEq, Eq)]
pub enum SdpError {
    /// Not SDP vozbox can read.
    Unreadable(String),
    /// No audio stream in it.
    NoAudio,
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SdpError::Unreadable(e) => write!(f, "unreadable SDP: {}", e),
            SdpError::NoAudio => write!(f, "no audio stream"),
        }
    }
}

/// One line: its type letter and its value (without `x=` and the line end).
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub key: u8,
    pub value: &'a [u8],
}

/// A media section: its `m=` line's fields and where its lines are in `Sdp::lines`.
#[derive(Debug, Clone, Copy)]
pub struct Media<'a> {
    /// The `m=` line's index; the section's other lines run to `end` (excluded).
    at: usize,
    end: usize,
    pub name: &'a [u8],
    pub port: u16,
    /// The `/<number of ports>` after the port, as written (without the slash).
    pub ports: Option<&'a [u8]>,
    pub proto: &'a [u8],
    /// The format list, as written.
    pub fmt: &'a [u8],
}

/// A parsed body: its lines, and its media sections in order.
pub struct Sdp<'a> {
    pub lines: Vec<Line<'a>>,
    pub medias: Vec<Media<'a>>,
}

fn unreadable(n: usize, what: &str) -> SdpError {
    SdpError::Unreadable(format!("line {}: {}", n, what))
}

/// The first `N` fields of `value` separated by runs of spaces, and what follows them
/// (leading spaces removed; empty if nothing does).
pub fn fields<const N: usize>(value: &[u8]) -> Option<([&[u8]; N], &[u8])> {
    let mut out: [&[u8]; N] = [&[]; N];
    let mut rest = value;
    for f in out.iter_mut() {
        let start = rest.iter().position(|&b| b != b' ')?;
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        *f = &rest[..end];
        rest = &rest[end..];
    }
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    Some((out, &rest[start..]))
}

/// A token of RFC 8866's grammar (nettype, addrtype): anything else would break the line
/// structure when written on.
fn is_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter().all(|&c| {
            matches!(c, 0x21 | 0x23..=0x27 | 0x2a..=0x2b | 0x2d..=0x2e | 0x30..=0x39 | 0x41..=0x5a | 0x5e..=0x7e)
        })
}

/// A `c=` value's fields: nettype, addrtype, connection address.
fn connection(value: &[u8]) -> Option<[&[u8]; 3]> {
    let (f, rest) = fields::<3>(value)?;
    (rest.is_empty() && is_token(f[0]) && is_token(f[1])).then_some(f)
}

/// The unicast address of a `c=` value; None for a multicast one (`address/ttl` forms
/// included): vozbox relays unicast media only.
pub fn connection_ip(value: &[u8]) -> Option<IpAddr> {
    let f = connection(value)?;
    let ip: IpAddr = std::str::from_utf8(f[2]).ok()?.parse().ok()?;
    (!ip.is_multicast()).then_some(ip)
}

fn number<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn media_line(at: usize, value: &[u8]) -> Option<Media<'_>> {
    let ([name, port, proto], fmt) = fields::<3>(value)?;
    let (port, ports) = match port.iter().position(|&b| b == b'/') {
        Some(i) => (&port[..i], Some(&port[i + 1..])),
        None => (port, None),
    };
    if fmt.is_empty() || ports.is_some_and(|p| number::<u16>(p).is_none()) {
        return None;
    }
    Some(Media {
        at,
        end: at + 1,
        name,
        port: number(port)?,
        ports,
        proto,
        fmt,
    })
}

impl<'a> Sdp<'a> {
    /// Reads `body`. Errors name the line: no `v=0` first, a line not `<type>=<value>` or
    /// holding NUL or CR, an `o=`, `c=` or `m=` line without its fields, a second `o=`,
    /// `s=` or session-level `c=`; a body that is not UTF-8 is refused as a whole.
    pub fn parse(body: &'a [u8]) -> Result<Sdp<'a>, SdpError> {
        if std::str::from_utf8(body).is_err() {
            return Err(SdpError::Unreadable("not UTF-8".into()));
        }
        let mut lines = Vec::with_capacity(16);
        let mut medias: Vec<Media<'a>> = Vec::new();
        let mut once = [0u8; 3]; // o=, s=, c= of the session
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let n = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            if raw.iter().any(|&b| b == 0 || b == b'\r') {
                return Err(unreadable(n, "NUL or CR inside the line"));
            }
            if raw.len() < 2 || raw[1] != b'=' || raw[0] == b'=' {
                return Err(unreadable(n, "not <type>=<value>"));
            }
            let line = Line {
                key: raw[0],
                value: &raw[2..],
            };
            if lines.is_empty() && (line.key != b'v' || line.value != b"0") {
                return Err(unreadable(n, "the first line is not v=0"));
            }
            let at = lines.len();
            let in_media = !medias.is_empty();
            match line.key {
                b'm' => {
                    if let Some(last) = medias.last_mut() {
                        last.end = at;
                    }
                    let m =
                        media_line(at, line.value).ok_or_else(|| unreadable(n, "bad m= line"))?;
                    medias.push(m);
                }
                b'c' if connection(line.value).is_none() => {
                    return Err(unreadable(n, "bad c= line"))
                }
                b'o' if !in_media => {
                    let ok = fields::<6>(line.value).is_some_and(|(f, rest)| {
                        rest.is_empty() && is_token(f[3]) && is_token(f[4])
                    });
                    if !ok {
                        return Err(unreadable(n, "bad o= line"));
                    }
                }
                // a stream's own lines
                b'i' | b'c' | b'b' | b'k' | b'a' => {}
                // lines of the session alone (`v=` first only), or of no known type: left out
                b'v' if at == 0 => {}
                b's' | b'u' | b'e' | b'p' | b't' | b'r' | b'z' if !in_media => {}
                _ => continue,
            }
            if !in_media {
                if let Some(k) = [b'o', b's', b'c'].iter().position(|&k| k == line.key) {
                    once[k] += 1;
                    if once[k] > 1 {
                        return Err(unreadable(n, "a second session o=, s= or c= line"));
                    }
                }
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(SdpError::Unreadable("empty body".into()));
        }
        if let Some(last) = medias.last_mut() {
            last.end = lines.len();
        }
        Ok(Sdp { lines, medias })
    }

    /// The session-level lines (before the first `m=`).
    pub fn session(&self) -> &[Line<'a>] {
        let end = self.medias.first().map_or(self.lines.len(), |m| m.at);
        &self.lines[..end]
    }

    /// A media section's lines after its `m=` line (none for a `Media` of another body).
    pub fn section(&self, m: &Media) -> &[Line<'a>] {
        self.lines.get(m.at + 1..m.end).unwrap_or(&[])
    }

    /// Whether the session-level lines have one of type `key`.
    pub fn has(&self, key: u8) -> bool {
        self.session().iter().any(|l| l.key == key)
    }

    /// The first audio stream.
    pub fn audio(&self) -> Option<&Media<'a>> {
        self.medias.iter().find(|m| m.name == b"audio")
    }

    /// The connection line that applies to a stream: its own first, else the session's.
    pub fn connection_of(&self, m: &Media) -> Option<&'a [u8]> {
        let own = self.section(m).iter().find(|l| l.key == b'c');
        own.or_else(|| self.session().iter().find(|l| l.key == b'c'))
            .map(|l| l.value)
    }

    /// The values of a stream's attributes named `name` (`a=name:value`; `a=name` gives an
    /// empty value).
    pub fn attributes<'s>(
        &'s self,
        m: &Media,
        name: &'s [u8],
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.section(m).iter().filter_map(move |l| {
            let (n, v) = attribute(l)?;
            (n == name).then_some(v)
        })
    }
}

impl Line<'_> {
    /// Appends the line as it came, ended by CRLF.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.key, b'=']);
        out.extend_from_slice(self.value);
        out.extend_from_slice(b"\r\n");
    }
}

impl Media<'_> {
    /// Appends the `m=` line with `port` and `fmt`; its number of ports kept if `ports`.
    pub fn write(&self, out: &mut Vec<u8>, port: u16, ports: bool, fmt: &[u8]) {
        out.extend_from_slice(b"m=");
        out.extend_from_slice(self.name);
        out.push(b' ');
        out.extend_from_slice(port.to_string().as_bytes());
        if let Some(n) = self.ports.filter(|_| ports) {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        out.push(b' ');
        out.extend_from_slice(self.proto);
        out.push(b' ');
        out.extend_from_slice(fmt);
        out.extend_from_slice(b"\r\n");
    }

    /// The formats of its `m=` line.
    pub fn formats(&self) -> impl Iterator<Item = &[u8]> {
        self.fmt.split(|&b| b == b' ').filter(|f| !f.is_empty())
    }
}

/// An `a=rtpmap:` value's payload type and encoding (`name/rate[/channels]`, trimmed).
pub fn rtpmap(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let ([pt], enc) = fields::<1>(value)?;
    Some((pt, enc.trim_ascii()))
}

/// An `a=` line's name and value.
pub fn attribute<'a>(l: &Line<'a>) -> Option<(&'a [u8], &'a [u8])> {
    if l.key != b'a' {
        return None;
    }
    Some(match l.value.iter().position(|&b| b == b':') {
        Some(i) => (&l.value[..i], &l.value[i + 1..]),
        None => (l.value, &[][..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_fields() {
        let body = b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\r\nm=audio 4000/2 RTP/AVP 0  8\r\nc=IN IP4 10.0.0.2/127\r\na=rtcp:4001\r\na=sendonly\r\nm=video 5000 RTP/AVP 96\nc=IN IP6 ::1\n";
        let s = Sdp::parse(body).unwrap();
        assert_eq!(s.session().len(), 5);
        assert_eq!(s.medias.len(), 2);
        let a = s.audio().unwrap();
        assert_eq!(
            (a.port, a.ports, a.proto, a.fmt),
            (4000, Some(&b"2"[..]), &b"RTP/AVP"[..], &b"0  8"[..])
        );
        assert_eq!(s.section(a).len(), 3);
        assert_eq!(s.connection_of(a), Some(&b"IN IP4 10.0.0.2/127"[..]));
        // multicast, as `address/ttl` or not, is not a unicast address
        assert_eq!(connection_ip(s.connection_of(a).unwrap()), None);
        assert_eq!(connection_ip(b"IN IP4 224.2.1.1"), None);
        assert_eq!(
            connection_ip(b"IN IP4 10.0.0.2"),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            s.attributes(a, b"rtcp").collect::<Vec<_>>(),
            vec![&b"4001"[..]]
        );
        assert_eq!(
            s.attributes(a, b"sendonly").collect::<Vec<_>>(),
            vec![&b""[..]]
        );
        let v = &s.medias[1];
        assert_eq!(
            connection_ip(s.connection_of(v).unwrap()),
            Some("::1".parse().unwrap())
        );
        assert_eq!(
            fields::<2>(b"  a  b c d"),
            Some(([&b"a"[..], &b"b"[..]], &b"c d"[..]))
        );
        assert_eq!(fields::<3>(b"a b"), None);
    }

    #[test]
    fn what_is_refused() {
        let bad: &[&[u8]] = &[
            b"",
            b"garbage",
            b"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
            b"v=1\r\n",
            b"v=0\r\nbroken\r\n",
            b"v=0\r\nxy=1\r\n",
            b"v=0\r\n=x\r\n",
            b"v=0\r\ns=a\rb\r\n",
            b"v=0\r\ns=a\0b\r\n",
            b"v=0\r\no=- 1 1 IN IP4\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4 extra\r\n",
            b"v=0\r\no=- 1 1 I\"N IP4 1.2.3.4\r\n",
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
            b"v=0\r\nc=IN IP4\r\n",
            b"v=0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n",
            b"v=0\r\nm=audio 4000 RTP/AVP\r\n",
            b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n",
            b"v=0\r\nm=audio 4000/x RTP/AVP 0\r\n",
            b"v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 1.2.3.4 x\r\n",
        ];
        for b in bad {
            assert!(
                matches!(Sdp::parse(b), Err(SdpError::Unreadable(_))),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        assert!(matches!(
            Sdp::parse(b"v=0\r\ns=\xff\r\n"),
            Err(SdpError::Unreadable(_))
        ));
        assert!(matches!(
            Sdp::parse(b"v=0\r\ns=a\r\ns=b\r\n"),
            Err(SdpError::Unreadable(_))
        ));
        // A stream may have several connection lines. Lines of an unknown type, a second
        // v=, and session-only lines inside a stream are left out.
        let ok = b"v=0\r\ny=1\r\nv=0\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\ny=123\r\no=- 1 1 IN IP4 6.6.6.6\r\ns=x\r\nt=0 0\r\na=sendrecv\r\n";
        let s = Sdp::parse(ok).unwrap();
        let keys: Vec<u8> = s.lines.iter().map(|l| l.key).collect();
        assert_eq!(keys, b"vsmcca".to_vec());
        assert_eq!(s.section(&s.medias[0]).len(), 3);
    }
}

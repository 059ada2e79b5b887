//! DTMF as phones send it during a call: RFC 4733 telephone events in the RTP stream, and
//! SIP INFO with `application/dtmf-relay` (`Signal=5`) or `application/dtmf`.

/// The key of RFC 4733 event code `e` (0–9, `*` = 10, `#` = 11, A–D = 12–15).
pub fn key(e: u8) -> Option<char> {
    match e {
        0..=9 => Some((b'0' + e) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + e - 12) as char),
        _ => None,
    }
}

/// Turns a stream of RFC 4733 packets into key presses: one per event, told at its first
/// packet (an event's packets share their RTP timestamp; its end is sent three times).
#[derive(Debug, Default)]
pub struct Events {
    last: Option<u32>,
}

impl Events {
    /// The RTP packet `p` (header included) carries a telephone event: the key, when it
    /// starts a new one.
    pub fn feed(&mut self, p: &[u8]) -> Option<char> {
        let (ts, payload) = rtp_parts(p)?;
        let event = *payload.first()?;
        if payload.len() < 4 || self.last == Some(ts) {
            return None;
        }
        self.last = Some(ts);
        key(event)
    }
}

/// The RTP timestamp and payload of a packet (CSRCs, extension and padding skipped).
pub fn rtp_parts(p: &[u8]) -> Option<(u32, &[u8])> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    let mut start = 12 + 4 * (p[0] & 0x0f) as usize;
    if p[0] & 0x10 != 0 {
        let ext = p.get(start + 2..start + 4)?;
        start += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        end = end.checked_sub(*p.last()? as usize)?;
    }
    Some((ts, p.get(start..end)?))
}

/// The key of an INFO body: `Signal=5` (`application/dtmf-relay`) or a bare key
/// (`application/dtmf`).
pub fn info_key(content_type: &str, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let ct = content_type.trim().to_ascii_lowercase();
    let value = if ct.starts_with("application/dtmf-relay") {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then_some(v.trim())
        })?
    } else if ct.starts_with("application/dtmf") {
        text.trim()
    } else {
        return None;
    };
    match value {
        "10" => Some('*'),
        "11" => Some('#'),
        v if v.len() == 1 => {
            let c = v.chars().next()?.to_ascii_uppercase();
            (c.is_ascii_digit() || "*#ABCD".contains(c)).then_some(c)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: u32, e: u8, end: bool) -> Vec<u8> {
        let mut p = vec![0x80, 101, 0, 1];
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, e, if end { 0x8a } else { 0x0a }, 0, 160]);
        p
    }

    #[test]
    fn one_key_per_event() {
        let mut ev = Events::default();
        assert_eq!(ev.feed(&event(1000, 7, false)), Some('7'));
        assert_eq!(ev.feed(&event(1000, 7, false)), None);
        for _ in 0..3 {
            assert_eq!(ev.feed(&event(1000, 7, true)), None);
        }
        assert_eq!(ev.feed(&event(2000, 11, false)), Some('#'));
        assert_eq!(ev.feed(&event(3000, 10, true)), Some('*'));
        assert_eq!(ev.feed(&[0x80, 101, 0]), None);
        assert_eq!(ev.feed(&event(4000, 200, false)), None);
    }

    #[test]
    fn info_bodies() {
        assert_eq!(
            info_key("application/dtmf-relay", b"Signal=7\r\nDuration=160\r\n"),
            Some('7')
        );
        assert_eq!(
            info_key("Application/DTMF-Relay", b"Signal= #\r\n"),
            Some('#')
        );
        assert_eq!(
            info_key("application/dtmf-relay", b"Signal=10\r\n"),
            Some('*')
        );
        assert_eq!(info_key("application/dtmf", b"5"), Some('5'));
        assert_eq!(info_key("application/dtmf-relay", b"Duration=160"), None);
        assert_eq!(info_key("text/plain", b"Signal=1"), None);
        assert_eq!(info_key("application/dtmf-relay", b"Signal=xyz"), None);
        assert_eq!(info_key("application/dtmf-relay", &[0xff, 0xfe]), None);
    }

    #[test]
    fn rtp_payload_skips_csrcs_extension_and_padding() {
        let mut p = vec![0xb1, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1];
        p.extend_from_slice(&[1, 2, 3, 4]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension, one word
        p.extend_from_slice(&[42, 43, 0, 2]); // payload, then 2 bytes of padding
        assert_eq!(rtp_parts(&p), Some((9, &[42u8, 43][..])));
        assert_eq!(rtp_parts(&[0x80; 5]), None);
        let mut bad = p.clone();
        *bad.last_mut().unwrap() = 200;
        assert_eq!(rtp_parts(&bad), None);
    }
}

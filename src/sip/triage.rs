//! Sorting received datagrams before they are parsed: what continues work already admitted
//! (responses, requests inside a dialog, ACK) goes before what would start new work (a
//! request without a To tag) and CANCEL (served with the new requests, in arrival order,
//! so it never overtakes the INVITE it cancels in the same batch). A glance at the start
//! line and the To header field, no parse: under overload this is what keeps admitted
//! calls completing (issue 22).

/// Whether `data` is served in its batch's second pass: a request that starts new work (a
/// request other than ACK whose To header field has no tag) or a CANCEL. Anything unclear
/// counts as new (it is only served later in its batch, never dropped here).
pub fn second_pass(data: &[u8]) -> bool {
    if data.starts_with(b"CANCEL ") {
        return true;
    }
    if data.starts_with(b"SIP/") || data.starts_with(b"ACK ") {
        return false;
    }
    match to_header(data) {
        Some(value) => !has_tag(value),
        None => true,
    }
}

/// The value of the first `To:` (or compact `t:`) header field, up to its line end.
fn to_header(data: &[u8]) -> Option<&[u8]> {
    let mut start = 0;
    let mut lines = memchr::memchr_iter(b'\n', data)
        .chain(std::iter::once(data.len()))
        .map(|end| {
            let line = data.get(start..end).unwrap_or(b"");
            start = end + 1;
            line
        })
        .skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Some(None); // end of the header: no To at all
        }
        let colon = memchr::memchr(b':', line)?;
        let name = line[..colon].trim_ascii_end();
        (name.eq_ignore_ascii_case(b"to") || name.eq_ignore_ascii_case(b"t"))
            .then_some(Some(&line[colon + 1..]))
    })?
}

/// A `tag` parameter outside the angle brackets of the address.
fn has_tag(value: &[u8]) -> bool {
    let params = match value.iter().rposition(|&b| b == b'>') {
        Some(end) => &value[end + 1..],
        None => value,
    };
    params.split(|&b| b == b';').skip(1).any(|p| {
        let name = p.split(|&b| b == b'=').next().unwrap_or(b"");
        name.trim_ascii().eq_ignore_ascii_case(b"tag")
    })
}

#[cfg(test)]
mod tests {
    use super::second_pass;

    fn msg(start: &str, to: &str) -> Vec<u8> {
        format!("{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{to}\r\nCall-ID: x\r\n\r\n")
            .into_bytes()
    }

    #[test]
    fn new_requests_are_told_from_the_work_in_progress() {
        let invite = "INVITE sip:b@h SIP/2.0";
        assert!(second_pass(&msg(invite, "To: <sip:b@h>")));
        assert!(second_pass(&msg(invite, "To: \"Tag Man\" <sip:b@h;tag=x>")));
        assert!(second_pass(&msg("REGISTER sip:h SIP/2.0", "t: sip:a@h")));
        assert!(!second_pass(&msg(invite, "To: <sip:b@h>;tag=9")));
        assert!(!second_pass(&msg(invite, "to :<sip:b@h> ; TAG = 9")));
        assert!(!second_pass(&msg(
            "BYE sip:b@h SIP/2.0",
            "t: sip:b@h;tag=1"
        )));
        assert!(!second_pass(&msg("ACK sip:b@h SIP/2.0", "To: <sip:b@h>")));
        // a CANCEL never overtakes the INVITE it cancels
        assert!(second_pass(&msg("CANCEL sip:b@h SIP/2.0", "To: <sip:b@h>")));
        assert!(!second_pass(&msg("SIP/2.0 200 OK", "To: <sip:b@h>")));
        // no To at all, or garbage: new (served last, refused by the parser as before)
        assert!(second_pass(&msg(invite, "From: <sip:a@h>;tag=1")));
        assert!(second_pass(b"\x00\x01garbage"));
    }
}

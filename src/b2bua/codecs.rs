//! The allowed codecs of a friend or terminal filter the offer sent on its leg: audio
//! formats not allowed are removed from the `m=audio` line with their `a=rtpmap`/`a=fmtp`
//! lines; telephone-event (RFC 4733) always stays. An offer left with no audio codec
//! cannot be sent (the caller gets `488`).

/// The encoding name of a static RTP payload type (RFC 3551).
fn static_name(pt: &str) -> Option<&'static str> {
    Some(match pt {
        "0" => "PCMU",
        "3" => "GSM",
        "4" => "G723",
        "8" => "PCMA",
        "9" => "G722",
        "18" => "G729",
        _ => return None,
    })
}

/// The payload type and encoding name of an `a=rtpmap:` line.
fn rtpmap(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("a=rtpmap:")?;
    let (pt, enc) = rest.split_once(' ')?;
    Some((pt.trim(), enc.split('/').next()?.trim()))
}

/// The payload type an `a=rtpmap:`/`a=fmtp:` line is about.
fn attr_pt(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("a=rtpmap:")
        .or_else(|| line.strip_prefix("a=fmtp:"))?;
    rest.split_whitespace().next()
}

/// No allowed codec is left in some audio stream of the offer.
#[derive(Debug, PartialEq, Eq)]
pub struct NoCommonCodec;

/// Keeps only the allowed audio codecs in `sdp`. `Ok(None)`: nothing to change (no
/// restriction).
pub fn filter(sdp: &[u8], allowed: &[String]) -> Result<Option<Vec<u8>>, NoCommonCodec> {
    if allowed.is_empty() {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(sdp) else {
        return Ok(None);
    };
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let is_allowed = |name: &str| {
        name.eq_ignore_ascii_case("telephone-event")
            || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !line.starts_with("m=audio ") {
            out.push(line.to_string());
            i += 1;
            continue;
        }
        // The media section runs to the next m= line.
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.starts_with("m="))
            .map(|p| i + 1 + p)
            .unwrap_or(lines.len());
        let section = &lines[i + 1..end];
        let names: Vec<(&str, &str)> = section.iter().filter_map(|l| rtpmap(l)).collect();
        let mut parts: Vec<&str> = line.split(' ').collect();
        if parts.len() < 4 {
            out.extend(lines[i..end].iter().map(|s| s.to_string()));
            i = end;
            continue;
        }
        let fmts: Vec<&str> = parts.split_off(3);
        let kept: Vec<&str> = fmts
            .iter()
            .copied()
            .filter(|pt| {
                let name = names
                    .iter()
                    .find(|(p, _)| p == pt)
                    .map(|(_, n)| *n)
                    .or_else(|| static_name(pt));
                name.is_some_and(is_allowed)
            })
            .collect();
        let audio = kept.iter().any(|pt| {
            let name = names
                .iter()
                .find(|(p, _)| p == pt)
                .map(|(_, n)| *n)
                .or_else(|| static_name(pt));
            !name.is_some_and(|n| n.eq_ignore_ascii_case("telephone-event"))
        });
        if !audio {
            return Err(NoCommonCodec);
        }
        parts.extend(kept.iter().copied());
        out.push(parts.join(" "));
        for l in section {
            match attr_pt(l) {
                Some(pt) if !kept.contains(&pt) => {}
                _ => out.push(l.to_string()),
            }
        }
        i = end;
    }
    Ok(Some(out.join("\r\n").into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

    #[test]
    fn keeps_allowed_codecs_and_dtmf() {
        let out = filter(OFFER.as_bytes(), &["PCMA".into()]).unwrap().unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("m=audio 4000 RTP/AVP 8 101\r\n"), "{}", out);
        assert!(!out.contains("PCMU") && !out.contains("G722"), "{}", out);
        assert!(
            out.contains("a=fmtp:101 0-16") && out.contains("a=sendrecv"),
            "{}",
            out
        );
    }

    #[test]
    fn no_restriction_and_no_common_codec() {
        assert_eq!(filter(OFFER.as_bytes(), &[]), Ok(None));
        assert_eq!(
            filter(OFFER.as_bytes(), &["opus".into()]),
            Err(NoCommonCodec)
        );
        // a static payload type without rtpmap is known by number
        let bare = "v=0\r\nm=audio 4000 RTP/AVP 0 8\r\n";
        let out = filter(bare.as_bytes(), &["pcmu".into()]).unwrap().unwrap();
        assert!(String::from_utf8(out).unwrap().contains("RTP/AVP 0\r\n"));
    }
}

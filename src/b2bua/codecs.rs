//! The allowed codecs of a friend or terminal filter the offer sent on its leg: audio
//! formats not allowed are removed from the `m=audio` line with their `a=rtpmap`/`a=fmtp`
//! lines; telephone-event (RFC 4733) always stays. An offer left with no audio codec
//! cannot be sent (the caller gets `488`). The body is read with the relay's SDP reader
//! (`media::sdp_lines`); lines it does not change are kept as written.

use crate::media::sdp_lines::{attribute, fields, rtpmap, Sdp};

/// The encoding name of a static RTP payload type (RFC 3551).
fn static_name(pt: &[u8]) -> Option<&'static [u8]> {
    Some(match pt {
        b"0" => b"PCMU",
        b"3" => b"GSM",
        b"4" => b"G723",
        b"8" => b"PCMA",
        b"9" => b"G722",
        b"18" => b"G729",
        _ => return None,
    })
}

/// The payload type and encoding name (without its rate) of an `a=rtpmap:` value.
fn rtpmap_name(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let (pt, enc) = rtpmap(value)?;
    Some((pt, enc.split(|&b| b == b'/').next()?.trim_ascii()))
}

/// No allowed codec is left in some audio stream of the offer.
#[derive(Debug, PartialEq, Eq)]
pub struct NoCommonCodec;

/// Keeps only the allowed audio codecs in `sdp`. `Ok(None)`: nothing to change (no
/// restriction, or a body that is not SDP and offers no audio).
pub fn filter(sdp: &[u8], allowed: &[String]) -> Result<Option<Vec<u8>>, NoCommonCodec> {
    if allowed.is_empty() {
        return Ok(None);
    }
    let Ok(s) = Sdp::parse(sdp) else {
        // Not SDP vozbox reads (an offer reaches here only once the relay has read it, and
        // a multipart body only as its SDP part: a guard): passed on when it offers no
        // audio, refused when it does, as its codecs cannot be checked.
        let audio = sdp
            .split(|&b| b == b'\n')
            .any(|l| l.trim_ascii().starts_with(b"m=audio"));
        return if audio { Err(NoCommonCodec) } else { Ok(None) };
    };
    let is_event = |name: &[u8]| name.eq_ignore_ascii_case(b"telephone-event");
    let is_allowed = |name: &[u8]| {
        is_event(name)
            || allowed
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(name))
    };
    let mut out = Vec::with_capacity(sdp.len());
    s.session().iter().for_each(|l| l.write(&mut out));
    for m in &s.medias {
        let lines = s.section(m);
        // a stream other than audio, or one refused already (port 0), is not filtered
        if m.name != b"audio" || m.port == 0 {
            m.write(&mut out, m.port, true, m.fmt);
            lines.iter().for_each(|l| l.write(&mut out));
            continue;
        }
        let names: Vec<(&[u8], &[u8])> =
            s.attributes(m, b"rtpmap").filter_map(rtpmap_name).collect();
        let name_of = |pt: &[u8]| {
            names
                .iter()
                .find(|(p, _)| *p == pt)
                .map(|(_, n)| *n)
                .or_else(|| static_name(pt))
        };
        let kept: Vec<&[u8]> = m
            .formats()
            .filter(|pt| name_of(pt).is_some_and(is_allowed))
            .collect();
        if !kept.iter().any(|pt| !name_of(pt).is_some_and(is_event)) {
            return Err(NoCommonCodec);
        }
        m.write(&mut out, m.port, true, &kept.join(&b' '));
        for l in lines {
            // a=rtpmap and a=fmtp lines of a format removed go with it
            let about = attribute(l)
                .filter(|(name, _)| matches!(*name, b"rtpmap" | b"fmtp"))
                .and_then(|(_, v)| Some(fields::<1>(v)?.0[0]));
            if about.is_none_or(|pt| kept.contains(&pt)) {
                l.write(&mut out);
            }
        }
    }
    Ok(Some(out))
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
        // the a=fmtp of a codec removed goes with it
        let fmtp = OFFER.replace("a=fmtp:101", "a=fmtp:9 bitrate=64000\r\na=fmtp:101");
        let kept = filter(fmtp.as_bytes(), &["PCMA".into()]).unwrap().unwrap();
        assert!(!String::from_utf8(kept).unwrap().contains("fmtp:9"));
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
        // a body that is not SDP is passed on unchanged, unless it offers audio vozbox
        // cannot check (a multipart body, as the filter itself sees it)
        assert_eq!(filter(b"--boundary\r\n", &["pcmu".into()]), Ok(None));
        let multipart = format!(
            "--b\r\nContent-Type: application/sdp\r\n\r\n{}--b--\r\n",
            OFFER
        );
        assert_eq!(
            filter(multipart.as_bytes(), &["pcmu".into()]),
            Err(NoCommonCodec)
        );
        assert_eq!(filter(multipart.as_bytes(), &[]), Ok(None));
    }

    #[test]
    fn a_refused_stream_is_not_filtered() {
        // the relay refuses a second audio stream with port 0: it has no codec to keep
        let two = OFFER.replace("a=sendrecv\r\n", "a=sendrecv\r\nm=audio 0 RTP/SAVP 18\r\n");
        let out = filter(two.as_bytes(), &["pcma".into()]).unwrap().unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("m=audio 0 RTP/SAVP 18\r\n"));
        // a second stream in use is filtered as the first
        let live = OFFER.replace(
            "a=sendrecv\r\n",
            "a=sendrecv\r\nm=audio 4002 RTP/AVP 18\r\n",
        );
        assert_eq!(
            filter(live.as_bytes(), &["pcma".into()]),
            Err(NoCommonCodec)
        );
    }

    #[test]
    fn the_whole_body_as_it_was_but_the_codecs() {
        let offer = OFFER.replace(
            "a=sendrecv\r\n",
            "a=sendrecv\r\nm=video 5000/2 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
        );
        let out = filter(offer.as_bytes(), &["g722".into()]).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\nm=video 5000/2 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
        );
    }
}

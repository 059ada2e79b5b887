//! SDP on its way through the relay (read line by line, `sdp_lines.rs`): the audio
//! stream's connection address and port become the relay's, `a=rtcp` follows the relay's
//! RTCP port, and what the peer advertised (where to send before latching) is read out.
//! Direction attributes (`sendonly`, `inactive` — hold) pass through untouched.

pub use super::sdp_lines::SdpError;
use super::sdp_lines::{attribute, connection_ip, fields, rtpmap, Line, Media, Sdp};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

/// Where a peer asks to receive its audio, per its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

/// The audio stream's advertised address; `None` inside when the peer holds with
/// `c=0.0.0.0` or port 0.
fn advertised(s: &Sdp, m: &Media) -> Result<Option<Advertised>, SdpError> {
    let ip = s
        .connection_of(m)
        .and_then(connection_ip)
        .ok_or_else(|| SdpError::Unreadable("no connection address for audio".into()))?;
    if ip.is_unspecified() || m.port == 0 {
        return Ok(None);
    }
    let rtcp_port = s
        .attributes(m, b"rtcp")
        .next()
        .and_then(|v| fields::<1>(v))
        .and_then(|([p], _)| std::str::from_utf8(p).ok()?.parse::<u16>().ok())
        .unwrap_or(m.port.saturating_add(1));
    Ok(Some(Advertised {
        rtp: SocketAddr::new(ip, m.port),
        rtcp: SocketAddr::new(ip, rtcp_port),
    }))
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "IP6"
    } else {
        "IP4"
    }
}

/// Attributes of ICE (RFC 8839): they describe the peer's own addresses and checks,
/// meaningless behind the relay.
fn is_ice(name: &[u8]) -> bool {
    matches!(
        name,
        b"candidate"
            | b"remote-candidates"
            | b"end-of-candidates"
            | b"ice-ufrag"
            | b"ice-pwd"
            | b"ice-lite"
            | b"ice-options"
            | b"ice-mismatch"
            | b"ice-pacing"
    )
}

/// Reads `body`, returns what the peer advertised and the same SDP with the first audio
/// stream moved to `relay` (address and RTP port; RTCP on the next port) and ICE left
/// out. Other streams (video …) are refused by setting their port to 0: only audio is
/// relayed. The origin's address becomes the relay's; a missing `o=`, `s=` or `t=` is
/// added. Every other line is kept as written, in its order (lines end in CRLF).
pub fn rewrite(body: &[u8], relay: SocketAddr) -> Result<(Option<Advertised>, Vec<u8>), SdpError> {
    let s = Sdp::parse(body)?;
    let audio = s.audio().ok_or(SdpError::NoAudio)?;
    let peer = advertised(&s, audio)?;
    let conn = format!("IN {} {}", family(relay.ip()), relay.ip());
    let relay_c = Line {
        key: b'c',
        value: conn.as_bytes(),
    };
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut timed = s.has(b't');
    for l in s.session() {
        if !timed && matches!(l.key, b'r' | b'z' | b'k' | b'a') {
            out.extend_from_slice(b"t=0 0\r\n");
            timed = true;
        }
        match l.key {
            b'v' => {
                l.write(&mut out);
                if !s.has(b'o') {
                    let _ = write!(out, "o=- 0 0 {}\r\n", conn);
                    if !s.has(b's') {
                        out.extend_from_slice(b"s=-\r\n");
                    }
                }
            }
            b'o' => {
                // the origin's address becomes the relay's; it was checked to have 6 fields
                let (f, _) = fields::<3>(l.value).unwrap_or_default();
                out.extend_from_slice(b"o=");
                for v in f {
                    out.extend_from_slice(v);
                    out.push(b' ');
                }
                out.extend_from_slice(conn.as_bytes());
                out.extend_from_slice(b"\r\n");
                // RFC 8866's order: v, o, s
                if !s.has(b's') {
                    out.extend_from_slice(b"s=-\r\n");
                }
            }
            b'c' if peer.is_some() => relay_c.write(&mut out),
            b'a' if peer.is_some() && attribute(l).is_some_and(|(n, _)| is_ice(n)) => {}
            _ => l.write(&mut out),
        }
    }
    if !timed {
        out.extend_from_slice(b"t=0 0\r\n");
    }
    for m in &s.medias {
        let lines = s.section(m);
        let other = !std::ptr::eq(m, audio);
        if other || peer.is_none() {
            // Another stream is refused (port 0); audio held the old way (c=0.0.0.0 or
            // port 0) must reach the receiver as it was.
            m.write(&mut out, if other { 0 } else { m.port }, other, m.fmt);
            lines.iter().for_each(|l| l.write(&mut out));
            continue;
        }
        m.write(&mut out, relay.port(), false, m.fmt);
        // One connection line, the relay's, after the stream's title if it has one.
        let mut conn_written = false;
        for l in lines {
            if l.key == b'i' && !conn_written {
                l.write(&mut out);
                continue;
            }
            if !conn_written {
                relay_c.write(&mut out);
                conn_written = true;
            }
            match attribute(l).map(|(name, _)| name) {
                _ if l.key == b'c' => {}
                Some(b"rtcp") => {
                    let _ = write!(
                        out,
                        "a=rtcp:{} {}\r\n",
                        relay.port().saturating_add(1),
                        conn
                    );
                }
                Some(name) if is_ice(name) => {}
                _ => l.write(&mut out),
            }
        }
        if !conn_written {
            relay_c.write(&mut out);
        }
    }
    Ok((peer, out))
}

/// What a prompt's or voicemail's answer takes from an offer: its audio stream, where the
/// caller receives, and the first of PCMU (0) or PCMA (8) in the offer's order. None for a
/// held offer (c=0.0.0.0, port 0: it could not hear), an SRTP profile (not spoken), or no
/// G.711.
fn g711_offer<'s, 'a>(s: &'s Sdp<'a>) -> Option<(&'s Media<'a>, Advertised, u8)> {
    let m = s.audio()?;
    let peer = advertised(s, m).ok()??;
    if !matches!(m.proto, b"RTP/AVP" | b"RTP/AVPF") {
        return None;
    }
    let pt = m.formats().find_map(|f| match f {
        b"0" => Some(0u8),
        b"8" => Some(8u8),
        _ => None,
    })?;
    Some((m, peer, pt))
}

/// The answer vozbox gives an offer when it plays a notification as early media: the
/// first of PCMU (0) or PCMA (8) in the offer's order, `sendonly`, at `relay`. Returns what
/// the caller advertised, the payload type, and the SDP; None when the offer has no G.711.
pub fn prompt_answer(offer: &[u8], relay: SocketAddr) -> Option<(Option<Advertised>, u8, Vec<u8>)> {
    let s = Sdp::parse(offer).ok()?;
    let (_, peer, pt) = g711_offer(&s)?;
    let name = if pt == 0 { "PCMU" } else { "PCMA" };
    let ip = family(relay.ip());
    let body = format!(
        "v=0\r\no=vozbox {id} {id} IN {ip} {addr}\r\ns=vozbox\r\nc=IN {ip} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=sendonly\r\n",
        id = rand::random::<u32>(),
        ip = ip,
        addr = relay.ip(),
        port = relay.port(),
        pt = pt,
        name = name
    );
    Some((Some(peer), pt, body.into_bytes()))
}

/// The answer vozbox gives when it talks with the caller itself (voicemail): G.711 as
/// `prompt_answer` picks it, `sendrecv`, and the offer's `telephone-event/8000` (RFC 4733)
/// when there is one. Returns what the caller advertised, the audio and event payload
/// types, and the SDP.
pub struct AppAnswer {
    pub peer: Option<Advertised>,
    pub pt: u8,
    pub events: Option<u8>,
    pub body: Vec<u8>,
}

/// The payload type of `telephone-event/8000` in an SDP (or a message holding one).
pub fn event_pt(text: &[u8]) -> Option<u8> {
    text.split(|&b| b == b'\n').find_map(|l| {
        let l = l.trim_ascii();
        telephone_event(l.strip_prefix(b"a=rtpmap:")?)
    })
}

/// The payload type an `a=rtpmap:` value maps to `telephone-event/8000` (a dynamic one).
fn telephone_event(value: &[u8]) -> Option<u8> {
    let (pt, codec) = rtpmap(value)?;
    let pt: u8 = std::str::from_utf8(pt).ok()?.parse().ok()?;
    (codec.eq_ignore_ascii_case(b"telephone-event/8000") && (96..=127).contains(&pt)).then_some(pt)
}

pub fn app_answer(offer: &[u8], relay: SocketAddr) -> Option<AppAnswer> {
    let s = Sdp::parse(offer).ok()?;
    let (m, peer, pt) = g711_offer(&s)?;
    let events = s.attributes(m, b"rtpmap").find_map(telephone_event);
    let name = if pt == 0 { "PCMU" } else { "PCMA" };
    let ip = family(relay.ip());
    let (fmts, te) = match events {
        Some(e) => (
            format!("{} {}", pt, e),
            format!(
                "a=rtpmap:{e} telephone-event/8000\r\na=fmtp:{e} 0-16\r\n",
                e = e
            ),
        ),
        None => (pt.to_string(), String::new()),
    };
    let body = format!(
        "v=0\r\no=vozbox {id} {id} IN {ip} {addr}\r\ns=vozbox\r\nc=IN {ip} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\na=rtpmap:{pt} {name}/8000\r\n{te}a=ptime:20\r\na=sendrecv\r\n",
        id = rand::random::<u32>(),
        addr = relay.ip(),
        port = relay.port(),
    );
    Some(AppAnswer {
        peer: Some(peer),
        pt,
        events,
        body: body.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real offer (Linphone-style) with a=rtcp and a second stream.
    const OFFER: &str = "v=0\r\no=alice 1234 5678 IN IP4 192.168.1.20\r\ns=Talk\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:7079 IN IP4 192.168.1.20\r\na=sendonly\r\nm=video 9078 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn moves_audio_to_the_relay_and_keeps_direction() {
        let relay: SocketAddr = "203.0.113.5:20000".parse().unwrap();
        let (peer, out) = rewrite(OFFER.as_bytes(), relay).unwrap();
        let peer = peer.unwrap();
        assert_eq!(peer.rtp, "192.168.1.20:7078".parse().unwrap());
        assert_eq!(peer.rtcp, "192.168.1.20:7079".parse().unwrap());
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{}", out);
        assert!(out.contains("c=IN IP4 203.0.113.5\r\n"), "{}", out);
        assert!(out.contains("a=rtcp:20001 IN IP4 203.0.113.5"), "{}", out);
        assert!(out.contains("a=sendonly"), "{}", out);
        assert!(out.contains("m=video 0 "), "{}", out);
        assert!(!out.contains("192.168.1.20"), "{}", out);
    }

    #[test]
    fn rewrites_only_what_it_must() {
        // LF line ends, a title before the stream's own connection, ICE at both levels, an
        // unknown line, a stream count, and a video stream with its own lines.
        let offer = "v=0\no=bob 7 8 IN IP4 10.1.1.1\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\ny=0123\na=ice-lite\na=ice-ufrag:s\nm=audio 4000/2 RTP/AVP 0 101\ni=voice\nc=IN IP4 10.1.1.2\nc=IN IP4 10.1.1.3\na=candidate:1 1 UDP 1 10.1.1.2 4000 typ host\na=ice-ufrag:x\na=ice-pwd:y\na=end-of-candidates\na=rtcp:4001\na=rtpmap:101 telephone-event/8000\nm=video 5000 RTP/AVP 96\na=rtpmap:96 VP8/90000\n";
        let relay: SocketAddr = "[2001:db8::5]:20000".parse().unwrap();
        let (peer, out) = rewrite(offer.as_bytes(), relay).unwrap();
        assert_eq!(peer.unwrap().rtp, "10.1.1.2:4000".parse().unwrap());
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "v=0\r\no=bob 7 8 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0 101\r\ni=voice\r\nc=IN IP6 2001:db8::5\r\na=rtcp:20001 IN IP6 2001:db8::5\r\na=rtpmap:101 telephone-event/8000\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
        );
        // What vozbox writes it reads again, to the same result.
        let (again, twice) = rewrite(&out, relay).unwrap();
        assert_eq!((again.unwrap().rtp, twice), (relay, out));
        // A stream with no connection line of its own gets the relay's; a missing o=, s=
        // or t= is added (t= before the session's attributes).
        let bare = "v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.1.1.2\r\nm=audio 4002 RTP/AVP 8\r\nc=IN IP4 10.1.1.2\r\n";
        let (_, out) = rewrite(bare.as_bytes(), "127.0.0.1:20000".parse().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\nm=audio 0 RTP/AVP 8\r\nc=IN IP4 10.1.1.2\r\n"
        );
        let session_only = "v=0\r\nc=IN IP4 10.1.1.2\r\na=tool:x\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (_, out) =
            rewrite(session_only.as_bytes(), "127.0.0.1:20000".parse().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:x\r\nm=audio 20000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n"
        );
        // o= present, s= missing: s= comes after o=
        let no_name = "v=0\r\no=- 1 1 IN IP4 10.1.1.2\r\nc=IN IP4 10.1.1.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (_, out) = rewrite(no_name.as_bytes(), "127.0.0.1:20000".parse().unwrap()).unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        ));
        let no_address = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert!(matches!(
            rewrite(no_address.as_bytes(), relay),
            Err(SdpError::Unreadable(_))
        ));
    }

    #[test]
    fn prompt_answers_in_g711_only() {
        let (peer, pt, body) =
            prompt_answer(OFFER.as_bytes(), "127.0.0.1:20000".parse().unwrap()).unwrap();
        assert_eq!(pt, 0);
        assert_eq!(peer.unwrap().rtp, "192.168.1.20:7078".parse().unwrap());
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains("m=audio 20000 RTP/AVP 0\r\n") && body.contains("a=sendonly"),
            "{}",
            body
        );
        let pcma = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 8 0");
        assert_eq!(
            prompt_answer(pcma.as_bytes(), "127.0.0.1:2".parse().unwrap())
                .unwrap()
                .1,
            8
        );
        let g722 = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 9 101");
        assert!(prompt_answer(g722.as_bytes(), "127.0.0.1:2".parse().unwrap()).is_none());
        let held = OFFER.replace("c=IN IP4 192.168.1.20", "c=IN IP4 0.0.0.0");
        assert!(prompt_answer(held.as_bytes(), "127.0.0.1:2".parse().unwrap()).is_none());
        let srtp = OFFER.replace("RTP/AVP 0 8 101", "RTP/SAVP 0 8 101");
        assert!(prompt_answer(srtp.as_bytes(), "127.0.0.1:2".parse().unwrap()).is_none());
    }

    #[test]
    fn app_answer_keeps_telephone_events() {
        let relay = "127.0.0.1:20000".parse().unwrap();
        let a = app_answer(OFFER.as_bytes(), relay).unwrap();
        let body = String::from_utf8(a.body).unwrap();
        assert_eq!((a.pt, a.events), (0, Some(101)));
        assert!(body.contains("m=audio 20000 RTP/AVP 0 101\r\n"), "{}", body);
        assert!(body.contains("a=rtpmap:101 telephone-event/8000") && body.contains("a=sendrecv"));
        let plain = OFFER.replace("a=rtpmap:101 telephone-event/8000\r\n", "");
        let a = app_answer(plain.as_bytes(), relay).unwrap();
        assert_eq!(a.events, None);
        assert!(String::from_utf8(a.body).unwrap().contains("RTP/AVP 0\r\n"));
    }

    #[test]
    fn hold_passes_the_stream_as_it_was() {
        let relay: SocketAddr = "127.0.0.1:20000".parse().unwrap();
        // port 0: the stream count goes, its connection, RTCP and ICE lines stay
        let port0 = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 0/2 RTP/AVP 0\r\nc=IN IP4 10.1.1.2\r\na=rtcp:4001\r\na=ice-ufrag:x\r\n";
        let (peer, out) = rewrite(port0.as_bytes(), relay).unwrap();
        assert_eq!(peer, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            port0
                .replace("IN IP4 10.1.1.1\r\ns", "IN IP4 127.0.0.1\r\ns")
                .replace("0/2", "0")
        );
        // c=0.0.0.0 on the stream while the session's address is real
        let zero = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n";
        let (peer, out) = rewrite(zero.as_bytes(), relay).unwrap();
        assert_eq!(peer, None);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.ends_with("c=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"),
            "{}",
            out
        );
    }

    #[test]
    fn the_telephone_event_payload_type() {
        assert_eq!(event_pt(OFFER.as_bytes()), Some(101));
        assert_eq!(event_pt(b"a=rtpmap:96 telephone-event/8000\n"), Some(96));
        // a static payload type, another rate, another codec: none
        assert_eq!(event_pt(b"a=rtpmap:8 telephone-event/8000\r\n"), None);
        assert_eq!(event_pt(b"a=rtpmap:101 telephone-event/16000\r\n"), None);
        assert_eq!(event_pt(b"a=rtpmap:101 opus/48000/2\r\n"), None);
    }

    #[test]
    fn hold_with_zero_address_and_errors() {
        let hold = OFFER.replace("c=IN IP4 192.168.1.20", "c=IN IP4 0.0.0.0");
        let (peer, out) = rewrite(hold.as_bytes(), "127.0.0.1:20000".parse().unwrap()).unwrap();
        assert_eq!(peer, None);
        assert!(String::from_utf8(out).unwrap().contains("c=IN IP4 0.0.0.0"));
        assert!(matches!(
            rewrite(b"garbage", "127.0.0.1:2".parse().unwrap()),
            Err(SdpError::Unreadable(_))
        ));
        let video = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\n";
        assert_eq!(
            rewrite(video.as_bytes(), "127.0.0.1:2".parse().unwrap()).unwrap_err(),
            SdpError::NoAudio
        );
    }
}

//! SDP on its way through the relay (parsed and written with `sdp-types`): the audio
//! stream's connection address and port become the relay's, `a=rtcp` follows the relay's
//! RTCP port, and what the peer advertised (where to send before latching) is read out.
//! Direction attributes (`sendonly`, `inactive` — hold) pass through untouched.

use sdp_types::{Attribute, Connection, Session};
use std::net::{IpAddr, SocketAddr};

/// Where a peer asks to receive its audio, per its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

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

fn connection_ip(c: &Connection) -> Option<IpAddr> {
    // "address/ttl" forms are multicast; a unicast address is all we relay.
    c.connection_address.split('/').next()?.trim().parse().ok()
}

/// The audio stream's advertised address; `None` inside when the peer holds with
/// `c=0.0.0.0` or port 0.
fn advertised(s: &Session) -> Result<Option<Advertised>, SdpError> {
    let m = s
        .medias
        .iter()
        .find(|m| m.media == "audio")
        .ok_or(SdpError::NoAudio)?;
    let ip = m
        .connections
        .first()
        .or(s.connection.as_ref())
        .and_then(connection_ip)
        .ok_or_else(|| SdpError::Unreadable("no connection address for audio".into()))?;
    if ip.is_unspecified() || m.port == 0 {
        return Ok(None);
    }
    let rtcp_port = m
        .attributes
        .iter()
        .find(|a| a.attribute == "rtcp")
        .and_then(|a| a.value.as_deref())
        .and_then(|v| v.split_whitespace().next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(m.port.saturating_add(1));
    Ok(Some(Advertised {
        rtp: SocketAddr::new(ip, m.port),
        rtcp: SocketAddr::new(ip, rtcp_port),
    }))
}

/// Reads `body`, returns what the peer advertised and the same SDP with the first audio
/// stream moved to `relay` (address and RTP port; RTCP on the next port). Other streams
/// (video …) are refused by setting their port to 0: only audio is relayed.
pub fn rewrite(body: &[u8], relay: SocketAddr) -> Result<(Option<Advertised>, Vec<u8>), SdpError> {
    let mut s = Session::parse(body).map_err(|e| SdpError::Unreadable(e.to_string()))?;
    let peer = advertised(&s)?;
    let relay_conn = Connection::from_ip_addr(relay.ip());
    s.origin.set_unicast_ip_address(relay.ip());
    let mut audio_done = false;
    for m in &mut s.medias {
        if m.media != "audio" || audio_done {
            m.port = 0;
            continue;
        }
        audio_done = true;
        m.num_ports = None;
        if peer.is_none() {
            // Hold the old way (c=0.0.0.0 or port 0): the receiver must see it as it was.
            continue;
        }
        m.port = relay.port();
        m.connections = vec![relay_conn.clone()];
        for a in &mut m.attributes {
            if a.attribute == "rtcp" {
                *a = Attribute::with_value(
                    "rtcp",
                    format!(
                        "{} IN {} {}",
                        relay.port().saturating_add(1),
                        if relay.is_ipv6() { "IP6" } else { "IP4" },
                        relay.ip()
                    ),
                );
            }
        }
        // ICE candidates describe the peer's own addresses: meaningless behind the relay.
        m.attributes
            .retain(|a| !matches!(a.attribute.as_str(), "candidate" | "ice-ufrag" | "ice-pwd"));
    }
    if s.connection.is_some() && peer.is_some() {
        s.connection = Some(relay_conn);
    }
    let mut out = Vec::with_capacity(body.len() + 32);
    s.write(&mut out)
        .map_err(|e| SdpError::Unreadable(e.to_string()))?;
    Ok((peer, out))
}

/// The answer vozbox gives an offer when it plays a notification as early media: the
/// first of PCMU (0) or PCMA (8) in the offer's order, `sendonly`, at `relay`. Returns what
/// the caller advertised, the payload type, and the SDP; None when the offer has no G.711.
pub fn prompt_answer(offer: &[u8], relay: SocketAddr) -> Option<(Option<Advertised>, u8, Vec<u8>)> {
    let s = Session::parse(offer).ok()?;
    // A held offer (c=0.0.0.0, port 0) could not hear it; SRTP profiles are not spoken.
    let peer = advertised(&s).ok()??;
    let m = s.medias.iter().find(|m| m.media == "audio")?;
    if !matches!(m.proto.as_str(), "RTP/AVP" | "RTP/AVPF") {
        return None;
    }
    let pt = m.fmt.split_whitespace().find_map(|f| match f {
        "0" => Some(0u8),
        "8" => Some(8u8),
        _ => None,
    })?;
    let name = if pt == 0 { "PCMU" } else { "PCMA" };
    let ip = if relay.is_ipv6() { "IP6" } else { "IP4" };
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
    let text = String::from_utf8_lossy(text);
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("a=rtpmap:")?;
        let (pt, codec) = v.split_once(' ')?;
        let pt: u8 = pt.trim().parse().ok()?;
        (codec.trim().eq_ignore_ascii_case("telephone-event/8000") && (96..=127).contains(&pt))
            .then_some(pt)
    })
}

pub fn app_answer(offer: &[u8], relay: SocketAddr) -> Option<AppAnswer> {
    let s = Session::parse(offer).ok()?;
    let (peer, pt, _) = prompt_answer(offer, relay)?;
    let m = s.medias.iter().find(|m| m.media == "audio")?;
    let events = m.attributes.iter().find_map(|a| {
        let v = a.value.as_deref()?;
        if a.attribute != "rtpmap" {
            return None;
        }
        let (pt, codec) = v.split_once(' ')?;
        let pt: u8 = pt.trim().parse().ok()?;
        (codec.trim().eq_ignore_ascii_case("telephone-event/8000") && (96..=127).contains(&pt))
            .then_some(pt)
    });
    let name = if pt == 0 { "PCMU" } else { "PCMA" };
    let ip = if relay.is_ipv6() { "IP6" } else { "IP4" };
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
        peer,
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

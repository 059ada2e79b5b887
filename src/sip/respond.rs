//! Sending responses back along the Via (RFC 3261 §18.2.2), with `received`/`rport`
//! filled in, and remembered for retransmitted requests.

use super::answer::Answer;
use super::headers::{param, Via};
use super::message::Message;
use super::refused::Refused;
use super::transaction::{Transactions, TxKey};
use super::transport::{Flow, Proto, Transports};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub struct Responder {
    pub transports: Arc<Transports>,
    pub txns: Transactions,
    /// New requests refused over UDP without a transaction (`refused.rs`).
    pub refused: Refused,
}

/// A stable, opaque To-tag for a transaction (the same for its retransmissions).
pub fn to_tag(msg: &Message) -> String {
    to_tag_of(msg.call_id().unwrap_or(""), msg.get("Via").unwrap_or(""))
}

/// `to_tag` from the Call-ID and the first Via header field's value: a hash of both read
/// eight bytes at a time (each part's length mixed in, so that the parts cannot trade
/// bytes). The same for a retransmission (and for a CANCEL or ACK of the same Call-ID and
/// top Via as its INVITE); a request with another Call-ID or top Via gets another, but for
/// a 64-bit collision.
pub fn to_tag_of(call_id: &str, via: &str) -> String {
    let mut tag = String::with_capacity(18);
    tag.push_str("vb");
    super::hex::push_hex(&mut tag, tag_hash(call_id, via), 1);
    tag
}

fn tag_hash(call_id: &str, via: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(29);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [call_id, via] {
        let bytes = part.as_bytes();
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = mix(h, u64::from_le_bytes(b));
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        h = mix(h, u64::from_le_bytes(last));
        h = mix(h, bytes.len() as u64);
    }
    // the finaliser of splitmix64: every input bit reaches every output bit
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The top Via as it goes back in the response, with `received` and `rport` filled in
/// (RFC 3261 §18.2.1, RFC 3581), and where the response goes (RFC 3261 §18.2.2).
pub fn stamp_via(via: &Via, flow: &Flow) -> (String, SocketAddr) {
    let remote = flow.remote;
    let rport = param(&via.params, "rport").is_some();
    let mut out = String::with_capacity(96);
    for part in ["SIP/2.0/", via.transport.as_str(), " ", via.host.as_str()] {
        out.push_str(part);
    }
    if let Some(p) = via.port {
        out.push(':');
        out.push_str(itoa::Buffer::new().format(p));
    }
    for (k, v) in &via.params {
        if k.eq_ignore_ascii_case("rport") || k.eq_ignore_ascii_case("received") {
            continue;
        }
        out.push(';');
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
    let host = via.host.trim_matches(['[', ']']);
    if rport || host.parse::<IpAddr>().ok() != Some(remote.ip()) {
        out.push_str(";received=");
        super::uri::push_ip(&mut out, remote.ip());
    }
    if rport {
        out.push_str(";rport=");
        out.push_str(itoa::Buffer::new().format(remote.port()));
    }
    let to = if rport || flow.proto != Proto::Udp {
        remote
    } else {
        SocketAddr::new(remote.ip(), via.port.unwrap_or(5060))
    };
    (out, to)
}

/// A response on its way: the bytes and where they went (kept for retransmissions).
#[derive(Clone)]
pub struct Sent {
    pub bytes: Arc<Vec<u8>>,
    pub flow: Flow,
    pub to: SocketAddr,
}

/// A response to a request that arrived with `via` on `flow`, stamped and printed, with
/// where it goes (nothing is sent).
pub fn prepare(via: &Via, flow: &Flow, mut resp: Message) -> Sent {
    let (via, to) = stamp_via(via, flow);
    resp.set_top_via(via);
    Sent {
        bytes: Arc::new(resp.to_bytes()),
        flow: flow.clone(),
        to,
    }
}

/// Where the responses to one request go, fixed when it arrives: its top Via stamped, the
/// destination, the flow.
pub struct Stamp {
    via: String,
    to: SocketAddr,
    flow: Flow,
}

impl Stamp {
    pub fn new(via: &Via, flow: &Flow) -> Stamp {
        let (via, to) = stamp_via(via, flow);
        Stamp {
            via,
            to,
            flow: flow.clone(),
        }
    }

    /// Prints `answer` to `req` (the request this stamp was made for) with the stamped
    /// Via (nothing is sent).
    pub fn answer(&self, req: &Message, to_tag: &str, answer: &Answer) -> Sent {
        Sent {
            bytes: Arc::new(answer.print(req, &self.via, to_tag)),
            flow: self.flow.clone(),
            to: self.to,
        }
    }
}

impl Responder {
    /// Sends a response to a request that arrived on `flow`, and remembers it for
    /// retransmissions under `key`.
    pub fn send(&self, via: &Via, flow: &Flow, resp: Message, key: Option<TxKey>) -> Sent {
        let sent = prepare(via, flow, resp);
        self.transmit(&sent, key);
        sent
    }

    /// Sends a prepared response, remembered under `key` for retransmitted requests.
    pub fn transmit(&self, sent: &Sent, key: Option<TxKey>) {
        self.transports.stats.response_sent(&sent.bytes);
        if let Some(k) = key {
            self.txns
                .complete(k, sent.bytes.clone(), &sent.flow, sent.to);
        }
        if let Err(e) = self.transports.send_to(&sent.flow, sent.to, &sent.bytes) {
            tracing::debug!("response to {}: {}", sent.to, e);
        }
    }

    /// Sends again what `send` sent.
    pub fn resend(&self, sent: &Sent) {
        self.transports.stats.response_sent(&sent.bytes);
        let _ = self.transports.send_to(&sent.flow, sent.to, &sent.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::to_tag_of;

    #[test]
    fn a_stamped_via_keeps_the_parameters_as_written_and_fills_rport_in_any_case() {
        use super::super::headers::Via;
        use super::super::transport::{Flow, Proto};
        let flow = Flow {
            proto: Proto::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "192.0.2.7:40000".parse().unwrap(),
            conn: None,
        };
        let via = Via::parse("SIP/2.0/udp h.example:5070;Branch=z9hG4bKx;RPORT;Received=1.2.3.4")
            .unwrap();
        assert_eq!(via.branch(), Some("z9hG4bKx"));
        let (out, to) = super::stamp_via(&via, &flow);
        assert_eq!(
            out,
            "SIP/2.0/UDP h.example:5070;Branch=z9hG4bKx;received=192.0.2.7;rport=40000"
        );
        assert_eq!(to, flow.remote);
        let v6 = Via::parse("SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKy").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[2001:db8::1]", Some(5061)));
    }

    #[test]
    fn a_glanced_request_and_the_parsed_one_get_the_same_tag() {
        use super::super::glance::Glance;
        use super::super::message::Message;
        use super::to_tag;
        for raw in [
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\n\r\n",
            "INVITE sip:b@h SIP/2.0\r\nv:  SIP/2.0/UDP h;branch=z9hG4bK1 \r\nVia: SIP/2.0/UDP g\r\nf: <sip:a@b>;tag=1\r\nt: <sip:b@h>\r\ni:  x@y \r\nCSeq: 1 INVITE\r\n\r\n",
        ] {
            let g = Glance::of(raw.as_bytes()).unwrap();
            let msg = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(to_tag_of(g.call_id, g.top_via()), to_tag(&msg), "{raw:?}");
        }
    }

    #[test]
    fn a_tag_is_the_same_for_the_same_request_and_another_for_any_other() {
        let tag = to_tag_of("a84b4c76e66710", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1");
        assert_eq!(
            tag,
            to_tag_of("a84b4c76e66710", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1")
        );
        assert!(tag.starts_with("vb") && tag.len() > 2 && tag.len() <= 18);
        // the hash is fixed: a change to it shows here
        assert_eq!(
            to_tag_of("a84b4c76e66710", "SIP/2.0/UDP h"),
            "vb916f48dca16579f5"
        );
        let mut seen = std::collections::HashSet::new();
        // parts of every length around the word size, and bytes moved between the parts
        for n in 0..40 {
            let id = "x".repeat(n);
            assert!(seen.insert(to_tag_of(&id, "SIP/2.0/UDP h;branch=z9hG4bK1")));
            assert!(seen.insert(to_tag_of(&id, "SIP/2.0/UDP h;branch=z9hG4bK2")));
        }
        assert_ne!(to_tag_of("ab", "c"), to_tag_of("a", "bc"));
        assert_ne!(to_tag_of("", "ab"), to_tag_of("ab", ""));
    }
}

//! What is probed and how: the peers of the model with a `qualify_interval` (direct
//! friends and carriers at an IP address) and the OPTIONS sent to one.

use crate::model::{FriendMode, Snapshot};
use crate::sip::tls::{parse_fingerprint, TlsPeer};
use crate::sip::transport::Proto;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    Carrier,
    Friend,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Carrier => "carrier",
            PeerKind::Friend => "friend",
        }
    }
}

/// One peer to probe, as the model describes it. Two specs that differ in anything are
/// two peers to the driver (a changed address starts its state again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: PeerKind,
    /// The carrier's brand, the friend's client.
    pub owner: String,
    pub name: String,
    pub proto: Proto,
    pub to: SocketAddr,
    /// The host as written (the Request-URI, and the name a TLS certificate must carry).
    pub host: String,
    pub tls: Option<TlsPeer>,
    pub interval: u32,
}

/// The key of a peer: `carrier:brand/name`, `friend:client/name`.
pub fn key(kind: PeerKind, owner: &str, name: &str) -> String {
    format!("{}:{}/{}", kind.as_str(), owner, name)
}

impl Spec {
    pub fn key(&self) -> String {
        key(self.kind, &self.owner, &self.name)
    }

    /// `carrier acme/out`, for the log.
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind.as_str(), self.owner, self.name)
    }
}

fn proto_of(name: &str) -> Proto {
    match name.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "tls" => Proto::Tls,
        _ => Proto::Udp,
    }
}

/// A peer's spec, when its address is an IP address (host names are not resolved: such a
/// peer is not probed) and a pinned fingerprint, if any, parses.
#[allow(clippy::too_many_arguments)]
fn spec(
    kind: PeerKind,
    owner: &str,
    name: &str,
    transport: &str,
    host: &str,
    port: u16,
    fingerprint: Option<&str>,
    interval: u32,
) -> Option<Spec> {
    let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    let proto = proto_of(transport);
    let fingerprint = match fingerprint {
        Some(f) => Some(parse_fingerprint(f)?),
        None => None,
    };
    Some(Spec {
        kind,
        owner: owner.to_string(),
        name: name.to_string(),
        proto,
        to: SocketAddr::new(ip, port),
        host: host.to_string(),
        tls: (proto == Proto::Tls).then(|| TlsPeer {
            name: host.to_string(),
            fingerprint,
        }),
        interval,
    })
}

/// Every peer of the model that is probed.
pub fn peers(snap: &Snapshot) -> Vec<Spec> {
    let m = &snap.model;
    let carriers = m.carriers.iter().filter(|c| c.qualify_interval > 0);
    let friends = m
        .friends
        .iter()
        .filter(|f| f.qualify_interval > 0 && f.mode == FriendMode::Direct);
    carriers
        .filter_map(|c| {
            spec(
                PeerKind::Carrier,
                &c.brand,
                &c.name,
                &c.transport,
                &c.address,
                c.port_or_default(),
                c.tls_fingerprint.as_deref(),
                c.qualify_interval,
            )
        })
        .chain(friends.filter_map(|f| {
            spec(
                PeerKind::Friend,
                &f.client,
                &f.name,
                f.transport.as_deref().unwrap_or("udp"),
                f.address.as_deref()?,
                f.port.unwrap_or(5060),
                f.tls_fingerprint.as_deref(),
                f.qualify_interval,
            )
        }))
        .collect()
}

/// The OPTIONS of one probe, from `local` (our address as the peer sees it).
pub fn options(
    spec: &Spec,
    local: SocketAddr,
    call_id: &str,
    tag: &str,
    branch: &str,
    cseq: u32,
) -> Vec<u8> {
    let hostport = match spec.to.ip() {
        IpAddr::V6(ip) => format!("[{}]:{}", ip, spec.to.port()),
        IpAddr::V4(ip) => format!("{}:{}", ip, spec.to.port()),
    };
    let uri = match spec.proto {
        Proto::Udp => format!("sip:{}", hostport),
        p => format!("sip:{};transport={}", hostport, p.as_str()),
    };
    format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{proto} {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:qualify@{local}>;tag={tag}\r\n\
         To: <{uri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} OPTIONS\r\n\
         User-Agent: {ua}\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        proto = spec.proto.via_name(),
        ua = crate::sip::reply::SERVER,
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    #[test]
    fn the_options_is_a_request_the_stack_accepts() {
        let s = spec(
            PeerKind::Carrier,
            "acme",
            "out",
            "tcp",
            "192.0.2.9",
            5070,
            None,
            30,
        )
        .expect("an IP address");
        let bytes = options(
            &s,
            "192.0.2.1:5060".parse().expect("addr"),
            "qualify-1@vozbox",
            "t1",
            "z9hG4bKq1",
            7,
        );
        let msg = Message::parse(&bytes).expect("parses");
        assert!(crate::sip::validate::check_request(&msg).is_ok());
        assert!(matches!(
            &msg.start,
            crate::sip::message::StartLine::Request { uri, .. } if uri == "sip:192.0.2.9:5070;transport=tcp"
        ));
        assert_eq!(msg.cseq(), Some((7, "OPTIONS")));
        assert_eq!(msg.call_id(), Some("qualify-1@vozbox"));
        assert_eq!(msg.max_forwards(), Some(70));
        let via = msg.top_via().expect("via");
        assert_eq!(via.branch(), Some("z9hG4bKq1"));
    }

    #[test]
    fn host_names_and_bad_pins_are_not_probed() {
        assert!(spec(
            PeerKind::Friend,
            "c",
            "f",
            "udp",
            "pbx.example",
            5060,
            None,
            5
        )
        .is_none());
        assert!(spec(
            PeerKind::Friend,
            "c",
            "f",
            "tls",
            "192.0.2.3",
            5061,
            Some("zz"),
            5
        )
        .is_none());
        let s = spec(
            PeerKind::Friend,
            "c",
            "f",
            "tls",
            "192.0.2.3",
            5061,
            None,
            5,
        );
        assert_eq!(
            s.and_then(|s| s.tls).map(|t| t.name),
            Some("192.0.2.3".into())
        );
    }
}

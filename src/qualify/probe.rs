//! What is probed and how: the peers of the model with a `qualify_interval` (direct
//! friends and carriers, at an IP address or a host name) and the OPTIONS sent to one.

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
    /// Its address; None: a host name, resolved for each probe (`dns/`, kept for the
    /// records' TTL) over `transport` and `port`.
    pub to: Option<SocketAddr>,
    /// The host as written (the Request-URI, and the name a TLS certificate must carry).
    pub host: String,
    /// The transport as provisioned (`auto`: a name's NAPTR records choose) and the
    /// explicit port, if any: what a name is resolved for.
    pub transport: String,
    pub port: Option<u16>,
    /// The TLS peer a probe over TLS expects (the host's name, a pinned fingerprint).
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

/// The transport named `name` (tcp, tls; anything else, `auto` too, UDP).
pub(super) fn proto_of(name: &str) -> Proto {
    match name.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "tls" => Proto::Tls,
        _ => Proto::Udp,
    }
}

/// A peer's spec (at `port`, else `default`), when a pinned fingerprint, if any, parses.
#[allow(clippy::too_many_arguments)]
fn spec(
    kind: PeerKind,
    owner: &str,
    name: &str,
    transport: &str,
    host: &str,
    (port, default): (Option<u16>, u16),
    fingerprint: Option<&str>,
    interval: u32,
) -> Option<Spec> {
    let ip = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
    let proto = proto_of(transport);
    let fingerprint = match fingerprint {
        Some(f) => Some(parse_fingerprint(f)?),
        None => None,
    };
    // (a name's NAPTR records may choose TLS)
    let tls_possible = proto == Proto::Tls || ip.is_none() && transport == "auto";
    Some(Spec {
        kind,
        owner: owner.to_string(),
        name: name.to_string(),
        proto,
        to: ip.map(|ip| SocketAddr::new(ip, port.unwrap_or(default))),
        host: host.to_string(),
        transport: transport.to_string(),
        port,
        tls: tls_possible.then(|| TlsPeer {
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
                (c.port, c.port_or_default()),
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
                (f.port, 5060),
                f.tls_fingerprint.as_deref(),
                f.qualify_interval,
            )
        }))
        .collect()
}

/// The OPTIONS of one probe sent over `proto` to `to`, from `local` (our address as the
/// peer sees it). A peer by host name is named in the Request-URI (RFC 3263), as calls
/// name it.
#[allow(clippy::too_many_arguments)]
pub fn options(
    spec: &Spec,
    (proto, to): (Proto, SocketAddr),
    local: SocketAddr,
    call_id: &str,
    tag: &str,
    branch: &str,
    cseq: u32,
) -> Vec<u8> {
    let hostport = match (spec.to, spec.port) {
        (None, None) => spec.host.clone(),
        (None, Some(port)) => format!("{}:{}", spec.host, port),
        (Some(_), _) => match to.ip() {
            IpAddr::V6(ip) => format!("[{}]:{}", ip, to.port()),
            IpAddr::V4(ip) => format!("{}:{}", ip, to.port()),
        },
    };
    let uri = match proto {
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
        proto = proto.via_name(),
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
            (Some(5070), 5060),
            None,
            30,
        )
        .expect("an IP address");
        let to = s.to.expect("its address");
        let bytes = options(
            &s,
            (s.proto, to),
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
    fn a_host_name_is_resolved_for_each_probe_and_named_in_its_request_uri() {
        let named = |transport: &str, port: Option<u16>| {
            let d = (port, 5060);
            spec(
                PeerKind::Friend,
                "c",
                "f",
                transport,
                "pbx.test",
                d,
                None,
                5,
            )
            .expect("a spec")
        };
        let s = named("udp", None);
        assert_eq!((s.to, s.port, s.transport.as_str()), (None, None, "udp"));
        assert!(s.tls.is_none());
        // probed where it resolved to, over the transport its records chose
        let at = (Proto::Tcp, "192.0.2.5:5080".parse().expect("addr"));
        let local = "192.0.2.1:5060".parse().expect("addr");
        let msg = |s: &Spec| {
            let bytes = options(s, at, local, "qualify-2@vozbox", "t", "z9hG4bKq2", 1);
            Message::parse(&bytes).expect("parses")
        };
        let uri = |m: &Message| match &m.start {
            crate::sip::message::StartLine::Request { uri, .. } => uri.to_string(),
            _ => String::new(),
        };
        assert_eq!(uri(&msg(&s)), "sip:pbx.test;transport=tcp");
        assert_eq!(
            uri(&msg(&named("udp", Some(5070)))),
            "sip:pbx.test:5070;transport=tcp"
        );
        assert!(msg(&s).top_via().is_some_and(|v| v.transport == "TCP"));
        // NAPTR may choose TLS: its certificate must then carry the name
        let auto = named("auto", None);
        assert_eq!(auto.tls.map(|t| t.name), Some("pbx.test".into()));
    }

    #[test]
    fn bad_pins_are_not_probed() {
        let ip = "192.0.2.3";
        assert!(spec(
            PeerKind::Friend,
            "c",
            "f",
            "tls",
            ip,
            (None, 5061),
            Some("zz"),
            5
        )
        .is_none());
        let s = spec(PeerKind::Friend, "c", "f", "tls", ip, (None, 5061), None, 5);
        assert_eq!(
            s.as_ref().and_then(|s| s.tls.clone()).map(|t| t.name),
            Some(ip.into())
        );
        assert_eq!(
            s.and_then(|s| s.to),
            Some("192.0.2.3:5061".parse().expect("addr"))
        );
    }
}

//! From a routing decision to the places the outbound leg is sent: every live contact of
//! a user (forked in parallel), a register-mode friend's binding over its flow, a direct
//! friend's address, or the brand's carrier.

use super::leg::Dest;
use crate::model::{Binding, Friend, FriendMode, Snapshot};
use crate::qualify::{probe::PeerKind, Qualify};
use crate::registrar::Location;
use crate::routing::{e164, Route};
use crate::sip::headers::{uri_host, uri_with_user, NameAddr};
use crate::sip::tls::{parse_fingerprint, TlsPeer};
use crate::sip::transport::{Proto, Transports};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One branch of the outbound leg.
#[derive(Debug, Clone)]
pub struct Target {
    pub dest: Dest,
    /// Request-URI of the INVITE.
    pub ruri: String,
    /// To of the INVITE (without tag).
    pub to_uri: String,
    /// From of the INVITE (without tag).
    pub from_uri: String,
    /// P-Asserted-Identity, on external calls.
    pub pai: Option<String>,
    /// Credentials to answer a carrier's challenge; None: a challenge fails the branch.
    pub credentials: Option<(String, String)>,
    /// The codecs this peer may use (empty: any).
    pub allowed_codecs: Vec<String>,
    /// Header fields of its own on the INVITE (`Diversion` on a forwarded call).
    pub headers: Vec<(String, String)>,
    /// The user or friend it reaches (None: a carrier).
    pub party: Option<super::authn::Caller>,
}

/// Who the call presents itself as: the user part of From, and the domain.
#[derive(Debug, Clone, Default)]
pub struct Presentation {
    pub number: String,
    pub domain: String,
    /// An internal caller's own outgoing DDI (E.164): what it presents when a forward
    /// takes its call out through a carrier.
    pub ddi: Option<String>,
}

/// Why there is nowhere to send the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nowhere {
    /// The user or friend has no live binding: 480.
    NotRegistered,
    /// A destination that is misconfigured or unreachable (bad address): 503.
    Unreachable,
}

/// Everything the resolution reads.
pub struct Lookup<'a> {
    pub snap: &'a Snapshot,
    pub location: &'a Location,
    pub transports: &'a Arc<Transports>,
    pub now: u64,
    /// The probed peers' health: a direct friend or carrier that is down is unreachable.
    pub qualify: &'a Qualify,
}

fn sip_uri(user: &str, host: &str) -> String {
    format!("<sip:{}@{}>", user, host)
}

fn proto_of(name: Option<&str>) -> Proto {
    match name.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("tcp") => Proto::Tcp,
        Some("tls") => Proto::Tls,
        _ => Proto::Udp,
    }
}

impl Lookup<'_> {
    /// A binding's destination: over the flow it registered on while that is usable.
    fn binding_dest(&self, b: &Binding) -> Option<Dest> {
        if !self.transports.is_open(&b.flow) {
            return None;
        }
        Some(Dest::new(b.flow.clone(), b.flow.remote, self.transports))
    }

    fn bindings(&self, user: &str, client: &str) -> Vec<Arc<Binding>> {
        let Some(c) = self.snap.client(client) else {
            return Vec::new();
        };
        self.location
            .lookup(&format!("sip:{}@{}", user, c.domain), self.now)
    }

    /// A friend's or carrier's fixed address; over TLS its certificate must carry `host`
    /// or, when one is pinned, have that fingerprint.
    fn address(
        &self,
        proto: Proto,
        host: &str,
        port: u16,
        fingerprint: Option<&str>,
    ) -> Option<Dest> {
        let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
        self.address_at(proto, SocketAddr::new(ip, port), host, fingerprint)
    }

    /// `address` at `to`, one address of `host` (a TLS peer's certificate must carry
    /// `host`, the name, not the address it resolved to).
    fn address_at(
        &self,
        proto: Proto,
        to: SocketAddr,
        host: &str,
        fingerprint: Option<&str>,
    ) -> Option<Dest> {
        // A pin that does not parse never falls back to weaker checks.
        let fingerprint = match fingerprint {
            Some(f) => Some(parse_fingerprint(f)?),
            None => None,
        };
        let peer = (proto == Proto::Tls).then(|| TlsPeer {
            name: host.to_string(),
            fingerprint,
        });
        let flow = self.transports.flow_to(proto, to, peer.as_ref())?;
        let mut dest = Dest::new(flow, to, self.transports);
        dest.tls = peer;
        dest.reconnect = proto != Proto::Udp;
        Some(dest)
    }

    /// A direct friend's branch at `at`, one address its host name resolved to (`dns/`).
    pub fn friend_at(
        &self,
        f: &Friend,
        number: &str,
        from: &Presentation,
        at: crate::dns::Found,
    ) -> Result<Vec<Target>, Nowhere> {
        self.friend_to(f, number, from, Some(at))
    }

    /// A direct friend reached by host name: its name, transport and explicit port.
    pub fn friend_by_name(
        &self,
        client: &str,
        name: &str,
    ) -> Option<(String, String, Option<u16>)> {
        let f = self
            .snap
            .friend(client, name)
            .filter(|f| f.mode == FriendMode::Direct)?;
        let host = f.address.as_deref()?;
        (host.trim_matches(['[', ']']).parse::<IpAddr>().is_err()).then(|| {
            let transport = f.transport.clone().unwrap_or_else(|| "udp".into());
            (host.to_string(), transport, f.port)
        })
    }

    fn friend(
        &self,
        f: &Friend,
        number: &str,
        from: &Presentation,
    ) -> Result<Vec<Target>, Nowhere> {
        if self.friend_by_name(&f.client, &f.name).is_some() {
            // a host name: its branch comes once it is resolved, off this thread
            return Ok(Vec::new());
        }
        self.friend_to(f, number, from, None)
    }

    fn friend_to(
        &self,
        f: &Friend,
        number: &str,
        from: &Presentation,
        at: Option<crate::dns::Found>,
    ) -> Result<Vec<Target>, Nowhere> {
        let from_domain = f.from_domain.clone().unwrap_or_else(|| from.domain.clone());
        let caller = match f.country.as_deref() {
            Some(cc) if from.number.starts_with('+') => e164::to_national(&from.number, Some(cc)),
            _ => from.number.clone(),
        };
        let from_uri = sip_uri(&caller, &from_domain);
        match f.mode {
            FriendMode::Register => {
                let targets: Vec<Target> = self
                    .bindings(&f.name, &f.client)
                    .iter()
                    .filter_map(|b| {
                        let dest = self.binding_dest(b)?;
                        let ruri = uri_with_user(&b.contact, number);
                        let host = uri_host(&NameAddr::parse(&b.contact).ok()?.uri().ok()?);
                        Some(Target {
                            dest,
                            to_uri: sip_uri(number, &host),
                            ruri,
                            from_uri: from_uri.clone(),
                            pai: None,
                            credentials: None,
                            allowed_codecs: f.allowed_codecs.clone(),
                            headers: Vec::new(),
                            party: Some(super::authn::Caller::Friend {
                                client: f.client.clone(),
                                name: f.name.clone(),
                            }),
                        })
                    })
                    .collect();
                if targets.is_empty() {
                    Err(Nowhere::NotRegistered)
                } else {
                    Ok(targets)
                }
            }
            FriendMode::Direct => {
                if !self.qualify.is_up(PeerKind::Friend, &f.client, &f.name) {
                    tracing::debug!("friend {}/{} is down: not tried", f.client, f.name);
                    return Err(Nowhere::Unreachable);
                }
                // the transport of the address resolved (a NAPTR record chose it), else its own
                let proto = proto_of(at.map(|a| a.transport).or(f.transport.as_deref()));
                let host = f.address.as_deref().unwrap_or("");
                let port = f.port.unwrap_or(5060);
                let fingerprint = f.tls_fingerprint.as_deref();
                let dest = match at {
                    Some(to) => self.address_at(proto, to.addr, host, fingerprint),
                    None => self.address(proto, host, port, fingerprint),
                }
                .ok_or(Nowhere::Unreachable)?;
                let hostport = match (at, f.port) {
                    (Some(_), None) => host.to_string(),
                    _ => format!("{}:{}", host, port),
                };
                let mut ruri = format!("sip:{}@{}", number, hostport);
                if proto != Proto::Udp {
                    ruri.push_str(";transport=");
                    ruri.push_str(proto.as_str());
                }
                Ok(vec![Target {
                    dest,
                    ruri,
                    to_uri: sip_uri(number, &hostport),
                    from_uri,
                    pai: None,
                    credentials: None,
                    allowed_codecs: f.allowed_codecs.clone(),
                    headers: Vec::new(),
                    party: Some(super::authn::Caller::Friend {
                        client: f.client.clone(),
                        name: f.name.clone(),
                    }),
                }])
            }
            FriendMode::Intervpbx => Err(Nowhere::Unreachable),
        }
    }

    /// The branches for `route` presenting `from`; only Route::User, Friend and External
    /// lead anywhere.
    pub fn resolve(&self, route: &Route, from: &Presentation) -> Result<Vec<Target>, Nowhere> {
        match route {
            Route::User { client, user } => {
                let from_uri = sip_uri(&from.number, &from.domain);
                let allowed = self
                    .snap
                    .user(client, user)
                    .map(|u| u.allowed_codecs.clone())
                    .unwrap_or_default();
                let targets: Vec<Target> = self
                    .bindings(user, client)
                    .iter()
                    .filter_map(|b| {
                        let dest = self.binding_dest(b)?;
                        Some(Target {
                            dest,
                            ruri: b.contact.clone(),
                            // the binding's address-of-record is the user at the client domain
                            to_uri: format!("<{}>", b.aor),
                            from_uri: from_uri.clone(),
                            pai: None,
                            credentials: None,
                            allowed_codecs: allowed.clone(),
                            headers: Vec::new(),
                            party: Some(super::authn::Caller::User {
                                client: client.clone(),
                                name: user.clone(),
                            }),
                        })
                    })
                    .collect();
                if targets.is_empty() {
                    Err(Nowhere::NotRegistered)
                } else {
                    Ok(targets)
                }
            }
            Route::Friend {
                client,
                friend,
                number,
            } => {
                let f = self
                    .snap
                    .friend(client, friend)
                    .ok_or(Nowhere::Unreachable)?;
                self.friend(f, number, from)
            }
            Route::External {
                carriers,
                number,
                presented,
                billed_client,
            } => {
                let first = carriers.first().ok_or(Nowhere::Unreachable)?;
                if self.carrier_by_name(billed_client, first).is_some() {
                    // a host name: its branches come once it is resolved, off this thread
                    // (`reroute.rs`, the call's first destination)
                    return Ok(Vec::new());
                }
                match self.carrier(first, None, billed_client, number, presented, from) {
                    // (a connection that cannot be opened: the call starts without a
                    // branch and its failover tries this carrier again, then the next)
                    Err(Nowhere::Unreachable) if carriers.len() > 1 => Ok(Vec::new()),
                    r => r,
                }
            }
            _ => Err(Nowhere::Unreachable),
        }
    }

    /// The carrier `name` of `billed_client`'s brand when it is reached by host name
    /// (resolved by `dns/`): its name, transport and explicit port.
    pub fn carrier_by_name(
        &self,
        billed_client: &str,
        name: &str,
    ) -> Option<(String, String, Option<u16>)> {
        let brand = self.snap.client(billed_client)?.brand.clone();
        let c = self.snap.carrier(&brand, name)?;
        let host = c.address.trim_matches(['[', ']']);
        (host.parse::<IpAddr>().is_err()).then(|| (c.address.clone(), c.transport.clone(), c.port))
    }

    /// The branch of an external call of `billed_client` to `number` presenting
    /// `presented` through the carrier `name` of its brand, at `at` (one address its host
    /// name resolved to; None: its IP address).
    pub fn carrier(
        &self,
        name: &str,
        at: Option<crate::dns::Found>,
        billed_client: &str,
        number: &str,
        presented: &str,
        from: &Presentation,
    ) -> Result<Vec<Target>, Nowhere> {
        let brand = self
            .snap
            .client(billed_client)
            .map(|c| c.brand.clone())
            .unwrap_or_default();
        let c = self
            .snap
            .carrier(&brand, name)
            .ok_or(Nowhere::Unreachable)?;
        if !self.qualify.is_up(PeerKind::Carrier, &c.brand, &c.name) {
            tracing::debug!("carrier {}/{} is down: not tried", c.brand, c.name);
            return Err(Nowhere::Unreachable);
        }
        // the transport of the address resolved (a NAPTR record chose it), else its own
        let proto = proto_of(Some(at.map_or(c.transport.as_str(), |f| f.transport)));
        let fingerprint = c.tls_fingerprint.as_deref();
        let dest = match at {
            Some(to) => self.address_at(proto, to.addr, &c.address, fingerprint),
            None => self.address(proto, &c.address, c.port_or_default(), fingerprint),
        }
        .ok_or(Nowhere::Unreachable)?;
        // a name without a port (SRV) is written as it is (RFC 3263 §4)
        let hostport = match (at, c.port) {
            (Some(_), None) => c.address.clone(),
            _ => format!("{}:{}", c.address, c.port_or_default()),
        };
        let mut ruri = format!("sip:{}@{}", number, hostport);
        if proto != Proto::Udp {
            ruri.push_str(";transport=");
            ruri.push_str(proto.as_str());
        }
        let credentials = match (&c.username, &c.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            _ => None,
        };
        Ok(vec![Target {
            dest,
            ruri,
            to_uri: sip_uri(number, &hostport),
            from_uri: sip_uri(presented, &from.domain),
            pai: Some(sip_uri(presented, &from.domain)),
            credentials,
            allowed_codecs: Vec::new(),
            headers: Vec::new(),
            party: None,
        }])
    }
}

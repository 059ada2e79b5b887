//! Who is challenged (DESIGN §5): terminals and friends answer digest challenges; carriers,
//! DDI providers and direct friends without a password are recognised by address and never
//! challenged — vozbox never challenges its upstream. A carrier or friend given by host
//! name is recognised by the addresses its name resolves to (`Resolved`, kept by
//! `b2bua/names.rs`).

use super::{FriendMode, Model, Snapshot};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A carrier of a brand (by address): trusted.
    Carrier { brand: String, name: String },
    /// A DDI provider of a brand (by address or range): trusted.
    DdiProvider { brand: String, name: String },
    /// A direct-mode friend without password, from its configured address: trusted.
    DirectFriend { client: String, name: String },
    /// Anyone else: must answer a digest challenge.
    MustAuthenticate,
}

/// What the host names of carriers and friends resolve to now: a name (lower case) → the
/// addresses and ports its records give (SRV targets, or its A/AAAA records at the port
/// configured or the transport's default).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    by_name: HashMap<String, Vec<SocketAddr>>,
    /// Every address of them (ports aside): exempt from rate limits.
    ips: HashSet<IpAddr>,
}

impl Resolved {
    pub fn new(by_name: HashMap<String, Vec<SocketAddr>>) -> Resolved {
        let ips = by_name.values().flatten().map(|a| a.ip()).collect();
        Resolved { by_name, ips }
    }

    /// The addresses `name` resolved to (empty: none yet). (Few names: looked through
    /// without making a lower-case copy per request.)
    pub fn of(&self, name: &str) -> &[SocketAddr] {
        self.by_name
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| a.as_slice())
            .unwrap_or_default()
    }

    /// The names that resolved.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether `ip` (and `port`, when given) is one of `name`'s addresses.
    fn has(&self, name: &str, ip: IpAddr, port: Option<u16>) -> bool {
        self.of(name)
            .iter()
            .any(|a| a.ip() == ip && port.is_none_or(|p| a.port() == p))
    }

    /// Whether `ip` is an address of any name (whatever the port).
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        self.ips.contains(&ip.to_canonical())
    }
}

/// Whether a configured address is a host name rather than an IP address.
fn is_name(address: &str) -> bool {
    address.trim_matches(['[', ']']).parse::<IpAddr>().is_err()
}

/// Classifies the source of a request that is not a REGISTER. A carrier is recognised by
/// its address and port (so a carrier on a shared or loopback address does not make every
/// other sender on that address trusted); a DDI provider by address or range. A carrier
/// or friend by host name is recognised by what its name resolves to (`names`): a carrier
/// at one of those addresses and ports, a friend at one of those addresses.
pub fn classify(snapshot: &Snapshot, names: &Resolved, source: SocketAddr) -> Source {
    let m = &snapshot.model;
    // (an IPv4 peer on a dual-stack listener arrives as ::ffff:a.b.c.d)
    let ip = source.ip().to_canonical();
    for c in &m.carriers {
        let by_name = || is_name(&c.address) && names.has(&c.address, ip, Some(source.port()));
        if (c.address.parse::<IpAddr>().ok() == Some(ip) && c.port_or_default() == source.port())
            || by_name()
        {
            return Source::Carrier {
                brand: c.brand.clone(),
                name: c.name.clone(),
            };
        }
    }
    for p in &m.ddi_providers {
        if p.addresses.iter().any(|a| addr_matches(a, ip)) {
            return Source::DdiProvider {
                brand: p.brand.clone(),
                name: p.name.clone(),
            };
        }
    }
    for f in &m.friends {
        let at = |a: &str| {
            a.parse::<IpAddr>().ok() == Some(ip) || (is_name(a) && names.has(a, ip, None))
        };
        if f.mode == FriendMode::Direct
            && f.password.as_deref().unwrap_or("").is_empty()
            && f.address.as_deref().is_some_and(at)
        {
            return Source::DirectFriend {
                client: f.client.clone(),
                name: f.name.clone(),
            };
        }
    }
    Source::MustAuthenticate
}

/// The host names whose addresses `classify` needs, each with the transport and port to
/// resolve it for: carriers by name, and direct friends by name without a password.
pub fn names_to_resolve(m: &Model) -> Vec<(String, String, Option<u16>)> {
    let carriers = m
        .carriers
        .iter()
        .map(|c| (c.address.as_str(), c.transport.clone(), c.port));
    let friends = m
        .friends
        .iter()
        .filter(|f| f.mode == FriendMode::Direct && f.password.as_deref().unwrap_or("").is_empty())
        .filter_map(|f| {
            let transport = f.transport.clone().unwrap_or_else(|| "udp".into());
            Some((f.address.as_deref()?, transport, f.port))
        });
    let mut names: Vec<_> = carriers
        .chain(friends)
        .filter(|(a, _, _)| is_name(a))
        .map(|(a, t, p)| (a.to_ascii_lowercase(), t, p))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every address and range the rule above trusts (ports aside): exempt from rate limits.
pub(super) fn trusted_networks(m: &Model) -> Vec<ipnet::IpNet> {
    let carriers = m.carriers.iter().map(|c| c.address.as_str());
    let providers = m
        .ddi_providers
        .iter()
        .flat_map(|p| p.addresses.iter().map(String::as_str));
    let friends = m
        .friends
        .iter()
        .filter(|f| f.mode == FriendMode::Direct && f.password.as_deref().unwrap_or("").is_empty())
        .filter_map(|f| f.address.as_deref());
    carriers
        .chain(providers)
        .chain(friends)
        .filter_map(|a| {
            a.parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| a.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
        })
        .collect()
}

/// Whether `spec` (an address or a CIDR range) contains `ip`.
pub fn addr_matches(spec: &str, ip: IpAddr) -> bool {
    if let Ok(net) = spec.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    spec.parse::<IpAddr>().ok() == Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn friend(
        name: &str,
        mode: FriendMode,
        password: Option<&str>,
        address: Option<&str>,
    ) -> Friend {
        Friend {
            client: "c".into(),
            name: name.into(),
            description: None,
            priority: 1,
            mode,
            password: password.map(Into::into),
            patterns: vec![],
            call_acl: None,
            outgoing_ddi: None,
            country: None,
            area_code: None,
            allowed_codecs: vec![],
            from_domain: None,
            transport: Some("udp".into()),
            address: address.map(Into::into),
            port: Some(5060),
            tls_fingerprint: None,
            target_client: None,
            qualify_interval: 0,
        }
    }

    #[test]
    fn upstream_is_never_challenged_and_others_are() {
        let model = Model {
            carriers: vec![Carrier {
                brand: "b".into(),
                name: "up".into(),
                address: "10.0.0.1".into(),
                port: Some(5060),
                tls_fingerprint: None,
                transport: "udp".into(),
                username: None,
                password: None,
                qualify_interval: 0,
            }],
            ddi_providers: vec![DdiProvider {
                brand: "b".into(),
                name: "in".into(),
                addresses: vec!["10.1.0.0/16".into()],
            }],
            friends: vec![
                friend("open", FriendMode::Direct, None, Some("10.2.0.1")),
                friend("locked", FriendMode::Direct, Some("pw"), Some("10.2.0.2")),
                friend("nat", FriendMode::Register, Some("pw"), None),
            ],
            ..Default::default()
        };
        let s = Snapshot::new(model);
        let none = Resolved::default();
        let ip = |s: &str| SocketAddr::new(s.parse::<IpAddr>().unwrap(), 5060);
        assert!(matches!(
            classify(&s, &none, ip("10.0.0.1")),
            Source::Carrier { .. }
        ));
        // another port of the carrier's address is not the carrier
        assert_eq!(
            classify(&s, &none, "10.0.0.1:5099".parse().unwrap()),
            Source::MustAuthenticate
        );
        assert!(matches!(
            classify(&s, &none, ip("10.1.200.3")),
            Source::DdiProvider { .. }
        ));
        assert!(matches!(
            classify(&s, &none, ip("10.2.0.1")),
            Source::DirectFriend { .. }
        ));
        // a direct friend with a password is challenged like a terminal
        assert_eq!(
            classify(&s, &none, ip("10.2.0.2")),
            Source::MustAuthenticate
        );
        assert_eq!(
            classify(&s, &none, ip("192.0.2.9")),
            Source::MustAuthenticate
        );
    }

    #[test]
    fn peers_by_name_are_recognised_at_the_addresses_their_names_resolve_to() {
        let carrier = |name: &str, port: Option<u16>| Carrier {
            brand: "b".into(),
            name: name.into(),
            address: "SIP.example.test".into(),
            port,
            tls_fingerprint: None,
            transport: "udp".into(),
            username: None,
            password: None,
            qualify_interval: 0,
        };
        let model = Model {
            carriers: vec![carrier("up", None)],
            friends: vec![
                friend("pbx", FriendMode::Direct, None, Some("pbx.example.test")),
                friend(
                    "locked",
                    FriendMode::Direct,
                    Some("pw"),
                    Some("locked.example.test"),
                ),
            ],
            ..Default::default()
        };
        assert_eq!(
            names_to_resolve(&model),
            vec![
                (
                    "pbx.example.test".to_string(),
                    "udp".to_string(),
                    Some(5060)
                ),
                ("sip.example.test".to_string(), "udp".to_string(), None),
            ],
            "the carrier's name in lower case; the friend with a password is challenged anyway"
        );
        let s = Snapshot::new(model);
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let names = Resolved::new(HashMap::from([
            // an SRV target's port
            ("sip.example.test".to_string(), vec![a("10.0.0.7:5080")]),
            ("pbx.example.test".to_string(), vec![a("10.2.0.9:5060")]),
            ("locked.example.test".to_string(), vec![a("10.2.0.10:5060")]),
        ]));
        assert!(matches!(
            classify(&s, &names, a("10.0.0.7:5080")),
            Source::Carrier { .. }
        ));
        // the carrier's address at another port is not the carrier
        assert_eq!(
            classify(&s, &names, a("10.0.0.7:5060")),
            Source::MustAuthenticate
        );
        // a friend by its address, whatever the port
        assert!(matches!(
            classify(&s, &names, a("10.2.0.9:40000")),
            Source::DirectFriend { .. }
        ));
        assert_eq!(
            classify(&s, &names, a("10.2.0.10:5060")),
            Source::MustAuthenticate
        );
        // nothing resolved yet: everyone is challenged
        assert_eq!(
            classify(&s, &Resolved::default(), a("10.0.0.7:5080")),
            Source::MustAuthenticate
        );
        assert!(names.contains_ip("10.2.0.9".parse().unwrap()));
        assert!(!names.contains_ip("10.9.9.9".parse().unwrap()));
    }
}

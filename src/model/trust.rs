//! Who is challenged (DESIGN §5): terminals and friends answer digest challenges; carriers,
//! DDI providers and direct friends without a password are recognised by address and never
//! challenged — vozbox never challenges its upstream.

use super::{FriendMode, Model, Snapshot};
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

/// Classifies the source of a request that is not a REGISTER. A carrier is recognised by
/// its address and port (so a carrier on a shared or loopback address does not make every
/// other sender on that address trusted); a DDI provider by address or range.
pub fn classify(snapshot: &Snapshot, source: SocketAddr) -> Source {
    let m = &snapshot.model;
    let ip = source.ip();
    for c in &m.carriers {
        if c.address.parse::<IpAddr>().ok() == Some(ip) && c.port_or_default() == source.port() {
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
        if f.mode == FriendMode::Direct
            && f.password.as_deref().unwrap_or("").is_empty()
            && f.address.as_deref().and_then(|a| a.parse::<IpAddr>().ok()) == Some(ip)
        {
            return Source::DirectFriend {
                client: f.client.clone(),
                name: f.name.clone(),
            };
        }
    }
    Source::MustAuthenticate
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
        let ip = |s: &str| SocketAddr::new(s.parse::<IpAddr>().unwrap(), 5060);
        assert!(matches!(
            classify(&s, ip("10.0.0.1")),
            Source::Carrier { .. }
        ));
        // another port of the carrier's address is not the carrier
        assert_eq!(
            classify(&s, "10.0.0.1:5099".parse().unwrap()),
            Source::MustAuthenticate
        );
        assert!(matches!(
            classify(&s, ip("10.1.200.3")),
            Source::DdiProvider { .. }
        ));
        assert!(matches!(
            classify(&s, ip("10.2.0.1")),
            Source::DirectFriend { .. }
        ));
        // a direct friend with a password is challenged like a terminal
        assert_eq!(classify(&s, ip("10.2.0.2")), Source::MustAuthenticate);
        assert_eq!(classify(&s, ip("192.0.2.9")), Source::MustAuthenticate);
    }
}

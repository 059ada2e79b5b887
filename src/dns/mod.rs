//! Host names of carriers resolved as RFC 3263 §4 says (hickory-resolver, on the tokio
//! runtime, never on a UDP receive thread): a name with an explicit port is looked up as
//! A/AAAA; without one, the SRV records of the transport (`_sip._udp`, `_sip._tcp`,
//! `_sips._tcp`), ordered by priority then weight (higher first), each target's A/AAAA in
//! turn, and when there are none the name's own A/AAAA on the transport's default port.
//! A carrier whose `transport` is `auto` (a host name, no port) lets its NAPTR records
//! choose (RFC 3263 §4.1): `SIPS+D2T` (TLS), `SIP+D2T` (TCP), `SIP+D2U` (UDP) with flag `s`,
//! by order then preference, each replacement's SRV records as above; no usable NAPTR
//! record: UDP's SRV, then the name's A/AAAA. Every address found carries its transport.
//! What a name resolved to is kept until its records' shortest TTL runs out. A hostile zone
//! is bounded: 8 NAPTR records, 8 SRV targets a name and 4 addresses a target at most, no
//! unspecified or multicast address, and one name's whole resolution within 4 timeouts.
//!
//! Imports nothing else of the crate (the transport is its name: `udp`, `tcp`, `tls`).

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[dns]`: the servers asked (default: the system's `/etc/resolv.conf`) and how long one
/// query may take.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSettings {
    /// `ip:port` of each DNS server; empty: the system's.
    pub servers: Vec<String>,
    /// Seconds one query may take (one attempt per server).
    pub timeout: u64,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            servers: Vec::new(),
            timeout: 2,
        }
    }
}

impl DnsSettings {
    /// The servers as addresses (an error names the bad one).
    pub fn addresses(&self) -> Result<Vec<SocketAddr>, String> {
        self.servers
            .iter()
            .map(|s| {
                s.parse::<SocketAddr>()
                    .map_err(|_| format!("expected ip:port, not {:?}", s))
            })
            .collect()
    }
}

/// A name asked for: (name, transport, explicit port).
type Key = (String, String, Option<u16>);

/// One address a name resolved to, and the transport to reach it over (`udp`, `tcp`,
/// `tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub transport: &'static str,
    pub addr: SocketAddr,
}

/// The resolver and what it found, each with the instant its records expire.
pub struct Dns {
    resolver: TokioResolver,
    cache: Mutex<HashMap<Key, (Vec<Found>, Instant)>>,
    /// How long one name's whole resolution may take (its queries one after another).
    deadline: Duration,
}

/// At most this many NAPTR records, SRV targets of a name, and addresses of a target are
/// followed: a hostile zone cannot hold a call up with endless records.
const MAX_RECORDS: usize = 8;
const MAX_ADDRESSES: usize = 4;

/// An address a call may be sent to (not 0.0.0.0, ::, nor a multicast group).
fn usable(ip: &IpAddr) -> bool {
    !ip.is_unspecified() && !ip.is_multicast()
}

/// A transport by its name as provisioned (anything else: UDP).
fn transport_of(name: &str) -> &'static str {
    match name {
        "tls" => "tls",
        "tcp" => "tcp",
        _ => "udp",
    }
}

/// The transport a NAPTR record leads to (RFC 3263 §4.1: flag `s`, a SIP service vozbox
/// speaks); None for any other record.
pub fn naptr_transport(flags: &[u8], services: &[u8]) -> Option<&'static str> {
    if !flags.eq_ignore_ascii_case(b"s") {
        return None;
    }
    let services = services.to_ascii_uppercase();
    match services.as_slice() {
        b"SIPS+D2T" => Some("tls"),
        b"SIP+D2T" => Some("tcp"),
        b"SIP+D2U" => Some("udp"),
        _ => None,
    }
}

/// One usable NAPTR record: order, preference, transport, replacement (an SRV name).
pub type Naptr = (u16, u16, &'static str, String);

/// NAPTR records in the order they are tried: order, then preference (both ascending).
pub fn naptr_order(mut records: Vec<Naptr>) -> Vec<Naptr> {
    records.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    records
}

/// The default port of a transport (RFC 3261 §19.1.2).
pub fn default_port(transport: &str) -> u16 {
    if transport == "tls" {
        5061
    } else {
        5060
    }
}

/// The SRV name of a transport's SIP servers for `host`.
pub fn srv_name(transport: &str, host: &str) -> String {
    match transport {
        "tls" => format!("_sips._tcp.{}.", host),
        "tcp" => format!("_sip._tcp.{}.", host),
        _ => format!("_sip._udp.{}.", host),
    }
}

/// One SRV record: priority, weight, target name, port.
pub type Srv = (u16, u16, String, u16);

/// SRV records in the order they are tried: priority ascending, then weight descending
/// (the heavier first; a record of weight 0 last), then as received.
pub fn srv_order(mut records: Vec<Srv>) -> Vec<Srv> {
    records.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    records
}

impl Dns {
    /// A resolver asking `settings.servers` (or the system's), for the tokio runtime.
    pub fn new(settings: &DnsSettings) -> Result<Dns, String> {
        let servers = settings.addresses()?;
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| format!("/etc/resolv.conf: {}", e))?
        } else {
            let mut cfg = ResolverConfig::new();
            for s in servers {
                cfg.add_name_server(NameServerConfig::new(s, Protocol::Udp));
            }
            TokioResolver::builder_with_config(cfg, TokioConnectionProvider::default())
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(settings.timeout.max(1));
        opts.attempts = 1;
        // what a name resolved to is kept here, as long as its records allow
        opts.cache_size = 0;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        Ok(Dns {
            resolver: builder.with_options(opts).build(),
            cache: Mutex::new(HashMap::new()),
            deadline: Duration::from_secs(settings.timeout.max(1) * 4),
        })
    }

    /// The addresses of `host` for `transport` (`port`: an explicit one), in the order
    /// they are tried; empty when nothing resolves. Served from what is kept while its
    /// TTL lasts.
    pub async fn resolve(&self, host: &str, transport: &str, port: Option<u16>) -> Vec<Found> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            let transport = transport_of(transport);
            let addr = SocketAddr::new(ip, port.unwrap_or(default_port(transport)));
            return vec![Found { transport, addr }];
        }
        let key = (host.to_ascii_lowercase(), transport.to_string(), port);
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((addrs, until)) = cache.get(&key) {
                if *until > now {
                    return addrs.clone();
                }
            }
        }
        let lookup = tokio::time::timeout(self.deadline, self.lookup(host, transport, port));
        let (addrs, until) = match lookup.await {
            Ok(found) => found,
            Err(_) => {
                tracing::info!("DNS {}: no answer within {:?}", host, self.deadline);
                (Vec::new(), now)
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (_, u)| *u > now);
            if !addrs.is_empty() {
                cache.insert(key, (addrs.clone(), until));
            }
        }
        addrs
    }

    async fn lookup(
        &self,
        host: &str,
        transport: &str,
        port: Option<u16>,
    ) -> (Vec<Found>, Instant) {
        let mut until = Instant::now() + Duration::from_secs(3600);
        if port.is_none() && transport == "auto" {
            let found = self.naptr(host, &mut until).await;
            if !found.is_empty() {
                return (found, until);
            }
        }
        let transport = transport_of(transport);
        if port.is_none() {
            let found = self
                .srv(&srv_name(transport, host), transport, &mut until)
                .await;
            if !found.is_empty() {
                return (found, until);
            }
        }
        let port = port.unwrap_or(default_port(transport));
        match self
            .resolver
            .lookup_ip(format!("{}.", host.trim_end_matches('.')))
            .await
        {
            Ok(ips) => (
                ips.iter()
                    .filter(usable)
                    .take(MAX_ADDRESSES)
                    .map(|ip| Found {
                        transport,
                        addr: SocketAddr::new(ip, port),
                    })
                    .collect(),
                until.min(ips.valid_until()),
            ),
            Err(e) => {
                tracing::info!("DNS {}: {}", host, e);
                (Vec::new(), until)
            }
        }
    }

    /// The addresses the NAPTR records of `host` lead to, each over its transport.
    async fn naptr(&self, host: &str, until: &mut Instant) -> Vec<Found> {
        let name = format!("{}.", host.trim_end_matches('.'));
        let Ok(answer) = self.resolver.lookup(name, RecordType::NAPTR).await else {
            return Vec::new();
        };
        *until = (*until).min(answer.valid_until());
        let records: Vec<Naptr> = answer
            .iter()
            .filter_map(|r| match r {
                RData::NAPTR(n) => {
                    let t = naptr_transport(n.flags(), n.services())?;
                    Some((n.order(), n.preference(), t, n.replacement().to_ascii()))
                }
                _ => None,
            })
            .collect();
        let mut found = Vec::new();
        for (_, _, transport, replacement) in naptr_order(records).into_iter().take(MAX_RECORDS) {
            found.extend(self.srv(&replacement, transport, until).await);
        }
        found
    }

    /// The addresses of the SRV records at `name`, in the order they are tried.
    async fn srv(&self, name: &str, transport: &'static str, until: &mut Instant) -> Vec<Found> {
        let Ok(srv) = self.resolver.srv_lookup(name).await else {
            return Vec::new();
        };
        *until = (*until).min(srv.as_lookup().valid_until());
        let records: Vec<Srv> = srv
            .iter()
            .map(|r| (r.priority(), r.weight(), r.target().to_ascii(), r.port()))
            .collect();
        let mut found = Vec::new();
        for (_, _, target, p) in srv_order(records).into_iter().take(MAX_RECORDS) {
            if let Ok(ips) = self.resolver.lookup_ip(target.as_str()).await {
                *until = (*until).min(ips.valid_until());
                found.extend(
                    ips.iter()
                        .filter(usable)
                        .take(MAX_ADDRESSES)
                        .map(|ip| Found {
                            transport,
                            addr: SocketAddr::new(ip, p),
                        }),
                );
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_records_go_by_priority_then_the_heavier_first() {
        let r = |p, w, t: &str| (p, w, t.to_string(), 5060);
        let ordered = srv_order(vec![
            r(20, 10, "c"),
            r(10, 5, "b"),
            r(10, 50, "a"),
            r(10, 0, "z"),
        ]);
        let names: Vec<&str> = ordered.iter().map(|x| x.2.as_str()).collect();
        assert_eq!(names, ["a", "b", "z", "c"]);
        assert_eq!(srv_name("tls", "sip.test"), "_sips._tcp.sip.test.");
        assert_eq!(srv_name("tcp", "sip.test"), "_sip._tcp.sip.test.");
        assert_eq!(srv_name("udp", "sip.test"), "_sip._udp.sip.test.");
        assert_eq!(default_port("tls"), 5061);
    }

    #[test]
    fn naptr_records_choose_the_transport_by_order_then_preference() {
        assert_eq!(naptr_transport(b"S", b"sips+d2t"), Some("tls"));
        assert_eq!(naptr_transport(b"s", b"SIP+D2T"), Some("tcp"));
        assert_eq!(naptr_transport(b"s", b"SIP+D2U"), Some("udp"));
        // another service, or a record that is not terminal at an SRV name: not ours
        assert_eq!(naptr_transport(b"s", b"SIP+D2S"), None);
        assert_eq!(naptr_transport(b"a", b"SIP+D2U"), None);
        assert_eq!(naptr_transport(b"", b"E2U+sip"), None);
        let order = naptr_order(vec![
            (20, 10, "udp", "_sip._udp.x.".into()),
            (10, 60, "tls", "_sips._tcp.x.".into()),
            (10, 50, "tcp", "_sip._tcp.x.".into()),
        ]);
        let transports: Vec<&str> = order.iter().map(|r| r.2).collect();
        assert_eq!(transports, ["tcp", "tls", "udp"]);
    }

    #[test]
    fn servers_must_be_addresses() {
        let s = DnsSettings {
            servers: vec!["127.0.0.1:5353".into(), "dns.example".into()],
            timeout: 2,
        };
        assert!(s.addresses().unwrap_err().contains("dns.example"));
    }
}

//! Host names of carriers resolved as RFC 3263 §4 says (hickory-resolver, on the tokio
//! runtime, never on a UDP receive thread): a name with an explicit port is looked up as
//! A/AAAA; without one, the SRV records of the transport (`_sip._udp`, `_sip._tcp`,
//! `_sips._tcp`) by priority, those of one priority in a weighted random order drawn
//! anew for each use (RFC 2782: `order.rs`), each target's A/AAAA in turn, and when there
//! are none the name's own A/AAAA on the transport's default port.
//! A carrier whose `transport` is `auto` (a host name, no port) lets its NAPTR records
//! choose (RFC 3263 §4.1): `SIPS+D2T` (TLS), `SIP+D2T` (TCP), `SIP+D2U` (UDP) with flag `s`,
//! by order then preference, each replacement's SRV records as above; no usable NAPTR
//! record: UDP's SRV, then the name's A/AAAA. Every address found carries its transport.
//! A/AAAA is the A records, or the AAAA records of a name that has none; `resolve_every`
//! (where a peer by name may send from) asks both, and fails a name when either query
//! fails other than by having no records (a family without any is asked again within a
//! minute). What a name resolved to is kept until its records' shortest TTL runs out. A
//! hostile zone is bounded: 8 NAPTR records, 8 SRV targets a name and 4 addresses a target
//! at most (4 of each family for `resolve_every`), no unspecified or multicast address,
//! and one name's whole resolution within 4 timeouts.
//!
//! Imports nothing else of the crate (the transport is its name: `udp`, `tcp`, `tls`).

pub mod order;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use order::{arrange, naptr_order, srv_order, Naptr, Ranked, Srv};
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

/// A name asked for: (name, transport, explicit port, both families).
type Key = (String, String, Option<u16>, bool);

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
    cache: Mutex<HashMap<Key, (Vec<Ranked>, Instant)>>,
    /// How long one name's whole resolution may take (its queries one after another).
    deadline: Duration,
}

/// At most this many NAPTR records, SRV targets of a name, and addresses of a target are
/// followed: a hostile zone cannot hold a call up with endless records.
const MAX_RECORDS: usize = 8;
const MAX_ADDRESSES: usize = 4;

/// How soon a name's family that had no records (`resolve_every`) is asked again.
const ABSENT: Duration = Duration::from_secs(60);

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
    /// they are tried (SRV targets of one priority drawn by weight each time); empty when
    /// nothing resolves. Served from what is kept while its TTL lasts.
    pub async fn resolve(&self, host: &str, transport: &str, port: Option<u16>) -> Vec<Found> {
        let ranked = self.ranked(host, transport, port, false).await;
        arrange(ranked, &mut |total| rand::random_range(0..=total))
    }

    /// Every address `host` may be reached at, as `resolve` finds them, but with each
    /// name's AAAA records as well as its A records (`resolve` asks for AAAA only when a
    /// name has no A record): all the places a dual-stack peer by name may send from.
    pub async fn resolve_every(
        &self,
        host: &str,
        transport: &str,
        port: Option<u16>,
    ) -> Vec<Found> {
        let ranked = self.ranked(host, transport, port, true).await;
        arrange(ranked, &mut |total| rand::random_range(0..=total))
    }

    /// What `host` resolved to, by rank and weight (`every`: both families).
    async fn ranked(
        &self,
        host: &str,
        transport: &str,
        port: Option<u16>,
        every: bool,
    ) -> Vec<Ranked> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            let transport = transport_of(transport);
            let addr = SocketAddr::new(ip, port.unwrap_or(default_port(transport)));
            return vec![Ranked::one(vec![Found { transport, addr }])];
        }
        let key = (
            host.to_ascii_lowercase(),
            transport.to_string(),
            port,
            every,
        );
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((addrs, until)) = cache.get(&key) {
                if *until > now {
                    return addrs.clone();
                }
            }
        }
        let lookup = tokio::time::timeout(self.deadline, self.lookup(host, transport, port, every));
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
        every: bool,
    ) -> (Vec<Ranked>, Instant) {
        let mut until = Instant::now() + Duration::from_secs(3600);
        if port.is_none() && transport == "auto" {
            let found = self.naptr(host, every, &mut until).await;
            if !found.is_empty() {
                return (found, until);
            }
        }
        let transport = transport_of(transport);
        if port.is_none() {
            let found = self
                .srv(&srv_name(transport, host), transport, 0, every, &mut until)
                .await;
            if !found.is_empty() {
                return (found, until);
            }
        }
        let port = port.unwrap_or(default_port(transport));
        match self
            .ips(&format!("{}.", host.trim_end_matches('.')), every)
            .await
        {
            Ok((ips, valid)) => {
                let found: Vec<Found> = ips
                    .into_iter()
                    .map(|ip| Found {
                        transport,
                        addr: SocketAddr::new(ip, port),
                    })
                    .collect();
                let ranked = (!found.is_empty()).then(|| Ranked::one(found));
                (ranked.into_iter().collect(), until.min(valid))
            }
            Err(e) => {
                tracing::info!("DNS {}: {}", host, e);
                (Vec::new(), until)
            }
        }
    }

    /// The usable addresses of `name` (at most `MAX_ADDRESSES` of each family) and when
    /// they expire: its A records, or its AAAA records when it has none; both with `every`.
    async fn ips(&self, name: &str, every: bool) -> Result<(Vec<IpAddr>, Instant), String> {
        if !every {
            let ips = self
                .resolver
                .lookup_ip(name)
                .await
                .map_err(|e| e.to_string())?;
            let found = ips.iter().filter(usable).take(MAX_ADDRESSES).collect();
            return Ok((found, ips.valid_until()));
        }
        let (v4, v6) = tokio::join!(
            self.resolver.ipv4_lookup(name),
            self.resolver.ipv6_lookup(name)
        );
        // A family without records is asked again within `ABSENT` (one added later is
        // seen); any other failure of either fails the name (nothing partial is kept).
        let now = Instant::now();
        let (mut found, mut valid) = (Vec::new(), now + Duration::from_secs(3600));
        match v4 {
            Ok(a) => {
                let ips = a.iter().map(|a| IpAddr::V4(a.0)).filter(usable);
                found.extend(ips.take(MAX_ADDRESSES));
                valid = valid.min(a.as_lookup().valid_until());
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                valid = valid.min(now + ABSENT)
            }
            Err(e) => return Err(e.to_string()),
        }
        match v6 {
            Ok(aaaa) => {
                let ips = aaaa.iter().map(|a| IpAddr::V6(a.0)).filter(usable);
                found.extend(ips.take(MAX_ADDRESSES));
                valid = valid.min(aaaa.as_lookup().valid_until());
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                valid = valid.min(now + ABSENT)
            }
            Err(e) => return Err(e.to_string()),
        }
        if found.is_empty() {
            return Err("no usable A or AAAA record".into());
        }
        Ok((found, valid))
    }

    /// The addresses the NAPTR records of `host` lead to, each over its transport.
    async fn naptr(&self, host: &str, every: bool, until: &mut Instant) -> Vec<Ranked> {
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
        let ordered = naptr_order(records).into_iter().take(MAX_RECORDS);
        for (place, (_, _, transport, replacement)) in (0u16..).zip(ordered) {
            found.extend(self.srv(&replacement, transport, place, every, until).await);
        }
        found
    }

    /// The addresses of the SRV records at `name` (the `place`-th NAPTR record's), by
    /// priority and weight.
    async fn srv(
        &self,
        name: &str,
        transport: &'static str,
        place: u16,
        every: bool,
        until: &mut Instant,
    ) -> Vec<Ranked> {
        let Ok(srv) = self.resolver.srv_lookup(name).await else {
            return Vec::new();
        };
        *until = (*until).min(srv.as_lookup().valid_until());
        let records: Vec<Srv> = srv
            .iter()
            .map(|r| (r.priority(), r.weight(), r.target().to_ascii(), r.port()))
            .collect();
        let mut found = Vec::new();
        for (priority, weight, target, p) in srv_order(records).into_iter().take(MAX_RECORDS) {
            if let Ok((ips, valid)) = self.ips(&target, every).await {
                *until = (*until).min(valid);
                let addrs: Vec<Found> = ips
                    .into_iter()
                    .map(|ip| Found {
                        transport,
                        addr: SocketAddr::new(ip, p),
                    })
                    .collect();
                if !addrs.is_empty() {
                    found.push(Ranked {
                        rank: (place, priority),
                        weight,
                        found: addrs,
                    });
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_must_be_addresses() {
        let s = DnsSettings {
            servers: vec!["127.0.0.1:5353".into(), "dns.example".into()],
            timeout: 2,
        };
        assert!(s.addresses().unwrap_err().contains("dns.example"));
    }
}

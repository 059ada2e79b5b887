//! Host names of carriers resolved as RFC 3263 §4 says (hickory-resolver, on the tokio
//! runtime, never on a UDP receive thread): a name with an explicit port is looked up as
//! A/AAAA; without one, the SRV records of the transport (`_sip._udp`, `_sip._tcp`,
//! `_sips._tcp`), ordered by priority then weight (higher first), each target's A/AAAA in
//! turn, and when there are none the name's own A/AAAA on the transport's default port.
//! The transport is always known (a carrier's `transport`, `udp` by default), so NAPTR is
//! not asked. What a name resolved to is kept until its records' shortest TTL runs out.
//!
//! Imports nothing else of the crate (the transport is its name: `udp`, `tcp`, `tls`).

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
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

/// The resolver and what it found, each with the instant its records expire.
pub struct Dns {
    resolver: TokioResolver,
    cache: Mutex<HashMap<Key, (Vec<SocketAddr>, Instant)>>,
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
        })
    }

    /// The addresses of `host` for `transport` (`port`: an explicit one), in the order
    /// they are tried; empty when nothing resolves. Served from what is kept while its
    /// TTL lasts.
    pub async fn resolve(&self, host: &str, transport: &str, port: Option<u16>) -> Vec<SocketAddr> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, port.unwrap_or(default_port(transport)))];
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
        let (addrs, until) = self.lookup(host, transport, port).await;
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
    ) -> (Vec<SocketAddr>, Instant) {
        let mut until = Instant::now() + Duration::from_secs(3600);
        if port.is_none() {
            if let Ok(srv) = self.resolver.srv_lookup(srv_name(transport, host)).await {
                until = until.min(srv.as_lookup().valid_until());
                let records: Vec<Srv> = srv
                    .iter()
                    .map(|r| (r.priority(), r.weight(), r.target().to_ascii(), r.port()))
                    .collect();
                let mut addrs = Vec::new();
                for (_, _, target, p) in srv_order(records) {
                    if let Ok(ips) = self.resolver.lookup_ip(target.as_str()).await {
                        until = until.min(ips.valid_until());
                        addrs.extend(ips.iter().map(|ip| SocketAddr::new(ip, p)));
                    }
                }
                if !addrs.is_empty() {
                    return (addrs, until);
                }
            }
        }
        let port = port.unwrap_or(default_port(transport));
        match self
            .resolver
            .lookup_ip(format!("{}.", host.trim_end_matches('.')))
            .await
        {
            Ok(ips) => (
                ips.iter().map(|ip| SocketAddr::new(ip, port)).collect(),
                until.min(ips.valid_until()),
            ),
            Err(e) => {
                tracing::info!("DNS {}: {}", host, e);
                (Vec::new(), until)
            }
        }
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
    fn servers_must_be_addresses() {
        let s = DnsSettings {
            servers: vec!["127.0.0.1:5353".into(), "dns.example".into()],
            timeout: 2,
        };
        assert!(s.addresses().unwrap_err().contains("dns.example"));
    }
}

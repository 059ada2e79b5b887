use serde::{Deserialize, Serialize};

/// An outbound trunk of a brand. Requests from its address are never challenged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub brand: String,
    pub name: String,
    /// An IP address, or a host name resolved as RFC 3263 says (`dns/`).
    pub address: String,
    /// None: not given — the transport's default port for an IP address, the SRV records
    /// of a host name.
    #[serde(default)]
    pub port: Option<u16>,
    pub transport: String,
    /// Over TLS: the SHA-256 fingerprint its certificate must have (else system roots).
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
    /// Credentials to answer the carrier's own challenges.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Seconds between the OPTIONS that tell whether it answers (0: not probed).
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub qualify_interval: u32,
}

impl Carrier {
    /// Its port, or the transport's default (5061 over TLS, else 5060).
    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.transport == "tls" { 5061 } else { 5060 })
    }
}

/// An inbound trunk of a brand: the addresses DDI calls come from (IP or CIDR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdiProvider {
    pub brand: String,
    pub name: String,
    pub addresses: Vec<String>,
}

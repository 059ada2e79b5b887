use serde::{Deserialize, Serialize};

/// An outbound trunk of a brand. Requests from its address are never challenged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub brand: String,
    pub name: String,
    pub address: String,
    pub port: u16,
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

/// An inbound trunk of a brand: the addresses DDI calls come from (IP or CIDR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdiProvider {
    pub brand: String,
    pub name: String,
    pub addresses: Vec<String>,
}

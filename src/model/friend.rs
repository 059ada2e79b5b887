use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FriendMode {
    /// Behind NAT: registers like a terminal.
    Register,
    /// Reached at a fixed transport/address/port.
    Direct,
    /// Internal friend: reaches the extensions of another client of the same brand.
    Intervpbx,
}

/// A SIP trunk to another PBX (remote friend) or to another client (internal friend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    pub client: String,
    pub name: String,
    pub description: Option<String>,
    /// Lower wins when several friends match.
    pub priority: u32,
    pub mode: FriendMode,
    pub password: Option<String>,
    /// Regular expressions (POSIX classes) matched against the whole dialled number.
    pub patterns: Vec<String>,
    pub call_acl: Option<String>,
    /// Fallback outgoing DDI.
    pub outgoing_ddi: Option<String>,
    pub country: Option<String>,
    pub area_code: Option<String>,
    pub allowed_codecs: Vec<String>,
    pub from_domain: Option<String>,
    /// Direct mode: "udp", "tcp" or "tls".
    pub transport: Option<String>,
    pub address: Option<String>,
    pub port: Option<u16>,
    /// Direct mode over TLS: the SHA-256 fingerprint its certificate must have (a
    /// self-signed PBX); without it the certificate is verified against the system roots.
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
    /// Intervpbx mode: the client whose extensions this friend reaches.
    pub target_client: Option<String>,
    /// Direct mode: seconds between the OPTIONS that tell whether it answers (0: not
    /// probed).
    #[serde(default, skip_serializing_if = "super::is_zero")]
    pub qualify_interval: u32,
}

use serde::{Deserialize, Serialize};

/// A user with its terminal: `name` is the SIP user name, `password` the terminal's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub client: String,
    pub name: String,
    pub password: String,
    pub extension: Option<String>,
    pub call_acl: Option<String>,
    pub outgoing_ddi: Option<String>,
    pub max_calls: u32,
    pub allowed_codecs: Vec<String>,
    pub email: Option<String>,
    /// The user gets a voicemail box named after it (unless one of its own is provisioned).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub voicemail: bool,
}

fn yes() -> bool {
    true
}

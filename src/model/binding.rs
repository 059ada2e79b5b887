use crate::sip::transport::Flow;
use serde::{Deserialize, Serialize};

/// Who registered: a terminal (user) or a register-mode friend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingOwner {
    Terminal,
    Friend,
}

/// One registered contact of an address-of-record, with the flow it came over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// `sip:user@domain`, lower-case host.
    pub aor: String,
    pub client: String,
    pub owner: BindingOwner,
    /// The Contact URI exactly as sent (without angle brackets).
    pub contact: String,
    pub q: Option<f32>,
    /// Unix seconds.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
    /// The address and transport the REGISTER really came from.
    pub flow: Flow,
    /// Whether the Contact address differs from where the REGISTER came from.
    pub natted: bool,
    pub user_agent: Option<String>,
    pub path: Vec<String>,
}

impl Binding {
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(self.aor.len() + 1 + self.contact.len());
        key.push_str(&self.aor);
        key.push('\n');
        key.push_str(&self.contact);
        key
    }
}

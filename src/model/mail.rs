use serde::{Deserialize, Serialize};

/// An e-mail waiting in the store's outbox until the SMTP server took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

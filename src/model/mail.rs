use serde::{Deserialize, Serialize};

/// An e-mail waiting in the store's outbox until the SMTP server took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// A file sent with it (a voicemail message's WAV): its path and the name it is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub path: String,
    pub name: String,
    pub content_type: String,
}

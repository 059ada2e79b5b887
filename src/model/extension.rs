use serde::{Deserialize, Serialize};

/// Where an extension number leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "target")]
pub enum ExtensionRoute {
    User(String),
    Number(String),
    Friend(String),
    Voicemail(String),
    Ivr(String),
    Locution(String),
    /// The echo test: the caller's audio straight back (Asterisk's `*43`).
    Echo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub client: String,
    pub number: String,
    pub route: ExtensionRoute,
}

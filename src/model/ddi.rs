use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "target")]
pub enum DdiRoute {
    User(String),
    Friend(String),
    Extension(String),
    Ivr(String),
    Voicemail(String),
}

/// A public number (E.164) owned by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ddi {
    pub number: String,
    pub client: String,
    pub route: Option<DdiRoute>,
    pub record: bool,
}

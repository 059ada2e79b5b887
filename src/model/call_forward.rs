use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "name")]
pub enum ForwardOwner {
    User(String),
    Friend(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    Internal,
    External,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardType {
    Unconditional,
    NoAnswer,
    Busy,
    NotRegistered,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "value")]
pub enum ForwardTarget {
    Voicemail,
    Number(String),
    Extension(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallForward {
    pub client: String,
    pub owner: ForwardOwner,
    pub call_type: CallType,
    pub forward_type: ForwardType,
    /// Seconds, for no_answer.
    pub timeout: u32,
    pub target: ForwardTarget,
    pub enabled: bool,
}

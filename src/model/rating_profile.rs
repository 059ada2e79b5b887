use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// E.164 destination prefix, e.g. "+34".
    pub prefix: String,
    pub connection_fee: String,
    pub per_minute: String,
    /// Billing increment in seconds.
    pub increment: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingProfile {
    pub client: String,
    pub name: String,
    /// Seconds since the Unix epoch.
    pub active_from: u64,
    pub active_to: Option<u64>,
    pub rates: Vec<Rate>,
}

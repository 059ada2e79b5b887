use serde::{Deserialize, Serialize};

/// One rate of a rating profile: the price of calls to numbers starting with `prefix`,
/// optionally only in a time band (weekdays, from, to: in the client's time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Rate {
    /// E.164 destination prefix, e.g. "+34".
    pub prefix: String,
    pub connection_fee: String,
    pub per_minute: String,
    /// Billing increment in seconds.
    pub increment: u32,
    /// Seconds billed at least (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minimum: u32,
    /// The band's days ("mon" … "sun"); empty: every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// The band's start and end, "HH:MM" local time (end "24:00" allowed; an end before the
    /// start wraps past midnight). A rate with any band key applies only inside its band.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Rate {
    /// Whether it applies only in a time band.
    pub fn is_banded(&self) -> bool {
        !self.weekdays.is_empty() || self.from.is_some() || self.to.is_some()
    }
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

use serde::{Deserialize, Serialize};

/// A brand's outgoing route (IvozProvider's "outgoing routing"): the external numbers it
/// takes (an E.164 prefix, or `*` for any), the carriers that carry them in the order they
/// are tried, and its place among the brand's routes (`priority` ascending; routes of one
/// priority are tried in a weighted random order). Chosen by `routing::outgoing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingRoute {
    pub brand: String,
    pub name: String,
    /// `+` and digits (a prefix of the E.164 number), or `*`.
    pub prefix: String,
    pub priority: u32,
    pub weight: u32,
    /// Carriers of the brand, tried in this order.
    pub carriers: Vec<String>,
}

impl OutgoingRoute {
    /// Whether the route takes the E.164 `number`.
    pub fn takes(&self, number: &str) -> bool {
        self.prefix == "*" || number.starts_with(&self.prefix)
    }
}

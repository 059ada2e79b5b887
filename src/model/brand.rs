use serde::{Deserialize, Serialize};

/// An operator's brand: it owns carriers, DDI providers and clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub name: String,
    /// Concurrent external calls for the whole brand; 0 = unlimited.
    #[serde(default)]
    pub max_calls: u32,
}

/// A group of clients of one brand that may reach each other through internal friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corporation {
    pub name: String,
    pub brand: String,
}

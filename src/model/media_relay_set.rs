use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRelaySet {
    pub name: String,
    pub bind: String,
    pub advertised: String,
    pub port_min: u16,
    pub port_max: u16,
}

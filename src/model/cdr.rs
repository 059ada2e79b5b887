use serde::{Deserialize, Serialize};

/// One call record, written once when the call ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    pub call_id: String,
    pub client: String,
    pub caller: String,
    pub callee: String,
    pub direction: String,
    pub route: String,
    pub start: u64,
    pub answer: Option<u64>,
    pub end: u64,
    pub duration: u64,
    pub disposition: String,
    pub sip_code: u16,
    /// An external call of a client that bills: its price (4 decimal places; "0.0000"
    /// unanswered), and the client's currency.
    pub price: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    /// What of the call was recorded (`recording 7`), or why it could not be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// A transfer (REFER) ended it, or it followed one: the transferring party
    /// (`user:alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_by: Option<String>,
    /// An external call: the carrier that carried it (unanswered: the last one tried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// When more than one was tried: every carrier tried, in order (the last is `carrier`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carriers_tried: Vec<String>,
}

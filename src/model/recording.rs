use serde::{Deserialize, Serialize};

/// One call recording (the store's `recordings`; the WAV is `<recordings>/<id>.wav`:
/// stereo, 8 kHz, the caller left and the callee right).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub id: u64,
    pub client: String,
    /// The call's number in `vozbox calls` and its caller's Call-ID.
    pub call: u64,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// Milliseconds since the epoch when recording started.
    pub start: u64,
    pub duration_ms: u64,
    /// `ddi` (the DDI records every call) or `ondemand`.
    pub kind: String,
    /// Who asked for an on-demand recording (`caller` or `callee`, and how).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub who: String,
    /// Packets were lost because the writer fell behind: where, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

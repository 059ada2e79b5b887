//! `[overload]`: when new work is refused so that admitted work completes (issue 22).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Overload {
    /// A new INVITE or REGISTER that waited longer than this in the UDP socket (ms, the
    /// kernel's receive timestamp) is answered `503` + `Retry-After`: the box is behind.
    /// 0 turns the check off.
    pub queue_delay_ms: u64,
    /// Calls being set up (sent on, not yet answered or ended) at once; a new INVITE past
    /// it is answered `503` + `Retry-After`. 0 turns the check off.
    pub max_setup: usize,
    /// The `Retry-After` of those `503`s, in seconds.
    pub retry_after: u32,
}

impl Default for Overload {
    fn default() -> Self {
        Overload {
            queue_delay_ms: 200,
            max_setup: 4_000,
            retry_after: 5,
        }
    }
}

impl Overload {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.queue_delay_ms > 10_000 {
            return Err(("queue_delay_ms", "expected at most 10000 (10 s)".into()));
        }
        if self.max_setup > 10_000_000 {
            return Err(("max_setup", "expected at most 10000000".into()));
        }
        if !(1..=3_600).contains(&self.retry_after) {
            return Err(("retry_after", "expected 1 to 3600 seconds".into()));
        }
        Ok(())
    }
}

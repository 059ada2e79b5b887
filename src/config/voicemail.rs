//! `[voicemail]`: how messages are recorded.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Voicemail {
    /// The longest message, in seconds: recording stops there.
    pub max_seconds: u32,
    /// Shorter messages are dropped (a caller who hung up at the tone).
    pub min_seconds: u32,
    /// Seconds of silence after speech that end a message.
    pub silence_seconds: u32,
}

impl Default for Voicemail {
    fn default() -> Self {
        Voicemail {
            max_seconds: 300,
            min_seconds: 2,
            silence_seconds: 5,
        }
    }
}

impl Voicemail {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_seconds == 0 || self.max_seconds > 600 {
            return Err(("max_seconds", "expected 1 to 600".into()));
        }
        if self.min_seconds >= self.max_seconds {
            return Err(("min_seconds", "expected less than max_seconds".into()));
        }
        if self.silence_seconds == 0 {
            return Err(("silence_seconds", "expected at least 1".into()));
        }
        Ok(())
    }
}

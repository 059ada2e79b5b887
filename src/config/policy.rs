//! `[policy]`: what the client policies need of the server (`src/policy/`).

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// A MaxMind GeoIP2/GeoLite2 Country or City database (countries of the IP filter).
    pub geoip_database: Option<PathBuf>,
}

impl Policy {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self
            .geoip_database
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(("geoip_database", "expected a file path".into()));
        }
        Ok(())
    }
}

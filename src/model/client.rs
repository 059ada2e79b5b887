use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BillingMethod {
    #[default]
    None,
    Postpaid,
    Prepaid,
}

/// A vPBX client: its SIP domain selects it for every request (realm = domain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub name: String,
    pub brand: String,
    /// Lower-case SIP domain (or IP address for lab use).
    pub domain: String,
    pub corporation: Option<String>,
    pub max_calls: u32,
    pub ip_filter: bool,
    pub authorized_sources: Vec<String>,
    pub geoip_countries: Vec<String>,
    pub outgoing_ddi: Option<String>,
    pub media_relay_set: Option<String>,
    pub billing_method: BillingMethod,
    /// Decimal amounts are kept as their text (e.g. "12.50") to stay exact.
    pub balance: String,
    pub currency: String,
    pub max_daily_usage: Option<String>,
    pub notify_email: Option<String>,
    pub language: String,
    pub timezone: String,
    pub country: Option<String>,
    pub area_code: Option<String>,
    pub voice_notifications: bool,
    pub recording_code: Option<String>,
    /// On-demand recording: `off`, `info` (SIP INFO `Record: on|off`), `info_dtmf` (also
    /// `*` + `recording_code` pressed during the call).
    #[serde(default = "off")]
    pub on_demand_record: String,
    /// Its recordings may be removed (CLI, API).
    #[serde(default = "yes")]
    pub allow_recording_removal: bool,
    /// Its own service codes (digits after the `*`) by service (`service_codes.rs`), in
    /// place of the defaults.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub service_codes: std::collections::BTreeMap<String, String>,
    /// The voicemail e-mail's own template (else `[smtp]`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_body: Option<String>,
}

fn off() -> String {
    "off".into()
}

fn yes() -> bool {
    true
}

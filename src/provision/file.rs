//! The provisioning file as written: one array of tables per entity (DESIGN §7), with the
//! position of every name and reference kept for error messages.

use serde::Deserialize;
use toml::Spanned;

pub type S = Spanned<String>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub brand: Vec<BrandDef>,
    #[serde(default)]
    pub corporation: Vec<CorporationDef>,
    #[serde(default)]
    pub client: Vec<ClientDef>,
    #[serde(default)]
    pub user: Vec<UserDef>,
    #[serde(default)]
    pub extension: Vec<ExtensionDef>,
    #[serde(default)]
    pub friend: Vec<FriendDef>,
    #[serde(default)]
    pub call_acl: Vec<CallAclDef>,
    #[serde(default)]
    pub call_forward: Vec<CallForwardDef>,
    #[serde(default)]
    pub ddi: Vec<DdiDef>,
    #[serde(default)]
    pub carrier: Vec<CarrierDef>,
    #[serde(default)]
    pub ddi_provider: Vec<DdiProviderDef>,
    #[serde(default)]
    pub media_relay_set: Vec<MediaRelaySetDef>,
    #[serde(default)]
    pub rating_profile: Vec<RatingProfileDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandDef {
    pub name: S,
    #[serde(default)]
    pub max_calls: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorporationDef {
    pub name: S,
    pub brand: S,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDef {
    pub brand: S,
    pub name: S,
    pub domain: S,
    pub corporation: Option<S>,
    #[serde(default)]
    pub max_calls: u32,
    #[serde(default)]
    pub ip_filter: bool,
    #[serde(default)]
    pub authorized_sources: Vec<S>,
    #[serde(default)]
    pub geoip_countries: Vec<S>,
    pub outgoing_ddi: Option<S>,
    pub media_relay_set: Option<S>,
    pub billing_method: Option<S>,
    pub balance: Option<S>,
    pub currency: Option<S>,
    pub max_daily_usage: Option<S>,
    pub notify_email: Option<S>,
    pub language: Option<S>,
    pub timezone: Option<S>,
    pub country: Option<S>,
    pub area_code: Option<S>,
    #[serde(default)]
    pub voice_notifications: bool,
    pub recording_code: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub client: S,
    pub name: S,
    pub password: S,
    pub extension: Option<S>,
    pub call_acl: Option<S>,
    pub outgoing_ddi: Option<S>,
    #[serde(default)]
    pub max_calls: u32,
    #[serde(default)]
    pub allowed_codecs: Vec<S>,
    pub email: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDef {
    pub client: S,
    pub number: S,
    /// user | number | friend | voicemail | ivr | locution
    pub route: S,
    pub user: Option<S>,
    pub target: Option<S>,
    pub friend: Option<S>,
    pub ivr: Option<S>,
    pub locution: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FriendDef {
    pub client: S,
    pub name: S,
    pub description: Option<S>,
    #[serde(default = "one")]
    pub priority: u32,
    pub mode: S,
    pub password: Option<S>,
    #[serde(default)]
    pub patterns: Vec<S>,
    pub call_acl: Option<S>,
    pub outgoing_ddi: Option<S>,
    pub country: Option<S>,
    pub area_code: Option<S>,
    #[serde(default)]
    pub allowed_codecs: Vec<S>,
    pub from_domain: Option<S>,
    pub transport: Option<S>,
    pub address: Option<S>,
    pub port: Option<Spanned<u16>>,
    pub tls_fingerprint: Option<S>,
    pub target_client: Option<S>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub priority: u32,
    pub policy: S,
    pub pattern: S,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallAclDef {
    pub client: S,
    pub name: S,
    pub default_policy: S,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallForwardDef {
    pub client: S,
    pub user: Option<S>,
    pub friend: Option<S>,
    pub call_type: S,
    pub forward_type: S,
    pub timeout: Option<u32>,
    pub target: S,
    pub extension: Option<S>,
    pub number: Option<S>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdiDef {
    pub client: S,
    pub number: S,
    /// user | friend | extension | ivr | voicemail
    pub route: Option<S>,
    pub user: Option<S>,
    pub friend: Option<S>,
    pub extension: Option<S>,
    pub ivr: Option<S>,
    #[serde(default)]
    pub record: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierDef {
    pub brand: S,
    pub name: S,
    pub address: S,
    #[serde(default = "sip_port")]
    pub port: u16,
    pub transport: Option<S>,
    pub tls_fingerprint: Option<S>,
    pub username: Option<S>,
    pub password: Option<S>,
}

fn sip_port() -> u16 {
    5060
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdiProviderDef {
    pub brand: S,
    pub name: S,
    pub addresses: Vec<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaRelaySetDef {
    pub name: S,
    pub bind: S,
    pub advertised: S,
    pub port_min: Spanned<u16>,
    pub port_max: Spanned<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateDef {
    pub prefix: S,
    pub connection_fee: S,
    pub per_minute: S,
    #[serde(default = "sixty")]
    pub increment: u32,
}

fn sixty() -> u32 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingProfileDef {
    pub client: S,
    pub name: S,
    pub active_from: S,
    pub active_to: Option<S>,
    #[serde(default)]
    pub rates: Vec<RateDef>,
}

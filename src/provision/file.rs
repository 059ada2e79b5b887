//! The provisioning file as written: one array of tables per entity (DESIGN §7), with the
//! position of every name and reference kept for error messages. Each section's type is
//! also the schema of its API resource in the OpenAPI document (`api/openapi.rs`).

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
    pub outgoing_route: Vec<OutgoingRouteDef>,
    #[serde(default)]
    pub media_relay_set: Vec<MediaRelaySetDef>,
    #[serde(default)]
    pub rating_profile: Vec<RatingProfileDef>,
    #[serde(default)]
    pub voicemail: Vec<VoicemailDef>,
    #[serde(default)]
    pub admin: Vec<AdminDef>,
}

/// An administrator of the admin API: added or updated by an apply, never removed by one
/// (`vozbox admin remove` does that). The password only as its argon2 hash.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminDef {
    pub name: S,
    /// Argon2 PHC string (`$argon2id$v=19$…`), e.g. from `vozbox export`.
    pub password_hash: S,
    /// The client it administers; absent: an operator.
    pub client: Option<S>,
    /// Resource → "read" or "write": a restricted client administrator.
    pub rights: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandDef {
    #[schema(value_type = String)]
    pub name: S,
    #[serde(default)]
    pub max_calls: u32,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorporationDef {
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub brand: S,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientDef {
    #[schema(value_type = String)]
    pub brand: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub domain: S,
    #[schema(value_type = Option<String>)]
    pub corporation: Option<S>,
    #[serde(default)]
    pub max_calls: u32,
    #[serde(default)]
    pub ip_filter: bool,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub authorized_sources: Vec<S>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub geoip_countries: Vec<S>,
    #[schema(value_type = Option<String>)]
    pub outgoing_ddi: Option<S>,
    #[schema(value_type = Option<String>)]
    pub media_relay_set: Option<S>,
    #[schema(value_type = Option<String>)]
    pub billing_method: Option<S>,
    #[schema(value_type = Option<String>)]
    pub balance: Option<S>,
    #[schema(value_type = Option<String>)]
    pub currency: Option<S>,
    #[schema(value_type = Option<String>)]
    pub max_daily_usage: Option<S>,
    #[schema(value_type = Option<String>)]
    pub notify_email: Option<S>,
    #[schema(value_type = Option<String>)]
    pub language: Option<S>,
    #[schema(value_type = Option<String>)]
    pub timezone: Option<S>,
    #[schema(value_type = Option<String>)]
    pub country: Option<S>,
    #[schema(value_type = Option<String>)]
    pub area_code: Option<S>,
    #[serde(default)]
    pub voice_notifications: bool,
    #[schema(value_type = Option<String>)]
    pub recording_code: Option<S>,
    /// off | info | info_dtmf
    #[schema(value_type = Option<String>)]
    pub on_demand_record: Option<S>,
    #[serde(default = "yes")]
    pub allow_recording_removal: bool,
    /// Its own service codes in place of the defaults, by service: forward_unconditional
    /// (80), forward_busy (81), forward_no_answer (82), forward_not_registered (83),
    /// voicemail (93); digits without the `*`.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub service_codes: std::collections::BTreeMap<String, S>,
    /// The e-mail announcing a voicemail message (`${VM_NAME}`, `${VM_DATE}`, `${VM_DUR}`,
    /// `${VM_CIDNAME}`, `${VM_CIDNUM}`, `${VM_MSGNUM}`); absent: `[smtp]`'s.
    #[schema(value_type = Option<String>)]
    pub voicemail_subject: Option<S>,
    #[schema(value_type = Option<String>)]
    pub voicemail_body: Option<S>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub password: S,
    #[schema(value_type = Option<String>)]
    pub extension: Option<S>,
    #[schema(value_type = Option<String>)]
    pub call_acl: Option<S>,
    #[schema(value_type = Option<String>)]
    pub outgoing_ddi: Option<S>,
    #[serde(default)]
    pub max_calls: u32,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub allowed_codecs: Vec<S>,
    #[schema(value_type = Option<String>)]
    pub email: Option<S>,
    /// A voicemail box named after the user (default true).
    pub voicemail: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub name: S,
    /// The owner: a user or a friend of the client (or neither).
    #[schema(value_type = Option<String>)]
    pub user: Option<S>,
    #[schema(value_type = Option<String>)]
    pub friend: Option<S>,
    #[schema(value_type = Option<String>)]
    pub email: Option<S>,
    #[serde(default)]
    pub send_mail: bool,
    #[serde(default = "yes")]
    pub attach_sound: bool,
    /// Digits.
    #[schema(value_type = Option<String>)]
    pub pin: Option<S>,
    /// A locution name.
    #[schema(value_type = Option<String>)]
    pub greeting: Option<S>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Messages kept at most (0: no limit); a full box answers busy.
    #[serde(default = "hundred")]
    pub max_messages: u32,
}

fn hundred() -> u32 {
    100
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub number: S,
    /// user | number | friend | voicemail | ivr | locution | echo
    #[schema(value_type = String)]
    pub route: S,
    #[schema(value_type = Option<String>)]
    pub user: Option<S>,
    #[schema(value_type = Option<String>)]
    pub target: Option<S>,
    #[schema(value_type = Option<String>)]
    pub friend: Option<S>,
    #[schema(value_type = Option<String>)]
    pub ivr: Option<S>,
    #[schema(value_type = Option<String>)]
    pub locution: Option<S>,
    /// The voicemail box of route `voicemail` (else the box named after `user`).
    #[schema(value_type = Option<String>)]
    pub voicemail: Option<S>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FriendDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = Option<String>)]
    pub description: Option<S>,
    #[serde(default = "one")]
    pub priority: u32,
    #[schema(value_type = String)]
    pub mode: S,
    #[schema(value_type = Option<String>)]
    pub password: Option<S>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub patterns: Vec<S>,
    #[schema(value_type = Option<String>)]
    pub call_acl: Option<S>,
    #[schema(value_type = Option<String>)]
    pub outgoing_ddi: Option<S>,
    #[schema(value_type = Option<String>)]
    pub country: Option<S>,
    #[schema(value_type = Option<String>)]
    pub area_code: Option<S>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub allowed_codecs: Vec<S>,
    #[schema(value_type = Option<String>)]
    pub from_domain: Option<S>,
    #[schema(value_type = Option<String>)]
    pub transport: Option<S>,
    #[schema(value_type = Option<String>)]
    pub address: Option<S>,
    #[schema(value_type = Option<u16>)]
    pub port: Option<Spanned<u16>>,
    #[schema(value_type = Option<String>)]
    pub tls_fingerprint: Option<S>,
    #[schema(value_type = Option<String>)]
    pub target_client: Option<S>,
    /// Direct mode: seconds between the OPTIONS that tell whether it answers (0 or absent:
    /// off; at most 3600). Down after 3 unanswered: its calls are refused at once (503).
    #[schema(value_type = Option<u32>)]
    pub qualify_interval: Option<Spanned<u32>>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub priority: u32,
    #[schema(value_type = String)]
    pub policy: S,
    #[schema(value_type = String)]
    pub pattern: S,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallAclDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub default_policy: S,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallForwardDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = Option<String>)]
    pub user: Option<S>,
    #[schema(value_type = Option<String>)]
    pub friend: Option<S>,
    #[schema(value_type = String)]
    pub call_type: S,
    #[schema(value_type = String)]
    pub forward_type: S,
    pub timeout: Option<u32>,
    #[schema(value_type = String)]
    pub target: S,
    #[schema(value_type = Option<String>)]
    pub extension: Option<S>,
    #[schema(value_type = Option<String>)]
    pub number: Option<S>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DdiDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub number: S,
    /// user | friend | extension | ivr | voicemail
    #[schema(value_type = Option<String>)]
    pub route: Option<S>,
    #[schema(value_type = Option<String>)]
    pub user: Option<S>,
    #[schema(value_type = Option<String>)]
    pub friend: Option<S>,
    #[schema(value_type = Option<String>)]
    pub extension: Option<S>,
    #[schema(value_type = Option<String>)]
    pub ivr: Option<S>,
    /// The voicemail box of route `voicemail` (else the box named after `user`).
    #[schema(value_type = Option<String>)]
    pub voicemail: Option<S>,
    #[serde(default)]
    pub record: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierDef {
    #[schema(value_type = String)]
    pub brand: S,
    #[schema(value_type = String)]
    pub name: S,
    /// An IP address or a host name (RFC 3263: SRV records when `port` is not given).
    #[schema(value_type = String)]
    pub address: S,
    /// Default: 5060 (5061 over TLS) for an IP address, the SRV records for a host name.
    pub port: Option<u16>,
    #[schema(value_type = Option<String>)]
    pub transport: Option<S>,
    #[schema(value_type = Option<String>)]
    pub tls_fingerprint: Option<S>,
    #[schema(value_type = Option<String>)]
    pub username: Option<S>,
    #[schema(value_type = Option<String>)]
    pub password: Option<S>,
    /// Seconds between the OPTIONS that tell whether it answers (0 or absent: off; at most
    /// 3600). Down after 3 unanswered: its calls are refused at once (503).
    #[schema(value_type = Option<u32>)]
    pub qualify_interval: Option<Spanned<u32>>,
}

/// A brand's outgoing route: the external numbers it takes (`prefix`: `+` and digits, a
/// prefix of the E.164 number, or `*` for any) and its carriers, tried in order; routes
/// by `priority` ascending (default 1), those of one priority in a random order weighted
/// by `weight` (default 1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutgoingRouteDef {
    #[schema(value_type = String)]
    pub brand: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub prefix: S,
    #[schema(value_type = Option<u32>)]
    pub priority: Option<Spanned<u32>>,
    #[schema(value_type = Option<u32>)]
    pub weight: Option<Spanned<u32>>,
    #[schema(value_type = Vec<String>)]
    pub carriers: Vec<S>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DdiProviderDef {
    #[schema(value_type = String)]
    pub brand: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = Vec<String>)]
    pub addresses: Vec<S>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaRelaySetDef {
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub bind: S,
    #[schema(value_type = String)]
    pub advertised: S,
    #[schema(value_type = u16)]
    pub port_min: Spanned<u16>,
    #[schema(value_type = u16)]
    pub port_max: Spanned<u16>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateDef {
    #[schema(value_type = String)]
    pub prefix: S,
    #[schema(value_type = String)]
    pub connection_fee: S,
    #[schema(value_type = String)]
    pub per_minute: S,
    #[serde(default = "sixty")]
    pub increment: u32,
    /// Seconds billed at least.
    #[serde(default)]
    pub minimum: u32,
    /// A time band: the days ("mon" … "sun"), from and to ("HH:MM", local time).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub weekdays: Vec<S>,
    #[schema(value_type = Option<String>)]
    pub from: Option<S>,
    #[schema(value_type = Option<String>)]
    pub to: Option<S>,
}

fn sixty() -> u32 {
    60
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingProfileDef {
    #[schema(value_type = String)]
    pub client: S,
    #[schema(value_type = String)]
    pub name: S,
    #[schema(value_type = String)]
    pub active_from: S,
    #[schema(value_type = Option<String>)]
    pub active_to: Option<S>,
    #[serde(default)]
    pub rates: Vec<RateDef>,
}

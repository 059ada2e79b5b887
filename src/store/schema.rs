//! Every redb table, in one place. Values are JSON documents of the `model` types, so that
//! a field added later reads old rows with its default — except bindings, written at the
//! rate of registrations, in a compact binary form of their own (`binding_value.rs`).
//! `SCHEMA_VERSION` is bumped when a change would mislead an older vozbox: 2 since bindings
//! are binary (schema 1 files open and are marked 2; their JSON bindings still read).

use redb::TableDefinition;

pub const SCHEMA_VERSION: u64 = 2;

/// "schema_version", "model_generation" → number.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const BRANDS: TableDefinition<&str, &[u8]> = TableDefinition::new("brands");
pub const CORPORATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("corporations");
pub const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub const EXTENSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("extensions");
pub const FRIENDS: TableDefinition<&str, &[u8]> = TableDefinition::new("friends");
pub const CALL_ACLS: TableDefinition<&str, &[u8]> = TableDefinition::new("call_acls");
pub const CALL_FORWARDS: TableDefinition<&str, &[u8]> = TableDefinition::new("call_forwards");
pub const DDIS: TableDefinition<&str, &[u8]> = TableDefinition::new("ddis");
pub const CARRIERS: TableDefinition<&str, &[u8]> = TableDefinition::new("carriers");
pub const DDI_PROVIDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("ddi_providers");
pub const MEDIA_RELAY_SETS: TableDefinition<&str, &[u8]> = TableDefinition::new("media_relay_sets");
pub const RATING_PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("rating_profiles");
pub const VOICEMAILS: TableDefinition<&str, &[u8]> = TableDefinition::new("voicemails");
pub const OUTGOING_ROUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("outgoing_routes");

/// Location service: "aor\ncontact" → Binding (`binding_value.rs`; JSON in schema 1).
pub const BINDINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("bindings");
/// Call records: sequence number → Cdr.
pub const CDRS: TableDefinition<u64, &[u8]> = TableDefinition::new("cdrs");

/// Admin API administrators: name → `model::Admin` (JSON: the name, an argon2 PHC hash,
/// never the password, and the client and rights of a client administrator).
pub const OPERATORS: TableDefinition<&str, &[u8]> = TableDefinition::new("operators");
/// Admin API secrets: "token_sha256" → the SHA-256 of the API token (never the token).
pub const API_SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_secrets");

/// The clients' money: client name → `policy::credit::Account` (live prepaid balance,
/// today's spend, the day's notification), changed in the transaction of each priced call
/// record and of each provisioning change of a balance.
pub const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");

/// E-mail not yet taken by the SMTP server: sequence number → `model::Mail`.
pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// Messages left in voicemail boxes: id → `model::VoicemailMessage` (the WAV is a file
/// named by the id; written before its record, removed after it).
pub const VOICEMAIL_MESSAGES: TableDefinition<u64, &[u8]> =
    TableDefinition::new("voicemail_messages");

/// Call recordings: id → `model::Recording` (the WAV a file named by the id, written
/// before its record, removed after it).
pub const RECORDINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("recordings");

/// The audit trail: sequence number → `model::AuditEntry`.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// The model tables, for clearing and counting.
pub const MODEL_TABLES: [TableDefinition<&str, &[u8]>; 15] = [
    BRANDS,
    CORPORATIONS,
    CLIENTS,
    USERS,
    EXTENSIONS,
    FRIENDS,
    CALL_ACLS,
    CALL_FORWARDS,
    DDIS,
    CARRIERS,
    DDI_PROVIDERS,
    MEDIA_RELAY_SETS,
    RATING_PROFILES,
    VOICEMAILS,
    OUTGOING_ROUTES,
];

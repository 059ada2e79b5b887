//! Who administers the PBX through the API: operators (everything) and client
//! administrators (one vPBX client, optionally restricted per resource), and the audit
//! trail of what they changed. Plain data; the rules of who may do what are `api/scope.rs`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a restricted client administrator may do with one kind of resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Admin {
    pub name: String,
    /// Argon2 in PHC string format (`$argon2id$v=19$…`); never the password.
    pub password_hash: String,
    /// `None`: an operator (all brands, all clients). `Some`: the client it administers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// A client administrator restricted to these resources (by their API name, e.g.
    /// `users`) at these levels; `None` = every resource a client administrator may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<BTreeMap<String, Access>>,
}

/// The most a client administrator may do with a resource (its API name); `None`: the
/// resource is an operator's only.
pub fn client_admin_max(resource: &str) -> Option<Access> {
    match resource {
        "users" | "extensions" | "friends" | "call_acls" | "call_forwards" | "calls"
        | "registrations" => Some(Access::Write),
        "clients" | "ddis" | "rating_profiles" | "cdrs" | "audit" => Some(Access::Read),
        _ => None,
    }
}

/// An administrator's name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
pub fn valid_admin_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

/// One change made through the API or the CLI, kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The administrator (or `api-token`, `cli`).
    pub who: String,
    /// create, update, delete, apply, hang_up, unregister, …
    pub action: String,
    /// The resource's API name (`users`, `calls`, `provision`, …).
    pub resource: String,
    /// The resource's id (`bluebird/alice`), empty for a whole-model apply.
    pub id: String,
    /// The client the change belongs to, when it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

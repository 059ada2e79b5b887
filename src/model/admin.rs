//! Who administers the PBX through the API: operators (everything) and client
//! administrators (one vPBX client, optionally restricted per resource), and the audit
//! trail of what they changed. The data and the rules both the provisioning file and the
//! API check (names, the rights a client administrator may have); what a principal may
//! do with a request is `api/scope.rs`.

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
        | "registrations" | "voicemails" | "voicemail_messages" | "recordings" => {
            Some(Access::Write)
        }
        "clients" | "ddis" | "rating_profiles" | "cdrs" | "audit" | "usage" => Some(Access::Read),
        _ => None,
    }
}

/// Names the audit trail gives to the API token and the command line: no administrator
/// may take them.
pub const RESERVED_NAMES: [&str; 2] = ["api-token", "cli"];

/// An administrator's name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`, not reserved.
pub fn valid_admin_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
        && !RESERVED_NAMES.contains(&n)
}

/// What a name that `valid_admin_name` refuses is told.
pub const ADMIN_NAME_RULE: &str =
    "expected 1-64 letters, digits, '.', '_', '@' or '-' (not api-token or cli)";

/// Checks the rights of an administrator (`client`: whether it is a client
/// administrator): only a client administrator has rights, each on a resource it may use,
/// at most at the level its role allows.
pub fn check_rights(client: bool, rights: &BTreeMap<String, Access>) -> Result<(), String> {
    if !client {
        return Err("only a client administrator has rights".into());
    }
    for (res, a) in rights {
        match client_admin_max(res) {
            None => {
                return Err(format!(
                    "{:?} is not a resource a client administrator may use",
                    res
                ))
            }
            Some(max) if *a > max => {
                return Err(format!(
                    "{} can only be read by a client administrator",
                    res
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether adding or updating `incoming` over `stored` leaves no operator where there was
/// one (a database without an operator yet gets one on the server's start).
pub fn leaves_no_operator(stored: &[Admin], incoming: &[Admin]) -> bool {
    let left = stored
        .iter()
        .filter(|s| !incoming.iter().any(|a| a.name == s.name))
        .chain(incoming)
        .any(|a| a.client.is_none());
    !left && stored.iter().any(|a| a.client.is_none())
}

/// What an apply that `leaves_no_operator` is told.
pub const NO_OPERATOR_LEFT: &str =
    "the file's [[admin]] entries would leave no operator (an administrator without client)";

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

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(name: &str, client: Option<&str>) -> Admin {
        Admin {
            name: name.into(),
            password_hash: "h".into(),
            client: client.map(Into::into),
            rights: None,
        }
    }

    #[test]
    fn an_apply_must_leave_an_operator() {
        let stored = [admin("admin", None), admin("ann", Some("b"))];
        assert!(leaves_no_operator(&stored, &[admin("admin", Some("b"))]));
        assert!(!leaves_no_operator(&stored, &[admin("ann", None)]));
        assert!(!leaves_no_operator(&stored, &[admin("bob", Some("b"))]));
        // no operator yet: the start makes one
        assert!(!leaves_no_operator(&[], &[admin("ann", Some("b"))]));
        assert!(!valid_admin_name("cli") && !valid_admin_name("api-token"));
        assert!(check_rights(true, &[("users".into(), Access::Write)].into()).is_ok());
        assert!(check_rights(false, &[("users".into(), Access::Read)].into()).is_err());
        assert!(check_rights(true, &[("ddis".into(), Access::Write)].into()).is_err());
        assert!(check_rights(true, &[("brands".into(), Access::Read)].into()).is_err());
    }
}

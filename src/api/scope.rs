//! Who may do what through the API. Operators may do everything. A client administrator
//! works on one client: it sees only that client's entities, calls, registrations, records
//! and audit entries (another client's answer `404`, and they are absent from lists and
//! counts), may change its users, extensions, friends, call ACLs and call forwards, hang
//! up its calls and remove its registrations, and reads its client, DDIs and rating
//! profiles. A restricted one has per-resource rights below that (IvozProvider's API ACLs).

use crate::model::{Access, Admin};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Operator {
        name: String,
    },
    Client {
        name: String,
        client: String,
        rights: Option<BTreeMap<String, Access>>,
    },
}

/// The most a client administrator may do with a resource (its API name).
pub fn client_admin_max(resource: &str) -> Option<Access> {
    match resource {
        "users" | "extensions" | "friends" | "call_acls" | "call_forwards" | "calls"
        | "registrations" => Some(Access::Write),
        "clients" | "ddis" | "rating_profiles" | "cdrs" | "audit" | "usage" => Some(Access::Read),
        _ => None,
    }
}

impl Principal {
    pub fn of(admin: &Admin) -> Principal {
        match &admin.client {
            None => Principal::Operator {
                name: admin.name.clone(),
            },
            Some(c) => Principal::Client {
                name: admin.name.clone(),
                client: c.clone(),
                rights: admin.rights.clone(),
            },
        }
    }

    /// Who, for the audit trail and the log.
    pub fn name(&self) -> &str {
        match self {
            Principal::Operator { name } | Principal::Client { name, .. } => name,
        }
    }

    /// The client of a client administrator.
    pub fn client(&self) -> Option<&str> {
        match self {
            Principal::Operator { .. } => None,
            Principal::Client { client, .. } => Some(client),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    /// Whether it may `want` (read, or write) `resource` at all.
    pub fn may(&self, resource: &str, want: Access) -> bool {
        match self {
            Principal::Operator { .. } => true,
            Principal::Client { rights, .. } => {
                let max = client_admin_max(resource);
                let granted = match rights {
                    None => max,
                    Some(r) => r.get(resource).copied().min(max),
                };
                granted.is_some_and(|g| g >= want)
            }
        }
    }

    /// Whether it sees data of `client` (`None`: data of no client, the operator's own).
    pub fn sees(&self, client: Option<&str>) -> bool {
        match self {
            Principal::Operator { .. } => true,
            Principal::Client { client: own, .. } => client == Some(own.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_admin(rights: Option<&[(&str, Access)]>) -> Principal {
        Principal::Client {
            name: "ann".into(),
            client: "bluebird".into(),
            rights: rights.map(|r| r.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
        }
    }

    #[test]
    fn rights_are_capped_by_the_role() {
        let op = Principal::Operator {
            name: "admin".into(),
        };
        assert!(op.may("brands", Access::Write) && op.sees(None) && op.sees(Some("x")));
        let full = client_admin(None);
        assert!(full.may("users", Access::Write));
        assert!(full.may("ddis", Access::Read) && !full.may("ddis", Access::Write));
        assert!(!full.may("brands", Access::Read) && !full.may("provision", Access::Write));
        assert!(full.sees(Some("bluebird")) && !full.sees(Some("redbird")) && !full.sees(None));
        let ro = client_admin(Some(&[("users", Access::Read), ("brands", Access::Write)]));
        assert!(ro.may("users", Access::Read) && !ro.may("users", Access::Write));
        assert!(!ro.may("extensions", Access::Read));
        // a right beyond the role is not granted
        assert!(!ro.may("brands", Access::Read));
        let ddi_w = client_admin(Some(&[("ddis", Access::Write)]));
        assert!(ddi_w.may("ddis", Access::Read) && !ddi_w.may("ddis", Access::Write));
    }
}

//! `vozbox admin list|add|remove|passwd`: through the running server's API when one
//! answers (its change takes effect at once), else on the database directly, with the same
//! rules (`admins.rs`).

use super::admins::{check_role, last_operator, valid_name};
use super::client::{self, Reply};
use super::secrets;
use crate::auth::nonce::now_secs;
use crate::config::Config;
use crate::model::{Access, Admin, AuditEntry};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub enum Target {
    Server { cfg: Box<Config>, token: String },
    Store(Store),
}

/// The running server when one listens on `[api] listen`, else the database.
pub fn target(cfg: &Config) -> Result<Target, String> {
    if let Some(addr) = cfg.api.addr() {
        if client::listening(addr) {
            return Ok(Target::Server {
                cfg: Box::new(cfg.clone()),
                token: client::token_for(cfg)?,
            });
        }
    }
    Store::open(&cfg.storage.path)
        .map(Target::Store)
        .map_err(|e| e.to_string())
}

fn call(
    cfg: &Config,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let ctype = (!text.is_empty()).then_some("application/json");
    let addr = cfg.api.listen.as_str();
    match client::request_to(cfg, method, path, Some(token), ctype, &text) {
        Ok(Reply::Http { status, body }) if (200..300).contains(&status) => {
            serde_json::from_str(&body).map_err(|e| format!("admin API: {}", e))
        }
        Ok(Reply::Http { status, body }) => {
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            Err(format!(
                "the server refused ({}): {}",
                status,
                v["error"].as_str().unwrap_or(&body)
            ))
        }
        Ok(Reply::NoServer) => Err(format!("no server at {}", addr)),
        Err(e) => Err(format!("admin API at {}: {}", addr, e)),
    }
}

/// The audit entry of a change made by the CLI on the database.
fn entry(action: &str, name: &str) -> AuditEntry {
    AuditEntry {
        at: now_secs(),
        who: "cli".into(),
        action: action.into(),
        resource: "admins".into(),
        id: name.into(),
        client: None,
    }
}

/// Every administrator: name, role, client, rights.
pub fn list(t: &Target) -> Result<Vec<Value>, String> {
    match t {
        Target::Server { cfg, token } => match call(cfg, token, "GET", "/api/admins", None)? {
            Value::Array(a) => Ok(a),
            other => Err(format!("admin API: unexpected answer {}", other)),
        },
        Target::Store(s) => Ok(s
            .admins()
            .map_err(|e| e.to_string())?
            .iter()
            .map(super::admins::shown)
            .collect()),
    }
}

/// Adds an administrator with a random password, which is returned (shown once).
pub fn add(
    t: &Target,
    name: &str,
    client: Option<String>,
    rights: Option<BTreeMap<String, Access>>,
) -> Result<String, String> {
    let password = secrets::new_password()?;
    match t {
        Target::Server { cfg, token } => {
            let body =
                json!({"name": name, "password": password, "client": client, "rights": rights});
            call(cfg, token, "POST", "/api/admins", Some(body))?;
        }
        Target::Store(s) => {
            if !valid_name(name) {
                return Err(format!("name: {}", crate::model::admin::ADMIN_NAME_RULE));
            }
            check_role(
                &s.load_model().map_err(|e| e.to_string())?,
                &client,
                &rights,
            )?;
            if s.admins()
                .map_err(|e| e.to_string())?
                .iter()
                .any(|a| a.name == name)
            {
                return Err(format!("administrator {:?} already exists", name));
            }
            let admin = Admin {
                name: name.into(),
                password_hash: secrets::hash_password(&password)?,
                client,
                rights,
            };
            s.write_admin(Some(&admin), None, &entry("create", name))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(password)
}

pub fn remove(t: &Target, name: &str) -> Result<(), String> {
    match t {
        Target::Server { cfg, token } => {
            call(cfg, token, "DELETE", &format!("/api/admins/{}", name), None).map(|_| ())
        }
        Target::Store(s) => {
            let all = s.admins().map_err(|e| e.to_string())?;
            if !all.iter().any(|a| a.name == name) {
                return Err(format!("no administrator {:?}", name));
            }
            if last_operator(&all, name) {
                return Err("the last operator cannot be removed".into());
            }
            s.write_admin(None, Some(name), &entry("delete", name))
                .map_err(|e| e.to_string())
        }
    }
}

/// A new random password for an administrator, returned (shown once).
pub fn passwd(t: &Target, name: &str) -> Result<String, String> {
    match t {
        Target::Server { cfg, token } => {
            let password = secrets::new_password()?;
            call(
                cfg,
                token,
                "PUT",
                &format!("/api/admins/{}", name),
                Some(json!({ "password": password })),
            )?;
            Ok(password)
        }
        Target::Store(s) => {
            let pw = secrets::reset_password(s, name)?
                .ok_or_else(|| format!("no administrator {:?}", name))?;
            s.audit(&entry("update", name)).map_err(|e| e.to_string())?;
            Ok(pw)
        }
    }
}

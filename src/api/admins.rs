//! Administrators through the API (operators only): list, add (a random password when
//! none is given, shown once), change password, client or rights, remove. The last
//! operator cannot be removed or turned into a client administrator.

use super::reply::{error, internal};
use super::scope::{client_admin_max, Principal};
use super::{secrets, Api};
use crate::auth::nonce::now_secs;
use crate::model::{Access, Admin, AuditEntry};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminBody {
    name: Option<String>,
    password: Option<String>,
    /// Absent when adding: an operator. Absent when changing: unchanged.
    client: Option<String>,
    rights: Option<BTreeMap<String, Access>>,
    /// `"operator"` when changing: no client, no rights any more.
    role: Option<String>,
}

fn operators_only(p: &Principal) -> Option<Response> {
    (!p.is_operator()).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "only an operator may manage administrators",
        )
    })
}

/// What an administrator looks like through the API: never its hash.
fn shown(a: &Admin) -> serde_json::Value {
    json!({
        "name": a.name,
        "role": if a.client.is_some() { "client" } else { "operator" },
        "client": a.client,
        "rights": a.rights,
    })
}

/// Checks what a body asks for against the model: the client exists, the rights name
/// resources a client administrator may have, and only a client administrator has rights.
pub fn check_role(
    model: &crate::model::Model,
    client: &Option<String>,
    rights: &Option<BTreeMap<String, Access>>,
) -> Result<(), String> {
    if let Some(c) = client {
        if !model.clients.iter().any(|x| x.name == *c) {
            return Err(format!("client: no client named {:?}", c));
        }
    }
    if let Some(r) = rights {
        if client.is_none() {
            return Err("rights: only a client administrator has rights".into());
        }
        for (res, a) in r {
            match client_admin_max(res) {
                None => {
                    return Err(format!(
                        "rights: {:?} is not a resource a client administrator may use",
                        res
                    ))
                }
                Some(max) if *a > max => {
                    return Err(format!(
                        "rights: {} can only be read by a client administrator",
                        res
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn parse(headers: &HeaderMap, raw: &[u8]) -> Result<AdminBody, Response> {
    if !super::guard::has_type(headers, "application/json") {
        return Err(super::guard::wrong_type("application/json"));
    }
    serde_json::from_slice(raw).map_err(|e| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "expected {{\"name\", \"password\", \"client\", \"rights\"}}: {}",
                e
            ),
        )
    })
}

/// Stores `admin` (and maybe removes `gone`), records it, and gives the API's
/// authentication the new list.
async fn save(
    api: &Api,
    p: &Principal,
    action: &str,
    admin: Option<Admin>,
    gone: Option<String>,
) -> Result<(), Response> {
    let (store, name) = (
        api.store.clone(),
        admin
            .as_ref()
            .map(|a| a.name.clone())
            .or(gone.clone())
            .unwrap_or_default(),
    );
    let entry = AuditEntry {
        at: now_secs(),
        who: p.name().into(),
        action: action.into(),
        resource: "admins".into(),
        id: name,
        client: None,
    };
    let r = tokio::task::spawn_blocking(move || {
        if let Some(a) = &admin {
            store.put_api_credentials(Some(a), None)?;
        }
        if let Some(n) = &gone {
            store.remove_admin(n)?;
        }
        store.audit(&entry)?;
        store.admins()
    })
    .await;
    match r {
        Ok(Ok(all)) => {
            api.auth.set_admins(all);
            Ok(())
        }
        Ok(Err(e)) => Err(internal(&e.to_string())),
        Err(e) => Err(internal(&e.to_string())),
    }
}

pub async fn list(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = operators_only(&p) {
        return r;
    }
    match api.store.admins() {
        Ok(all) => Json(all.iter().map(shown).collect::<Vec<_>>()).into_response(),
        Err(e) => internal(&e.to_string()),
    }
}

pub use crate::model::admin::valid_admin_name as valid_name;

async fn hashed(password: String) -> Result<String, Response> {
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| internal(&e.to_string()))?
        .map_err(|e| internal(&e))
}

fn password_ok(pw: &str) -> Result<(), Response> {
    if pw.chars().count() < 12 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password: at least 12 characters",
        ));
    }
    Ok(())
}

pub async fn add(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if let Some(r) = operators_only(&p) {
        return r;
    }
    let b = match parse(&headers, &raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = b.name.filter(|n| valid_name(n)) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name: expected 1-64 letters, digits, '.', '_', '@' or '-'",
        );
    };
    if b.role.as_deref().is_some_and(|r| {
        r != if b.client.is_some() {
            "client"
        } else {
            "operator"
        }
    }) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "role: a client administrator has a client, an operator none",
        );
    }
    if let Err(e) = check_role(&api.snapshot.load().model, &b.client, &b.rights) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &e);
    }
    match api.store.admins() {
        Ok(all) if all.iter().any(|a| a.name == name) => {
            return error(
                StatusCode::CONFLICT,
                &format!("administrator {:?} already exists", name),
            )
        }
        Ok(_) => {}
        Err(e) => return internal(&e.to_string()),
    }
    let (password, generated) = match b.password {
        Some(pw) => {
            if let Err(r) = password_ok(&pw) {
                return r;
            }
            (pw, false)
        }
        None => match secrets::new_password() {
            Ok(pw) => (pw, true),
            Err(e) => return internal(&e),
        },
    };
    let admin = Admin {
        name,
        password_hash: match hashed(password.clone()).await {
            Ok(h) => h,
            Err(r) => return r,
        },
        client: b.client,
        rights: b.rights,
    };
    if let Err(r) = save(&api, &p, "create", Some(admin.clone()), None).await {
        return r;
    }
    let mut v = shown(&admin);
    if generated {
        v["password"] = json!(password);
    }
    (StatusCode::CREATED, Json(v)).into_response()
}

/// Whether removing or demoting `name` would leave no operator.
pub fn last_operator(all: &[Admin], name: &str) -> bool {
    let ops: Vec<&Admin> = all.iter().filter(|a| a.client.is_none()).collect();
    ops.len() == 1 && ops[0].name == name
}

pub async fn change(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if let Some(r) = operators_only(&p) {
        return r;
    }
    let b = match parse(&headers, &raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.name.as_ref().is_some_and(|n| *n != name) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "name: cannot change");
    }
    let all = match api.store.admins() {
        Ok(a) => a,
        Err(e) => return internal(&e.to_string()),
    };
    let Some(mut admin) = all.iter().find(|a| a.name == name).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no administrator {:?}", name),
        );
    };
    // What the body names changes; the rest stays.
    match b.role.as_deref() {
        None | Some("client") => {}
        Some("operator") if b.client.is_none() && b.rights.is_none() => {
            admin.client = None;
            admin.rights = None;
        }
        Some(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "role: \"operator\" (without client and rights) or \"client\"",
            )
        }
    }
    if b.client.is_some() {
        admin.client = b.client;
    }
    if b.rights.is_some() {
        admin.rights = b.rights;
    }
    if let Err(e) = check_role(&api.snapshot.load().model, &admin.client, &admin.rights) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &e);
    }
    if admin.client.is_some() && last_operator(&all, &name) {
        return error(
            StatusCode::CONFLICT,
            "the last operator cannot become a client administrator",
        );
    }
    if let Some(pw) = b.password {
        if let Err(r) = password_ok(&pw) {
            return r;
        }
        admin.password_hash = match hashed(pw).await {
            Ok(h) => h,
            Err(r) => return r,
        };
    }
    if let Err(r) = save(&api, &p, "update", Some(admin.clone()), None).await {
        return r;
    }
    Json(shown(&admin)).into_response()
}

pub async fn remove(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = operators_only(&p) {
        return r;
    }
    let all = match api.store.admins() {
        Ok(a) => a,
        Err(e) => return internal(&e.to_string()),
    };
    if !all.iter().any(|a| a.name == name) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no administrator {:?}", name),
        );
    }
    if last_operator(&all, &name) {
        return error(StatusCode::CONFLICT, "the last operator cannot be removed");
    }
    if let Err(r) = save(&api, &p, "delete", None, Some(name.clone())).await {
        return r;
    }
    Json(json!({ "deleted": name })).into_response()
}

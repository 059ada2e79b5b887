//! Administrators through the API (operators only): list, add (a random password when
//! none is given, shown once), change password, client or rights, remove. The last
//! operator cannot be removed or turned into a client administrator.

use super::reply::{error, internal};
use super::scope::Principal;
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
pub fn shown(a: &Admin) -> serde_json::Value {
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
        crate::model::admin::check_rights(client.is_some(), r)
            .map_err(|e| format!("rights: {}", e))?;
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

/// A change to the administrators.
enum Change {
    Put(Admin),
    Remove(String),
}

/// Decides the change against the administrators as stored now and makes it, under the
/// lock every model and administrator change takes: the check, the write and its audit
/// entry in one transaction; then the API's authentication gets the new list (in order).
async fn save(
    api: &Api,
    p: &Principal,
    action: &'static str,
    decide: impl FnOnce(&[Admin]) -> Result<Change, Response> + Send + 'static,
) -> Result<Change, Response> {
    let (api, who) = (api.clone(), p.name().to_string());
    let r = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = api.models.begin();
        let all = api.store.admins().map_err(|e| internal(&e.to_string()))?;
        let change = decide(&all)?;
        let (put, gone) = match &change {
            Change::Put(a) => (Some(a), None),
            Change::Remove(n) => (None, Some(n.as_str())),
        };
        let entry = AuditEntry {
            at: now_secs(),
            who,
            action: action.into(),
            resource: "admins".into(),
            id: put
                .map(|a| a.name.clone())
                .or(gone.map(String::from))
                .unwrap_or_default(),
            client: None,
        };
        api.store
            .write_admin(put, gone, &entry)
            .and_then(|()| api.store.admins())
            .map(|all| api.auth.set_admins(all))
            .map_err(|e| internal(&e.to_string()))?;
        Ok(change)
    })
    .await;
    r.unwrap_or_else(|e| Err(internal(&e.to_string())))
}

fn no_such(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no administrator {:?}", name),
    )
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
            &format!("name: {}", crate::model::admin::ADMIN_NAME_RULE),
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
    let new = admin.clone();
    let saved = save(&api, &p, "create", move |all| {
        if all.iter().any(|a| a.name == new.name) {
            return Err(error(
                StatusCode::CONFLICT,
                &format!("administrator {:?} already exists", new.name),
            ));
        }
        Ok(Change::Put(new))
    })
    .await;
    if let Err(r) = saved {
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
    // What the body names changes; the rest stays.
    let to_operator = match b.role.as_deref() {
        None | Some("client") => false,
        Some("operator") if b.client.is_none() && b.rights.is_none() => true,
        Some(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "role: \"operator\" (without client and rights) or \"client\"",
            )
        }
    };
    let hash = match b.password {
        Some(pw) => {
            if let Err(r) = password_ok(&pw) {
                return r;
            }
            match hashed(pw).await {
                Ok(h) => Some(h),
                Err(r) => return r,
            }
        }
        None => None,
    };
    let model = api.snapshot.load_full();
    let to_client = b.role.as_deref() == Some("client");
    let saved = save(&api, &p, "update", move |all| {
        let Some(mut admin) = all.iter().find(|a| a.name == name).cloned() else {
            return Err(no_such(&name));
        };
        if to_operator {
            admin.client = None;
            admin.rights = None;
        }
        if b.client.is_some() {
            admin.client = b.client;
        }
        if b.rights.is_some() {
            admin.rights = b.rights;
        }
        if to_client && admin.client.is_none() {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "role: a client administrator needs a client",
            ));
        }
        if let Err(e) = check_role(&model.model, &admin.client, &admin.rights) {
            return Err(error(StatusCode::UNPROCESSABLE_ENTITY, &e));
        }
        if admin.client.is_some() && last_operator(all, &name) {
            return Err(error(
                StatusCode::CONFLICT,
                "the last operator cannot become a client administrator",
            ));
        }
        if let Some(h) = hash {
            admin.password_hash = h;
        }
        Ok(Change::Put(admin))
    })
    .await;
    match saved {
        Ok(Change::Put(admin)) => Json(shown(&admin)).into_response(),
        Ok(Change::Remove(_)) => internal("an update removed an administrator"),
        Err(r) => r,
    }
}

pub async fn remove(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = operators_only(&p) {
        return r;
    }
    let gone = name.clone();
    let saved = save(&api, &p, "delete", move |all| {
        if !all.iter().any(|a| a.name == gone) {
            return Err(no_such(&gone));
        }
        if last_operator(all, &gone) {
            return Err(error(
                StatusCode::CONFLICT,
                "the last operator cannot be removed",
            ));
        }
        Ok(Change::Remove(gone))
    })
    .await;
    if let Err(r) = saved {
        return r;
    }
    Json(json!({ "deleted": name })).into_response()
}

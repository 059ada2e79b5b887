//! The provisioned entities as JSON REST resources, in the provisioning file's form (the
//! same keys, the same validation, the same error texts): `/api/<kind>` (list with paging
//! and filters; create) and `/api/<kind>/<id fields…>` (get, replace, delete). A write
//! edits the whole model as a document, checks it as a file would be checked, commits it
//! with its audit entry and swaps the live snapshot: the next request sees it.

use super::reply::{error, internal, refused};
use super::scope::Principal;
use super::Api;
use crate::auth::nonce::now_secs;
use crate::model::{Access, AuditEntry, Snapshot};
use crate::provision::export::{self, Doc, Item, Located};
use crate::provision::kinds::Kind;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The collection and item paths of a kind: `/api/users`, `/api/users/{client}/{name}`.
pub fn paths(k: Kind) -> (String, String) {
    let base = format!("/api/{}", k.plural());
    let item = k
        .id_fields()
        .iter()
        .fold(base.clone(), |p, f| format!("{}/{{{}}}", p, f));
    (base, item)
}

pub fn list_of(k: Kind) -> MethodRouter<Api> {
    get(move |s, p, q| list(k, s, p, q))
}
pub fn create_of(k: Kind) -> MethodRouter<Api> {
    post(move |s, p, h, b| create(k, s, p, h, b))
}
pub fn read_of(k: Kind) -> MethodRouter<Api> {
    get(move |s, p, id| read(k, s, p, id))
}
pub fn replace_of(k: Kind) -> MethodRouter<Api> {
    put(move |s, p, id, h, b| replace(k, s, p, id, h, b))
}
pub fn remove_of(k: Kind) -> MethodRouter<Api> {
    delete(move |s, p, id| remove(k, s, p, id))
}

fn not_found(k: Kind, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no {} {:?}", k.section().replace('_', " "), id),
    )
}

/// An item as the API shows it: its id first, then the file's keys.
fn shown(k: Kind, item: &Item) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(id) = k.id_of(item) {
        m.insert("id".into(), json!(id));
    }
    m.extend(item.clone());
    Value::Object(m)
}

pub(crate) fn visible(p: &Principal, k: Kind, item: &Item) -> bool {
    p.sees(k.client_of(item).as_deref())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) async fn list(
    k: Kind,
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, k.plural(), Access::Read) {
        return r;
    }
    let (offset, limit) = match super::live::paging(&q) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let all = export::items(&api.snapshot.load().model, k);
    let filters: Vec<(&String, &String)> = q
        .iter()
        .filter(|(key, _)| *key != "offset" && *key != "limit")
        .collect();
    let matching: Vec<&Item> = all
        .iter()
        .filter(|i| visible(&p, k, i))
        .filter(|i| {
            filters
                .iter()
                .all(|(f, want)| i.get(f.as_str()).and_then(text).as_deref() == Some(want.as_str()))
        })
        .collect();
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| shown(k, i))
        .collect();
    Json(json!({ "total": matching.len(), "offset": offset, "items": items })).into_response()
}

pub(crate) async fn read(
    k: Kind,
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(parts): Path<Vec<String>>,
) -> Response {
    if let Some(r) = refused(&p, k.plural(), Access::Read) {
        return r;
    }
    let id = parts.join("/");
    match export::items(&api.snapshot.load().model, k)
        .iter()
        .find(|i| k.id_of(i).as_deref() == Some(id.as_str()))
    {
        Some(i) if visible(&p, k, i) => Json(shown(k, i)).into_response(),
        _ => not_found(k, &id),
    }
}

/// The body of a create or replace: a JSON object in the file's form (an `id` key is
/// ignored: it is derived).
fn body(k: Kind, headers: &HeaderMap, body: &[u8]) -> Result<Item, Response> {
    if !super::guard::has_type(headers, "application/json") {
        return Err(super::guard::wrong_type("application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut m)) => {
            m.remove("id");
            Ok(m)
        }
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!(
                "expected a JSON object with the keys of [[{}]]",
                k.section()
            ),
        )),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, &format!("not JSON: {}", e))),
    }
}

/// What a client administrator may not write even in its own client, checked before the
/// model is: an internal (intervpbx) friend reaches another client's extensions and bills
/// them to it, and a direct friend is trusted by its address (one on another source's
/// address would take that source's calls) — both are an operator's; an outgoing DDI must
/// be one of its client's own (else external calls could present any number, and the
/// file's message would tell whose the number is).
fn client_admin_guard(
    p: &Principal,
    k: Kind,
    item: &Item,
    snap: &Snapshot,
) -> Result<(), Response> {
    let Some(own) = p.client() else {
        return Ok(());
    };
    if k == Kind::Friend {
        let mode = item.get("mode").and_then(Value::as_str).unwrap_or("");
        if mode != "register" || item.contains_key("target_client") {
            return Err(error(
                StatusCode::FORBIDDEN,
                "a client administrator adds register-mode friends only: internal (intervpbx) \
                 and direct friends are an operator's",
            ));
        }
    }
    if let Some(ddi) = item.get("outgoing_ddi").and_then(Value::as_str) {
        if snap.ddi(ddi.trim()).is_none_or(|d| d.client != own) {
            let key = format!("{}.outgoing_ddi", k.section());
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "errors": [{
                    "resource": k.plural(),
                    "id": k.id_of(item),
                    "key": key,
                    "message": format!("{:?} is not a DDI of client {:?}", ddi.trim(), own),
                }]})),
            )
                .into_response());
        }
    }
    Ok(())
}

pub(crate) async fn create(
    k: Kind,
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if let Some(r) = refused(&p, k.plural(), Access::Write) {
        return r;
    }
    let mut item = match body(k, &headers, &raw) {
        Ok(i) => i,
        Err(r) => return r,
    };
    // A client administrator's entities are its client's: the key may be left out.
    if let (Some(own), Some(f)) = (p.client(), k.client_field()) {
        item.entry(f).or_insert_with(|| json!(own));
        if !visible(&p, k, &item) {
            return error(StatusCode::NOT_FOUND, "no such client");
        }
    }
    if let Err(r) = client_admin_guard(&p, k, &item, &api.snapshot.load()) {
        return r;
    }
    let Some(id) = k.id_of(&item) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "{} needs the keys {}",
                k.section(),
                k.id_fields().join(", ").replace("owner", "user or friend")
            ),
        );
    };
    write(api, p, k, "create", id, move |d, id| {
        if d.find(k, id).is_some() {
            return Err(error(
                StatusCode::CONFLICT,
                &format!("{} {:?} already exists", k.section().replace('_', " "), id),
            ));
        }
        d.items_mut(k).push(item);
        Ok(())
    })
    .await
}

pub(crate) async fn replace(
    k: Kind,
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(parts): Path<Vec<String>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if let Some(r) = refused(&p, k.plural(), Access::Write) {
        return r;
    }
    let mut item = match body(k, &headers, &raw) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let id = parts.join("/");
    // The id fields may be left out of the body: they are the path's.
    for (f, v) in k.id_fields().iter().zip(&parts) {
        if *f != "owner" {
            item.entry(*f).or_insert_with(|| json!(v));
        }
    }
    let visible_now = export::items(&api.snapshot.load().model, k)
        .iter()
        .find(|i| k.id_of(i).as_deref() == Some(id.as_str()))
        .is_some_and(|i| visible(&p, k, i));
    if !visible_now {
        return not_found(k, &id);
    }
    if let Err(r) = client_admin_guard(&p, k, &item, &api.snapshot.load()) {
        return r;
    }
    if k.id_of(&item).as_deref() != Some(id.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "the keys {} identify the {} and cannot change: delete it and create another",
                k.id_fields().join(", "),
                k.section().replace('_', " ")
            ),
        );
    }
    write(api, p, k, "update", id, move |d, id| match d.find(k, id) {
        Some(at) => {
            d.items_mut(k)[at] = item;
            Ok(())
        }
        None => Err(not_found(k, id)),
    })
    .await
}

pub(crate) async fn remove(
    k: Kind,
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(parts): Path<Vec<String>>,
) -> Response {
    if let Some(r) = refused(&p, k.plural(), Access::Write) {
        return r;
    }
    let id = parts.join("/");
    let pr = p.clone();
    write(api, p, k, "delete", id, move |d, id| match d.find(k, id) {
        Some(at) if visible(&pr, k, &d.items(k)[at]) => {
            d.items_mut(k).remove(at);
            Ok(())
        }
        _ => Err(not_found(k, id)),
    })
    .await
}

/// One located error as the API reports it.
fn located(p: &Principal, doc: &Doc, e: &Located) -> Value {
    let hidden = e.kind.is_some_and(|k| {
        e.id.as_deref()
            .and_then(|id| doc.find(k, id).map(|at| !visible(p, k, &doc.items(k)[at])))
            .unwrap_or(false)
    });
    if hidden {
        return json!({ "message": "an entity of another client" });
    }
    json!({
        "resource": e.kind.map(|k| k.plural()),
        "id": e.id,
        "key": e.error.key,
        "message": e.error.message,
    })
}

/// Edits the current model with `edit`, checks the result like a file, commits it with
/// its audit entry and swaps the snapshot; one write at a time.
async fn write(
    api: Api,
    p: Principal,
    k: Kind,
    action: &'static str,
    id: String,
    edit: impl FnOnce(&mut Doc, &str) -> Result<(), Response> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let change = api.models.begin();
        let snap = api.snapshot.load_full();
        let before = export::doc(&snap.model);
        let mut d = before.clone();
        if let Err(r) = edit(&mut d, &id) {
            return r;
        }
        let (checked, warnings) = match d.check_with(&api.provision) {
            Ok(c) => c,
            Err(errs) => {
                let this = |e: &&Located| e.kind == Some(k) && e.id.as_deref() == Some(&id);
                let own: Vec<&Located> = errs.iter().filter(this).collect();
                // A delete (or a change of what others refer to) breaks its referrers.
                return if action == "delete" && own.is_empty() && !errs.is_empty() {
                    (
                        StatusCode::CONFLICT,
                        Json(json!({
                            "error": format!("{} {:?} is referred to by other entities; change or delete them first", k.section().replace('_', " "), id),
                            "referrers": errs.iter().map(|e| located(&p, &before, e)).collect::<Vec<_>>(),
                        })),
                    )
                        .into_response()
                } else {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Json(json!({
                            "errors": errs.iter().map(|e| located(&p, &d, e)).collect::<Vec<_>>(),
                        })),
                    )
                        .into_response()
                };
            }
        };
        let client_in = |doc: &Doc| doc.find(k, &id).and_then(|at| k.client_of(&doc.items(k)[at]));
        let client = client_in(&d).or_else(|| client_in(&before));
        let entry = AuditEntry {
            at: now_secs(),
            who: p.name().to_string(),
            action: action.into(),
            resource: k.plural().into(),
            id: id.clone(),
            client,
        };
        // The warnings about the entity written (the model's others are not its writer's).
        let warnings: Vec<String> = warnings
            .iter()
            .filter(|w| w.kind == Some(k) && w.id.as_deref() == Some(&id))
            .map(|w| format!("{}: {}", w.error.key, w.error.message))
            .collect();
        // A client's administrators refer to it as well.
        if k == Kind::Client && action == "delete" {
            let admins = match api.store.admins() {
                Ok(a) => a,
                Err(e) => return internal(&e.to_string()),
            };
            let theirs: Vec<&str> = admins
                .iter()
                .filter(|a| a.client.as_deref() == Some(id.as_str()))
                .map(|a| a.name.as_str())
                .collect();
            if !theirs.is_empty() {
                return (
                    StatusCode::CONFLICT,
                    Json(json!({
                        "error": format!("client {:?} has administrators; remove them first", id),
                        "referrers": theirs.iter().map(|n| json!({"resource": "admins", "id": n})).collect::<Vec<_>>(),
                    })),
                )
                    .into_response();
            }
        }
        if let Err(e) = api.models.commit(&change, &checked.model, &[], Some(&entry)) {
            return internal(&e.to_string());
        }
        let after = export::doc(&checked.model);
        api.b2bua.policy.ledger.provisioned(&checked.model);
        tracing::info!("admin API: {} {} {} {}", p.name(), action, k.section(), id);
        match after.find(k, &id) {
            Some(at) => {
                let status = if action == "create" { StatusCode::CREATED } else { StatusCode::OK };
                let mut v = shown(k, &after.items(k)[at]);
                if !warnings.is_empty() {
                    v["warnings"] = json!(warnings);
                }
                (status, Json(v)).into_response()
            }
            None => Json(json!({ "deleted": id })).into_response(),
        }
    })
    .await;
    result.unwrap_or_else(|e| internal(&e.to_string()))
}

//! Call recordings through the API: listed (`?client=`), their WAV streamed, removed when
//! the client allows it (`allow_recording_removal`; else `403`). A client administrator
//! sees and removes its own client's only (another's: `404`).

use super::reply::{error, internal, refused};
use super::scope::Principal;
use super::Api;
use crate::model::{Access, Recording};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::collections::BTreeMap;

const RESOURCE: &str = "recordings";

/// A recording as `vozbox recordings --json` and the API show it.
pub fn view(r: &Recording, dir: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "client": r.client,
        "call": r.call,
        "caller": r.caller,
        "callee": r.callee,
        "start": crate::model::rfc3339(r.start / 1000),
        "duration_s": r.duration_ms as f64 / 1000.0,
        "kind": r.kind,
        "who": r.who,
        "incomplete": r.incomplete,
        "file": crate::files::file(dir, r.id).display().to_string(),
    })
}

fn service(api: &Api) -> Result<std::sync::Arc<crate::recording::Service>, Response> {
    api.b2bua
        .recording
        .clone()
        .ok_or_else(|| error(StatusCode::SERVICE_UNAVAILABLE, "recording is off"))
}

fn find(api: &Api, p: &Principal, id: &str) -> Result<Recording, Response> {
    let all = service(api)?.all().map_err(|e| internal(&e))?;
    id.parse::<u64>()
        .ok()
        .and_then(|id| all.into_iter().find(|r| r.id == id))
        .filter(|r| p.sees(Some(&r.client)))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such recording"))
}

pub async fn list(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, RESOURCE, Access::Read) {
        return r;
    }
    let svc = match service(&api) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match svc.all() {
        Ok(all) => Json(
            all.iter()
                .filter(|r| p.sees(Some(&r.client)))
                .filter(|r| q.get("client").is_none_or(|c| *c == r.client))
                .map(|r| view(r, svc.dir()))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(&e),
    }
}

pub async fn audio(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&p, RESOURCE, Access::Read) {
        return r;
    }
    let (r, svc) = match find(&api, &p, &id).and_then(|r| Ok((r, service(&api)?))) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    super::reply::wav(crate::files::file(svc.dir(), r.id)).await
}

pub async fn delete(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&p, RESOURCE, Access::Write) {
        return r;
    }
    let (r, svc) = match find(&api, &p, &id).and_then(|r| Ok((r, service(&api)?))) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !crate::recording::removable(&api.snapshot.load().model, &r.client) {
        return error(
            StatusCode::FORBIDDEN,
            &format!(
                "client {} does not allow removing its recordings (allow_recording_removal = false)",
                r.client
            ),
        );
    }
    let rid = r.id;
    match tokio::task::spawn_blocking(move || svc.delete(rid)).await {
        Ok(Ok(_)) => {
            super::live::audit(&api, &p, "delete", RESOURCE, &rid.to_string(), &r.client);
            Json(serde_json::json!({ "deleted": rid })).into_response()
        }
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e.to_string()),
    }
}

//! Voicemail messages through the API: listed (`?mailbox=`), their WAV streamed, removed.
//! A client administrator sees and removes its own client's only (another's: `404`).

use super::reply::{error, internal, refused};
use super::scope::Principal;
use super::Api;
use crate::model::{Access, VoicemailMessage};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::collections::BTreeMap;

const RESOURCE: &str = "voicemail_messages";

/// A message as `vozbox voicemail --json` and the API show it.
pub fn view(m: &VoicemailMessage, dir: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "client": m.client,
        "mailbox": m.mailbox,
        "caller": m.caller,
        "caller_name": m.caller_name,
        "received": crate::model::rfc3339(m.received / 1000),
        "duration_s": m.duration_ms as f64 / 1000.0,
        "new": m.new,
        "file": crate::voicemail::file(dir, m.id).display().to_string(),
    })
}

fn service(api: &Api) -> Result<&std::sync::Arc<crate::voicemail::Service>, Response> {
    api.b2bua
        .voicemail
        .as_ref()
        .ok_or_else(|| error(StatusCode::SERVICE_UNAVAILABLE, "voicemail is off"))
}

fn find(api: &Api, p: &Principal, id: &str) -> Result<VoicemailMessage, Response> {
    let svc = service(api)?;
    let all = svc.all().map_err(|e| internal(&e))?;
    id.parse::<u64>()
        .ok()
        .and_then(|id| all.into_iter().find(|m| m.id == id))
        .filter(|m| p.sees(Some(&m.client)))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such voicemail message"))
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
        Ok(all) => {
            let list: Vec<serde_json::Value> = all
                .iter()
                .filter(|m| p.sees(Some(&m.client)))
                .filter(|m| q.get("mailbox").is_none_or(|b| *b == m.mailbox))
                .filter(|m| q.get("client").is_none_or(|c| *c == m.client))
                .map(|m| view(m, svc.dir()))
                .collect();
            Json(list).into_response()
        }
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
    let m = match find(&api, &p, &id) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Ok(svc) = service(&api) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "voicemail is off");
    };
    super::reply::wav(crate::voicemail::file(svc.dir(), m.id)).await
}

pub async fn delete(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&p, RESOURCE, Access::Write) {
        return r;
    }
    let m = match find(&api, &p, &id) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Ok(svc) = service(&api).cloned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "voicemail is off");
    };
    let done = tokio::task::spawn_blocking(move || svc.delete(&m).map(|_| m)).await;
    match done {
        Ok(Ok(m)) => {
            let id = m.id.to_string();
            super::live::audit(&api, &p, "delete", RESOURCE, &id, &m.client);
            Json(serde_json::json!({ "deleted": m.id })).into_response()
        }
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e.to_string()),
    }
}

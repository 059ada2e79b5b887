//! The operator's whole-server routes: a provisioning file applied at once, the relay's
//! ports, the TLS certificate, the metrics; and liveness.

use super::reply;
use super::scope::Principal;
use super::{guard, Api};
use crate::auth::nonce::now_secs;
use crate::model::AuditEntry;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

/// `403` for what only an operator may do (a whole file, the relay, TLS).
fn operator_only(p: &Principal) -> Option<Response> {
    (!p.is_operator()).then(|| reply::error(StatusCode::FORBIDDEN, "only an operator may do this"))
}

/// `GET /metrics` (operators: the figures are the whole server's).
pub async fn metrics(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    crate::metrics::scrape(State(api.metrics.clone())).await
}

enum Applied {
    Invalid(Vec<String>),
    Conflict(&'static str),
    Done {
        changed: bool,
        warnings: Vec<String>,
    },
}

pub async fn provision(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    if !guard::has_type(&headers, "application/toml") {
        return guard::wrong_type("application/toml");
    }
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "errors": ["the file is not UTF-8"] })),
        )
            .into_response();
    };
    // Parsing (TOML, regular expressions) and redb's write lock (which may wait for the
    // registrar's group commit) stay off the reactor. One apply at a time, so the live
    // snapshot is always the model of the last commit.
    let result = tokio::task::spawn_blocking(move || {
        let checked = match crate::provision::parse_with(&body, &api.provision) {
            Ok(c) => c,
            Err(errs) => {
                return Ok(Applied::Invalid(
                    errs.iter().map(|e| e.to_string()).collect(),
                ))
            }
        };
        let warnings = checked.warnings.iter().map(|w| w.to_string()).collect();
        let change = api.models.begin();
        if crate::model::admin::leaves_no_operator(&api.store.admins()?, &checked.admins) {
            return Ok(Applied::Conflict(crate::model::admin::NO_OPERATOR_LEFT));
        }
        let entry = AuditEntry {
            at: now_secs(),
            who: p.name().into(),
            action: "apply".into(),
            resource: "provision".into(),
            id: String::new(),
            client: None,
        };
        let changed = api
            .models
            .commit(&change, &checked.model, &checked.admins, Some(&entry))?;
        if !checked.admins.is_empty() {
            api.auth.set_admins(api.store.admins()?);
        }
        if changed {
            // balances provisioned anew take effect at once
            api.b2bua.policy.ledger.provisioned(&checked.model);
        }
        if changed {
            tracing::info!("provisioning applied through the admin API by {}", p.name());
        }
        Ok::<_, crate::store::StoreError>(Applied::Done { changed, warnings })
    })
    .await;
    match result {
        Ok(Ok(Applied::Done { changed, warnings })) => {
            Json(json!({ "changed": changed, "warnings": warnings })).into_response()
        }
        Ok(Ok(Applied::Conflict(e))) => reply::error(StatusCode::CONFLICT, e),
        Ok(Ok(Applied::Invalid(errors))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "errors": errors })),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "errors": [e.to_string()] })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "errors": [e.to_string()] })),
        )
            .into_response(),
    }
}

pub async fn media(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    Json(json!({
        "port_pairs_in_use": api.b2bua.media_ports_in_use(),
        "active_calls": api.b2bua.active(),
    }))
    .into_response()
}

/// The certificate new TLS connections get.
pub async fn tls(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    match &api.tls {
        Some(t) => Json(json!({ "fingerprint": t.fingerprint() })).into_response(),
        None => no_tls(),
    }
}

fn no_tls() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "no tls: listener is configured"})),
    )
        .into_response()
}

/// Reads the certificate and key files again (like SIGHUP); open connections keep theirs.
pub async fn tls_reload(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    // No body expected: none, or JSON.
    if headers.contains_key(axum::http::header::CONTENT_TYPE)
        && !guard::has_type(&headers, "application/json")
    {
        return guard::wrong_type("application/json");
    }
    let Some(t) = api.tls.clone() else {
        return no_tls();
    };
    match tokio::task::spawn_blocking(move || t.reload()).await {
        Ok(Ok(fp)) => {
            tracing::info!("TLS certificate reloaded through the admin API: {}", fp);
            Json(json!({ "fingerprint": fp })).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": e })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

pub async fn health() -> &'static str {
    "ok"
}

/// Readiness: `200 ready` while calls are taken, `503 draining` once a SIGTERM stops new
/// ones (a load balancer or service manager stops sending traffic).
pub async fn ready(State(api): State<Api>) -> Response {
    if api.b2bua.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        "ready".into_response()
    }
}

//! The admin HTTP API: apply a provisioning file to the running server (atomically, like
//! `vozbox apply`), list registrations and active calls, liveness. Listens on `[api] listen`
//! (loopback only unless `allow_plain_http`). Every request must name this server in its
//! `Host` (`guard.rs`); every `/api/` route but the login needs a bearer credential
//! (`auth.rs`); `/health` is open (it answers "ok" and changes nothing).

pub mod auth;
pub mod client;
pub mod guard;
pub mod secrets;

use crate::auth::nonce::now_secs;
use crate::model::Snapshot;
use crate::registrar::Location;
use crate::store::Store;
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct Api {
    pub store: Arc<Store>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub location: Arc<Location>,
    pub b2bua: Arc<crate::b2bua::B2bua>,
    pub auth: Arc<auth::Auth>,
    /// `[api] names`: host names accepted besides the listener's own address.
    pub names: Arc<Vec<String>>,
    /// The TLS listeners' certificate, when there are any.
    pub tls: Option<Arc<crate::sip::tls::Tls>>,
    /// Serialises applies: commit and snapshot swap happen together.
    pub applying: Arc<std::sync::Mutex<()>>,
    /// `GET /metrics` (Prometheus text).
    pub metrics: Arc<crate::metrics::Metrics>,
}

enum Applied {
    Invalid(Vec<String>),
    Done {
        changed: bool,
        warnings: Vec<String>,
    },
}

async fn provision(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
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
        let checked = match crate::provision::parse(&body) {
            Ok(c) => c,
            Err(errs) => {
                return Ok(Applied::Invalid(
                    errs.iter().map(|e| e.to_string()).collect(),
                ))
            }
        };
        let warnings = checked.warnings.iter().map(|w| w.to_string()).collect();
        let _one_at_a_time = api.applying.lock().unwrap_or_else(|p| p.into_inner());
        let changed = api.store.replace_model(&checked.model)?;
        api.snapshot.store(Arc::new(Snapshot::new(checked.model)));
        if changed {
            tracing::info!("provisioning applied through the admin API");
        }
        Ok::<_, crate::store::StoreError>(Applied::Done { changed, warnings })
    })
    .await;
    match result {
        Ok(Ok(Applied::Done { changed, warnings })) => {
            Json(json!({ "changed": changed, "warnings": warnings })).into_response()
        }
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

async fn registrations(State(api): State<Api>) -> Response {
    let now = now_secs();
    let list: Vec<serde_json::Value> = api
        .location
        .all()
        .iter()
        .filter(|b| b.expires_at > now)
        .map(|b| {
            json!({
                "aor": b.aor,
                "contact": b.contact,
                "flow": b.flow.to_string(),
                // A connection-bound binding whose connection closed cannot be reached
                // until the phone registers again.
                "reachable": api.b2bua.out.transports.is_open(&b.flow),
                "expires_in": b.expires_at - now,
                "user_agent": b.user_agent,
            })
        })
        .collect();
    Json(list).into_response()
}

async fn calls(State(api): State<Api>) -> Response {
    Json(api.b2bua.list()).into_response()
}

/// Hangs up a call in progress (both legs get BYE, or the caller 480 while it rings); its
/// record says `hung_up`.
async fn hang_up(
    State(api): State<Api>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    match id.parse::<u64>().ok().filter(|&id| api.b2bua.hang_up(id)) {
        Some(id) => {
            tracing::info!("call {} hung up through the admin API", id);
            Json(json!({ "hung_up": id })).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such call in progress" })),
        )
            .into_response(),
    }
}

async fn media(State(api): State<Api>) -> Response {
    Json(json!({
        "port_pairs_in_use": api.b2bua.media_ports_in_use(),
        "active_calls": api.b2bua.active(),
    }))
    .into_response()
}

/// The certificate new TLS connections get.
async fn tls(State(api): State<Api>) -> Response {
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
async fn tls_reload(State(api): State<Api>, headers: HeaderMap) -> Response {
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

async fn health() -> &'static str {
    "ok"
}

pub fn router(api: Api) -> Router {
    let (auth, names) = (api.auth.clone(), api.names.clone());
    let protected = Router::new()
        // A provisioning file of 100,000 users is about 7 MB.
        .route(
            "/api/provision",
            post(provision).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .route("/api/registrations", get(registrations))
        .route("/api/calls", get(calls))
        .route("/api/calls/{id}", axum::routing::delete(hang_up))
        .route("/api/media", get(media))
        .route("/api/tls", get(tls))
        .route("/api/tls/reload", post(tls_reload))
        .route(
            "/metrics",
            get(crate::metrics::scrape).with_state(api.metrics.clone()),
        )
        .route_layer(from_fn_with_state(auth.clone(), auth::require))
        .with_state(api);
    Router::new()
        .route("/api/login", post(auth::login).with_state(auth))
        .route("/health", get(health))
        .merge(protected)
        .layer(from_fn_with_state(names, guard::host_guard))
}

pub async fn serve(listener: tokio::net::TcpListener, api: Api) {
    let app = router(api).into_make_service_with_connect_info::<guard::Peer>();
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("admin API stopped: {}", e);
    }
}

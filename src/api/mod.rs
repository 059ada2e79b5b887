//! The admin HTTP API: the provisioned entities as resources (`resources.rs`), a whole
//! provisioning file applied atomically (like `vozbox apply`), live state and records
//! (`live.rs`), administrators (`admins.rs`), liveness. Listens on `[api] listen` (loopback
//! only unless `allow_plain_http`). Every request must name this server in its `Host`
//! (`guard.rs`); every `/api/` route but the login needs a bearer credential (`auth.rs`),
//! which makes a `Principal` whose rights `scope.rs` decides; `/health` is open (it
//! answers "ok" and changes nothing).

// Helpers return the error answer itself (`Result<_, Response>`): handlers send it as is.
#![allow(clippy::result_large_err)]

pub mod admins;
pub mod auth;
pub mod client;
pub mod guard;
pub mod live;
pub mod manage;
pub mod openapi;
pub mod reply;
pub mod resources;
pub mod routes;
pub mod scope;
pub mod secrets;
pub mod tls_listener;

use crate::auth::nonce::now_secs;
use crate::model::{AuditEntry, Snapshot};
use crate::registrar::Location;
use crate::store::Store;
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use scope::Principal;
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
    /// Bindings removed through the API are deleted from the store by the writer.
    pub writer: crate::store::writer::Writer,
    /// `GET /metrics` (Prometheus text).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// What validation must know of this server (a GeoIP database or not).
    pub provision: crate::provision::Context,
}

/// `403` for what only an operator may do (a whole file, the relay, TLS).
fn operator_only(p: &Principal) -> Option<Response> {
    (!p.is_operator()).then(|| reply::error(StatusCode::FORBIDDEN, "only an operator may do this"))
}

/// `GET /metrics` (operators: the figures are the whole server's).
pub(super) async fn metrics(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
) -> Response {
    if let Some(r) = operator_only(&p) {
        return r;
    }
    crate::metrics::scrape(State(api.metrics.clone())).await
}

enum Applied {
    Invalid(Vec<String>),
    Done {
        changed: bool,
        warnings: Vec<String>,
    },
}

pub(super) async fn provision(
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
        let _one_at_a_time = api.applying.lock().unwrap_or_else(|p| p.into_inner());
        let entry = AuditEntry {
            at: now_secs(),
            who: p.name().into(),
            action: "apply".into(),
            resource: "provision".into(),
            id: String::new(),
            client: None,
        };
        let changed = api
            .store
            .replace_model_audited(&checked.model, Some(&entry))?;
        if changed {
            // balances provisioned anew take effect at once
            api.b2bua.policy.ledger.provisioned(&checked.model);
        }
        api.snapshot
            .store(Arc::new(Snapshot::new(crate::store::canonical(
                &checked.model,
            ))));
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

pub(super) async fn media(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
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
pub(super) async fn tls(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
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
pub(super) async fn tls_reload(
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

/// `GET /api/openapi.json`.
pub(super) async fn openapi_json() -> Response {
    Json(openapi::document()).into_response()
}

pub(super) async fn health() -> &'static str {
    "ok"
}

pub fn router(api: Api) -> Router {
    let (auth, names) = (api.auth.clone(), api.names.clone());
    let (mut open, mut protected) = (Router::new(), Router::new());
    for r in routes::table() {
        let handler = if r.body == routes::Body::Toml {
            // A provisioning file of 100,000 users is about 7 MB.
            r.handler
                .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        } else {
            r.handler
        };
        if r.open {
            open = open.route(&r.path, handler);
        } else {
            protected = protected.route(&r.path, handler);
        }
    }
    let protected = protected.route_layer(from_fn_with_state(auth, auth::require));
    open.merge(protected)
        .with_state(api)
        .layer(from_fn_with_state(names, guard::host_guard))
}

/// Serves the API on `listener`: over TLS with `tls` (`[api] tls`), else plain HTTP.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    tls: Option<Arc<crate::sip::tls::Tls>>,
) {
    let app = router(api).into_make_service_with_connect_info::<guard::Peer>();
    let result = match tls {
        Some(tls) => match tls_listener::TlsListener::new(listener, tls) {
            Ok(l) => axum::serve(l, app).await,
            Err(e) => Err(e),
        },
        None => axum::serve(listener, app).await,
    };
    if let Err(e) = result {
        tracing::error!("admin API stopped: {}", e);
    }
}

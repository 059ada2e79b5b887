//! The admin HTTP API: the provisioned entities as resources (`resources.rs`), live state
//! and records (`live.rs`), administrators (`admins.rs`), the operator's whole-server
//! routes (`system.rs`), every route in one table (`routes.rs`) from which the router here
//! and the OpenAPI document (`openapi.rs`) are built. Listens on `[api] listen`: loopback,
//! or another address with `[api] tls` (HTTPS, `tls_listener.rs`) or `allow_plain_http`.
//! Every request must name this server in its `Host` (`guard.rs`); every route but the
//! login and `/health` needs a bearer credential (`auth.rs`), which makes a `Principal`
//! whose rights `scope.rs` decides.

// Helpers return the error answer itself (`Result<_, Response>`): handlers send it as is.
#![allow(clippy::result_large_err)]

pub mod admins;
pub mod auth;
pub mod client;
pub mod guard;
pub mod live;
pub mod manage;
pub mod openapi;
pub mod recordings;
pub mod reply;
pub mod resources;
pub mod routes;
pub mod scope;
pub mod secrets;
pub mod state;
pub mod system;
pub mod tls_listener;
pub mod voicemail;

use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
pub use state::Api;
use std::sync::Arc;

/// `GET /api/openapi.json` (its route is given to the table here: the document is built
/// from that table).
async fn openapi_json() -> Response {
    Json(openapi::document()).into_response()
}

pub fn router(api: Api) -> Router {
    let (auth, names) = (api.auth.clone(), api.names.clone());
    let (mut open, mut protected) = (Router::new(), Router::new());
    for r in routes::table(axum::routing::get(openapi_json)) {
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

/// Serves `app` (the API's `router`, with the web portal beside it) on `listener`: over
/// TLS with `tls` (`[api] tls`), else plain HTTP.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<crate::sip::tls::Tls>>,
) {
    let app = app.into_make_service_with_connect_info::<guard::Peer>();
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

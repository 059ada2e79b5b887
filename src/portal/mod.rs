//! The web portal (issue 19): server-rendered HTML at `/` of the admin API's listener, for
//! operators and client administrators. It is a client of the API in the same process:
//! every read and write goes through the API's own handlers (`api/resources.rs`,
//! `api/live.rs`, `api/voicemail.rs`, `api/recordings.rs`) with the logged-in
//! administrator's `Principal`, so the portal has the API's model, validation (errors
//! keyed like `user.password`, shown next to their field), scoping (another client's
//! entity is `404`) and rights, and none of its own.
//!
//! Login (`session.rs`; the request's administrator and its CSRF token: `who.rs`) opens an API session kept in an `HttpOnly; SameSite=Strict` cookie
//! (`Secure` over `[api] tls`); every POST carries a CSRF token derived from that session
//! and is refused (`403`) without it. Pages: the dashboard (`dashboard.rs`, its chart in
//! `chart.rs`), the provisioned entities of every kind the administrator may read, driven
//! by the kinds table and each kind's schema (`entities.rs`, `fields.rs`, `form.rs`), live
//! registrations and calls refreshing themselves (`live.rs`), call records (`cdrs.rs`),
//! voicemail messages and call recordings played in the page, downloaded and deleted
//! (`voicemail.rs`, `recordings.rs`; what they share: `playback.rs`); for operators the
//! administrators, added with a password shown once (`admins.rs`), and for whoever may
//! read it the audit trail (`audit.rs`).
//! The assets (htmx, the style sheet, one small script) are embedded (`assets.rs`), and
//! every answer carries a Content-Security-Policy without inline scripts.
//!
//! The portal's routes are not in the OpenAPI document: they are pages, not the API.

// Helpers return the error page itself (`Result<_, Response>`): handlers send it as is.
#![allow(clippy::result_large_err)]

mod admins;
mod assets;
mod audit;
mod bridge;
mod cdrs;
mod chart;
mod dashboard;
mod entities;
mod fields;
mod form;
mod layout;
mod live;
mod playback;
mod ranges;
mod recordings;
mod session;
mod voicemail;
mod who;

use crate::api::{guard, Api};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;

/// What the portal's handlers reach: the API's state, and whether the listener is HTTPS.
#[derive(Clone)]
pub struct Portal {
    pub api: Api,
    /// Cookies are `Secure` (the listener is `[api] tls`).
    pub secure: bool,
}

/// Serves the admin API with the portal beside it on `listener` (HTTPS with `tls`, and then
/// the portal's cookie is `Secure`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    tls: Option<std::sync::Arc<crate::sip::tls::Tls>>,
) {
    let secure = tls.is_some();
    crate::api::serve(listener, app(api, secure), tls).await
}

/// The routes of a page of recorded audio (`playback.rs`).
fn shelf<T: playback::Shelved>(r: Router<Portal>) -> Router<Portal> {
    let base = T::SHELF.base;
    r.route(base, get(playback::page::<T>))
        .route(&format!("{}/audio/{{id}}", base), get(playback::audio::<T>))
        .route(
            &format!("{}/download/{{id}}", base),
            get(playback::download::<T>),
        )
        .route(
            &format!("{}/delete/{{id}}", base),
            post(playback::delete::<T>),
        )
}

/// The admin API's router with the portal beside it.
pub fn app(api: Api, secure: bool) -> Router {
    let names = api.names.clone();
    let portal = Portal {
        api: api.clone(),
        secure,
    };
    let open = Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/assets/{file}", get(assets::serve));
    let mut pages = Router::new()
        .route("/", get(dashboard::page))
        .route("/dashboard/live", get(dashboard::live))
        .route("/logout", post(session::logout))
        .route("/registrations", get(live::registrations))
        .route("/registrations/rows", get(live::registration_rows))
        .route("/registrations/remove", post(live::unregister))
        .route("/calls", get(live::calls))
        .route("/calls/rows", get(live::call_rows))
        .route("/calls/hangup/{id}", post(live::hang_up))
        .route("/cdrs", get(cdrs::page))
        .route("/cdrs.csv", get(cdrs::csv))
        .route("/admins", get(admins::page).post(admins::add))
        .route("/admins/password/{name}", post(admins::password))
        .route("/admins/delete/{name}", post(admins::remove))
        .route("/audit", get(audit::page));
    pages = shelf::<voicemail::Voicemail>(pages);
    pages = shelf::<recordings::Recordings>(pages);
    for k in crate::provision::kinds::ALL {
        pages = entities::routes(pages, k);
    }
    let pages = pages.route_layer(from_fn_with_state(portal.clone(), session::require));
    let portal_routes = open
        .merge(pages)
        .with_state(portal)
        .layer(from_fn(assets::security_headers))
        .layer(from_fn_with_state(names, guard::host_guard));
    crate::api::router(api).merge(portal_routes)
}

//! Live registrations (remove) and calls in progress (hang up), as the API's `live.rs`
//! lists and acts on them for the logged-in administrator. Each table refreshes itself
//! every two seconds (htmx polls its `/rows`, which answers the table alone); the buttons
//! are plain forms with the CSRF token, so they work without scripts too.

use super::bridge::{self, answer};
use super::layout;
use super::who::Session;
use super::Portal;
use crate::api::live as api;
use crate::auth::nonce::now_secs;
use crate::model::Access;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

const EVERY: &str = "every 2s";

fn s_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n_of(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The API's list for `s`, or the error page.
async fn listed(s: &Session, r: Response) -> Result<Vec<Value>, Response> {
    match answer(r).await {
        (StatusCode::OK, Value::Array(list)) => Ok(list),
        (status, v) => Err(layout::error_page(
            Some(s),
            if status.is_success() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                status
            },
            &format!("{}.", bridge::message(status, &v)),
        )),
    }
}

fn done(q: &BTreeMap<String, String>) -> Option<&'static str> {
    match q.get("done").map(String::as_str) {
        Some("removed") => Some("Registration removed."),
        Some("hung_up") => Some("Call hung up."),
        Some("gone") => Some("That was already gone."),
        _ => None,
    }
}

fn registration_table(s: &Session, list: &[Value]) -> Markup {
    let writable = s.principal.may("registrations", Access::Write);
    html! {
        div #live hx-get="/registrations/rows" hx-trigger=(EVERY) hx-swap="outerHTML" {
            @if list.is_empty() {
                (layout::empty("No phone is registered now.", Some(html! {
                    "Registrations appear here as phones register; this page refreshes by itself."
                })))
            } @else {
                div.table-wrap { table.cards-sm {
                    thead { tr {
                        th scope="col" { "address of record" } th scope="col" { "client" }
                        th scope="col" { "contact" } th scope="col" { "flow" }
                        th scope="col" { "state" } th.num scope="col" { "expires in" }
                        th scope="col" { "user agent" }
                        @if writable { th scope="col" { span.muted { "action" } } }
                    } }
                    tbody {
                        @for (n, b) in list.iter().enumerate() {
                            tr {
                                td.mono data-label="address of record" { (s_of(b, "aor")) }
                                td data-label="client" { (s_of(b, "client")) }
                                td.mono data-label="contact" { (s_of(b, "contact")) }
                                td.mono data-label="flow" { (s_of(b, "flow")) }
                                td data-label="state" {
                                    @if b.get("reachable") == Some(&Value::Bool(true)) { span.badge.ok { "reachable" } }
                                    @else { span.badge.warn { "connection closed" } }
                                }
                                td.num data-label="expires in" { (n_of(b, "expires_in")) " s" }
                                td data-label="user agent" { (s_of(b, "user_agent")) }
                                @if writable {
                                    td data-label="action" {
                                        form method="post" action="/registrations/remove"
                                            data-confirm="Remove this registration?" {
                                            (layout::csrf(s))
                                            input type="hidden" name="aor" value=(s_of(b, "aor"));
                                            input type="hidden" name="contact" value=(s_of(b, "contact"));
                                            button.danger.small type="submit" id={ "remove-" (n) } { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
                p.muted { (list.len()) " registered · refreshes every 2 s" }
            }
        }
    }
}

async fn registration_list(p: &Portal, s: &Session) -> Result<Vec<Value>, Response> {
    let r = api::registrations(State(p.api.clone()), Extension(s.principal.clone())).await;
    listed(s, r).await
}

/// `GET /registrations`.
pub async fn registrations(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let list = match registration_list(&p, &s).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = html! { (layout::notice(done(&q))) (registration_table(&s, &list)) };
    layout::page(&s, "Registrations", "/registrations", body).into_response()
}

/// `GET /registrations/rows`: the table alone (polled).
pub async fn registration_rows(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
) -> Response {
    match registration_list(&p, &s).await {
        Ok(l) => registration_table(&s, &l).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct Binding {
    aor: String,
    contact: Option<String>,
}

/// `POST /registrations/remove`: the binding goes (the API's `DELETE
/// /api/registrations/{aor}?contact=`).
pub async fn unregister(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Form(b): Form<Binding>,
) -> Response {
    let q: BTreeMap<String, String> = b
        .contact
        .map(|c| ("contact".into(), c))
        .into_iter()
        .collect();
    let r = api::unregister(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(b.aor),
        Query(q),
    )
    .await;
    acted(&s, "/registrations", "removed", r).await
}

/// A live action's answer: back to the page with a notice, or the error page.
async fn acted(s: &Session, page: &str, what: &str, r: Response) -> Response {
    let (status, v) = answer(r).await;
    match status {
        StatusCode::OK => Redirect::to(&format!("{}?done={}", page, what)).into_response(),
        StatusCode::NOT_FOUND => Redirect::to(&format!("{}?done=gone", page)).into_response(),
        _ => layout::error_page(
            Some(s),
            if status.is_success() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                status
            },
            &format!("{}.", bridge::message(status, &v)),
        ),
    }
}

fn call_table(s: &Session, list: &[Value]) -> Markup {
    let writable = s.principal.may("calls", Access::Write);
    let now = now_secs();
    html! {
        div #live hx-get="/calls/rows" hx-trigger=(EVERY) hx-swap="outerHTML" {
            @if list.is_empty() {
                (layout::empty("No call in progress.", Some(html! {
                    "Calls appear here as they start; this page refreshes by itself."
                })))
            } @else {
                div.table-wrap { table.cards-sm {
                    thead { tr {
                        th.num scope="col" { "id" } th scope="col" { "client" }
                        th scope="col" { "caller" } th scope="col" { "callee" }
                        th scope="col" { "direction" } th scope="col" { "state" }
                        th scope="col" { "started" } th.num scope="col" { "talking" }
                        @if writable { th scope="col" { span.muted { "action" } } }
                    } }
                    tbody {
                        @for c in list {
                            @let id = n_of(c, "id");
                            @let answered = c.get("answer").and_then(Value::as_u64);
                            tr {
                                td.num data-label="id" { (id) }
                                td data-label="client" { (s_of(c, "client")) }
                                td data-label="caller" { (s_of(c, "caller")) }
                                td data-label="callee" { (s_of(c, "callee")) }
                                td data-label="direction" { (s_of(c, "direction")) }
                                td data-label="state" {
                                    @if s_of(c, "state") == "answered" { span.badge.ok { "answered" } }
                                    @else { span.badge.warn { (s_of(c, "state")) } }
                                }
                                td data-label="started" { (layout::time(n_of(c, "start"))) }
                                td.num data-label="talking" {
                                    @match answered { Some(a) => (layout::duration(now.saturating_sub(a))), None => "—" }
                                }
                                @if writable {
                                    td data-label="action" {
                                        form method="post" action={ "/calls/hangup/" (id) }
                                            data-confirm="Hang up this call?" {
                                            (layout::csrf(s))
                                            button.danger.small type="submit" id={ "hangup-" (id) } { "Hang up" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
                p.muted { (list.len()) " in progress · refreshes every 2 s" }
            }
        }
    }
}

async fn call_list(p: &Portal, s: &Session) -> Result<Vec<Value>, Response> {
    let r = api::calls(State(p.api.clone()), Extension(s.principal.clone())).await;
    listed(s, r).await
}

/// `GET /calls`.
pub async fn calls(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let list = match call_list(&p, &s).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = html! { (layout::notice(done(&q))) (call_table(&s, &list)) };
    layout::page(&s, "Calls in progress", "/calls", body).into_response()
}

/// `GET /calls/rows`: the table alone (polled).
pub async fn call_rows(State(p): State<Portal>, Extension(s): Extension<Session>) -> Response {
    match call_list(&p, &s).await {
        Ok(l) => call_table(&s, &l).into_response(),
        Err(r) => r,
    }
}

/// `POST /calls/hangup/{id}`: both legs get BYE (the API's `DELETE /api/calls/{id}`).
pub async fn hang_up(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let r = api::hang_up(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(id),
    )
    .await;
    acted(&s, "/calls", "hung_up", r).await
}

//! Administrators, for operators: the API's `GET`/`POST /api/admins` and `PATCH`/`DELETE
//! /api/admins/{name}` as a page. The list; a form adding an operator or a client's
//! administrator (optionally limited to reading or to changing some resources), with a
//! password typed or made by vozbox; a new random password for one; its removal. A
//! password vozbox makes is shown once, in the answer to the form (never in a URL; only its
//! hash is stored). The API's rules hold — only an operator, the last operator stays, names
//! and rights checked — and its refusals are shown above the form.

use super::bridge::{self, answer};
use super::layout;
use super::who::Session;
use super::Portal;
use crate::api::admins as api;
use crate::model::admin::client_admin_max;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The resources a client's administrator may be given, as hints for the rights fields.
const RESOURCES: [&str; 16] = [
    "users",
    "extensions",
    "friends",
    "call_acls",
    "call_forwards",
    "calls",
    "registrations",
    "voicemails",
    "voicemail_messages",
    "recordings",
    "clients",
    "ddis",
    "rating_profiles",
    "cdrs",
    "audit",
    "usage",
];

/// What the add form holds (the password is never sent back to the browser).
#[derive(Default)]
struct Entered {
    name: String,
    client: String,
    read: String,
    write: String,
}

impl Entered {
    fn of(f: &BTreeMap<String, String>) -> Entered {
        let v = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Entered {
            name: v("name"),
            client: v("client"),
            read: v("read"),
            write: v("write"),
        }
    }

    /// The API's body: a client's administrator when a client is chosen; rights only when
    /// a list is given (none: every right a client's administrator may have).
    fn body(&self, password: &str) -> Value {
        let mut b = Map::new();
        b.insert("name".into(), json!(self.name));
        if !password.is_empty() {
            b.insert("password".into(), json!(password));
        }
        if !self.client.is_empty() {
            b.insert("client".into(), json!(self.client));
        }
        let mut rights = Map::new();
        for (list, level) in [(&self.read, "read"), (&self.write, "write")] {
            for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                rights.insert(r.to_string(), json!(level));
            }
        }
        if !rights.is_empty() {
            b.insert("rights".into(), Value::Object(rights));
        }
        Value::Object(b)
    }
}

/// The notice of `?done=` after a change, naming the administrator.
fn done(q: &BTreeMap<String, String>) -> Option<String> {
    let name = q.get("name").map(String::as_str).unwrap_or("");
    match q.get("done").map(String::as_str)? {
        "added" => Some(format!("Administrator {} added.", name)),
        "removed" => Some(format!("Administrator {} removed.", name)),
        "gone" => Some(format!("Administrator {} was already gone.", name)),
        _ => None,
    }
}

/// How an administrator's rights read: `all` or `users: read, calls: write`.
fn rights_of(a: &Value) -> String {
    match a.get("rights").and_then(Value::as_object) {
        None if a.get("client").is_some_and(|c| !c.is_null()) => "all of its client's".into(),
        None => "everything".into(),
        Some(m) => m
            .iter()
            .map(|(k, v)| format!("{}: {}", k, v.as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// An API answer that is not a success, as the page's error (a non-operator's `403`).
fn refused(s: &Session, status: StatusCode, v: &Value) -> Response {
    let status = if status.is_success() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    layout::error_page(Some(s), status, &format!("{}.", bridge::message(status, v)))
}

/// What the page shows besides the list.
#[derive(Default)]
struct Said<'a> {
    notice: Option<String>,
    problem: Option<String>,
    /// A password vozbox made, and for whom: shown this once.
    password: Option<(&'a str, &'a str)>,
    entered: Entered,
}

/// The page: the list (from the API) and the add form.
async fn render(p: &Portal, s: &Session, said: Said<'_>, status: StatusCode) -> Response {
    let r = api::list(State(p.api.clone()), Extension(s.principal.clone())).await;
    let (got, v) = answer(r).await;
    if got != StatusCode::OK {
        return refused(s, got, &v);
    }
    let list = v.as_array().cloned().unwrap_or_default();
    let clients: Vec<String> = p
        .api
        .snapshot
        .load()
        .model
        .clients
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let e = &said.entered;
    let body = html! {
        (layout::notice(said.notice.as_deref()))
        @if let Some(problem) = &said.problem { p.alert.error role="alert" #problem { (problem) } }
        @if let Some((name, pw)) = said.password {
            div.alert.ok role="status" #password {
                "The password of " strong { (name) } " is "
                code #new-password { (pw) }
                ". It is shown this once: only its hash is kept."
            }
        }
        div.table-wrap { table.cards-sm {
            thead { tr {
                th scope="col" { "name" } th scope="col" { "role" }
                th scope="col" { "client" } th scope="col" { "rights" }
                th scope="col" { span.muted { "actions" } }
            } }
            tbody {
                @for a in &list {
                    @let name = a.get("name").and_then(Value::as_str).unwrap_or("");
                    tr id={ "admin-" (name) } {
                        td data-label="name" { (name) }
                        td data-label="role" { (a.get("role").and_then(Value::as_str).unwrap_or("")) }
                        td data-label="client" { (a.get("client").and_then(Value::as_str).unwrap_or("—")) }
                        td data-label="rights" { (rights_of(a)) }
                        td.actions-cell data-label="actions" {
                            form method="post" action={ "/admins/password/" (name) }
                                data-confirm={ "Give " (name) " a new password? The old one stops working." } {
                                (layout::csrf(s))
                                button.small type="submit" id={ "password-" (name) } { "New password" }
                            }
                            form method="post" action={ "/admins/delete/" (name) }
                                data-confirm={ "Remove administrator " (name) "?" } {
                                (layout::csrf(s))
                                button.danger.small type="submit" id={ "delete-" (name) } { "Remove" }
                            }
                        }
                    }
                }
            }
        } }
        (add_form(s, e, &clients))
    };
    let page = layout::page(s, "Administrators", "/admins", body);
    (status, page).into_response()
}

fn add_form(s: &Session, e: &Entered, clients: &[String]) -> Markup {
    html! {
        form.entity.panel method="post" action="/admins" aria-labelledby="h-add" {
            h2 #h-add { "Add an administrator" }
            (layout::csrf(s))
            div.field {
                label for="f-name" { "Name" }
                input #f-name name="name" type="text" required value=(e.name) autocomplete="off";
            }
            div.field {
                label for="f-client" { "Administers" }
                select #f-client name="client" {
                    option value="" { "everything (an operator)" }
                    @for c in clients { option value=(c) selected[e.client == *c] { "client " (c) } }
                }
            }
            div.field {
                label for="f-password" { "Password" }
                input #f-password name="password" type="password" autocomplete="new-password"
                    minlength="12" aria-describedby="hint-password";
                p.hint #hint-password { "At least 12 characters; leave empty and vozbox makes one, shown once." }
            }
            div.field {
                label for="f-read" { "Only reads" }
                input #f-read name="read" type="text" value=(e.read) list="resources"
                    aria-describedby="hint-rights";
            }
            div.field {
                label for="f-write" { "Reads and changes" }
                input #f-write name="write" type="text" value=(e.write) list="resources"
                    aria-describedby="hint-rights";
                p.hint #hint-rights {
                    "A client's administrator only: resources separated by commas (users, cdrs, …). "
                    "Both empty: every resource its client's administrators may use."
                }
            }
            datalist #resources {
                @for r in RESOURCES.iter().filter(|r| client_admin_max(r).is_some()) { option value=(r) {} }
            }
            button.primary type="submit" { "Add" }
        }
    }
}

/// `GET /admins`.
pub async fn page(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let said = Said {
        notice: done(&q),
        ..Said::default()
    };
    render(&p, &s, said, StatusCode::OK).await
}

/// `POST /admins`: the API's add; a password vozbox made is shown on the answer.
pub async fn add(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let entered = Entered::of(&f);
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let body = Bytes::from(serde_json::to_vec(&entered.body(password)).unwrap_or_default());
    let r = api::add(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        bridge::json_headers(),
        body,
    )
    .await;
    let (status, v) = answer(r).await;
    match (status, v.get("password").and_then(Value::as_str)) {
        (StatusCode::CREATED, Some(pw)) => {
            let said = Said {
                notice: Some(format!("Administrator {} added.", entered.name)),
                password: Some((&entered.name, pw)),
                ..Said::default()
            };
            render(&p, &s, said, StatusCode::OK).await
        }
        (StatusCode::CREATED, None) => back("added", &entered.name),
        (StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT | StatusCode::BAD_REQUEST, _) => {
            let said = Said {
                problem: Some(format!("Not added: {}.", bridge::message(status, &v))),
                entered,
                ..Said::default()
            };
            render(&p, &s, said, status).await
        }
        _ => refused(&s, status, &v),
    }
}

fn back(done: &str, name: &str) -> Response {
    let q = serde_urlencoded::to_string([("done", done), ("name", name)]).unwrap_or_default();
    Redirect::to(&format!("/admins?{}", q)).into_response()
}

/// `POST /admins/password/{name}`: a new random password, shown once.
pub async fn password(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    let pw = match crate::api::secrets::new_password() {
        Ok(pw) => pw,
        Err(e) => {
            return refused(
                &s,
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": e }),
            )
        }
    };
    let body = Bytes::from(json!({ "password": pw }).to_string());
    let r = api::change(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(name.clone()),
        bridge::json_headers(),
        body,
    )
    .await;
    let (status, v) = answer(r).await;
    match status {
        StatusCode::OK => {
            let said = Said {
                notice: Some(if name == s.principal.name() {
                    "Your password changed, and with it your session ended: log in again with \
                     the new one."
                        .to_string()
                } else {
                    format!(
                        "Administrator {} has a new password; its sessions ended.",
                        name
                    )
                }),
                password: Some((&name, &pw)),
                ..Said::default()
            };
            render(&p, &s, said, StatusCode::OK).await
        }
        StatusCode::NOT_FOUND => back("gone", &name),
        _ => refused(&s, status, &v),
    }
}

/// `POST /admins/delete/{name}`: the API's remove (the last operator stays: said above the
/// list).
pub async fn remove(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    let r = api::remove(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(name.clone()),
    )
    .await;
    let (status, v) = answer(r).await;
    match status {
        StatusCode::OK | StatusCode::NO_CONTENT => back("removed", &name),
        StatusCode::NOT_FOUND => back("gone", &name),
        StatusCode::CONFLICT => {
            let said = Said {
                problem: Some(format!("Not removed: {}.", bridge::message(status, &v))),
                ..Said::default()
            };
            render(&p, &s, said, status).await
        }
        _ => refused(&s, status, &v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_apis_body() {
        let f = BTreeMap::from([
            ("name".to_string(), " rita ".to_string()),
            ("client".to_string(), "bluebird".to_string()),
            ("read".to_string(), "users, cdrs,".to_string()),
            ("write".to_string(), "calls".to_string()),
        ]);
        let b = Entered::of(&f).body("");
        assert_eq!(
            b,
            json!({"name": "rita", "client": "bluebird",
                "rights": {"users": "read", "cdrs": "read", "calls": "write"}})
        );
        // an operator: no client, no rights; a typed password goes as typed
        let op = Entered::of(&BTreeMap::from([("name".to_string(), "op2".to_string())]));
        assert_eq!(
            op.body("Long-Secret-123"),
            json!({"name": "op2", "password": "Long-Secret-123"})
        );
    }

    #[test]
    fn rights_read_as_people_say_them() {
        assert_eq!(rights_of(&json!({"client": null})), "everything");
        assert_eq!(
            rights_of(&json!({"client": "bluebird"})),
            "all of its client's"
        );
        assert_eq!(
            rights_of(&json!({"client": "b", "rights": {"calls": "write", "users": "read"}})),
            "calls: write, users: read"
        );
    }
}

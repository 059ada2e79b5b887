//! The provisioned entities of every kind, one set of pages driven by the kinds table:
//! `/<kind>` (list, search, pages), `/<kind>/new`, `/<kind>/edit/<id…>` (view, change)
//! and `/<kind>/delete/<id…>`. Reads and writes are the API's resource handlers with the
//! logged-in administrator: its rights (`403`), its client only (another's is `404`), the
//! provisioning validation with its messages placed next to their field.

use super::bridge::{self, answer};
use super::fields::{self, columns};
use super::form::{self, Errors, Mode, Raw, Setting};
use super::layout::{self, title, PER_PAGE};
use super::who::Session;
use super::Portal;
use crate::api::reply::refused;
use crate::api::resources;
use crate::auth::nonce::now_secs;
use crate::model::Access;
use crate::provision::export::{self, Item};
use crate::provision::kinds::Kind;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// Names a reference field suggests at most.
const SUGGESTED: usize = 200;

type Pairs = Form<Vec<(String, String)>>;

/// The routes of kind `k`.
pub fn routes(r: Router<Portal>, k: Kind) -> Router<Portal> {
    let base = format!("/{}", k.plural());
    let ids: String = k
        .id_fields()
        .iter()
        .map(|f| format!("/{{{}}}", f))
        .collect();
    r.route(
        &base,
        get(move |p, s, q| list(k, p, s, q)).post(move |p, s, f| create(k, p, s, f)),
    )
    .route(&format!("{}/new", base), get(move |p, s| new_form(k, p, s)))
    .route(
        &format!("{}/edit{}", base, ids),
        get(move |p, s, id| edit(k, p, s, id)).post(move |p, s, id, f| update(k, p, s, id, f)),
    )
    .route(
        &format!("{}/delete{}", base, ids),
        post(move |p, s, id| delete(k, p, s, id)),
    )
}

/// A path segment, percent-encoded (names may hold `/`, `+`, spaces…).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{:02X}", b),
        })
        .collect()
}

/// `/<kind>/<what>/<id segments>` of an item.
fn item_path(k: Kind, what: &str, item: &Item) -> Option<String> {
    let parts: Option<Vec<String>> = k
        .id_fields()
        .iter()
        .map(|f| k.id_part(item, f).map(|p| segment(&p)))
        .collect();
    Some(format!("/{}/{}/{}", k.plural(), what, parts?.join("/")))
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// Whether any value of `item` contains `needle` (lower case).
fn matches(item: &Item, needle: &str) -> bool {
    needle.is_empty()
        || item
            .iter()
            .any(|(k, v)| k != "password" && cell(Some(v)).to_lowercase().contains(needle))
}

/// The (client, user name) of every live registration, for users' and friends' state.
fn registered(p: &Portal) -> HashSet<(String, String)> {
    let now = now_secs();
    p.api
        .location
        .all()
        .iter()
        .filter(|b| b.expires_at > now)
        .filter_map(|b| {
            let uri = b.aor.split_once(':').map(|(_, r)| r).unwrap_or(&b.aor);
            let user = uri.split_once('@').map(|(u, _)| u)?;
            Some((b.client.clone(), user.to_string()))
        })
        .collect()
}

fn done_text(k: Kind, q: &BTreeMap<String, String>) -> Option<String> {
    let id = q.get("id").map(String::as_str).unwrap_or("");
    let what = match q.get("done").map(String::as_str) {
        Some("created") => "Created",
        Some("saved") => "Saved",
        Some("deleted") => "Deleted",
        _ => return None,
    };
    Some(format!("{} {} {}.", what, layout::one(k), id))
}

async fn list(
    k: Kind,
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if refused(&s.principal, k.plural(), Access::Read).is_some() {
        return forbidden(&s, k, "read");
    }
    let all = export::items(&p.api.snapshot.load().model, k);
    let needle = q
        .get("q")
        .map(|n| n.trim().to_lowercase())
        .unwrap_or_default();
    let found: Vec<&Item> = all
        .iter()
        .filter(|i| resources::visible(&s.principal, k, i))
        .filter(|i| matches(i, &needle))
        .collect();
    let (page, pages) = layout::page_of(&q, found.len());
    let shown = found.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE);
    let state = matches!(k, Kind::User | Kind::Friend).then(|| registered(&p));
    let writable = s.principal.may(k.plural(), Access::Write);
    let cols = columns(k);
    let page_link = |n: usize| {
        let query = serde_urlencoded::to_string([("q", needle.as_str()), ("page", &n.to_string())]);
        format!("/{}?{}", k.plural(), query.unwrap_or_default())
    };
    let body = html! {
        (layout::notice(done_text(k, &q).as_deref()))
        div.toolbar {
            form role="search" method="get" action={ "/" (k.plural()) } {
                label.muted for="q" { "Search" }
                input #q type="search" name="q" value=(needle) placeholder="any field";
                button type="submit" { "Search" }
            }
            span.grow {}
            @if writable {
                a.button.primary href={ "/" (k.plural()) "/new" } { "New " (layout::one(k)) }
            }
        }
        @if found.is_empty() {
            @if needle.is_empty() {
                (layout::empty(&format!("No {} yet.", title(k).to_lowercase()),
                    writable.then(|| html! { a href={ "/" (k.plural()) "/new" } { "Create the first one" } })))
            } @else {
                (layout::empty(&format!("No {} match “{}”.", title(k).to_lowercase(), needle),
                    Some(html! { a href={ "/" (k.plural()) } { "Show all" } })))
            }
        } @else {
            div.table-wrap {
                table.cards-sm {
                    thead { tr {
                        th scope="col" { "id" }
                        @for c in cols { th scope="col" { (c.replace('_', " ")) } }
                        @if state.is_some() { th scope="col" { "registration" } }
                    } }
                    tbody {
                        @for i in shown {
                            @let id = k.id_of(i).unwrap_or_default();
                            tr {
                                td data-label="id" {
                                    @match item_path(k, "edit", i) {
                                        Some(href) => a href=(href) { (id) },
                                        None => (id),
                                    }
                                }
                                @for c in cols { td data-label=(c.replace('_', " ")) { (cell(i.get(*c))) } }
                                @if let Some(reg) = &state {
                                    @let who = (k.client_of(i).unwrap_or_default(), cell(i.get("name")));
                                    td data-label="registration" {
                                        @if reg.contains(&who) { span.badge.ok { "registered" } }
                                        @else { span.badge { "not registered" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.pager {
                span { (found.len()) " in all" @if pages > 1 { " · page " (page) " of " (pages) } }
                @if page > 1 { a href=(page_link(page - 1)) rel="prev" { "← Previous" } }
                @if page < pages { a href=(page_link(page + 1)) rel="next" { "Next →" } }
            }
        }
    };
    layout::page(&s, title(k), &format!("/{}", k.plural()), body).into_response()
}

fn forbidden(s: &Session, k: Kind, verb: &str) -> Response {
    layout::error_page(
        Some(s),
        StatusCode::FORBIDDEN,
        &format!(
            "This administrator may not {} {}.",
            verb,
            title(k).to_lowercase()
        ),
    )
}

/// The names the reference fields of kind `k`'s form suggest: the entities the
/// administrator sees.
fn suggestions(p: &Portal, s: &Session, k: Kind) -> BTreeMap<String, Vec<String>> {
    let model = &p.api.snapshot.load().model;
    let mut out = BTreeMap::new();
    for f in fields::of(k) {
        let Some((target, key)) = fields::refers_to(&f.name) else {
            continue;
        };
        if !s.principal.may(target.plural(), Access::Read) {
            continue;
        }
        let mut names: Vec<String> = export::items(model, target)
            .iter()
            .filter(|i| resources::visible(&s.principal, target, i))
            .filter_map(|i| i.get(key).and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names.truncate(SUGGESTED);
        out.insert(f.name.clone(), names);
    }
    out
}

/// A form page: new or existing, with its errors (`status`: 200, or 422 after a refusal).
#[allow(clippy::too_many_arguments)]
fn form_page(
    p: &Portal,
    s: &Session,
    k: Kind,
    mode: Mode,
    item_paths: Option<(String, String)>,
    raw: &Raw,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let sugg = suggestions(p, s, k);
    let (heading, action, delete) = match (&mode, item_paths) {
        (Mode::Edit, Some((edit, delete))) => {
            let id: Vec<&str> = k
                .id_fields()
                .iter()
                .filter_map(|f| match *f {
                    "owner" => raw
                        .get("user")
                        .filter(|v| !v.is_empty())
                        .or_else(|| raw.get("friend")),
                    f => raw.get(f),
                })
                .map(String::as_str)
                .collect();
            (
                format!("{} {}", layout::one(k), id.join("/")),
                edit,
                Some(delete),
            )
        }
        _ => (
            format!("New {}", layout::one(k)),
            format!("/{}", k.plural()),
            None,
        ),
    };
    let setting = Setting {
        kind: k,
        mode,
        action,
        delete,
        writable: s.principal.may(k.plural(), Access::Write),
        own_client: s.principal.client(),
        suggestions: &sugg,
    };
    let heading = format!(
        "{}{}",
        heading
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default(),
        heading.chars().skip(1).collect::<String>()
    );
    let body = html! {
        p { a href={ "/" (k.plural()) } { "← " (title(k)) } }
        (form::render(s, &setting, fields::of(k), raw, errors))
    };
    let page = layout::page(s, &heading, &format!("/{}", k.plural()), body);
    (status, page).into_response()
}

async fn new_form(k: Kind, State(p): State<Portal>, Extension(s): Extension<Session>) -> Response {
    if refused(&s.principal, k.plural(), Access::Write).is_some() {
        return forbidden(&s, k, "change");
    }
    let mut raw = Raw::new();
    if let (Some(c), Some(f)) = (s.principal.client(), k.client_field()) {
        raw.insert(f.into(), c.into());
    }
    // The defaults a new entity of the file starts with where the form cannot leave a key
    // out (a box is ticked or not).
    for f in fields::of(k).iter().filter(|f| f.ticked) {
        raw.insert(f.name.clone(), "on".into());
    }
    let no = Errors::default();
    form_page(&p, &s, k, Mode::New, None, &raw, &no, StatusCode::OK)
}

/// The entity `parts` names as the API reads it for `s` (its error page when none).
async fn current(p: &Portal, s: &Session, k: Kind, parts: Vec<String>) -> Result<Item, Response> {
    let r = resources::read(
        k,
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(parts),
    )
    .await;
    match answer(r).await {
        (StatusCode::OK, Value::Object(mut m)) => {
            m.remove("id");
            Ok(m)
        }
        (StatusCode::FORBIDDEN, _) => Err(forbidden(s, k, "read")),
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

fn paths_of(k: Kind, item: &Item) -> Option<(String, String)> {
    Some((item_path(k, "edit", item)?, item_path(k, "delete", item)?))
}

async fn edit(
    k: Kind,
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(parts): Path<Vec<String>>,
) -> Response {
    let item = match current(&p, &s, k, parts).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let raw = form::raw_of_item(fields::of(k), &item);
    let errors = Errors::default();
    let paths = paths_of(k, &item);
    form_page(&p, &s, k, Mode::Edit, paths, &raw, &errors, StatusCode::OK)
}

/// What a write answered, for a form: done (`redirect`) or the form again with errors.
async fn after_write(
    p: &Portal,
    s: &Session,
    k: Kind,
    (mode, paths): (Mode, Option<(String, String)>),
    raw: &Raw,
    item: &Item,
    r: Response,
) -> Response {
    let id = k.id_of(item);
    let (status, v) = answer(r).await;
    let done = if matches!(mode, Mode::New) {
        "created"
    } else {
        "saved"
    };
    match status {
        s2 if s2.is_success() => {
            let q =
                serde_urlencoded::to_string([("done", done), ("id", id.as_deref().unwrap_or(""))]);
            Redirect::to(&format!("/{}?{}", k.plural(), q.unwrap_or_default())).into_response()
        }
        StatusCode::FORBIDDEN if !s.principal.may(k.plural(), Access::Write) => {
            forbidden(s, k, "change")
        }
        StatusCode::NOT_FOUND => layout::error_page(
            Some(s),
            StatusCode::NOT_FOUND,
            &format!("{}.", bridge::message(status, &v)),
        ),
        _ => {
            let mut errors = form::errors_of(k, fields::of(k), id.as_deref(), &v);
            // a name taken: said next to the last field of the id
            if status == StatusCode::CONFLICT {
                if let Some(last) = k.id_fields().last().filter(|f| **f != "owner") {
                    errors = Errors::field(last, bridge::message(status, &v));
                }
            }
            let code = if status == StatusCode::FORBIDDEN {
                status
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            form_page(p, s, k, mode, paths, raw, &errors, code)
        }
    }
}

async fn create(
    k: Kind,
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Form(pairs): Pairs,
) -> Response {
    let raw = form::raw_of_pairs(pairs);
    let item = match form::item_of(fields::of(k), &raw, None) {
        Ok(i) => i,
        Err(e) => {
            let code = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(&p, &s, k, Mode::New, None, &raw, &e, code);
        }
    };
    let body = Bytes::from(serde_json::to_vec(&item).unwrap_or_default());
    let r = resources::create(
        k,
        State(p.api.clone()),
        Extension(s.principal.clone()),
        bridge::json_headers(),
        body,
    )
    .await;
    after_write(&p, &s, k, (Mode::New, None), &raw, &item, r).await
}

async fn update(
    k: Kind,
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(parts): Path<Vec<String>>,
    Form(pairs): Pairs,
) -> Response {
    let before = match current(&p, &s, k, parts.clone()).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let paths = paths_of(k, &before);
    let raw = form::raw_of_pairs(pairs);
    let item = match form::item_of(fields::of(k), &raw, Some(&before)) {
        Ok(i) => i,
        Err(e) => {
            let code = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(&p, &s, k, Mode::Edit, paths, &raw, &e, code);
        }
    };
    let body = Bytes::from(serde_json::to_vec(&item).unwrap_or_default());
    let r = resources::replace(
        k,
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(parts),
        bridge::json_headers(),
        body,
    )
    .await;
    after_write(&p, &s, k, (Mode::Edit, paths), &raw, &item, r).await
}

async fn delete(
    k: Kind,
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(parts): Path<Vec<String>>,
) -> Response {
    let id = parts.join("/");
    let r = resources::remove(
        k,
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(parts.clone()),
    )
    .await;
    let (status, v) = answer(r).await;
    match status {
        StatusCode::OK => {
            let q = serde_urlencoded::to_string([("done", "deleted"), ("id", id.as_str())]);
            Redirect::to(&format!("/{}?{}", k.plural(), q.unwrap_or_default())).into_response()
        }
        StatusCode::FORBIDDEN => forbidden(&s, k, "change"),
        StatusCode::CONFLICT => {
            // the entity stays: its page again, saying what refers to it
            let item = match current(&p, &s, k, parts).await {
                Ok(i) => i,
                Err(r) => return r,
            };
            let raw = form::raw_of_item(fields::of(k), &item);
            let errors = form::errors_of(k, fields::of(k), Some(&id), &v);
            let paths = paths_of(k, &item);
            form_page(
                &p,
                &s,
                k,
                Mode::Edit,
                paths,
                &raw,
                &errors,
                StatusCode::CONFLICT,
            )
        }
        _ => layout::error_page(
            Some(&s),
            if status.is_success() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                status
            },
            &format!("{}.", bridge::message(status, &v)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_search() {
        assert_eq!(segment("a b/c+é"), "a%20b%2Fc%2B%C3%A9");
        let cf =
            json!({"client": "b", "friend": "pbx", "forward_type": "busy", "call_type": "any"});
        let cf = cf.as_object().cloned().unwrap_or_default();
        assert_eq!(
            item_path(Kind::CallForward, "edit", &cf).as_deref(),
            Some("/call_forwards/edit/b/pbx/busy/any")
        );
        let u = json!({"client": "b", "name": "alice", "password": "Secret", "allowed_codecs": ["PCMU"]});
        let u = u.as_object().cloned().unwrap_or_default();
        assert!(matches(&u, "ali") && matches(&u, "pcmu") && matches(&u, ""));
        assert!(!matches(&u, "secret"));
    }
}

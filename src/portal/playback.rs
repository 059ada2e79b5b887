//! What the pages of recorded audio share (`voicemail.rs`, `recordings.rs`, each a
//! `Shelved`: its names, the API's handlers, its table): their handlers — the list read
//! through the API, newest first and paged; the player's source `<base>/audio/{id}` (the
//! API's WAV with byte ranges, `ranges.rs`, so the player can seek); the download
//! `<base>/download/{id}` (an attachment); the delete `<base>/delete/{id}` (a form with the
//! CSRF token, shown where the administrator may change the API's resource), back to the
//! list with a notice, or with the API's reason when it refuses one who may (`403`) — and
//! the pieces of a row. Rights and scope stay the API's: another client's item is `404`.

use super::bridge::{self, answer};
use super::layout::{self, PER_PAGE};
use super::ranges;
use super::who::Session;
use super::Portal;
use crate::api::scope::Principal;
use crate::api::Api;
use crate::model::Access;
use axum::body::to_bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

/// The largest WAV taken from the API's answer (already in memory: the API reads the file
/// whole); a recording of a call of hours is large (stereo 8 kHz: 115 MB an hour).
const MAX_WAV: usize = 1 << 30;

/// What names a page of recorded audio.
pub struct Shelf {
    /// The page's title, in the navigation too.
    pub title: &'static str,
    /// The page's path (`/voicemail`): its player, download and delete paths are below it.
    pub base: &'static str,
    /// The API's resource (its rights).
    pub resource: &'static str,
    /// The query key of the list's filter, kept across a delete.
    pub filter: &'static str,
    /// One item as a sentence names it (`message`).
    pub one: &'static str,
    /// What a downloaded file's name starts with, and the item's key that follows.
    pub file: (&'static str, &'static str),
    /// What the page says when the API answers that the feature is off (`503`).
    pub off: &'static str,
}

/// A `Shelved`'s `list`, `audio` and `delete`: the handlers of API module `$m` (which has
/// `list`, `audio` and `delete` of the voicemail's and the recordings' shape).
macro_rules! api_handlers {
    ($m:path) => {
        fn list(
            api: $crate::api::Api,
            p: $crate::api::scope::Principal,
        ) -> impl std::future::Future<Output = axum::response::Response> + Send {
            use $m as m;
            m::list(
                axum::extract::State(api),
                axum::Extension(p),
                axum::extract::Query(Default::default()),
            )
        }

        fn audio(
            api: $crate::api::Api,
            p: $crate::api::scope::Principal,
            id: String,
        ) -> impl std::future::Future<Output = axum::response::Response> + Send {
            use $m as m;
            m::audio(
                axum::extract::State(api),
                axum::Extension(p),
                axum::extract::Path(id),
            )
        }

        fn delete(
            api: $crate::api::Api,
            p: $crate::api::scope::Principal,
            id: String,
        ) -> impl std::future::Future<Output = axum::response::Response> + Send {
            use $m as m;
            m::delete(
                axum::extract::State(api),
                axum::Extension(p),
                axum::extract::Path(id),
            )
        }
    };
}
pub(super) use api_handlers;

/// A page of recorded audio: its names, the API's handlers it calls (with the
/// administrator's `Principal`), and its list.
pub trait Shelved: 'static {
    const SHELF: Shelf;
    /// The API's list (`GET`, no query).
    fn list(api: Api, p: Principal) -> impl Future<Output = Response> + Send;
    /// The API's WAV of item `id`.
    fn audio(api: Api, p: Principal, id: String) -> impl Future<Output = Response> + Send;
    /// The API's `DELETE` of item `id`.
    fn delete(api: Api, p: Principal, id: String) -> impl Future<Output = Response> + Send;
    /// The page below its notices: filter, table, pages (`q`: the page's query).
    fn body(s: &Session, q: &BTreeMap<String, String>, all: &[Value]) -> Markup;
}

pub fn s_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub fn id_of(m: &Value) -> u64 {
    m.get("id").and_then(Value::as_u64).unwrap_or(0)
}

/// The error page for an API answer that is not a success.
fn failed(s: &Session, status: StatusCode, v: &Value) -> Response {
    let status = if status.is_success() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    layout::error_page(Some(s), status, &format!("{}.", bridge::message(status, v)))
}

/// The items the administrator sees (`None`: the feature is off on this server).
async fn items<T: Shelved>(p: &Portal, s: &Session) -> Result<Option<Vec<Value>>, Response> {
    match answer(T::list(p.api.clone(), s.principal.clone()).await).await {
        (StatusCode::OK, Value::Array(list)) => Ok(Some(list)),
        (StatusCode::SERVICE_UNAVAILABLE, _) => Ok(None),
        (status, v) => Err(failed(s, status, &v)),
    }
}

/// Field `k` of the item with id `id` in `list` (empty when it is not there).
fn field_of(list: &[Value], id: &str, k: &str) -> String {
    list.iter()
        .find(|m| id_of(m).to_string() == id)
        .map(|m| s_of(m, k).to_string())
        .unwrap_or_default()
}

/// An item's RFC 3339 time `k` as people read it.
pub fn when(m: &Value, k: &str) -> String {
    let at = s_of(m, k);
    match at.parse::<jiff::Timestamp>() {
        Ok(t) => layout::time(t.as_second().max(0) as u64),
        Err(_) => at.to_string(),
    }
}

/// A length in seconds (`duration_s`) as `m:ss`.
pub fn length(m: &Value) -> String {
    let secs = m.get("duration_s").and_then(Value::as_f64).unwrap_or(0.0);
    layout::duration(secs.max(0.0).round() as u64)
}

/// The notice after a delete (`?done=`).
fn done(shelf: &Shelf, q: &BTreeMap<String, String>) -> Option<String> {
    let mut one = shelf.one.chars();
    let first = one.next().map(|c| c.to_uppercase().to_string());
    match q.get("done").map(String::as_str) {
        Some("deleted") => Some(format!("{}{} deleted.", first?, one.as_str())),
        Some("gone") => Some(format!("That {} was already gone.", shelf.one)),
        _ => None,
    }
}

/// One page of the items found, newest first.
pub struct Paged<'a> {
    pub shown: Vec<&'a Value>,
    pub page: usize,
    pub pages: usize,
}

/// The page of `found` the query asks for (`?page=`), newest first.
pub fn paged<'a>(mut found: Vec<&'a Value>, q: &BTreeMap<String, String>) -> Paged<'a> {
    found.sort_by_key(|m| std::cmp::Reverse(id_of(m)));
    let (page, pages) = layout::page_of(q, found.len());
    let shown = found
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    Paged { shown, page, pages }
}

/// Below the table: how many (`count`), the page, links to the others.
pub fn pager(shelf: &Shelf, p: &Paged, filter: &str, count: Markup) -> Markup {
    let link = |n: usize| {
        let q = serde_urlencoded::to_string([(shelf.filter, filter), ("page", &n.to_string())]);
        format!("{}?{}", shelf.base, q.unwrap_or_default())
    };
    html! {
        div.pager {
            span { (count) @if p.pages > 1 { " · page " (p.page) " of " (p.pages) } }
            @if p.page > 1 { a href=(link(p.page - 1)) rel="prev" { "← Newer" } }
            @if p.page < p.pages { a href=(link(p.page + 1)) rel="next" { "Older →" } }
        }
    }
}

/// The filter's form: a choice of `options` (values; `label` shows them), `all` first.
pub fn filter_form(
    shelf: &Shelf,
    title: &str,
    options: &[String],
    current: &str,
    label: impl Fn(&str) -> String,
) -> Markup {
    let key = shelf.filter;
    html! {
        form.toolbar.panel method="get" action=(shelf.base) aria-label="Filter" {
            label for=(key) { (title) }
            select id=(key) name=(key) {
                option value="" { "all" }
                @for o in options { option value=(o) selected[current == o.as_str()] { (label(o)) } }
                @if !current.is_empty() && !options.iter().any(|o| o == current) {
                    option value=(current) selected { (label(current)) }
                }
            }
            button.primary type="submit" { "Show" }
        }
    }
}

/// The values of key `k` among `list`, sorted, once each.
pub fn distinct(list: &[Value], k: impl Fn(&Value) -> String) -> Vec<String> {
    let mut all: Vec<String> = list.iter().map(k).collect();
    all.sort();
    all.dedup();
    all
}

/// A row's player (`what`: its accessible name).
pub fn player(shelf: &Shelf, id: u64, what: &str) -> Markup {
    html! {
        audio controls preload="none" src={ (shelf.base) "/audio/" (id) } aria-label=(what) {
            a href={ (shelf.base) "/download/" (id) } { "Download the " (shelf.one) }
        }
    }
}

/// A row's actions: download, and delete where the administrator may (the filter kept).
pub fn actions(shelf: &Shelf, s: &Session, id: u64, filter: &str) -> Markup {
    html! {
        a.button.small href={ (shelf.base) "/download/" (id) } download
            id={ "download-" (id) } { "Download" }
        @if s.principal.may(shelf.resource, Access::Write) {
            form method="post" action={ (shelf.base) "/delete/" (id) }
                data-confirm={ "Delete this " (shelf.one) " for good?" } {
                (layout::csrf(s))
                input type="hidden" name=(shelf.filter) value=(filter);
                button.danger.small type="submit" id={ "delete-" (id) } { "Delete" }
            }
        }
    }
}

/// Back to the list after a delete (its filter kept) with a notice.
pub fn back(shelf: &Shelf, f: &BTreeMap<String, String>, done: &str) -> Response {
    let mut pairs = vec![("done", done)];
    if let Some(v) = f.get(shelf.filter).filter(|v| !v.is_empty()) {
        pairs.insert(0, (shelf.filter, v));
    }
    let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    Redirect::to(&format!("{}?{}", shelf.base, q)).into_response()
}

/// A file name of `[A-Za-z0-9._-]` for a download: `<shelf.file.0>-<label>-<id>.wav`.
fn file_name(shelf: &Shelf, label: &str, id: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        format!("{}-{}.wav", shelf.file.0, id)
    } else {
        format!("{}-{}-{}.wav", shelf.file.0, clean, id)
    }
}

/// Item `id`'s WAV through the API's handler (its rights and scope), whole or the range
/// asked, inline (the page's player) or as an attachment named after the item.
async fn wav<T: Shelved>(
    p: &Portal,
    s: &Session,
    id: String,
    headers: &HeaderMap,
    attach: bool,
) -> Response {
    let r = T::audio(p.api.clone(), s.principal.clone(), id.clone()).await;
    if r.status() != StatusCode::OK {
        let (status, v) = answer(r).await;
        return failed(s, status, &v);
    }
    let bytes = match to_bytes(r.into_body(), MAX_WAV).await {
        Ok(b) => b,
        Err(e) => {
            return layout::error_page(Some(s), StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    };
    let label = match items::<T>(p, s).await {
        Ok(Some(list)) => field_of(&list, &id, T::SHELF.file.1),
        _ => String::new(),
    };
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attach { "attachment" } else { "inline" },
        file_name(&T::SHELF, &label, &id)
    );
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    ranges::serve(bytes, range, "audio/x-wav", &disposition)
}

/// The page: notices (`refused`: why a delete was refused), then the shelf's list.
fn shown<T: Shelved>(
    s: &Session,
    q: &BTreeMap<String, String>,
    all: Option<&[Value]>,
    refused: Option<&str>,
) -> Markup {
    let shelf = &T::SHELF;
    let body = html! {
        @if let Some(why) = refused {
            p.alert.error role="alert" #refused { "Not deleted: " (why) "." }
        }
        (layout::notice(done(shelf, q).as_deref()))
        @match all {
            Some(all) => (T::body(s, q, all)),
            None => (layout::empty(shelf.off, None)),
        }
    };
    layout::page(s, shelf.title, shelf.base, body)
}

/// `GET <base>` (the shelf's filter, `?page=`).
pub async fn page<T: Shelved>(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    match items::<T>(&p, &s).await {
        Ok(all) => shown::<T>(&s, &q, all.as_deref(), None).into_response(),
        Err(r) => r,
    }
}

/// `GET <base>/audio/{id}`: the item for the page's player.
pub async fn audio<T: Shelved>(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    wav::<T>(&p, &s, id, &headers, false).await
}

/// `GET <base>/download/{id}`: the item as a file to keep.
pub async fn download<T: Shelved>(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    wav::<T>(&p, &s, id, &headers, true).await
}

/// `POST <base>/delete/{id}`: the API's `DELETE`, then back to the list (with its filter)
/// and a notice. An administrator who may change the resource and is refused all the same
/// (`403`: a client that keeps its recordings) gets the list again with the API's reason.
pub async fn delete<T: Shelved>(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let shelf = &T::SHELF;
    let (status, v) = answer(T::delete(p.api.clone(), s.principal.clone(), id).await).await;
    match status {
        StatusCode::OK => back(shelf, &f, "deleted"),
        StatusCode::NOT_FOUND => back(shelf, &f, "gone"),
        StatusCode::FORBIDDEN if s.principal.may(shelf.resource, Access::Write) => {
            let why = bridge::message(status, &v);
            let q: BTreeMap<String, String> = f
                .get(shelf.filter)
                .map(|v| (shelf.filter.to_string(), v.clone()))
                .into_iter()
                .collect();
            match items::<T>(&p, &s).await {
                Ok(all) => {
                    let page = shown::<T>(&s, &q, all.as_deref(), Some(&why));
                    (StatusCode::FORBIDDEN, page).into_response()
                }
                Err(r) => r,
            }
        }
        _ => failed(&s, status, &v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHELF: Shelf = Shelf {
        title: "Tapes",
        base: "/tapes",
        // (a resource a client administrator may change)
        resource: "recordings",
        filter: "shelf",
        one: "tape",
        file: ("tape", "shelf"),
        off: "No tapes here.",
    };

    #[test]
    fn names_times_notices_and_pages() {
        assert_eq!(file_name(&SHELF, "bob", "7"), "tape-bob-7.wav");
        assert_eq!(file_name(&SHELF, "a \"b\"/c", "7"), "tape-a__b__c-7.wav");
        assert_eq!(file_name(&SHELF, "", "7"), "tape-7.wav");
        let m = serde_json::json!({"id": 7, "received": "2026-12-05T10:00:00Z",
            "duration_s": 65.4, "shelf": "bob"});
        assert_eq!(when(&m, "received"), "2026-12-05 10:00:00 UTC");
        assert_eq!(length(&m), "1:05");
        assert_eq!(field_of(std::slice::from_ref(&m), "7", "shelf"), "bob");
        assert_eq!(field_of(std::slice::from_ref(&m), "8", "shelf"), "");
        let q = |d: &str| BTreeMap::from([("done".to_string(), d.to_string())]);
        assert_eq!(
            done(&SHELF, &q("deleted")).as_deref(),
            Some("Tape deleted.")
        );
        assert_eq!(
            done(&SHELF, &q("gone")).as_deref(),
            Some("That tape was already gone.")
        );
        assert_eq!(done(&SHELF, &q("other")), None);
        let list: Vec<Value> = (1..=120).map(|i| serde_json::json!({"id": i})).collect();
        let mut q = BTreeMap::new();
        q.insert("page".to_string(), "3".to_string());
        let p = paged(list.iter().collect(), &q);
        assert_eq!((p.page, p.pages, p.shown.len()), (3, 3, 20));
        assert_eq!(id_of(p.shown[0]), 20, "newest first");
        q.insert("page".to_string(), "x".to_string());
        assert_eq!(paged(list.iter().collect(), &q).page, 1);
    }

    struct Tapes;

    impl Shelved for Tapes {
        const SHELF: Shelf = SHELF;
        fn list(_: Api, _: Principal) -> impl Future<Output = Response> + Send {
            std::future::ready(Response::default())
        }
        fn audio(_: Api, _: Principal, _: String) -> impl Future<Output = Response> + Send {
            std::future::ready(Response::default())
        }
        fn delete(_: Api, _: Principal, _: String) -> impl Future<Output = Response> + Send {
            std::future::ready(Response::default())
        }
        fn body(s: &Session, q: &BTreeMap<String, String>, _: &[Value]) -> Markup {
            let filter = q.get("shelf").map(String::as_str).unwrap_or("");
            html! { (player(&SHELF, 9, "Tape 9")) (actions(&SHELF, s, 9, filter)) }
        }
    }

    #[test]
    fn the_page_its_notices_and_a_rows_controls() {
        let client = |access| Session {
            principal: Principal::Client {
                name: "ann".into(),
                client: "bluebird".into(),
                rights: Some(BTreeMap::from([("recordings".to_string(), access)])),
            },
            csrf: "t".repeat(64),
        };
        let q = BTreeMap::from([
            ("shelf".to_string(), "a&b".to_string()),
            ("done".to_string(), "deleted".to_string()),
        ]);
        let html = shown::<Tapes>(&client(Access::Write), &q, Some(&[]), Some("kept <here>"))
            .into_string();
        for part in [
            "id=\"refused\" role=\"alert\">Not deleted: kept &lt;here&gt;.</p>",
            "Tape deleted.",
            "<audio controls preload=\"none\" src=\"/tapes/audio/9\" aria-label=\"Tape 9\">",
            "href=\"/tapes/download/9\" download id=\"download-9\"",
            "action=\"/tapes/delete/9\" data-confirm=\"Delete this tape for good?\"",
            "name=\"shelf\" value=\"a&amp;b\"",
            "id=\"delete-9\"",
        ] {
            assert!(html.contains(part), "{}: {}", part, html);
        }
        let html =
            shown::<Tapes>(&client(Access::Read), &BTreeMap::new(), Some(&[]), None).into_string();
        assert!(html.contains("download-9") && !html.contains("delete-9"));
        assert!(!html.contains("refused") && !html.contains("deleted"));
        let html = shown::<Tapes>(&client(Access::Read), &BTreeMap::new(), None, None);
        assert!(html.into_string().contains("No tapes here."));
    }
}

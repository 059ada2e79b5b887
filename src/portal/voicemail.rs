//! Voicemail messages: the API's `GET /api/voicemail_messages` as a table, newest first,
//! with a mailbox filter; each message playable in the page (an `<audio>` whose source is
//! `/voicemail/audio/{id}`: the API's `…/{id}/audio` with byte ranges, so the player can
//! seek), downloadable (`/voicemail/download/{id}`, an attachment) and deleted by a form
//! with the CSRF token (the API's `DELETE`) where the administrator may change
//! `voicemail_messages`. Rights and scope are the API's: another client's message is `404`.

use super::bridge::{self, answer};
use super::layout;
use super::who::Session;
use super::Portal;
use crate::api::voicemail as api;
use crate::model::Access;
use axum::body::to_bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::BTreeMap;

const RESOURCE: &str = "voicemail_messages";
const PER_PAGE: usize = 50;
/// The largest WAV read (an hour at 8 kHz, 16 bits: `[voicemail] max_seconds` at most).
const MAX_WAV: usize = 64 << 20;

fn s_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn id_of(m: &Value) -> u64 {
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

/// The messages the administrator sees (`None`: voicemail is off on this server).
async fn messages(p: &Portal, s: &Session) -> Result<Option<Vec<Value>>, Response> {
    let r = api::list(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Query(BTreeMap::new()),
    )
    .await;
    match answer(r).await {
        (StatusCode::OK, Value::Array(list)) => Ok(Some(list)),
        (StatusCode::SERVICE_UNAVAILABLE, _) => Ok(None),
        (status, v) => Err(failed(s, status, &v)),
    }
}

/// A mailbox as the filter names it: `client/name`.
fn mailbox_of(m: &Value) -> String {
    format!("{}/{}", s_of(m, "client"), s_of(m, "mailbox"))
}

/// Whether message `m` is in the mailbox the filter names (`client/name`, or a bare name
/// in any client the administrator sees).
fn in_mailbox(m: &Value, want: &str) -> bool {
    match want.split_once('/') {
        Some((client, name)) => s_of(m, "client") == client && s_of(m, "mailbox") == name,
        None => s_of(m, "mailbox") == want,
    }
}

/// An RFC 3339 time as people read it.
fn received(m: &Value) -> String {
    let at = s_of(m, "received");
    match at.parse::<jiff::Timestamp>() {
        Ok(t) => layout::time(t.as_second().max(0) as u64),
        Err(_) => at.to_string(),
    }
}

fn done(q: &BTreeMap<String, String>) -> Option<&'static str> {
    match q.get("done").map(String::as_str) {
        Some("deleted") => Some("Message deleted."),
        Some("gone") => Some("That message was already gone."),
        _ => None,
    }
}

fn table(s: &Session, shown: &[&Value], filter: &str) -> Markup {
    let writable = s.principal.may(RESOURCE, Access::Write);
    let operator = s.principal.is_operator();
    html! {
        div.table-wrap { table.cards-sm #messages {
            thead { tr {
                th scope="col" { "received" } th scope="col" { "mailbox" }
                th scope="col" { "caller" } th.num scope="col" { "length" }
                th scope="col" { "state" } th scope="col" { "listen" }
                th scope="col" { span.muted { "actions" } }
            } }
            tbody {
                @for m in shown {
                    @let id = id_of(m);
                    @let caller = s_of(m, "caller");
                    @let name = s_of(m, "caller_name");
                    @let secs = m.get("duration_s").and_then(Value::as_f64).unwrap_or(0.0);
                    tr id={ "message-" (id) } {
                        td data-label="received" { (received(m)) }
                        td data-label="mailbox" {
                            @if operator { (mailbox_of(m)) } @else { (s_of(m, "mailbox")) }
                        }
                        td data-label="caller" {
                            @if !name.is_empty() && name != caller { (name) " " span.muted { (caller) } }
                            @else { (caller) }
                        }
                        td.num data-label="length" { (layout::duration(secs.round() as u64)) }
                        td data-label="state" {
                            @if m.get("new") == Some(&Value::Bool(true)) { span.badge.ok { "new" } }
                            @else { span.badge { "old" } }
                        }
                        td data-label="listen" {
                            audio controls preload="none" src={ "/voicemail/audio/" (id) }
                                aria-label={ "Message from " (caller) } {
                                a href={ "/voicemail/download/" (id) } { "Download the message" }
                            }
                        }
                        td.actions-cell data-label="actions" {
                            a.button.small href={ "/voicemail/download/" (id) } download
                                id={ "download-" (id) } { "Download" }
                            @if writable {
                                form method="post" action={ "/voicemail/delete/" (id) }
                                    data-confirm="Delete this message for good?" {
                                    (layout::csrf(s))
                                    input type="hidden" name="mailbox" value=(filter);
                                    button.danger.small type="submit" id={ "delete-" (id) } { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// `GET /voicemail` (`?mailbox=client/name`, `?page=`).
pub async fn page(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let all = match messages(&p, &s).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            let body = layout::empty("Voicemail is off on this server.", None);
            return layout::page(&s, "Voicemail", "/voicemail", body).into_response();
        }
        Err(r) => return r,
    };
    let filter = q.get("mailbox").map(|m| m.trim()).unwrap_or("").to_string();
    let mut boxes: Vec<String> = all.iter().map(mailbox_of).collect();
    boxes.sort();
    boxes.dedup();
    let mut found: Vec<&Value> = all
        .iter()
        .filter(|m| filter.is_empty() || in_mailbox(m, &filter))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(id_of(m)));
    let unheard = found
        .iter()
        .filter(|m| m.get("new") == Some(&Value::Bool(true)))
        .count();
    let pages = found.len().div_ceil(PER_PAGE).max(1);
    let page = q
        .get("page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let shown: Vec<&Value> = found
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .copied()
        .collect();
    let link = |n: usize| {
        let q =
            serde_urlencoded::to_string([("mailbox", filter.as_str()), ("page", &n.to_string())]);
        format!("/voicemail?{}", q.unwrap_or_default())
    };
    let label = |b: &str| {
        if s.principal.is_operator() {
            b.to_string()
        } else {
            b.split_once('/').map(|(_, n)| n).unwrap_or(b).to_string()
        }
    };
    let body = html! {
        (layout::notice(done(&q)))
        form.toolbar.panel method="get" action="/voicemail" aria-label="Filter" {
            label for="mailbox" { "Mailbox" }
            select #mailbox name="mailbox" {
                option value="" { "all" }
                @for b in &boxes { option value=(b) selected[filter == *b] { (label(b)) } }
                @if !filter.is_empty() && !boxes.contains(&filter) {
                    option value=(filter) selected { (label(&filter)) }
                }
            }
            button.primary type="submit" { "Show" }
        }
        @if found.is_empty() {
            @if filter.is_empty() {
                (layout::empty("No voicemail messages.", Some(html! {
                    "Messages callers leave appear here, to play, download or delete."
                })))
            } @else {
                (layout::empty(&format!("No messages in mailbox {}.", label(&filter)),
                    Some(html! { a href="/voicemail" { "Show every mailbox" } })))
            }
        } @else {
            (table(&s, &shown, &filter))
            div.pager {
                span { (found.len()) @if found.len() == 1 { " message, " } @else { " messages, " }
                    (unheard) " new"
                    @if pages > 1 { " · page " (page) " of " (pages) } }
                @if page > 1 { a href=(link(page - 1)) rel="prev" { "← Newer" } }
                @if page < pages { a href=(link(page + 1)) rel="next" { "Older →" } }
            }
        }
    };
    layout::page(&s, "Voicemail", "/voicemail", body).into_response()
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq)]
enum Want {
    /// No range, or one not served as such (several ranges, another unit, bad syntax).
    Whole,
    /// Bytes `first..=last`.
    Part(usize, usize),
    /// A range past the end: `416`.
    Unsatisfiable,
}

fn wanted(range: Option<&str>, len: usize) -> Want {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Want::Whole;
    };
    let Some((a, b)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Want::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // the last `b` bytes
        return match b.parse::<usize>() {
            Ok(0) => Want::Unsatisfiable,
            Ok(_) if len == 0 => Want::Unsatisfiable,
            Ok(n) => Want::Part(len.saturating_sub(n), len - 1),
            Err(_) => Want::Whole,
        };
    }
    let Ok(first) = a.parse::<usize>() else {
        return Want::Whole;
    };
    let last = if b.is_empty() {
        usize::MAX
    } else {
        match b.parse::<usize>() {
            Ok(l) if l >= first => l,
            _ => return Want::Whole,
        }
    };
    if first >= len {
        return Want::Unsatisfiable;
    }
    Want::Part(first, last.min(len - 1))
}

/// A file name of `[A-Za-z0-9._-]` for the download.
fn file_name(mailbox: &str, id: &str) -> String {
    let clean: String = mailbox
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
        format!("voicemail-{}.wav", id)
    } else {
        format!("voicemail-{}-{}.wav", clean, id)
    }
}

/// The message's WAV through the API's handler (its rights and scope), whole or the range
/// asked, inline (the page's player) or as an attachment.
async fn wav(p: &Portal, s: &Session, id: String, headers: &HeaderMap, attach: bool) -> Response {
    let r = api::audio(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(id.clone()),
    )
    .await;
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
    let mailbox = match messages(p, s).await {
        Ok(Some(list)) => list
            .iter()
            .find(|m| id_of(m).to_string() == id)
            .map(|m| s_of(m, "mailbox").to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attach { "attachment" } else { "inline" },
        file_name(&mailbox, &id)
    );
    let len = bytes.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, body, content_range) = match wanted(range, len) {
        Want::Whole => (StatusCode::OK, bytes, None),
        Want::Part(a, b) => (
            StatusCode::PARTIAL_CONTENT,
            bytes.slice(a..=b),
            Some(format!("bytes {}-{}/{}", a, b, len)),
        ),
        Want::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            Default::default(),
            Some(format!("bytes */{}", len)),
        ),
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("audio/x-wav"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    for (name, value) in [
        (header::CONTENT_DISPOSITION, Some(disposition)),
        (header::CONTENT_RANGE, content_range),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    r
}

/// `GET /voicemail/audio/{id}`: the message for the page's player.
pub async fn audio(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    wav(&p, &s, id, &headers, false).await
}

/// `GET /voicemail/download/{id}`: the message as a file to keep.
pub async fn download(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    wav(&p, &s, id, &headers, true).await
}

/// `POST /voicemail/delete/{id}`: the API's `DELETE /api/voicemail_messages/{id}`, then
/// back to the list (with its filter) and a notice.
pub async fn delete(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Response {
    let r = api::delete(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Path(id),
    )
    .await;
    let (status, v) = answer(r).await;
    let back = |what: &str| {
        let mut pairs = vec![("done", what)];
        if let Some(m) = f.get("mailbox").filter(|m| !m.is_empty()) {
            pairs.insert(0, ("mailbox", m));
        }
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        Redirect::to(&format!("/voicemail?{}", q)).into_response()
    };
    match status {
        StatusCode::OK => back("deleted"),
        StatusCode::NOT_FOUND => back("gone"),
        _ => failed(&s, status, &v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 100), Want::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 100), Want::Part(0, 99));
        assert_eq!(wanted(Some("bytes=10-19"), 100), Want::Part(10, 19));
        assert_eq!(wanted(Some("bytes=90-200"), 100), Want::Part(90, 99));
        assert_eq!(wanted(Some("bytes=-30"), 100), Want::Part(70, 99));
        assert_eq!(wanted(Some("bytes=-300"), 100), Want::Part(0, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Want::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Want::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0), Want::Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-2",
            "bytes=x-",
            "bytes=-y",
        ] {
            assert_eq!(wanted(Some(ignored), 100), Want::Whole, "{}", ignored);
        }
    }

    #[test]
    fn mailboxes_and_names() {
        let m = serde_json::json!({"id": 7, "client": "bluebird", "mailbox": "bob",
            "received": "2026-12-05T10:00:00Z"});
        assert_eq!(mailbox_of(&m), "bluebird/bob");
        assert!(in_mailbox(&m, "bluebird/bob") && in_mailbox(&m, "bob"));
        assert!(!in_mailbox(&m, "redbird/bob") && !in_mailbox(&m, "alice"));
        assert_eq!(received(&m), "2026-12-05 10:00:00 UTC");
        assert_eq!(file_name("bob", "7"), "voicemail-bob-7.wav");
        assert_eq!(file_name("a \"b\"/c", "7"), "voicemail-a__b__c-7.wav");
        assert_eq!(file_name("", "7"), "voicemail-7.wav");
    }
}

//! Voicemail messages: the API's `GET /api/voicemail_messages` as a table, newest first,
//! with a mailbox filter; each message playable in the page (an `<audio>` whose source is
//! `/voicemail/audio/{id}`: the API's `…/{id}/audio` with byte ranges, so the player can
//! seek), downloadable (`/voicemail/download/{id}`, an attachment) and deleted by a form
//! with the CSRF token (the API's `DELETE`) where the administrator may change
//! `voicemail_messages`. Rights and scope are the API's: another client's message is `404`.
//! The player, download, ranges, paging and delete are `playback.rs`'s, shared with the
//! recordings page.

use super::layout;
use super::playback::{self as pb, s_of, Shelf, Shelved};
use super::who::Session;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::BTreeMap;

/// The voicemail page (`playback.rs`'s handlers serve it).
pub struct Voicemail;

impl Shelved for Voicemail {
    const SHELF: Shelf = Shelf {
        title: "Voicemail",
        base: "/voicemail",
        resource: "voicemail_messages",
        filter: "mailbox",
        one: "message",
        file: ("voicemail", "mailbox"),
        off: "Voicemail is off on this server.",
    };

    pb::api_handlers!(crate::api::voicemail);

    fn body(s: &Session, q: &BTreeMap<String, String>, all: &[Value]) -> Markup {
        body(s, q, all)
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

fn table(s: &Session, shown: &[&Value], filter: &str) -> Markup {
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
                    @let id = pb::id_of(m);
                    @let caller = s_of(m, "caller");
                    @let name = s_of(m, "caller_name");
                    tr id={ "message-" (id) } {
                        td data-label="received" { (pb::when(m, "received")) }
                        td data-label="mailbox" {
                            @if operator { (mailbox_of(m)) } @else { (s_of(m, "mailbox")) }
                        }
                        td data-label="caller" {
                            @if !name.is_empty() && name != caller { (name) " " span.muted { (caller) } }
                            @else { (caller) }
                        }
                        td.num data-label="length" { (pb::length(m)) }
                        td data-label="state" {
                            @if m.get("new") == Some(&Value::Bool(true)) { span.badge.ok { "new" } }
                            @else { span.badge { "old" } }
                        }
                        td data-label="listen" {
                            (pb::player(&Voicemail::SHELF, id, &format!("Message from {}", caller)))
                        }
                        td.actions-cell data-label="actions" { (pb::actions(&Voicemail::SHELF, s, id, filter)) }
                    }
                }
            }
        } }
    }
}

/// The list (`?mailbox=client/name`, `?page=`).
fn body(s: &Session, q: &BTreeMap<String, String>, all: &[Value]) -> Markup {
    let shelf = &Voicemail::SHELF;
    let filter = q.get("mailbox").map(|m| m.trim()).unwrap_or("").to_string();
    let boxes = pb::distinct(all, mailbox_of);
    let found: Vec<&Value> = all
        .iter()
        .filter(|m| filter.is_empty() || in_mailbox(m, &filter))
        .collect();
    let (total, unheard) = (
        found.len(),
        found
            .iter()
            .filter(|m| m.get("new") == Some(&Value::Bool(true)))
            .count(),
    );
    let paged = pb::paged(found, q);
    let label = |b: &str| {
        if s.principal.is_operator() {
            b.to_string()
        } else {
            b.split_once('/').map(|(_, n)| n).unwrap_or(b).to_string()
        }
    };
    html! {
        (pb::filter_form(shelf, "Mailbox", &boxes, &filter, label))
        @if total == 0 {
            @if filter.is_empty() {
                (layout::empty("No voicemail messages.", Some(html! {
                    "Messages callers leave appear here, to play, download or delete."
                })))
            } @else {
                (layout::empty(&format!("No messages in mailbox {}.", label(&filter)),
                    Some(html! { a href="/voicemail" { "Show every mailbox" } })))
            }
        } @else {
            (table(s, &paged.shown, &filter))
            (pb::pager(shelf, &paged, &filter, html! {
                (total) @if total == 1 { " message, " } @else { " messages, " } (unheard) " new"
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes() {
        let m = serde_json::json!({"id": 7, "client": "bluebird", "mailbox": "bob"});
        assert_eq!(mailbox_of(&m), "bluebird/bob");
        assert!(in_mailbox(&m, "bluebird/bob") && in_mailbox(&m, "bob"));
        assert!(!in_mailbox(&m, "redbird/bob") && !in_mailbox(&m, "alice"));
    }
}

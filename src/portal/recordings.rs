//! Call recordings: the API's `GET /api/recordings` as a table, newest first (when it
//! started, the client for operators, with a client filter, caller, callee, length, the
//! DDI's or on demand and by whom, a note when the writer lost packets); each playable in
//! the page (`/recordings/audio/{id}`, byte ranges), downloadable
//! (`/recordings/download/{id}`) and deleted by a form with the CSRF token where the
//! administrator may change `recordings` — that machinery is `playback.rs`'s, shared with
//! the voicemail page. A client that keeps its recordings (`allow_recording_removal =
//! false`) makes the API refuse the delete (`403`): the list comes again with its reason.

use super::layout;
use super::playback::{self as pb, s_of, Shelf, Shelved};
use super::who::Session;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::BTreeMap;

/// The recordings page (`playback.rs`'s handlers serve it).
pub struct Recordings;

impl Shelved for Recordings {
    const SHELF: Shelf = Shelf {
        title: "Recordings",
        base: "/recordings",
        resource: "recordings",
        filter: "client",
        one: "recording",
        file: ("recording", "client"),
        off: "Call recording is off on this server.",
    };

    pb::api_handlers!(crate::api::recordings);

    fn body(s: &Session, q: &BTreeMap<String, String>, all: &[Value]) -> Markup {
        body(s, q, all)
    }
}

/// How a recording came to be, as the table says it.
fn kind(r: &Value) -> &'static str {
    match s_of(r, "kind") {
        "ddi" => "DDI",
        "ondemand" => "on demand",
        _ => "other",
    }
}

fn table(s: &Session, shown: &[&Value], filter: &str) -> Markup {
    let operator = s.principal.is_operator();
    html! {
        div.table-wrap { table.cards-sm #recordings {
            thead { tr {
                th scope="col" { "started" }
                @if operator { th scope="col" { "client" } }
                th scope="col" { "caller" } th scope="col" { "callee" }
                th.num scope="col" { "length" } th scope="col" { "kind" }
                th scope="col" { "listen" } th scope="col" { span.muted { "actions" } }
            } }
            tbody {
                @for r in shown {
                    @let id = pb::id_of(r);
                    @let (caller, callee) = (s_of(r, "caller"), s_of(r, "callee"));
                    @let who = s_of(r, "who");
                    tr id={ "recording-" (id) } {
                        td data-label="started" { (pb::when(r, "start")) }
                        @if operator { td data-label="client" { (s_of(r, "client")) } }
                        td data-label="caller" { (caller) }
                        td data-label="callee" { (callee) }
                        td.num data-label="length" { (pb::length(r)) }
                        // (one box: the cell is a flex row at phone width)
                        td data-label="kind" { div {
                            span.badge { (kind(r)) }
                            @if !who.is_empty() { " " span.muted { "by the " (who) } }
                            @if let Some(why) = r.get("incomplete").and_then(Value::as_str) {
                                br;
                                span.badge.warn title=(why) { "incomplete" }
                                " " span.muted { (why) }
                            }
                        } }
                        td data-label="listen" {
                            (pb::player(&Recordings::SHELF, id, &format!("Recording of {} to {}", caller, callee)))
                        }
                        td.actions-cell data-label="actions" { (pb::actions(&Recordings::SHELF, s, id, filter)) }
                    }
                }
            }
        } }
    }
}

/// The list (`?client=` for operators, `?page=`).
fn body(s: &Session, q: &BTreeMap<String, String>, all: &[Value]) -> Markup {
    let shelf = &Recordings::SHELF;
    let operator = s.principal.is_operator();
    let filter = if operator {
        q.get("client").map(|c| c.trim()).unwrap_or("")
    } else {
        ""
    };
    let found: Vec<&Value> = all
        .iter()
        .filter(|r| filter.is_empty() || s_of(r, "client") == filter)
        .collect();
    let total = found.len();
    let paged = pb::paged(found, q);
    let clients = pb::distinct(all, |r| s_of(r, "client").to_string());
    html! {
        @if operator {
            (pb::filter_form(shelf, "Client", &clients, filter, str::to_string))
        }
        @if total == 0 {
            @if filter.is_empty() {
                (layout::empty("No call recordings.", Some(html! {
                    "Calls to a DDI that records, and calls recorded on demand, appear here "
                    "to play, download or delete."
                })))
            } @else {
                (layout::empty(&format!("No recordings of client {}.", filter),
                    Some(html! { a href="/recordings" { "Show every client" } })))
            }
        } @else {
            (table(s, &paged.shown, filter))
            (pb::pager(shelf, &paged, filter, html! {
                (total) @if total == 1 { " recording" } @else { " recordings" }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Access;

    #[test]
    fn kinds() {
        assert_eq!(kind(&serde_json::json!({"kind": "ondemand"})), "on demand");
        assert_eq!(kind(&serde_json::json!({"kind": "ddi"})), "DDI");
    }

    fn session(principal: crate::api::scope::Principal) -> Session {
        Session {
            principal,
            csrf: "t".repeat(64),
        }
    }

    #[test]
    fn the_list_as_each_administrator_sees_it() {
        use crate::api::scope::Principal;
        let all = vec![
            serde_json::json!({"id": 1, "client": "bluebird", "caller": "alice", "callee": "bob",
                "start": "2026-12-05T10:00:00Z", "duration_s": 61.6, "kind": "ddi"}),
            serde_json::json!({"id": 2, "client": "redbird", "caller": "carol", "callee": "200",
                "start": "2026-12-05T11:00:00Z", "duration_s": 3.0, "kind": "ondemand",
                "who": "caller (INFO)", "incomplete": "4 packets lost by a slow writer"}),
        ];
        let op = session(Principal::Operator {
            name: "admin".into(),
        });
        let html = body(&op, &BTreeMap::new(), &all).into_string();
        assert!(html.find("recording-2").unwrap() < html.find("recording-1").unwrap());
        for part in [
            "<th scope=\"col\">client</th>",
            "by the caller (INFO)",
            "incomplete",
            "4 packets lost",
            "1:02",
            "src=\"/recordings/audio/1\"",
            "id=\"delete-2\"",
            "2 recordings",
        ] {
            assert!(html.contains(part), "{}: {}", part, html);
        }
        let q = BTreeMap::from([("client".to_string(), "redbird".to_string())]);
        let html = body(&op, &q, &all).into_string();
        assert!(!html.contains("recording-1") && html.contains("recording-2"));
        assert!(
            html.contains("name=\"client\" value=\"redbird\""),
            "{}",
            html
        );
        let reader = session(Principal::Client {
            name: "rita".into(),
            client: "bluebird".into(),
            rights: Some(BTreeMap::from([("recordings".to_string(), Access::Read)])),
        });
        // (the API gives a client's administrator its own only; the filter is not its)
        let own = &all[..1];
        let html = body(&reader, &q, own).into_string();
        assert!(html.contains("recording-1") && html.contains("id=\"download-1\""));
        assert!(
            !html.contains("delete-1") && !html.contains(">client<"),
            "{}",
            html
        );
        let html = body(&reader, &BTreeMap::new(), &[]).into_string();
        assert!(html.contains("No call recordings."));
    }
}

//! The audit trail: the API's `GET /api/audit` a page at a time, newest first — who changed
//! what, and when. An operator sees every entry; a client's administrator (with the
//! `audit` right) only its client's, as the API answers it.

use super::bridge::{self, answer};
use super::layout;
use super::who::Session;
use super::Portal;
use crate::api::live as api;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;
use serde_json::Value;
use std::collections::BTreeMap;

const PER_PAGE: usize = 50;

fn s_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `GET /audit`.
pub async fn page(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let page = q
        .get("page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let aq = BTreeMap::from([
        ("offset".to_string(), ((page - 1) * PER_PAGE).to_string()),
        ("limit".to_string(), PER_PAGE.to_string()),
    ]);
    let r = api::audit_trail(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Query(aq),
    )
    .await;
    let (status, v) = answer(r).await;
    if status != StatusCode::OK {
        let status = if status.is_success() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        return layout::error_page(
            Some(&s),
            status,
            &format!("{}.", bridge::message(status, &v)),
        );
    }
    let total = v.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let operator = s.principal.is_operator();
    let body = html! {
        @if items.is_empty() {
            (layout::empty("Nothing changed yet.", Some(html! {
                "Every change made through the portal, the API or the command line is listed here."
            })))
        } @else {
            div.table-wrap { table.cards-sm #audit {
                thead { tr {
                    th scope="col" { "when" } th scope="col" { "who" }
                    th scope="col" { "action" } th scope="col" { "resource" }
                    th scope="col" { "id" }
                    @if operator { th scope="col" { "client" } }
                } }
                tbody {
                    @for e in &items {
                        tr {
                            td data-label="when" { (layout::time(e.get("at").and_then(Value::as_u64).unwrap_or(0))) }
                            td data-label="who" { (s_of(e, "who")) }
                            td data-label="action" { (s_of(e, "action").replace('_', " ")) }
                            td data-label="resource" { (s_of(e, "resource")) }
                            td.mono data-label="id" { (s_of(e, "id")) }
                            @if operator { td data-label="client" { (s_of(e, "client")) } }
                        }
                    }
                }
            } }
            div.pager {
                span { (total) " changes" @if pages > 1 { " · page " (page) " of " (pages) } }
                @if page > 1 { a href={ "/audit?page=" (page - 1) } rel="prev" { "← Newer" } }
                @if page < pages { a href={ "/audit?page=" (page + 1) } rel="next" { "Older →" } }
            }
        }
    };
    layout::page(&s, "Audit trail", "/audit", body).into_response()
}

//! Call records: the API's `GET /api/cdrs` with its filters (client, days, direction,
//! disposition) as a form, a page at a time, and its CSV for download with the same
//! filters.

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
const DIRECTIONS: [&str; 3] = ["inbound", "outbound", "internal"];
/// The common dispositions, suggested (any other the records hold may be typed).
const DISPOSITIONS: [&str; 12] = [
    "answered",
    "hung_up",
    "busy",
    "no_answer",
    "cancelled",
    "not_found",
    "rejected",
    "failed",
    "not_registered",
    "unreachable",
    "max_calls",
    "daily_limit",
];

/// A day (`2026-12-05`) as the start of that day in UTC, or of the next one (`to`, so the
/// day itself is included).
fn day(s: &str, next: bool) -> Option<String> {
    let d: jiff::civil::Date = s.trim().parse().ok()?;
    let d = if next { d.tomorrow().ok()? } else { d };
    Some(format!("{}T00:00:00Z", d))
}

/// The page's filters as the API's query (`page` aside).
fn api_query(q: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for k in ["client", "direction", "disposition"] {
        if let Some(v) = q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            out.insert(k.to_string(), v.to_string());
        }
    }
    for (k, next) in [("from", false), ("to", true)] {
        if let Some(v) = q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            let t = day(v, next).ok_or_else(|| format!("{}: expected a day like 2026-12-05", k))?;
            out.insert(k.to_string(), t);
        }
    }
    Ok(out)
}

fn s_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `GET /cdrs`.
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
    let (mut aq, problem) = match api_query(&q) {
        Ok(aq) => (aq, None),
        Err(e) => (BTreeMap::new(), Some(e)),
    };
    let filters = aq.clone();
    aq.insert("offset".into(), ((page - 1) * PER_PAGE).to_string());
    aq.insert("limit".into(), PER_PAGE.to_string());
    let r = api::cdrs(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Query(aq),
    )
    .await;
    let (status, v) = answer(r).await;
    if status != StatusCode::OK {
        return layout::error_page(
            Some(&s),
            if status.is_success() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                status
            },
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
    // the page's own query, for the CSV and the pages
    let own: Vec<(&str, &str)> = ["client", "from", "to", "direction", "disposition"]
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*k, v.as_str()))
        })
        .collect();
    let link = |extra: Option<usize>| {
        let mut pairs = own.clone();
        let n = extra.map(|n| n.to_string());
        if let Some(n) = &n {
            pairs.push(("page", n));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    };
    let val = |k: &str| q.get(k).cloned().unwrap_or_default();
    let operator = s.principal.is_operator();
    let clients: Vec<String> = if operator {
        p.api
            .snapshot
            .load()
            .model
            .clients
            .iter()
            .map(|c| c.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let body = html! {
        @if let Some(e) = &problem { p.alert.error role="alert" { (e) } }
        form.toolbar.panel method="get" action="/cdrs" aria-label="Filters" {
            @if operator {
                label for="client" { "Client" }
                select #client name="client" {
                    option value="" { "all" }
                    @for c in &clients { option value=(c) selected[val("client") == *c] { (c) } }
                }
            }
            label for="from" { "From" }
            input #from type="date" name="from" value=(val("from"));
            label for="to" { "To" }
            input #to type="date" name="to" value=(val("to"));
            label for="direction" { "Direction" }
            select #direction name="direction" {
                option value="" { "any" }
                @for d in DIRECTIONS { option value=(d) selected[val("direction") == d] { (d) } }
            }
            label for="disposition" { "Disposition" }
            input #disposition type="text" name="disposition" value=(val("disposition"))
                list="dispositions" placeholder="any" size="12";
            datalist #dispositions { @for d in DISPOSITIONS { option value=(d) {} } }
            button.primary type="submit" { "Filter" }
            span.grow {}
            a.button #csv href={ "/cdrs.csv?" (link(None)) } download="cdrs.csv" { "Download CSV" }
        }
        @if items.is_empty() {
            (layout::empty(if filters.is_empty() { "No call records yet." } else { "No call records match these filters." }, None))
        } @else {
            div.table-wrap { table.cards-sm {
                thead { tr {
                    th scope="col" { "start" } th scope="col" { "client" }
                    th scope="col" { "caller" } th scope="col" { "callee" }
                    th scope="col" { "direction" } th scope="col" { "disposition" }
                    th.num scope="col" { "SIP" } th.num scope="col" { "duration" }
                    th.num scope="col" { "price" }
                } }
                tbody {
                    @for c in &items {
                        @let disp = s_of(c, "disposition");
                        tr {
                            td data-label="start" { (layout::time(c.get("start").and_then(Value::as_u64).unwrap_or(0))) }
                            td data-label="client" { (s_of(c, "client")) }
                            td data-label="caller" { (s_of(c, "caller")) }
                            td data-label="callee" { (s_of(c, "callee")) }
                            td data-label="direction" { (s_of(c, "direction")) }
                            td data-label="disposition" {
                                @if c.get("answer").is_some_and(|a| !a.is_null()) { span.badge.ok { (disp.replace('_', " ")) } }
                                @else { span.badge.bad { (disp.replace('_', " ")) } }
                            }
                            td.num data-label="SIP" { (c.get("sip_code").and_then(Value::as_u64).unwrap_or(0)) }
                            td.num data-label="duration" { (layout::duration(c.get("duration").and_then(Value::as_u64).unwrap_or(0))) }
                            td.num data-label="price" { (s_of(c, "price")) " " (s_of(c, "currency")) }
                        }
                    }
                }
            } }
            div.pager {
                span { (total) " records" @if pages > 1 { " · page " (page) " of " (pages) } }
                @if page > 1 { a href={ "/cdrs?" (link(Some(page - 1))) } rel="prev" { "← Newer" } }
                @if page < pages { a href={ "/cdrs?" (link(Some(page + 1))) } rel="next" { "Older →" } }
            }
        }
    };
    layout::page(&s, "Call records", "/cdrs", body).into_response()
}

/// `GET /cdrs.csv`: the API's CSV (at most 1,000 records, newest first) for the filters.
pub async fn csv(
    State(p): State<Portal>,
    Extension(s): Extension<Session>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut aq = match api_query(&q) {
        Ok(aq) => aq,
        Err(e) => return layout::error_page(Some(&s), StatusCode::BAD_REQUEST, &e),
    };
    aq.insert("format".into(), "csv".into());
    aq.insert("limit".into(), "1000".into());
    let r = api::cdrs(
        State(p.api.clone()),
        Extension(s.principal.clone()),
        Query(aq),
    )
    .await;
    if r.status().is_success() {
        return r;
    }
    let (status, v) = answer(r).await;
    layout::error_page(
        Some(&s),
        status,
        &format!("{}.", bridge::message(status, &v)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_the_apis_times() {
        assert_eq!(
            day("2026-12-05", false).as_deref(),
            Some("2026-12-05T00:00:00Z")
        );
        assert_eq!(
            day("2026-12-31", true).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(day("yesterday", false), None);
        let q: BTreeMap<String, String> =
            [("from", "2026-01-02"), ("direction", ""), ("page", "3")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let aq = api_query(&q).unwrap();
        assert_eq!(aq.len(), 1);
        assert_eq!(aq["from"], "2026-01-02T00:00:00Z");
    }
}

//! The dashboard: what is happening now (registrations, calls in progress, relay ports,
//! refreshed every 5 s), the last 24 hours' calls per hour with the failed ones and their
//! commonest causes, and today's spend against the daily limit of the clients that bill.
//! Everything is what the administrator may see: a client administrator its own client's.

use super::bridge::answer;
use super::chart::{self, Hour};
use super::layout;
use super::who::Session;
use super::Portal;
use crate::api::{live, system};
use crate::auth::nonce::now_secs;
use crate::model::{Access, Cdr};
use crate::store::cdrs::CdrFilter;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::BTreeMap;

/// Records read for the chart at most (a day of a busy server).
const MAX_RECORDS: usize = 200_000;

/// The length of a JSON list an API handler answered (None: not allowed, or no list).
async fn count(r: Response) -> Option<usize> {
    match answer(r).await {
        (StatusCode::OK, Value::Array(l)) => Some(l.len()),
        _ => None,
    }
}

fn card(label: &str, value: Option<String>, sub: Option<String>, href: Option<&str>) -> Markup {
    html! {
        div.card {
            div.label {
                @match href { Some(h) => a href=(h) { (label) }, None => (label) }
            }
            div.value { (value.unwrap_or_else(|| "—".into())) }
            @if let Some(s) = sub { div.sub { (s) } }
        }
    }
}

/// The cards of the moment (polled).
async fn now_cards(p: &Portal, s: &Session) -> Markup {
    let pr = &s.principal;
    let (api, ext) = (State(p.api.clone()), Extension(pr.clone()));
    let regs = if pr.may("registrations", Access::Read) {
        count(live::registrations(api.clone(), ext.clone()).await).await
    } else {
        None
    };
    let (calls, talking) = if pr.may("calls", Access::Read) {
        match answer(live::calls(api.clone(), ext.clone()).await).await {
            (StatusCode::OK, Value::Array(l)) => {
                let talking = l.iter().filter(|c| c["state"] == "answered").count();
                (Some(l.len()), talking)
            }
            _ => (None, 0),
        }
    } else {
        (None, 0)
    };
    let ports = if pr.is_operator() {
        match answer(system::media(api, ext).await).await {
            (StatusCode::OK, v) => v["port_pairs_in_use"].as_u64(),
            _ => None,
        }
    } else {
        None
    };
    html! {
        div.cards #now hx-get="/dashboard/live" hx-trigger="every 5s" hx-swap="outerHTML" {
            (card("Registrations now", regs.map(|n| n.to_string()), Some("phones and friends registered".into()),
                pr.may("registrations", Access::Read).then_some("/registrations")))
            (card("Calls in progress", calls.map(|n| n.to_string()), Some(format!("{} answered", talking)),
                pr.may("calls", Access::Read).then_some("/calls")))
            @if pr.is_operator() {
                (card("Relay ports in use", ports.map(|n| n.to_string()), Some("port pairs of the media relay".into()), None))
            }
        }
    }
}

/// `GET /dashboard/live`: the cards alone.
pub async fn live(State(p): State<Portal>, Extension(s): Extension<Session>) -> Response {
    now_cards(&p, &s).await.into_response()
}

/// The last 24 hours: calls per hour and the commonest failures.
struct Day {
    first: u64,
    hours: Vec<Hour>,
    causes: Vec<(String, u16, usize)>,
    total: usize,
    truncated: bool,
}

fn day_of(records: &[Cdr], first: u64, truncated: bool) -> Day {
    let mut hours = vec![Hour::default(); 24];
    let mut causes: BTreeMap<(String, u16), usize> = BTreeMap::new();
    for c in records {
        let Some(i) = c.start.checked_sub(first).map(|d| (d / 3600) as usize) else {
            continue;
        };
        let Some(h) = hours.get_mut(i) else { continue };
        if c.answer.is_some() {
            h.answered += 1;
        } else {
            h.failed += 1;
            *causes
                .entry((c.disposition.clone(), c.sip_code))
                .or_default() += 1;
        }
    }
    let mut causes: Vec<(String, u16, usize)> = causes
        .into_iter()
        .map(|((d, code), n)| (d, code, n))
        .collect();
    causes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    causes.truncate(5);
    Day {
        first,
        hours,
        causes,
        total: records.len(),
        truncated,
    }
}

/// The records of the last 24 hours the administrator sees (its client's for a client
/// administrator, as `GET /api/cdrs` gives them).
async fn last_day(p: &Portal, s: &Session) -> Option<Day> {
    if !s.principal.may("cdrs", Access::Read) {
        return None;
    }
    let first = (now_secs() / 3600).saturating_sub(23) * 3600;
    let f = CdrFilter {
        client: s.principal.client().map(str::to_string),
        from: Some(first),
        ..Default::default()
    };
    let store = p.api.store.clone();
    let page = tokio::task::spawn_blocking(move || store.cdr_page(&f, 0, MAX_RECORDS)).await;
    match page {
        Ok(Ok((total, list))) => Some(day_of(&list, first, total > list.len())),
        Ok(Err(e)) => {
            tracing::warn!("portal: call records: {}", e);
            None
        }
        Err(_) => None,
    }
}

fn spend(list: &[Value]) -> Markup {
    let billing: Vec<&Value> = list
        .iter()
        .filter(|u| {
            !u["billing_method"]
                .as_str()
                .unwrap_or("none")
                .eq_ignore_ascii_case("none")
        })
        .collect();
    let num = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    html! {
        @if billing.is_empty() {
            (layout::empty("No client bills its calls.", None))
        } @else {
            div.table-wrap { table.cards-sm {
                thead { tr {
                    th scope="col" { "client" } th.num scope="col" { "spent today" }
                    th.num scope="col" { "daily limit" } th scope="col" { "of the limit" }
                    th.num scope="col" { "balance" } th scope="col" { "state" }
                } }
                tbody {
                    @for u in billing {
                        @let cur = u["currency"].as_str().unwrap_or("");
                        tr {
                            td data-label="client" { (u["client"].as_str().unwrap_or("")) }
                            td.num data-label="spent today" { (u["spent_today"].as_str().unwrap_or("0")) " " (cur) }
                            td.num data-label="daily limit" {
                                @match u["max_daily_usage"].as_str() { Some(m) => { (m) " " (cur) }, None => "none" }
                            }
                            td data-label="of the limit" {
                                @if let (Some(spent), Some(max)) = (num(&u["spent_today"]), num(&u["max_daily_usage"])) {
                                    meter min="0" max=(max) value=(spent.min(max)) high=(max * 0.8) optimum="0"
                                        title={ (u["spent_today"].as_str().unwrap_or("")) " of " (u["max_daily_usage"].as_str().unwrap_or("")) } {}
                                }
                            }
                            td.num data-label="balance" { (u["balance"].as_str().unwrap_or("")) " " (cur) }
                            td data-label="state" {
                                @match u["blocked"].as_str() {
                                    Some(b) => span.badge.bad { "blocked: " (b.replace('_', " ")) },
                                    None => span.badge.ok { "ok" },
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// `GET /`.
pub async fn page(State(p): State<Portal>, Extension(s): Extension<Session>) -> Response {
    let pr = &s.principal;
    let cards = now_cards(&p, &s).await;
    let day = last_day(&p, &s).await;
    let usage = if pr.may("usage", Access::Read) {
        let r = live::usage(
            State(p.api.clone()),
            Extension(pr.clone()),
            Query(BTreeMap::new()),
        )
        .await;
        match answer(r).await {
            (StatusCode::OK, Value::Array(l)) => Some(l),
            _ => None,
        }
    } else {
        None
    };
    let body = html! {
        (cards)
        @if let Some(d) = &day {
            div.grid2 {
                section.panel aria-labelledby="h-hours" {
                    h2 #h-hours { "Calls per hour, last 24 hours" }
                    (layout::raw(chart::hourly(&d.hours, d.first)))
                    div.legend {
                        span { span.sw.ok {} "answered" }
                        span { span.sw.bad {} "failed or not answered" }
                        span { (d.total) " calls" @if d.truncated { " (the newest only)" } }
                    }
                }
                section.panel aria-labelledby="h-causes" {
                    h2 #h-causes { "Top failure causes, last 24 hours" }
                    @if d.causes.is_empty() {
                        (layout::empty("No failed call.", None))
                    } @else {
                        table {
                            thead { tr { th scope="col" { "cause" } th.num scope="col" { "SIP" } th.num scope="col" { "calls" } } }
                            tbody {
                                @for (cause, code, n) in &d.causes {
                                    tr {
                                        td { a href={ "/cdrs?disposition=" (cause) } { (cause.replace('_', " ")) } }
                                        td.num { (code) }
                                        td.num { (n) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(list) = &usage {
            section aria-labelledby="h-spend" {
                h2 #h-spend { "Today's spend" }
                (spend(list))
            }
        }
    };
    layout::page(&s, "Dashboard", "/", body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr(start: u64, answered: bool, disposition: &str, code: u16) -> Cdr {
        Cdr {
            call_id: "x".into(),
            client: "c".into(),
            caller: "a".into(),
            callee: "b".into(),
            direction: "internal".into(),
            route: "user".into(),
            start,
            answer: answered.then_some(start + 1),
            end: start + 5,
            duration: 4,
            disposition: disposition.into(),
            sip_code: code,
            price: None,
            currency: None,
            recording: None,
            transferred_by: None,
            carrier: None,
            carriers_tried: Vec::new(),
        }
    }

    #[test]
    fn a_day_counts_each_hour_and_the_failures() {
        let first = 1_000 * 3600;
        let list = vec![
            cdr(first + 10, true, "answered", 200),
            cdr(first + 3600 * 23 + 5, false, "busy", 486),
            cdr(first + 3600 * 23 + 6, false, "busy", 486),
            cdr(first + 3600 * 2, false, "no_answer", 480),
            cdr(first - 1, false, "busy", 486),
        ];
        let d = day_of(&list, first, false);
        assert_eq!(
            d.hours[0],
            Hour {
                answered: 1,
                failed: 0
            }
        );
        assert_eq!(d.hours[23].failed, 2);
        assert_eq!(d.causes[0], ("busy".to_string(), 486, 2));
        assert_eq!(d.causes.len(), 2);
    }
}

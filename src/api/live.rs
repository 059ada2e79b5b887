//! Live state and history through the API: registrations (list, remove), calls in
//! progress (list, hang up), the probed peers' health, call records (filters, CSV), the
//! audit trail. A client administrator sees and acts on its own client's only; another
//! client's answers `404`.

use super::reply::{error, internal, refused};
use super::scope::Principal;
use super::Api;
use crate::auth::nonce::now_secs;
use crate::model::{rfc3339, Access, AuditEntry, Cdr};
use crate::store::cdrs::CdrFilter;
use crate::store::writer::Op;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use std::collections::BTreeMap;

const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// `offset` and `limit` of a listing (default 0 and 100, at most 1,000).
pub fn paging(q: &BTreeMap<String, String>) -> Result<(usize, usize), Response> {
    let num = |k: &str, default: usize| match q.get(k) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("{}: expected a whole number, got {:?}", k, v),
            )
        }),
    };
    Ok((num("offset", 0)?, num("limit", PAGE)?.min(MAX_PAGE)))
}

/// Records an action of `p` in the audit trail (a failure is logged, not returned).
pub(super) fn audit(
    api: &Api,
    p: &Principal,
    action: &str,
    resource: &str,
    id: &str,
    client: &str,
) {
    let e = AuditEntry {
        at: now_secs(),
        who: p.name().into(),
        action: action.into(),
        resource: resource.into(),
        id: id.into(),
        client: Some(client.into()),
    };
    if let Err(err) = api.store.audit(&e) {
        tracing::error!("audit trail: {}", err);
    }
}

pub async fn registrations(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = refused(&p, "registrations", Access::Read) {
        return r;
    }
    let now = now_secs();
    let list: Vec<serde_json::Value> = api
        .location
        .all()
        .iter()
        .filter(|b| b.expires_at > now && p.sees(Some(&b.client)))
        .map(|b| {
            json!({
                "aor": b.aor,
                "client": b.client,
                "contact": b.contact,
                "flow": b.flow.to_string(),
                // A connection-bound binding whose connection closed cannot be reached
                // until the phone registers again.
                "reachable": api.b2bua.out.transports.is_open(&b.flow),
                "expires_in": b.expires_at - now,
                "user_agent": b.user_agent,
            })
        })
        .collect();
    Json(list).into_response()
}

/// Removes every binding of an address of record (`sip:` may be left out), or only the
/// one whose contact is `?contact=`.
pub async fn unregister(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(aor): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, "registrations", Access::Write) {
        return r;
    }
    let aor = if aor.starts_with("sip:") || aor.starts_with("sips:") {
        aor
    } else {
        format!("sip:{}", aor)
    };
    let contact = q.get("contact").cloned();
    let client = api
        .location
        .lookup(&aor, 0)
        .first()
        .map(|b| b.client.clone());
    let Some(client) = client.filter(|c| p.sees(Some(c))) else {
        return error(StatusCode::NOT_FOUND, "no registration of that address");
    };
    let gone: Vec<String> = api.location.update(&aor, |v| {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(v)
            .into_iter()
            .partition(|b| contact.as_ref().is_none_or(|c| *c == b.contact));
        *v = kept;
        gone.iter().map(|b| b.key()).collect()
    });
    if gone.is_empty() {
        return error(StatusCode::NOT_FOUND, "no registration with that contact");
    }
    let n = gone.len();
    api.writer
        .submit(gone.into_iter().map(Op::Delete).collect(), None);
    audit(&api, &p, "unregister", "registrations", &aor, &client);
    tracing::info!(
        "admin API: {} removed {} binding(s) of {}",
        p.name(),
        n,
        aor
    );
    Json(json!({ "removed": n })).into_response()
}

pub async fn calls(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    if let Some(r) = refused(&p, "calls", Access::Read) {
        return r;
    }
    let list: Vec<_> = api
        .b2bua
        .list()
        .into_iter()
        .filter(|c| p.sees(Some(&c.client)))
        .collect();
    Json(list).into_response()
}

/// The health of the peers probed with OPTIONS (`qualify_interval`): the carriers to who
/// may read carriers (operators), the direct friends to who may read friends (a client
/// administrator its own client's).
pub async fn peers(State(api): State<Api>, Extension(p): Extension<Principal>) -> Response {
    use crate::provision::kinds::Kind;
    use crate::qualify::probe::PeerKind;
    let carriers = p.may(Kind::Carrier.plural(), Access::Read) && p.sees(None);
    let friends = p.may(Kind::Friend.plural(), Access::Read);
    if !carriers && !friends {
        return error(
            StatusCode::FORBIDDEN,
            "this administrator may not read carriers or friends",
        );
    }
    let list: Vec<_> = api
        .b2bua
        .qualify
        .views()
        .into_iter()
        .filter(|v| match v.kind {
            PeerKind::Carrier => carriers,
            PeerKind::Friend => friends && p.sees(v.client.as_deref()),
        })
        .collect();
    Json(list).into_response()
}

/// Hangs up a call in progress (both legs get BYE, or the caller 480 while it rings); its
/// record says `hung_up`.
pub async fn hang_up(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&p, "calls", Access::Write) {
        return r;
    }
    let call = id
        .parse::<u64>()
        .ok()
        .and_then(|id| api.b2bua.list().into_iter().find(|c| c.id == id))
        .filter(|c| p.sees(Some(&c.client)));
    match call.filter(|c| api.b2bua.hang_up(c.id)) {
        Some(c) => {
            audit(&api, &p, "hang_up", "calls", &c.id.to_string(), &c.client);
            tracing::info!("admin API: {} hung up call {}", p.name(), c.id);
            Json(json!({ "hung_up": c.id })).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "no such call in progress"),
    }
}

/// A time in a query: seconds since the epoch or RFC 3339.
fn when(k: &str, v: &str) -> Result<u64, Response> {
    if let Ok(n) = v.parse::<u64>() {
        return Ok(n);
    }
    humantime::parse_rfc3339_weak(v)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "{}: expected seconds since the epoch or a time like 2026-12-05T10:00:00Z, got {:?}",
                    k, v
                ),
            )
        })
}

/// One CSV field, quoted when it needs to be (RFC 4180); a leading `=`, `+`, `-` or `@`
/// is prefixed with `'` so a spreadsheet does not run a caller's number as a formula.
fn csv_field(s: &str) -> String {
    let number = s.len() > 1 && s.bytes().skip(1).all(|b| b.is_ascii_digit());
    let s = if s.starts_with(['=', '+', '-', '@']) && !number {
        format!("'{}", s)
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(list: &[Cdr]) -> String {
    let mut out = String::from(
        "start,answer,end,duration,client,caller,callee,direction,route,disposition,sip_code,price,currency,call_id\r\n",
    );
    for c in list {
        let row = [
            rfc3339(c.start),
            c.answer.map(rfc3339).unwrap_or_default(),
            rfc3339(c.end),
            c.duration.to_string(),
            c.client.clone(),
            c.caller.clone(),
            c.callee.clone(),
            c.direction.clone(),
            c.route.clone(),
            c.disposition.clone(),
            c.sip_code.to_string(),
            c.price.clone().unwrap_or_default(),
            c.currency.clone().unwrap_or_default(),
            c.call_id.clone(),
        ];
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Call records, newest first: `client`, `from`, `to` (start time), `direction`,
/// `disposition`, `offset`, `limit`; `format=csv` for a spreadsheet.
pub async fn cdrs(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, "cdrs", Access::Read) {
        return r;
    }
    let (offset, limit) = match paging(&q) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut f = CdrFilter {
        client: q.get("client").cloned(),
        direction: q.get("direction").cloned(),
        disposition: q.get("disposition").cloned(),
        ..Default::default()
    };
    for (k, slot) in [("from", &mut f.from), ("to", &mut f.to)] {
        if let Some(v) = q.get(k) {
            match when(k, v) {
                Ok(t) => *slot = Some(t),
                Err(r) => return r,
            }
        }
    }
    let csv_wanted = match q.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("format: expected json or csv, got {:?}", other),
            )
        }
    };
    // A client administrator's records are its client's: asking for another's finds none.
    if let Some(own) = p.client() {
        if f.client.as_deref().is_some_and(|c| c != own) {
            f.client = Some(String::new());
        } else {
            f.client = Some(own.to_string());
        }
    }
    let store = api.store.clone();
    let page = tokio::task::spawn_blocking(move || store.cdr_page(&f, offset, limit)).await;
    let (total, list) = match page {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(&e.to_string()),
        Err(e) => return internal(&e.to_string()),
    };
    if csv_wanted {
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"cdrs.csv\"",
                ),
            ],
            csv(&list),
        )
            .into_response();
    }
    Json(json!({ "total": total, "offset": offset, "items": list })).into_response()
}

/// `GET /api/usage`: each client's usage (`policy::usage`): a client administrator sees
/// its own client only; `?client=` one client (404 when it is none the caller sees).
pub async fn usage(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, "usage", Access::Read) {
        return r;
    }
    let snap = api.snapshot.load();
    let now = now_secs();
    let want = q.get("client");
    let list: Vec<_> = snap
        .model
        .clients
        .iter()
        .filter(|c| p.sees(Some(&c.name)))
        .filter(|c| want.is_none_or(|w| *w == c.name))
        .map(|c| api.b2bua.policy.usage(&snap, c, now))
        .collect();
    if let (Some(w), true) = (want, list.is_empty()) {
        return error(StatusCode::NOT_FOUND, &format!("no client {:?}", w));
    }
    Json(list).into_response()
}

/// The audit trail, newest first (a client administrator: its client's entries).
pub async fn audit_trail(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = refused(&p, "audit", Access::Read) {
        return r;
    }
    let (offset, limit) = match paging(&q) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let store = api.store.clone();
    let page = tokio::task::spawn_blocking(move || {
        store.audit_page(|e| p.sees(e.client.as_deref()), offset, limit)
    })
    .await;
    match page {
        Ok(Ok((total, items))) => {
            Json(json!({ "total": total, "offset": offset, "items": items })).into_response()
        }
        Ok(Err(e)) => internal(&e.to_string()),
        Err(e) => internal(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("+34944000100"), "+34944000100");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("-"), "'-");
        // a first character of several bytes
        assert_eq!(csv_field("é1"), "é1");
        assert_eq!(csv_field("+é"), "'+é");
    }
}

//! Who may use the admin API: a bearer token (the generated API token, `[api] token` if
//! set, or a session token from `POST /api/login`), checked by its SHA-256 in constant
//! time; failures throttled per address like SIP digest failures (`auth/ban.rs`, with the
//! `[auth] ban_*` settings, counted apart from SIP's). A valid credential becomes a
//! `Principal` (request extension) for the handlers: the API token is an operator's; a
//! session is its administrator's as stored now (removed → `401`, rights changed → at once).

use super::guard::{has_type, wrong_type, Peer};
use super::reply::error;
use super::scope::Principal;
use super::secrets;
use crate::auth::ban::Bans;
use crate::model::Admin;
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dashmap::DashMap;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Sessions one administrator may hold; its oldest goes when it logs in once more (so
/// that no administrator can fill `MAX_SESSIONS` and lock the others out).
const MAX_PER_ADMIN: usize = 32;

/// Live sessions at most; logins past it are answered 503 until some expire.
const MAX_SESSIONS: usize = 4096;

pub struct Auth {
    /// SHA-256 of each static token accepted.
    tokens: Vec<[u8; 32]>,
    admins: ArcSwap<Vec<Admin>>,
    /// The hash an unknown name is checked against, so it costs what a known one does.
    decoy: String,
    /// SHA-256 of a session token → when it expires, whose it is, and that administrator's
    /// password hash when it logged in (a new password ends its sessions).
    sessions: DashMap<[u8; 32], Session>,
    ttl: Duration,
    bans: Bans,
    /// Password hashing is slow and takes 19 MiB: two at a time.
    hashing: Semaphore,
}

/// Constant-time comparison of two hashes.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The name the API token acts under (it is an operator's).
pub const TOKEN_PRINCIPAL: &str = "api-token";

enum Verdict {
    Missing,
    Wrong,
    Valid(Principal),
}

struct Session {
    until: Instant,
    name: String,
    password_hash: String,
}

fn throttled(bans: &Bans) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed attempts from this address; try again later",
    );
    let secs = bans.duration().as_secs().to_string();
    if let Ok(v) = secs.parse() {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

impl Auth {
    pub fn new(
        tokens: Vec<[u8; 32]>,
        admins: Vec<Admin>,
        session_ttl: Duration,
        bans: Bans,
    ) -> Result<Auth, String> {
        let decoy = secrets::hash_password(&secrets::new_password()?)?;
        Ok(Auth {
            tokens,
            admins: ArcSwap::from_pointee(admins),
            decoy,
            sessions: DashMap::new(),
            ttl: session_ttl,
            bans,
            hashing: Semaphore::new(2),
        })
    }

    fn verdict(&self, headers: &HeaderMap) -> Verdict {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Verdict::Missing;
        };
        let Some(token) = value.to_str().ok().and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
        }) else {
            return Verdict::Wrong;
        };
        let h = secrets::token_hash(token);
        // Every static token is compared, whichever matches.
        let known = self.tokens.iter().fold(false, |ok, t| same(t, &h) | ok);
        if known {
            return Verdict::Valid(Principal::Operator {
                name: TOKEN_PRINCIPAL.into(),
            });
        }
        match self.session(token) {
            Some(p) => Verdict::Valid(p),
            None => Verdict::Wrong,
        }
    }

    /// The administrator of a live session token (the API's bearer, the portal's cookie).
    pub(crate) fn session(&self, token: &str) -> Option<Principal> {
        let h = secrets::token_hash(token);
        // A session is found by its hash: timing tells about the hash, not the token.
        let (name, hash) = match self.sessions.get(&h) {
            Some(s) if Instant::now() < s.until => (s.name.clone(), s.password_hash.clone()),
            _ => return None,
        };
        let admins = self.admins.load();
        match admins.iter().find(|a| a.name == name) {
            Some(a) if a.password_hash == hash => Some(Principal::of(a)),
            // Removed, or its password changed, since it logged in.
            _ => None,
        }
    }

    /// Ends a session (the portal's logout).
    pub(crate) fn end_session(&self, token: &str) {
        self.sessions.remove(&secrets::token_hash(token));
    }

    /// How long a session lasts.
    pub(crate) fn session_ttl(&self) -> Duration {
        self.ttl
    }

    /// `429` when `ip` failed too often (no credential of it is checked then).
    pub(crate) fn throttled(&self, ip: std::net::IpAddr) -> Option<Response> {
        self.bans.is_banned(ip).then(|| throttled(&self.bans))
    }

    /// The administrators as stored now (after a change through the API).
    pub fn set_admins(&self, admins: Vec<Admin>) {
        let current: std::collections::HashSet<(&str, &str)> = admins
            .iter()
            .map(|a| (a.name.as_str(), a.password_hash.as_str()))
            .collect();
        self.sessions
            .retain(|_, s| current.contains(&(s.name.as_str(), s.password_hash.as_str())));
        self.admins.store(std::sync::Arc::new(admins));
    }

    /// Forgets expired sessions and old failure counts.
    pub fn purge(&self) {
        let now = Instant::now();
        self.sessions.retain(|_, s| s.until > now);
        self.bans.purge();
    }
}

/// Every `/api/` route but the login: no valid bearer → `401` (a wrong one counted);
/// an address with too many failures → `429` without a check.
pub async fn require(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    let ip = peer.remote.ip();
    // A valid credential always passes (a 256-bit token cannot be guessed): an address
    // that failed too often is refused only what would be checked again.
    let verdict = auth.verdict(req.headers());
    if !matches!(verdict, Verdict::Valid(_)) && auth.bans.is_banned(ip) {
        return throttled(&auth.bans);
    }
    match verdict {
        Verdict::Valid(p) => {
            let mut req = req;
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Verdict::Missing => error(
            StatusCode::UNAUTHORIZED,
            "credential required: Authorization: Bearer <token>",
        ),
        Verdict::Wrong => {
            auth.bans.fail(ip);
            error(
                StatusCode::UNAUTHORIZED,
                "wrong or expired credential: Authorization: Bearer <token>",
            )
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    name: String,
    password: String,
}

/// `POST /api/login` with `{"name": …, "password": …}` → `{"token": …, "expires_in": …}`;
/// an unknown name and a wrong password get the same answer after the same work.
pub async fn login(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = peer.remote.ip();
    if let Some(r) = auth.throttled(ip) {
        return r;
    }
    if !has_type(&headers, "application/json") {
        return wrong_type("application/json");
    }
    let Ok(creds) = serde_json::from_slice::<Login>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"name\": \"…\", \"password\": \"…\"}",
        );
    };
    match open_session(&auth, ip, creds.name, creds.password).await {
        Ok(token) => {
            Json(json!({ "token": token, "expires_in": auth.ttl.as_secs() })).into_response()
        }
        Err(r) => r,
    }
}

/// Checks a name and password sent from `ip` and opens a session: its token (for
/// `POST /api/login` and the portal's login form alike). A failure is counted against
/// `ip`; the error answer is the API's (`401`, `503`, `500`). The caller checks
/// [`Auth::throttled`] first.
pub(crate) async fn open_session(
    auth: &Arc<Auth>,
    ip: std::net::IpAddr,
    name: String,
    password: String,
) -> Result<String, Response> {
    let creds = Login { name, password };
    let Ok(_permit) = auth.hashing.acquire().await else {
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"));
    };
    let a = auth.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let admins = a.admins.load();
        let phc = admins
            .iter()
            .find(|o| o.name == creds.name)
            .map(|o| o.password_hash.as_str());
        // An unknown name is checked against the decoy, and fails.
        let ok = secrets::verify_password(&creds.password, phc.unwrap_or(&a.decoy));
        phc.filter(|_| ok).map(|h| (creds.name, h.to_string()))
    })
    .await;
    let (name, password_hash) = match checked {
        Ok(Some(x)) => x,
        Ok(None) => {
            auth.bans.fail(ip);
            return Err(error(StatusCode::UNAUTHORIZED, "wrong name or password"));
        }
        Err(_) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "password check failed",
            ))
        }
    };
    let now = Instant::now();
    let mine: Vec<([u8; 32], Instant)> = auth
        .sessions
        .iter()
        .filter(|s| s.name == name)
        .map(|s| (*s.key(), s.until))
        .collect();
    if mine.len() >= MAX_PER_ADMIN {
        if let Some((oldest, _)) = mine.iter().min_by_key(|(_, until)| *until) {
            auth.sessions.remove(oldest);
        }
    }
    if auth.sessions.len() >= MAX_SESSIONS {
        auth.sessions.retain(|_, s| s.until > now);
        if auth.sessions.len() >= MAX_SESSIONS {
            return Err(error(StatusCode::SERVICE_UNAVAILABLE, "too many sessions"));
        }
    }
    let token = match secrets::new_token() {
        Ok(t) => t,
        Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e)),
    };
    auth.sessions.insert(
        secrets::token_hash(&token),
        Session {
            until: now.checked_add(auth.ttl).unwrap_or(now),
            name,
            password_hash,
        },
    );
    Ok(token)
}

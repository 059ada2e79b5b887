//! Who uses the portal: the login form opens an API session (`api::auth::open_session`:
//! the same password check, the same per-address throttle, `429`) whose token is kept in
//! the `vozbox_session` cookie (`HttpOnly; SameSite=Strict; Path=/`, `Secure` over TLS,
//! expiring with the session); logout ends it. Every page needs a live session (else the
//! login form); every POST carries the session's CSRF token (`_csrf`), a hash of the
//! session token no other site can compute, checked here before any handler (`403`).
//! The login form has its own token, tied to a cookie set with the form.

use super::layout;
use super::who::{Session, CSRF_FIELD};
use super::Portal;
use crate::api::auth::open_session;
use crate::api::guard::Peer;
use crate::api::secrets;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Form, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

const COOKIE: &str = "vozbox_session";
const LOGIN_COOKIE: &str = "vozbox_login";
/// The largest form the portal reads.
const MAX_FORM: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// The CSRF token of a session (or of a login form's cookie): derived from the secret
/// token, so it is known to the pages of that session only.
fn csrf_of(purpose: &str, token: &str) -> String {
    hex(&secrets::token_hash(&format!(
        "vozbox portal {}\0{}",
        purpose, token
    )))
}

/// Constant-time comparison of two tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The value of cookie `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(p: &Portal, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if p.secure { "; Secure" } else { "" };
    let text = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        name, value, max_age, secure
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A page a session-less request is sent to instead: the login form (an htmx poll is
/// told to load it as a whole page).
fn to_login(req: &Request) -> Response {
    if req.headers().contains_key("hx-request") {
        return ([("hx-redirect", "/login")], "").into_response();
    }
    let path = req.uri().path();
    // Back to a page of this portal only.
    if req.method() == Method::GET && path.starts_with('/') && !path.starts_with("//") {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        return Redirect::to(&format!("/login?{}", q)).into_response();
    }
    Redirect::to("/login").into_response()
}

/// Every page: the session's administrator, or the login form; a POST's CSRF token.
pub async fn require(State(p): State<Portal>, req: Request, next: Next) -> Response {
    let found = cookie(req.headers(), COOKIE)
        .and_then(|t| p.api.auth.session(&t).map(|principal| (t, principal)));
    let Some((token, principal)) = found else {
        return to_login(&req);
    };
    let session = Session {
        principal,
        csrf: csrf_of("session", &token),
    };
    let mut req = req;
    if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
            return layout::error_page(
                Some(&session),
                StatusCode::PAYLOAD_TOO_LARGE,
                "This form is too large.",
            );
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let sent = pairs.iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v);
        if !sent.is_some_and(|t| same(t, &session.csrf)) {
            tracing::info!(
                "portal: a POST to {} by {} without its CSRF token refused",
                parts.uri.path(),
                session.principal.name()
            );
            return layout::error_page(
                Some(&session),
                StatusCode::FORBIDDEN,
                "This form did not come from this portal's page (its CSRF token is missing or \
                 wrong). Reload the page and try again.",
            );
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Where a login leads: a path of this portal, else the dashboard.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".into(),
    }
}

fn login_form(csrf: &str, next: &str, name: &str, problem: Option<&str>) -> maud::Markup {
    layout::bare(
        "Log in",
        html! {
            main.login {
                h1 { span.logo { "vozbox" } " administration" }
                @if let Some(msg) = problem {
                    p.alert.error role="alert" { (msg) }
                }
                form method="post" action="/login" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label for="name" { "Name" }
                    input #name type="text" name="name" value=(name) autocomplete="username"
                        required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password"
                        autocomplete="current-password" required;
                    button.primary type="submit" { "Log in" }
                }
            }
        },
    )
}

/// The login form with a fresh login cookie and its token.
fn login_response(
    p: &Portal,
    status: StatusCode,
    next: &str,
    name: &str,
    problem: Option<&str>,
) -> Response {
    let nonce = match secrets::new_token() {
        Ok(t) => t,
        Err(e) => return layout::error_page(None, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let page = login_form(&csrf_of("login", &nonce), next, name, problem);
    let mut r = (status, page).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(p, LOGIN_COOKIE, &nonce, 3600),
    );
    r
}

/// `GET /login`: the form (the dashboard when already logged in).
pub async fn login_page(
    State(p): State<Portal>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if cookie(&headers, COOKIE).is_some_and(|t| p.api.auth.session(&t).is_some()) {
        return Redirect::to(&next).into_response();
    }
    login_response(&p, StatusCode::OK, &next, "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
    next: Option<String>,
}

/// `POST /login`: the session cookie and the page asked for, or the form again (`401`,
/// `429` after too many failures from the address, `403` without the form's token).
pub async fn login(
    State(p): State<Portal>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let nonce = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !same(&f.csrf, &csrf_of("login", &nonce)) {
        let msg = "The login form expired or did not come from this portal. Try again.";
        return login_response(&p, StatusCode::FORBIDDEN, &next, &f.name, Some(msg));
    }
    let ip = peer.remote.ip();
    if let Some(r) = p.api.auth.throttled(ip) {
        let mut page = login_response(
            &p,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &f.name,
            Some("Too many failed logins from this address: try again later."),
        );
        if let Some(v) = r.headers().get(header::RETRY_AFTER) {
            page.headers_mut().insert(header::RETRY_AFTER, v.clone());
        }
        return page;
    }
    match open_session(&p.api.auth, ip, f.name.clone(), f.password).await {
        Ok(token) => {
            tracing::info!("portal: {} logged in from {}", f.name, ip);
            let ttl = p.api.auth.session_ttl().as_secs();
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(&p, COOKIE, &token, ttl));
            h.append(header::SET_COOKIE, set_cookie(&p, LOGIN_COOKIE, "", 0));
            r
        }
        Err(r) => {
            let status = r.status();
            let msg = match status {
                StatusCode::UNAUTHORIZED => "Wrong name or password.",
                StatusCode::SERVICE_UNAVAILABLE => "Too many sessions now: try again later.",
                _ => "The login failed.",
            };
            login_response(&p, status, &next, &f.name, Some(msg))
        }
    }
}

/// `POST /logout`: the session ends, the cookie goes.
pub async fn logout(
    State(p): State<Portal>,
    axum::Extension(s): axum::Extension<Session>,
    headers: HeaderMap,
) -> Response {
    if let Some(t) = cookie(&headers, COOKIE) {
        p.api.auth.end_session(&t);
    }
    tracing::info!("portal: {} logged out", s.principal.name());
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&p, COOKIE, "", 0));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; vozbox_session=abc".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "vozbox"), None);
        let t = csrf_of("session", "abc");
        assert_eq!(t.len(), 64);
        assert!(same(&t, &csrf_of("session", "abc")));
        assert!(!same(&t, &csrf_of("login", "abc")));
        assert!(!same(&t, ""));
        assert_eq!(safe_next(Some("/users?q=a")), "/users?q=a");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", ""] {
            assert_eq!(safe_next(Some(bad)), "/");
        }
    }
}

//! The page around every view: the head (style sheet, htmx, the portal's script, all from
//! `/assets/`), the top bar with who is logged in and the logout form, the navigation (the
//! sections the administrator may read), and the error pages; small shared pieces (empty
//! states, notices, times).

use super::who::{Session, CSRF_FIELD};
use crate::model::Access;
use crate::provision::kinds::Kind;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The title of a kind's section.
pub fn title(k: Kind) -> &'static str {
    match k {
        Kind::MediaRelaySet => "Media relay sets",
        Kind::Brand => "Brands",
        Kind::Corporation => "Corporations",
        Kind::Client => "Clients",
        Kind::CallAcl => "Call ACLs",
        Kind::Ddi => "DDIs",
        Kind::User => "Users",
        Kind::Friend => "Friends",
        Kind::Voicemail => "Voicemail boxes",
        Kind::Extension => "Extensions",
        Kind::CallForward => "Call forwards",
        Kind::Carrier => "Carriers",
        Kind::DdiProvider => "DDI providers",
        Kind::OutgoingRoute => "Outgoing routes",
        Kind::RatingProfile => "Rating profiles",
    }
}

/// One entity of a kind, as a sentence names it ("user", "call ACL").
pub fn one(k: Kind) -> String {
    match k {
        Kind::CallAcl => "call ACL".into(),
        Kind::Ddi => "DDI".into(),
        Kind::DdiProvider => "DDI provider".into(),
        _ => k.section().replace('_', " "),
    }
}

/// The kinds in the navigation: a client's directory first, then the operator's own.
pub const DIRECTORY: [Kind; 7] = [
    Kind::User,
    Kind::Extension,
    Kind::Friend,
    Kind::Voicemail,
    Kind::Ddi,
    Kind::CallForward,
    Kind::CallAcl,
];
pub const SETUP: [Kind; 8] = [
    Kind::Client,
    Kind::Brand,
    Kind::Corporation,
    Kind::Carrier,
    Kind::DdiProvider,
    Kind::OutgoingRoute,
    Kind::RatingProfile,
    Kind::MediaRelaySet,
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light";
            // htmx without inline styles or eval, as the Content-Security-Policy wants.
            meta name="htmx-config"
                content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
            title { (title) " · vozbox" }
            link rel="icon" href={ "/assets/favicon.svg?v=" (VERSION) } type="image/svg+xml";
            link rel="stylesheet" href={ "/assets/portal.css?v=" (VERSION) };
            script src={ "/assets/htmx.min.js?v=" (VERSION) } defer {}
            script src={ "/assets/portal.js?v=" (VERSION) } defer {}
        }
    }
}

/// A page without navigation (the login form).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { (body) }
        }
    }
}

fn nav_link(href: &str, label: &str, active: &str) -> Markup {
    html! {
        li {
            @if href == active {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    }
}

fn nav(s: &Session, active: &str) -> Markup {
    let p = &s.principal;
    let kinds = |ks: &[Kind]| -> Vec<Kind> {
        ks.iter()
            .copied()
            .filter(|k| p.may(k.plural(), Access::Read))
            .collect()
    };
    let (directory, setup) = (kinds(&DIRECTORY), kinds(&SETUP));
    html! {
        nav.side aria-label="Sections" {
            h2 { "Live" }
            ul {
                (nav_link("/", "Dashboard", active))
                @if p.may("registrations", Access::Read) { (nav_link("/registrations", "Registrations", active)) }
                @if p.may("calls", Access::Read) { (nav_link("/calls", "Calls", active)) }
                @if p.may("cdrs", Access::Read) { (nav_link("/cdrs", "Call records", active)) }
                @if p.may("voicemail_messages", Access::Read) { (nav_link("/voicemail", "Voicemail", active)) }
                @if p.may("recordings", Access::Read) { (nav_link("/recordings", "Recordings", active)) }
            }
            @if !directory.is_empty() {
                h2 { "Directory" }
                ul { @for k in directory { (nav_link(&format!("/{}", k.plural()), title(k), active)) } }
            }
            @if !setup.is_empty() {
                h2 { @if p.is_operator() { "Operator" } @else { "Account" } }
                ul { @for k in setup { (nav_link(&format!("/{}", k.plural()), title(k), active)) } }
            }
            @if p.is_operator() || p.may("audit", Access::Read) {
                h2 { "Administration" }
                ul {
                    @if p.is_operator() { (nav_link("/admins", "Administrators", active)) }
                    @if p.may("audit", Access::Read) { (nav_link("/audit", "Audit trail", active)) }
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(s.csrf); }
}

/// A whole page: `active` is the navigation entry it belongs to.
pub fn page(s: &Session, title: &str, active: &str, body: Markup) -> Markup {
    let who = match s.principal.client() {
        Some(c) => format!("{} · client {}", s.principal.name(), c),
        None => format!("{} · operator", s.principal.name()),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.logo href="/" { "vozbox" }
                    span.who { (who) }
                    form.logout method="post" action="/logout" {
                        (csrf(s))
                        button.link type="submit" { "Log out" }
                    }
                }
                div.frame {
                    (nav(s, active))
                    main #main tabindex="-1" {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    }
}

/// An error as a page (with the navigation when logged in).
pub fn error_page(s: Option<&Session>, status: StatusCode, msg: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let body = html! {
        p.alert.error role="alert" { (msg) }
        p { a href="/" { "Back to the dashboard" } }
    };
    let markup = match s {
        Some(s) => page(s, title, "", body),
        None => bare(title, html! { main.login { h1 { (title) } (body) } }),
    };
    (status, markup).into_response()
}

/// What a list shows when it has nothing.
pub fn empty(what: &str, hint: Option<Markup>) -> Markup {
    html! {
        div.empty {
            p.big { (what) }
            @if let Some(h) = hint { p { (h) } }
        }
    }
}

/// A confirmation after a change (`?done=…` of the redirect after a POST).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            p.alert.ok role="status" { (t) }
        }
    }
}

/// Rows a list shows at once.
pub const PER_PAGE: usize = 50;

/// The page a list's query asks for (`?page=`, 1 when absent or past the end) and how
/// many pages `items` fill.
pub fn page_of(q: &std::collections::BTreeMap<String, String>, items: usize) -> (usize, usize) {
    let pages = items.div_ceil(PER_PAGE).max(1);
    let page = q
        .get("page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    (page, pages)
}

/// A time as people read it (UTC).
pub fn time(secs: u64) -> String {
    crate::model::rfc3339(secs)
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

/// A duration in seconds as `1:05:09` or `5:09`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{}:{:02}:{:02}", h, m, s)
    } else {
        format!("{}:{:02}", m, s)
    }
}

/// Text already HTML (the chart's SVG is built by `chart.rs` from numbers only).
pub fn raw(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_titles() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(65), "1:05");
        assert_eq!(duration(3_909), "1:05:09");
        for k in crate::provision::kinds::ALL {
            assert!(DIRECTORY.contains(&k) ^ SETUP.contains(&k), "{:?}", k);
            assert!(!title(k).is_empty());
        }
        assert_eq!(one(Kind::CallForward), "call forward");
    }
}

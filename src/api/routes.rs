//! Every route of the admin API in one table: the router is built from it and so is the
//! OpenAPI document (`openapi.rs`), so the two cannot list different routes.

use super::{admins, auth, live, resources, Api};
use crate::provision::kinds::{Kind, ALL};
use axum::extract::State;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// JSON with the named component schema.
    Json(&'static str),
    /// A provisioning file.
    Toml,
}

pub struct Route {
    pub method: Method,
    pub path: String,
    pub summary: String,
    pub body: Body,
    /// Answers without a credential (the login, the liveness check).
    pub open: bool,
    /// The status of success.
    pub ok: u16,
    pub handler: MethodRouter<Api>,
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

fn route<H, T>(method: Method, path: &str, summary: &str, body: Body, handler: H) -> Route
where
    H: axum::handler::Handler<T, Api>,
    T: 'static,
{
    let mr = on(filter(&method), handler);
    routed(method, path, summary, body, mr)
}

fn routed(
    method: Method,
    path: &str,
    summary: &str,
    body: Body,
    handler: MethodRouter<Api>,
) -> Route {
    Route {
        handler,
        ok: if method == Method::POST
            && body != Body::None
            && path != "/api/login"
            && path != "/api/provision"
        {
            201
        } else {
            200
        },
        method,
        path: path.to_string(),
        summary: summary.to_string(),
        body,
        open: false,
    }
}

/// The schema of a kind's resource: its provisioning file section's type.
pub fn schema_of(k: Kind) -> &'static str {
    match k {
        Kind::MediaRelaySet => "MediaRelaySetDef",
        Kind::Brand => "BrandDef",
        Kind::Corporation => "CorporationDef",
        Kind::Client => "ClientDef",
        Kind::CallAcl => "CallAclDef",
        Kind::Ddi => "DdiDef",
        Kind::User => "UserDef",
        Kind::Friend => "FriendDef",
        Kind::Extension => "ExtensionDef",
        Kind::CallForward => "CallForwardDef",
        Kind::Carrier => "CarrierDef",
        Kind::DdiProvider => "DdiProviderDef",
        Kind::RatingProfile => "RatingProfileDef",
    }
}

/// The whole API.
pub fn table() -> Vec<Route> {
    use Method as M;
    let mut t = vec![
        Route {
            open: true,
            ..route(
                M::POST,
                "/api/login",
                "Log in with a name and password: a session token",
                Body::Json("Login"),
                |State(api): State<Api>, ci, h, b| auth::login(State(api.auth.clone()), ci, h, b),
            )
        },
        Route {
            open: true,
            ..route(M::GET, "/health", "Liveness: \"ok\"", Body::None, super::health)
        },
        route(M::GET, "/api/openapi.json", "This document", Body::None, super::openapi_json),
        route(
            M::GET,
            "/metrics",
            "Prometheus metrics, text format (operators)",
            Body::None,
            super::metrics,
        ),
        route(
            M::POST,
            "/api/provision",
            "Apply a whole provisioning file atomically (operators)",
            Body::Toml,
            super::provision,
        ),
        route(M::GET, "/api/registrations", "Registered contacts", Body::None, live::registrations),
        route(
            M::DELETE,
            "/api/registrations/{aor}",
            "Remove the registrations of an address of record (?contact= one)",
            Body::None,
            live::unregister,
        ),
        route(M::GET, "/api/calls", "Calls in progress", Body::None, live::calls),
        route(M::DELETE, "/api/calls/{id}", "Hang up a call in progress", Body::None, live::hang_up),
        route(
            M::GET,
            "/api/cdrs",
            "Call records, newest first (client, from, to, direction, disposition, offset, limit, format=csv)",
            Body::None,
            live::cdrs,
        ),
        route(
            M::GET,
            "/api/usage",
            "Per client: external calls in progress against max calls, today's spend against the max daily usage, the balance, blocked and why (?client= one)",
            Body::None,
            live::usage,
        ),
        route(M::GET, "/api/audit", "The audit trail, newest first", Body::None, live::audit_trail),
        route(M::GET, "/api/admins", "Administrators (operators)", Body::None, admins::list),
        route(M::POST, "/api/admins", "Add an administrator (operators)", Body::Json("AdminBody"), admins::add),
        route(
            M::PUT,
            "/api/admins/{name}",
            "Change an administrator's password, client or rights (operators)",
            Body::Json("AdminBody"),
            admins::change,
        ),
        route(M::DELETE, "/api/admins/{name}", "Remove an administrator (operators)", Body::None, admins::remove),
        route(M::GET, "/api/media", "Relay ports in use (operators)", Body::None, super::media),
        route(M::GET, "/api/tls", "The TLS certificate's fingerprint (operators)", Body::None, super::tls),
        route(
            M::POST,
            "/api/tls/reload",
            "Read the TLS certificate and key again (operators)",
            Body::None,
            super::tls_reload,
        ),
    ];
    for k in ALL {
        let (base, item) = resources::paths(k);
        let (one, schema) = (k.section().replace('_', " "), schema_of(k));
        let list = format!(
            "List {} (offset, limit, key=value filters)",
            k.plural().replace('_', " ")
        );
        t.push(routed(
            M::GET,
            &base,
            &list,
            Body::None,
            resources::list_of(k),
        ));
        t.push(routed(
            M::POST,
            &base,
            &format!("Create a {}", one),
            Body::Json(schema),
            resources::create_of(k),
        ));
        t.push(routed(
            M::GET,
            &item,
            &format!("One {}", one),
            Body::None,
            resources::read_of(k),
        ));
        t.push(routed(
            M::PUT,
            &item,
            &format!("Replace a {}", one),
            Body::Json(schema),
            resources::replace_of(k),
        ));
        let delete = format!("Delete a {} (refused while others refer to it)", one);
        t.push(routed(
            M::DELETE,
            &item,
            &delete,
            Body::None,
            resources::remove_of(k),
        ));
    }
    t
}

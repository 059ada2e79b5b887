//! Every route of the admin API in one table: the router is built from it and so is the
//! OpenAPI document (`openapi.rs`), so the two cannot list different routes.

use super::{admins, auth, live, recordings, resources, system, voicemail, Api};
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
    /// Query parameters it reads: name and meaning.
    pub query: &'static [(&'static str, &'static str)],
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
        query: &[],
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
        Kind::Voicemail => "VoicemailDef",
        Kind::Friend => "FriendDef",
        Kind::Extension => "ExtensionDef",
        Kind::CallForward => "CallForwardDef",
        Kind::Carrier => "CarrierDef",
        Kind::DdiProvider => "DdiProviderDef",
        Kind::OutgoingRoute => "OutgoingRouteDef",
        Kind::RatingProfile => "RatingProfileDef",
    }
}

impl Route {
    fn with_query(self, query: &'static [(&'static str, &'static str)]) -> Route {
        Route { query, ..self }
    }
}

const PAGING: &[(&str, &str)] = &[
    ("offset", "items skipped (default 0)"),
    ("limit", "items at most (default 100, at most 1000)"),
];

const LIST: &[(&str, &str)] = &[
    ("offset", "items skipped (default 0)"),
    ("limit", "items at most (default 100, at most 1000)"),
    (
        "<key>",
        "any other parameter: only items whose key has this value (e.g. client=bluebird)",
    ),
];

const CDRS: &[(&str, &str)] = &[
    ("client", "only this client's records"),
    (
        "from",
        "start at or after: seconds since the epoch or RFC 3339",
    ),
    ("to", "start before: seconds since the epoch or RFC 3339"),
    ("direction", "inbound, outbound or internal"),
    ("disposition", "e.g. answered, busy, no_answer"),
    ("offset", "records skipped (default 0)"),
    ("limit", "records at most (default 100, at most 1000)"),
    ("format", "json (default) or csv"),
];

/// The whole API; `openapi` serves the document built from this table.
pub fn table(openapi: MethodRouter<Api>) -> Vec<Route> {
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
            ..route(
                M::GET,
                "/health",
                "Liveness: \"ok\"",
                Body::None,
                system::health,
            )
        },
        Route {
            open: true,
            ..route(
                M::GET,
                "/ready",
                "Readiness: \"ready\", or 503 \"draining\" once new calls are refused",
                Body::None,
                system::ready,
            )
        },
        routed(
            M::GET,
            "/api/openapi.json",
            "This document",
            Body::None,
            openapi,
        ),
        route(
            M::GET,
            "/metrics",
            "Prometheus metrics, text format (operators)",
            Body::None,
            system::metrics,
        ),
        route(
            M::POST,
            "/api/provision",
            "Apply a whole provisioning file atomically (operators)",
            Body::Toml,
            system::provision,
        ),
        route(
            M::GET,
            "/api/registrations",
            "Registered contacts",
            Body::None,
            live::registrations,
        ),
        route(
            M::DELETE,
            "/api/registrations/{aor}",
            "Remove the registrations of an address of record",
            Body::None,
            live::unregister,
        )
        .with_query(&[("contact", "only the binding with this contact URI")]),
        route(
            M::GET,
            "/api/calls",
            "Calls in progress",
            Body::None,
            live::calls,
        ),
        route(
            M::DELETE,
            "/api/calls/{id}",
            "Hang up a call in progress",
            Body::None,
            live::hang_up,
        ),
        route(
            M::GET,
            "/api/peers",
            "The health of the direct friends and carriers probed with OPTIONS (qualify_interval)",
            Body::None,
            live::peers,
        ),
        route(
            M::GET,
            "/api/cdrs",
            "Call records, newest first",
            Body::None,
            live::cdrs,
        )
        .with_query(CDRS),
        route(
            M::GET,
            "/api/recordings",
            "Call recordings (?client=)",
            Body::None,
            recordings::list,
        ),
        route(
            M::GET,
            "/api/recordings/{id}/audio",
            "A call recording's WAV (stereo: the caller left, the callee right)",
            Body::None,
            recordings::audio,
        ),
        route(
            M::DELETE,
            "/api/recordings/{id}",
            "Remove a call recording (403 when its client does not allow it)",
            Body::None,
            recordings::delete,
        ),
        route(
            M::GET,
            "/api/voicemail_messages",
            "Voicemail messages (?mailbox=, ?client=)",
            Body::None,
            voicemail::list,
        ),
        route(
            M::GET,
            "/api/voicemail_messages/{id}/audio",
            "A voicemail message's WAV (8 kHz mono)",
            Body::None,
            voicemail::audio,
        ),
        route(
            M::DELETE,
            "/api/voicemail_messages/{id}",
            "Remove a voicemail message (its record, then its file)",
            Body::None,
            voicemail::delete,
        ),
        route(
            M::GET,
            "/api/audit",
            "The audit trail, newest first",
            Body::None,
            live::audit_trail,
        )
        .with_query(PAGING),
        route(
            M::GET,
            "/api/admins",
            "Administrators (operators)",
            Body::None,
            admins::list,
        ),
        route(
            M::POST,
            "/api/admins",
            "Add an administrator (operators)",
            Body::Json("AdminBody"),
            admins::add,
        ),
        route(
            M::GET,
            "/api/usage",
            "Per client: external calls in progress against max calls, today's spend against the max daily usage, the balance, blocked and why (?client= one)",
            Body::None,
            live::usage,
        ),
        route(
            M::PUT,
            "/api/admins/{name}",
            "Change an administrator's password, client or rights (operators)",
            Body::Json("AdminBody"),
            admins::change,
        ),
        route(
            M::DELETE,
            "/api/admins/{name}",
            "Remove an administrator (operators)",
            Body::None,
            admins::remove,
        ),
        route(
            M::GET,
            "/api/media",
            "Relay ports in use (operators)",
            Body::None,
            system::media,
        ),
        route(
            M::GET,
            "/api/tls",
            "The TLS certificate's fingerprint (operators)",
            Body::None,
            system::tls,
        ),
        route(
            M::POST,
            "/api/tls/reload",
            "Read the TLS certificate and key again (operators)",
            Body::None,
            system::tls_reload,
        ),
    ];
    for k in ALL {
        let (base, item) = resources::paths(k);
        let (one, schema) = (k.section().replace('_', " "), schema_of(k));
        let list = format!(
            "List {} (offset, limit, key=value filters)",
            k.plural().replace('_', " ")
        );
        t.push(routed(M::GET, &base, &list, Body::None, resources::list_of(k)).with_query(LIST));
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
            &format!(
                "Replace a {} (its id keys may be left out: they are the path's)",
                one
            ),
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

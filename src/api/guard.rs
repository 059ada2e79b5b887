//! What keeps browsers out of the admin API: the `Host` header must name this server (DNS
//! rebinding: a page from evil.example whose name now resolves to 127.0.0.1 still sends
//! `Host: evil.example`), and writes carry only their documented content type (a browser
//! sends `text/plain` or a form type cross-origin without a CORS preflight, never
//! `application/toml` or `application/json`). No CORS headers are ever sent.

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use axum::Json;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Both ends of an API connection: the client (throttling) and the address it reached
/// (the `Host` it must name; on a wildcard listener, the interface's own address).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer {
            remote: *stream.remote_addr(),
            // Unknown: no Host can match it, so the request is refused.
            local: stream
                .io()
                .local_addr()
                .unwrap_or((Ipv4Addr::UNSPECIFIED, 0).into()),
        }
    }
}

/// Whether `host` (a `Host` header or a URI authority) names this server reached at
/// `local`: its address, `localhost` when that is loopback, or one of `names`; with the
/// port of `local` (or none when that is 80).
pub fn host_allowed(host: &str, local: SocketAddr, names: &[String]) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        (inside, port)
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let port_ok = match port {
        None => local.port() == 80,
        Some(p) => p.parse::<u16>().ok() == Some(local.port()),
    };
    if !port_ok || name.is_empty() {
        return false;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        // An IPv6 literal must be bracketed; an IPv4 one must not.
        return ip == local.ip() && ip.is_ipv6() == host.starts_with('[');
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    (local.ip().is_loopback() && name.eq_ignore_ascii_case("localhost"))
        || names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Refuses (421) a request whose `Host` (and absolute-form authority, if any) does not
/// name this server, before anything else looks at it.
pub async fn host_guard(
    State(names): State<Arc<Vec<String>>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let ok = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h
            .to_str()
            .is_ok_and(|h| host_allowed(h, peer.local, &names)),
        _ => false,
    } && req
        .uri()
        .authority()
        .is_none_or(|a| host_allowed(a.as_str(), peer.local, &names));
    if !ok {
        tracing::debug!(
            "admin API: request from {} with a foreign Host refused",
            peer.remote
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            Json(json!({
                "error": "the Host header does not name this server (add the name to [api] names)"
            })),
        )
            .into_response();
    }
    next.run(req).await
}

/// Whether the request's media type (parameters aside) is `wanted`.
pub fn has_type(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted))
}

/// `415` naming the one type the endpoint accepts.
pub fn wrong_type(wanted: &str) -> Response {
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Json(json!({ "error": format!("expected Content-Type: {}", wanted) })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_names_are_hosts() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let names = vec!["pbx.example".to_string()];
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "pbx.example:8080",
            "PBX.example.:8080",
        ] {
            assert!(host_allowed(ok, lo, &names), "{}", ok);
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.2:8080",
            "[127.0.0.1]:8080",
            "localhost.evil.example:8080",
            ":8080",
            "",
            "[::1]:8080",
        ] {
            assert!(!host_allowed(bad, lo, &names), "{}", bad);
        }
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert!(host_allowed("[::1]:80", v6, &[]));
        assert!(host_allowed("[::1]", v6, &[]));
        assert!(host_allowed("localhost", v6, &[]));
        assert!(!host_allowed("::1", v6, &[]));
        assert!(!host_allowed("[::1]x", v6, &[]));
        // a LAN address is not loopback: no `localhost`
        let lan: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        assert!(host_allowed("192.0.2.7:8080", lan, &[]));
        assert!(!host_allowed("localhost:8080", lan, &[]));
    }

    #[test]
    fn content_types_compare_without_parameters() {
        let mut h = HeaderMap::new();
        assert!(!has_type(&h, "application/toml"));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!has_type(&h, "application/toml"));
        h.insert(
            header::CONTENT_TYPE,
            "Application/TOML; charset=utf-8".parse().unwrap(),
        );
        assert!(has_type(&h, "application/toml"));
    }
}

//! The CLI side of the admin API: one HTTP/1.1 request to our own server, over plain TCP
//! or, with `[api] tls`, over TLS trusting exactly the certificate of the `[tls]` file.
//! (A general HTTP client would be a heavy dependency for one POST.)

use crate::config::Config;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConnection, StreamOwned};

pub enum Reply {
    /// No server listens there.
    NoServer,
    Http {
        status: u16,
        body: String,
    },
}

/// Where to connect for `[api] listen`: a wildcard address is reached on loopback (and
/// named so in the `Host`).
pub fn target(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// The token the CLI sends: the one in `api-token` next to the database of `cfg`, else
/// `[api] token` when set.
pub fn token_for(cfg: &Config) -> Result<String, String> {
    let path = cfg.api_token_file();
    let read = std::fs::read_to_string(&path);
    if let Ok(t) = &read {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    if let Some(t) = cfg.api.token() {
        return Ok(t.to_string());
    }
    Err(match read {
        Ok(_) => format!("{}: the admin API token file is empty", path.display()),
        Err(e) => format!(
            "cannot read the admin API token {}: {} (the server writes it on its first \
             start; `vozbox admin token` with the same --config issues a new one while \
             the server is stopped)",
            path.display(),
            e
        ),
    })
}

/// Sends one request to the API of `cfg` (TLS when `[api] tls`); `content_type` goes with
/// a body.
pub fn request_to(
    cfg: &Config,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<Reply> {
    let Some(addr) = cfg.api.addr() else {
        return Err(std::io::Error::other("[api] listen is off"));
    };
    if !cfg.api.tls {
        return request(addr, method, path, token, content_type, body);
    }
    let fp = crate::sip::tls::certificate_fingerprint(&cfg.tls).map_err(std::io::Error::other)?;
    let tls = crate::sip::tls::pinned_config(fp).map_err(std::io::Error::other)?;
    let addr = target(addr);
    let Some(tcp) = connect(addr)? else {
        return Ok(Reply::NoServer);
    };
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(tls, name).map_err(std::io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    exchange(&mut s, addr, method, path, token, content_type, body)
}

/// Sends one request over plain HTTP; `content_type` goes with a body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<Reply> {
    let addr = target(addr);
    match connect(addr)? {
        Some(mut s) => exchange(&mut s, addr, method, path, token, content_type, body),
        None => Ok(Reply::NoServer),
    }
}

/// A connection to `addr`; `None` when nothing listens there.
fn connect(addr: SocketAddr) -> std::io::Result<Option<TcpStream>> {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => {
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(e),
    }
}

fn exchange(
    s: &mut (impl Read + Write),
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<Reply> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t))
        .unwrap_or_default();
    let ctype = content_type
        .map(|t| format!("Content-Type: {}\r\n", t))
        .unwrap_or_default();
    write!(
        s,
        "{} {} HTTP/1.1\r\nHost: {}\r\n{}{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        method,
        path,
        addr,
        auth,
        ctype,
        body.len(),
        body
    )?;
    s.flush()?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS peer that closes without close_notify: what came is the whole answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response")
        })?;
    Ok(Reply::Http {
        status,
        body: body.to_string(),
    })
}

/// Whether something accepts connections at `addr`.
pub fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&target(addr), Duration::from_secs(2)).is_ok()
}

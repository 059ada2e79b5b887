//! `[api]`: the admin HTTP API's listener, names and credentials.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Address of the admin HTTP API; "" turns it off. Loopback only, unless
    /// `allow_plain_http`.
    pub listen: String,
    /// An extra static bearer token accepted besides the generated one (`api-token`).
    pub token: String,
    /// Host names (besides the listener's own address, and `localhost` on loopback)
    /// accepted in the `Host` header; any other name is refused (DNS rebinding).
    pub names: Vec<String>,
    /// Seconds a session token from `POST /api/login` stays valid.
    pub session_ttl: u64,
    /// Serves the API over TLS (HTTPS) with the certificate of `[tls]` (made self-signed
    /// on the first start when there is none); required for a non-loopback `listen`
    /// unless `allow_plain_http`.
    pub tls: bool,
    /// Allows a non-loopback `listen` without `tls`: then the API speaks plain HTTP and its
    /// credentials cross the network in clear text.
    pub allow_plain_http: bool,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            listen: "127.0.0.1:8080".into(),
            token: String::new(),
            names: Vec::new(),
            session_ttl: 3600,
            tls: false,
            allow_plain_http: false,
        }
    }
}

/// `api-token` next to the database file.
pub fn token_file(storage: &Path) -> PathBuf {
    storage
        .parent()
        .map(|d| d.join("api-token"))
        .unwrap_or_else(|| PathBuf::from("api-token"))
}

impl Api {
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        self.listen.parse().ok()
    }

    pub fn token(&self) -> Option<&str> {
        (!self.token.is_empty()).then_some(self.token.as_str())
    }

    /// The key at fault and what was expected.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !self.listen.is_empty() {
            let Some(addr) = self.addr() else {
                let named = self.listen.rsplit_once(':').is_some_and(|(h, _)| {
                    h.bytes().any(|b| b.is_ascii_alphabetic()) && !h.contains('[')
                });
                return Err((
                    "listen",
                    if named {
                        format!(
                            "{:?} names a host: expected an IP ADDRESS:PORT (e.g. \"127.0.0.1:8080\"); \
                             names for the Host header go in [api] names",
                            self.listen
                        )
                    } else {
                        "expected ADDRESS:PORT (e.g. \"127.0.0.1:8080\") or \"\" to turn the API off"
                            .into()
                    },
                ));
            };
            if !addr.ip().is_loopback() && !self.tls && !self.allow_plain_http {
                return Err((
                    "listen",
                    format!(
                        "{} is not a loopback address: over plain HTTP the admin API's token \
                         and passwords would cross the network in clear text; set tls = true \
                         in [api] (HTTPS with the [tls] certificate), or keep it on 127.0.0.1 \
                         or [::1] (reach it through an SSH tunnel), or set allow_plain_http = \
                         true to accept clear text",
                        addr
                    ),
                ));
            }
        }
        if self.names.iter().any(|n| {
            n.is_empty() || n.contains(|c: char| c.is_whitespace() || c == '/' || c == ':')
        }) {
            return Err((
                "names",
                "expected host names without port, e.g. [\"pbx.example.com\"]".into(),
            ));
        }
        if !(1..=604_800).contains(&self.session_ttl) {
            return Err(("session_ttl", "expected 1 to 604800 seconds".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_non_loopback_listen_needs_allow_plain_http() {
        let e = Config::parse("[api]\nlisten = \"0.0.0.0:8080\"\n", "x.toml").unwrap_err();
        assert!(
            e.starts_with("x.toml:2: [api] listen: 0.0.0.0:8080"),
            "{}",
            e
        );
        assert!(e.contains("allow_plain_http"), "{}", e);
        let ok = "[api]\nlisten = \"0.0.0.0:8080\"\nallow_plain_http = true\n";
        assert!(Config::parse(ok, "x.toml").is_ok());
        let tls = "[api]\nlisten = \"0.0.0.0:8080\"\ntls = true\n";
        assert!(Config::parse(tls, "x.toml").is_ok());
        assert!(Config::parse("[api]\nlisten = \"[::1]:8080\"\n", "x.toml").is_ok());
        let e = Config::parse("[api]\nnames = [\"a.example:80\"]\n", "x.toml").unwrap_err();
        assert!(e.starts_with("x.toml:2: [api] names"), "{}", e);
    }

    #[test]
    fn wrong_values_name_their_key_and_host_names_say_so() {
        let e = Config::parse("[registrar]\nmax_expires = \"lots\"\n", "x.toml").unwrap_err();
        assert!(
            e.starts_with("x.toml:2:15: [registrar] max_expires: invalid type"),
            "{}",
            e
        );
        let e = Config::parse("[api]\nlisten = \"localhost:8080\"\n", "x.toml").unwrap_err();
        assert!(
            e.contains("names a host") && e.contains("[api] names"),
            "{}",
            e
        );
        let e =
            Config::parse("[sip]\nlisten = [\"udp:pbx.example:5060\"]\n", "x.toml").unwrap_err();
        assert!(e.contains("\"pbx.example\" is a host name"), "{}", e);
    }

    #[test]
    fn the_token_file_is_next_to_the_database() {
        let mut c = Config::default();
        assert_eq!(c.api_token_file(), std::path::Path::new("data/api-token"));
        c.storage.path = "db.redb".into();
        assert_eq!(c.api_token_file(), std::path::Path::new("api-token"));
    }
}

//! The server's own settings (`config.toml`). Every key has a built-in default, so
//! `vozbox` runs with no file at all; a wrong key or value stops the start with a message
//! naming the file, the line, the key and what was expected.

mod api;
mod calls;
mod place;
mod policy;
mod smtp;
mod voicemail;

use crate::sip::tls::TlsSettings;
use crate::sip::transport::Listen;
pub use api::Api;
pub use calls::Calls;
use place::locate;
pub use place::{key_at, line_col};
pub use policy::Policy;
use serde::Deserialize;
pub use smtp::Smtp;
use std::path::{Path, PathBuf};
pub use voicemail::Voicemail;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub log: Log,
    pub sip: Sip,
    pub registrar: Registrar,
    pub calls: Calls,
    pub media: Media,
    pub auth: Auth,
    pub storage: Storage,
    pub api: Api,
    pub tls: TlsSettings,
    pub policy: Policy,
    pub smtp: Smtp,
    pub voicemail: Voicemail,
    /// `[overload]` (`overload::Settings`).
    pub overload: crate::overload::Settings,
    /// `[dns]`: resolving carriers' host names (`dns::DnsSettings`).
    pub dns: crate::dns::DnsSettings,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `error`, `warn`, `info`, `debug` or `trace` (RUST_LOG, when set, wins).
    pub level: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Sip {
    pub listen: Vec<String>,
    /// SIP domain of the demo client made on an empty database.
    pub domain: String,
    /// UDP receive loops per socket.
    pub workers: usize,
    pub max_message_size: usize,
    /// Requests being processed at once; more are answered 503 + Retry-After.
    pub max_transactions: usize,
    /// Finished transactions remembered to answer retransmissions.
    pub transaction_cache: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Seconds a TCP or TLS connection that carries no registration may stay silent
    /// before it is closed (one that a binding uses stays open while the binding lives).
    pub tcp_idle_timeout: u64,
    /// Messages per second one address may send (carriers, DDI providers and password-less
    /// direct friends excepted); above it the address is ignored. 0 turns it off.
    pub rate_limit: u32,
    /// Seconds a flooding address stays ignored after its last excess.
    pub rate_limit_block: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Registrar {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    /// Seconds between OPTIONS pings to bindings behind NAT over UDP; 0 = off.
    pub keepalive_interval: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Digest algorithms offered, in order of preference: "MD5", "SHA-256".
    pub algorithms: Vec<String>,
    /// Seconds a nonce stays fresh; after that it is answered with stale=true.
    pub nonce_ttl: u64,
    /// Failed authentications from one address within `ban_window` seconds that ban it.
    pub ban_threshold: u32,
    pub ban_window: u64,
    /// Seconds a banned address is ignored.
    pub ban_duration: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub path: PathBuf,
    /// Binding changes waiting for the writer; more are answered 503.
    pub write_queue: usize,
    /// Page cache of the database, in MiB.
    pub cache_mb: usize,
    /// The folder of call recordings (relative: to the database's folder).
    pub recordings: PathBuf,
    /// Recordings older than this many days are removed (0: kept).
    pub recordings_retention_days: u32,
    /// Packets a recording's queue holds for its writer; a writer that falls further
    /// behind loses them (the recording says where), never the call its audio.
    pub recording_queue: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
        }
    }
}

impl Default for Sip {
    fn default() -> Self {
        Sip {
            listen: vec![
                "udp:127.0.0.1:5060".into(),
                "tcp:127.0.0.1:5060".into(),
                "tls:127.0.0.1:5061".into(),
            ],
            domain: "127.0.0.1".into(),
            workers: 1,
            max_message_size: 65535,
            max_transactions: 20000,
            transaction_cache: 100000,
            max_connections: 4096,
            max_connections_per_ip: 64,
            tcp_idle_timeout: 300,
            rate_limit: 200,
            rate_limit_block: 30,
        }
    }
}

/// The default media relay set (clients without one of their own use it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    /// Address the relay's sockets bind to.
    pub bind: String,
    /// Address written into SDP (the relay's address as phones see it).
    pub advertised: String,
    /// RTP port range (an even port for RTP, the next for RTCP; two pairs per call).
    pub port_min: u16,
    pub port_max: u16,
    /// Seconds without a packet in either direction after which an answered call is ended
    /// (BYE to both sides); 0 turns it off.
    pub timeout: u64,
    /// The voice notifications: `<sounds>/<language>/<cause>.wav`.
    pub sounds: std::path::PathBuf,
    /// Forwarding threads of the relay; 0: one per core.
    pub threads: usize,
    /// µs a forwarding thread lets packets gather after a round that served more than
    /// one socket (fewer wake-ups, at most this much added delay); 0: never waits.
    pub batch_us: u64,
    /// A side's media is accepted only from its party: the exact address of its latest
    /// SDP, or the IP its SIP comes from (NAT). `false` learns any source (RTP bleed).
    pub strict_source: bool,
    /// Settled streams (IPv4, IPv6) forwarded in the kernel (BPF; CAP_BPF, CAP_NET_ADMIN).
    pub kernel_forwarding: bool,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            bind: "127.0.0.1".into(),
            advertised: "127.0.0.1".into(),
            port_min: 20000,
            port_max: 29999,
            timeout: 60,
            sounds: "sounds".into(),
            threads: 0,
            batch_us: 200,
            strict_source: true,
            kernel_forwarding: false,
        }
    }
}

impl Default for Registrar {
    fn default() -> Self {
        Registrar {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 5,
            keepalive_interval: 30,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            algorithms: vec!["MD5".into()],
            nonce_ttl: 300,
            ban_threshold: 10,
            ban_window: 60,
            ban_duration: 600,
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            path: PathBuf::from("data/vozbox.redb"),
            write_queue: 65536,
            cache_mb: 64,
            recordings: PathBuf::from("recordings"),
            recordings_retention_days: 0,
            recording_queue: 1024,
        }
    }
}

impl Config {
    /// Reads a config file. Its relative paths (database, TLS certificate and key, sounds)
    /// are relative to the file's own directory, not to the working directory: the same
    /// file means the same server from anywhere.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {}", path.display(), e))?;
        let mut cfg = Self::parse(&text, &path.display().to_string())?;
        if let Some(base) = path.parent().filter(|b| !b.as_os_str().is_empty()) {
            for p in [
                &mut cfg.storage.path,
                &mut cfg.tls.certificate,
                &mut cfg.tls.key,
                &mut cfg.media.sounds,
            ] {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
            if let Some(p) = cfg
                .policy
                .geoip_database
                .as_mut()
                .filter(|p| p.is_relative())
            {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let place = match e.span() {
                Some(s) => {
                    let (l, c) = line_col(text, s.start);
                    format!("{}:{}:{}", name, l, c)
                }
                None => name.to_string(),
            };
            let msg = e.message().trim();
            // A wrong value is named by its key (unknown keys name themselves).
            let key = e
                .span()
                .filter(|_| !msg.starts_with("unknown field"))
                .and_then(|s| key_at(text, s.start));
            match key {
                Some((Some(t), k)) => format!("{}: [{}] {}: {}", place, t, k, msg),
                Some((None, k)) => format!("{}: {}: {}", place, k, msg),
                None => format!("{}: {}", place, msg),
            }
        })?;
        cfg.validate().map_err(|(section, key, msg)| {
            let place = match locate(text, section, key) {
                Some(l) => format!("{}:{}", name, l),
                None => name.to_string(),
            };
            format!("{}: [{}] {}: {}", place, section, key, msg)
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), (&'static str, &'static str, String)> {
        for l in &self.sip.listen {
            l.parse::<Listen>().map_err(|e| ("sip", "listen", e))?;
        }
        if self.sip.listen.is_empty() {
            return Err(("sip", "listen", "expected at least one listener".into()));
        }
        if self.sip.domain.trim().is_empty() {
            return Err(("sip", "domain", "expected a domain or an IP address".into()));
        }
        if !(512..=65535).contains(&self.sip.max_message_size) {
            return Err((
                "sip",
                "max_message_size",
                "expected 512 to 65535 bytes".into(),
            ));
        }
        for (k, v) in [
            ("workers", self.sip.workers),
            ("max_transactions", self.sip.max_transactions),
            ("max_connections", self.sip.max_connections),
            ("max_connections_per_ip", self.sip.max_connections_per_ip),
        ] {
            if v == 0 {
                return Err(("sip", k, "expected a number above 0".into()));
            }
        }
        // Upper bounds: a value past them is a typo, and some would overflow or allocate
        // the machine away (queues are allocated up front).
        for (section, key, v, max) in [
            ("sip", "workers", self.sip.workers as u64, 64),
            (
                "sip",
                "max_transactions",
                self.sip.max_transactions as u64,
                1_000_000,
            ),
            (
                "sip",
                "transaction_cache",
                self.sip.transaction_cache as u64,
                10_000_000,
            ),
            (
                "sip",
                "max_connections",
                self.sip.max_connections as u64,
                1_000_000,
            ),
            (
                "sip",
                "max_connections_per_ip",
                self.sip.max_connections_per_ip as u64,
                1_000_000,
            ),
            ("sip", "tcp_idle_timeout", self.sip.tcp_idle_timeout, 86_400),
            ("sip", "rate_limit_block", self.sip.rate_limit_block, 86_400),
            (
                "registrar",
                "max_contacts",
                self.registrar.max_contacts as u64,
                1_000,
            ),
            (
                "registrar",
                "keepalive_interval",
                self.registrar.keepalive_interval,
                86_400,
            ),
            (
                "calls",
                "no_answer_timeout",
                self.calls.no_answer_timeout,
                3_600,
            ),
            ("calls", "max_duration", self.calls.max_duration, 604_800),
            (
                "calls",
                "max_calls",
                self.calls.max_calls as u64,
                10_000_000,
            ),
            ("calls", "shutdown_grace", self.calls.shutdown_grace, 86_400),
            ("calls", "max_forwards", self.calls.max_forwards as u64, 20),
            ("calls", "carrier_timeout", self.calls.carrier_timeout, 32),
            ("auth", "nonce_ttl", self.auth.nonce_ttl, 86_400),
            ("auth", "ban_window", self.auth.ban_window, 31_536_000),
            ("auth", "ban_duration", self.auth.ban_duration, 31_536_000),
            (
                "storage",
                "write_queue",
                self.storage.write_queue as u64,
                1_000_000,
            ),
            (
                "storage",
                "cache_mb",
                self.storage.cache_mb as u64,
                1_048_576,
            ),
        ] {
            if v > max {
                return Err((section, key, format!("expected at most {}", max)));
            }
        }
        let m = &self.media;
        for (key, v) in [("bind", &m.bind), ("advertised", &m.advertised)] {
            if v.parse::<std::net::IpAddr>().is_err() {
                return Err(("media", key, format!("expected an IP address, not {:?}", v)));
            }
        }
        if m.port_min < 1024 || m.port_max <= m.port_min {
            return Err((
                "media",
                "port_max",
                format!(
                    "expected 1024 <= port_min < port_max (got {}..{})",
                    m.port_min, m.port_max
                ),
            ));
        }
        if let Err(e) = self.dns.addresses() {
            return Err(("dns", "servers", e));
        }
        if !(1..=60).contains(&self.dns.timeout) {
            return Err(("dns", "timeout", "expected 1 to 60 seconds".into()));
        }
        if m.timeout > 86_400 {
            return Err(("media", "timeout", "expected at most 86400".into()));
        }
        if m.threads > 64 {
            return Err(("media", "threads", "expected at most 64".into()));
        }
        if m.batch_us > 10_000 {
            return Err(("media", "batch_us", "expected at most 10000 (10 ms)".into()));
        }
        if !(1..=60).contains(&self.tls.handshake_timeout) {
            return Err((
                "tls",
                "handshake_timeout",
                "expected 1 to 60 seconds".into(),
            ));
        }
        if self.tls.names.is_empty() || self.tls.names.iter().any(|n| n.trim().is_empty()) {
            return Err((
                "tls",
                "names",
                "expected at least one name, none empty".into(),
            ));
        }
        if self.sip.rate_limit_block == 0 {
            return Err(("sip", "rate_limit_block", "expected seconds above 0".into()));
        }
        if self.sip.tcp_idle_timeout == 0 {
            return Err(("sip", "tcp_idle_timeout", "expected seconds above 0".into()));
        }
        let c = &self.calls;
        if c.min_se < 2 {
            return Err(("calls", "min_se", "expected seconds above 1".into()));
        }
        if c.session_expires < c.min_se || c.session_expires > 86_400 {
            return Err((
                "calls",
                "session_expires",
                format!("expected between min_se ({}) and 86400", c.min_se),
            ));
        }
        let r = &self.registrar;
        if r.min_expires == 0 {
            return Err((
                "registrar",
                "min_expires",
                "expected seconds above 0".into(),
            ));
        }
        if r.max_expires < r.min_expires {
            return Err((
                "registrar",
                "max_expires",
                format!("expected at least min_expires ({})", r.min_expires),
            ));
        }
        if r.default_expires < r.min_expires || r.default_expires > r.max_expires {
            return Err((
                "registrar",
                "default_expires",
                format!(
                    "expected between min_expires ({}) and max_expires ({})",
                    r.min_expires, r.max_expires
                ),
            ));
        }
        if r.max_contacts == 0 {
            return Err((
                "registrar",
                "max_contacts",
                "expected a number above 0".into(),
            ));
        }
        if self.auth.algorithms.is_empty() {
            return Err((
                "auth",
                "algorithms",
                "expected at least one of \"MD5\", \"SHA-256\"".into(),
            ));
        }
        for a in &self.auth.algorithms {
            if crate::auth::digest::Algorithm::parse(a).is_none() {
                return Err((
                    "auth",
                    "algorithms",
                    format!("expected \"MD5\" or \"SHA-256\", found {:?}", a),
                ));
            }
        }
        if self.auth.nonce_ttl == 0 {
            return Err(("auth", "nonce_ttl", "expected seconds above 0".into()));
        }
        self.policy
            .validate()
            .map_err(|(key, msg)| ("policy", key, msg))?;
        self.smtp
            .validate()
            .map_err(|(key, msg)| ("smtp", key, msg))?;
        self.voicemail
            .validate()
            .map_err(|(key, msg)| ("voicemail", key, msg))?;
        self.overload
            .validate()
            .map_err(|(key, msg)| ("overload", key, msg))?;
        if self.storage.path.as_os_str().is_empty() {
            return Err(("storage", "path", "expected a file path".into()));
        }
        if self.storage.write_queue == 0 {
            return Err(("storage", "write_queue", "expected a number above 0".into()));
        }
        if self.storage.recording_queue == 0 {
            return Err((
                "storage",
                "recording_queue",
                "expected a number above 0".into(),
            ));
        }
        if self.storage.cache_mb == 0 {
            return Err(("storage", "cache_mb", "expected MiB above 0".into()));
        }
        self.api
            .validate()
            .map_err(|(key, msg)| ("api", key, msg))?;
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err((
                "log",
                "level",
                "expected error, warn, info, debug or trace".into(),
            ));
        }
        Ok(())
    }

    /// The admin API token file: `api-token` in the database's directory.
    pub fn api_token_file(&self) -> PathBuf {
        api::token_file(&self.storage.path)
    }

    pub fn listeners(&self) -> Vec<Listen> {
        self.sip
            .listen
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_equals_the_defaults() {
        let text = include_str!("../config.toml");
        assert_eq!(
            Config::parse(text, "config.toml").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = Config::parse("[sip]\nlisen = []\n", "x.toml").unwrap_err();
        assert!(e.starts_with("x.toml:2:"), "{}", e);
        assert!(e.contains("lisen"), "{}", e);
        let e = Config::parse("[registrar]\nmin_expires = 10\nmax_expires = 5\n", "x.toml")
            .unwrap_err();
        assert!(e.starts_with("x.toml:3: [registrar] max_expires"), "{}", e);
        let e = Config::parse("[sip]\nlisten = [\"sctp:1.2.3.4:5\"]\n", "x.toml").unwrap_err();
        assert!(
            e.contains("[sip] listen") && e.contains("unknown transport"),
            "{}",
            e
        );
        let e = Config::parse("[sip]\nworkers = \"two\"\n", "x.toml").unwrap_err();
        assert!(e.starts_with("x.toml:2:"), "{}", e);
        let e = Config::parse("[media]\nthreads = 2\nbatch_us = 20000\n", "x.toml").unwrap_err();
        assert!(e.starts_with("x.toml:3: [media] batch_us"), "{}", e);
        let e = Config::parse("[media]\nthreads = 65\n", "x.toml").unwrap_err();
        assert!(e.starts_with("x.toml:2: [media] threads"), "{}", e);
    }
}

//! Test harness: starts the real vozbox binary on free loopback ports with a config and a
//! provisioning file of the test's own, and runs SIPp scenarios from `tests/sipp/` against it.
#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod calls_lab;
pub mod dns;
pub mod lab;
pub mod peer;
pub mod raw;
pub mod rtp;
pub mod sipp;
pub mod smtp;
pub mod stop;

#[allow(unused_imports)]
pub use audio::{assert_heard, received, tone_power, wav_samples};
#[allow(unused_imports)]
pub use baresip::*;
#[allow(unused_imports)]
pub use lab::{PROVISION, SPANISH_CLIENT};
#[allow(unused_imports)]
pub use raw::*;
#[allow(unused_imports)]
pub use sipp::*;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vozbox");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the target dir, removed on success by the caller's drop.
pub fn temp_dir(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(format!(
        "{}-{}-{}",
        name,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Ports handed out by `free_port`: below the kernel's ephemeral range (32768-60999 by
/// default), so a client socket of a test running at the same time (SIPp, baresip, a TCP
/// connect) cannot take a port between the check here and vozbox's own bind.
const PORTS: std::ops::Range<u32> = 10000..20000;
static NEXT_PORT: AtomicU32 = AtomicU32::new(u32::MAX);

/// A port free for both UDP and TCP on `ip`, never the same twice in one test process.
pub fn free_port(ip: &str) -> u16 {
    // Each test process starts at its own place in the range.
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    let _ = NEXT_PORT.compare_exchange(u32::MAX, seed, Ordering::Relaxed, Ordering::Relaxed);
    let span = PORTS.end - PORTS.start;
    for _ in 0..span {
        let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let port = (PORTS.start + n % span) as u16;
        if TcpListener::bind(format!("{}:{}", ip, port)).is_ok()
            && UdpSocket::bind(format!("{}:{}", ip, port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {:?}", PORTS);
}

pub struct Vozbox {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub stdout: Vec<String>,
    lines: Option<mpsc::Receiver<String>>,
    /// The binary run, and the directory it runs from (None: the test's own).
    pub bin: PathBuf,
    pub cwd: Option<PathBuf>,
    /// Environment variables of the process beyond `RUST_LOG`.
    pub env: Vec<(String, String)>,
}

/// The first relay port of the server on SIP port `port`: 200 ports each, from 20000 up to
/// 31999, below the ephemeral range for the same reason as `free_port`.
pub fn media_range(port: u16) -> u16 {
    20000 + (port % 60) * 200
}

impl Vozbox {
    /// Starts vozbox with `extra` appended to a config that listens on UDP and TCP on a
    /// free port and keeps its database in a fresh directory.
    pub fn start(name: &str, extra: &str, provision: &str) -> Vozbox {
        let dir = temp_dir(name);
        let port = free_port("127.0.0.1");
        Self::start_in(dir, port, extra, provision)
    }

    /// Starts vozbox with a relay range of exactly two port pairs (one call's), and
    /// returns it with the first port of that range.
    pub fn start_with_one_call_of_ports(name: &str, provision: &str) -> (Vozbox, u16) {
        let port = free_port("127.0.0.1");
        let first = media_range(port);
        let range = format!("[media]\nport_min = {}\nport_max = {}\n", first, first + 3);
        (
            Self::start_in(temp_dir(name), port, &range, provision),
            first,
        )
    }

    pub fn start_in(dir: PathBuf, port: u16, extra: &str, provision: &str) -> Vozbox {
        Self::start_on("127.0.0.1", dir, port, extra, provision)
    }

    /// The same listening on `host` (e.g. the wildcard "0.0.0.0"); tests still reach it
    /// on 127.0.0.1. An `extra` that starts with its own `listen = [...]` line replaces
    /// the UDP+TCP listeners.
    pub fn start_on(host: &str, dir: PathBuf, port: u16, extra: &str, provision: &str) -> Vozbox {
        let (mut v, prov) = Self::configure(host, dir, port, extra, provision);
        v.spawn(Some(&prov));
        v
    }

    /// The config and provisioning file of a server, written but not started; with the
    /// provisioning file's path.
    fn configure(
        host: &str,
        dir: PathBuf,
        port: u16,
        extra: &str,
        provision: &str,
    ) -> (Vozbox, PathBuf) {
        let config = dir.join("config.toml");
        // `extra` may open [storage] or [api] itself: the harness's keys go into it then.
        let mut extra = extra.to_string();
        let mut tail = String::new();
        for (table, line) in [
            (
                "[storage]",
                format!("path = \"{}\"", dir.join("vozbox.redb").display()),
            ),
            (
                "[api]",
                format!("listen = \"127.0.0.1:{}\"", free_port("127.0.0.1")),
            ),
            // The TLS certificate (made on the first start) in the test's directory.
            (
                "[tls]",
                format!(
                    "certificate = \"{}\"\nkey = \"{}\"",
                    dir.join("certs/vozbox.crt").display(),
                    dir.join("certs/vozbox.key").display()
                ),
            ),
            // Each server its own relay ports, so tests running at once do not collide.
            (
                "[media]",
                format!(
                    "port_min = {}\nport_max = {}",
                    media_range(port),
                    media_range(port) + 199
                ),
            ),
        ] {
            if (table == "[media]" && extra.contains("port_min"))
                || (table == "[api]" && extra.contains("[api]\nlisten ="))
                || (table == "[tls]" && extra.contains("certificate ="))
            {
                continue;
            }
            if extra.contains(&format!("{}\n", table)) {
                extra = extra.replace(&format!("{}\n", table), &format!("{}\n{}\n", table, line));
            } else {
                tail.push_str(&format!("{}\n{}\n", table, line));
            }
        }
        let listen = if extra.starts_with("listen = ") {
            String::new()
        } else {
            format!(
                "listen = [\"udp:{h}:{p}\", \"tcp:{h}:{p}\"]\n",
                h = host,
                p = port
            )
        };
        let text = format!("[sip]\n{listen}{extra}\n{tail}");
        std::fs::write(&config, text).unwrap();
        let prov = dir.join("provision.toml");
        std::fs::write(&prov, provision).unwrap();
        let v = Vozbox {
            child: None,
            port,
            dir,
            config,
            stdout: Vec::new(),
            lines: None,
            bin: PathBuf::from(BIN),
            cwd: None,
            env: Vec::new(),
        };
        (v, prov)
    }

    /// Like `start_in`, with these environment variables (e.g. `SSL_CERT_FILE`: the roots
    /// vozbox trusts).
    pub fn start_with_env(
        dir: PathBuf,
        port: u16,
        extra: &str,
        provision: &str,
        env: &[(&str, &str)],
    ) -> Vozbox {
        let (mut v, prov) = Self::configure("127.0.0.1", dir, port, extra, provision);
        v.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.spawn(Some(&prov));
        v
    }

    /// Like `start`, but the binary is a copy in an otherwise empty directory and runs
    /// from there (no `sounds/` or anything else of the repository beside it).
    pub fn start_elsewhere(name: &str, extra: &str, provision: &str) -> Vozbox {
        let dir = temp_dir(name);
        let port = free_port("127.0.0.1");
        let home = dir.join("elsewhere");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::copy(BIN, home.join("vozbox")).unwrap();
        let (mut v, prov) = Self::configure("127.0.0.1", dir, port, extra, provision);
        v.bin = home.join("vozbox");
        v.cwd = Some(home);
        v.spawn(Some(&prov));
        v
    }

    /// (Re)starts the process on the same config and database.
    pub fn spawn(&mut self, provision: Option<&Path>) {
        let mut cmd = Command::new(&self.bin);
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        cmd.arg("run").arg("--config").arg(&self.config);
        if let Some(p) = provision {
            cmd.arg("--provision").arg(p);
        }
        cmd.env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("vozbox.log"))
                    .unwrap(),
            ));
        let mut child = cmd.spawn().expect("start vozbox");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        self.child = Some(child);
        self.lines = Some(rx);
        self.wait_for_line("vozbox ready", Duration::from_secs(20));
    }

    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let rx = self.lines.as_ref().unwrap();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.stdout.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!(
                    "vozbox did not print {:?}; stdout: {:?}; log: {}",
                    needle,
                    self.stdout,
                    self.log()
                ),
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("vozbox.log")).unwrap_or_default()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// `vozbox <command> --config <this server's config>`: its output, which must succeed.
    pub fn cli(&self, command: &str) -> String {
        let out = self.run_cli(command);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `vozbox <args…> --config <this server's config>`: its output, which must succeed.
    pub fn cli_args(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run_cli(&self, command: &str) -> std::process::Output {
        Command::new(BIN)
            .arg(command)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }

    /// The body of a GET to this server's admin API.
    pub fn api_get(&self, path: &str) -> String {
        self.api("GET", path).1
    }

    /// `method path` on this server's admin API with its token: status and body.
    pub fn api(&self, method: &str, path: &str) -> (u16, String) {
        let cfg = vozbox::config::Config::load(&self.config).expect("config");
        let addr = cfg.api.addr().expect("api address");
        let token = vozbox::api::client::token_for(&cfg).expect("api token");
        match vozbox::api::client::request(addr, method, path, Some(&token), None, "") {
            Ok(vozbox::api::client::Reply::Http { status, body }) => (status, body),
            _ => panic!("no admin API at {}", addr),
        }
    }

    /// The token of this server's `api-token` file.
    pub fn token(&self) -> String {
        let cfg = vozbox::config::Config::load(&self.config).expect("config");
        vozbox::api::client::token_for(&cfg).expect("api token")
    }

    /// `method path` on this server's admin API as `bearer`, with a JSON body: the status
    /// and the JSON answer (`Null` when the answer is not JSON).
    pub fn api_as(
        &self,
        bearer: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let cfg = vozbox::config::Config::load(&self.config).expect("config");
        let addr = cfg.api.addr().expect("api address");
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let ctype = (!text.is_empty()).then_some("application/json");
        match vozbox::api::client::request(addr, method, path, Some(bearer), ctype, &text) {
            Ok(vozbox::api::client::Reply::Http { status, body }) => {
                (status, serde_json::from_str(&body).unwrap_or_default())
            }
            _ => panic!("no admin API at {}", addr),
        }
    }

    /// `vozbox registrations` against this server's database.
    pub fn registrations(&self) -> String {
        self.cli("registrations")
    }
}

impl Drop for Vozbox {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Vozbox {
    /// `vozbox cdrs` against this server's database, once `n` records are there.
    pub fn cdrs(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // a failed read is tried again until the deadline
            let out = self.run_cli("cdrs");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains(&format!("{} record(s)", n)) || Instant::now() > deadline {
                return self.cli("cdrs");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `vozbox calls` against this running server.
    pub fn calls(&self) -> String {
        self.cli("calls")
    }
}

/// The first of `n` consecutive free ports, all taken from `free_port`'s sequence so no
/// other test is handed one of them.
pub fn free_ports(n: u16) -> u16 {
    loop {
        let first = free_port("127.0.0.1");
        if (1..n).all(|i| free_port("127.0.0.1") == first + i) {
            return first;
        }
    }
}

/// A port free with the next one too (baresip listens for TLS on port + 1).
pub fn two_free_ports() -> u16 {
    free_ports(2)
}

//! Test harness: starts the real vozbox binary on free loopback ports with a config and a
//! provisioning file of the test's own, and runs SIPp scenarios from `tests/sipp/` against it.
#![allow(dead_code)]

pub mod audio;
pub mod calls_lab;
pub mod dns;
pub mod lab;
pub mod peer;
pub mod rtp;
pub mod smtp;
pub mod stop;

#[allow(unused_imports)]
pub use lab::{PROVISION, SPANISH_CLIENT};

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

pub struct Sipp {
    pub ok: bool,
    pub output: String,
    pub messages: String,
}

/// Runs `tests/sipp/<scenario>` once against `remote` over `transport` ("u1" or "t1") from
/// `local_ip`, with an injection file `csv` (first line SEQUENTIAL), and extra arguments.
pub fn sipp(
    scenario: &str,
    remote: &str,
    transport: &str,
    local_ip: &str,
    csv: &str,
    extra: &[&str],
) -> Sipp {
    let port = free_port(local_ip);
    sipp_at(scenario, remote, transport, local_ip, port, csv, extra)
}

/// The same from a chosen local port (a callee registers from the port it answers on).
pub fn sipp_at(
    scenario: &str,
    remote: &str,
    transport: &str,
    local_ip: &str,
    port: u16,
    csv: &str,
    extra: &[&str],
) -> Sipp {
    let dir = temp_dir("sipp");
    let csv_path = dir.join("users.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let msg = dir.join("messages.log");
    let sf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(scenario);
    let mut cmd = Command::new("sipp");
    cmd.current_dir(&dir)
        .arg("-sf")
        .arg(&sf)
        .arg("-inf")
        .arg(&csv_path)
        .args(["-t", transport, "-i", local_ip, "-p", &port.to_string()])
        .args(["-nostdin", "-timeout_error"])
        // a test may give its own overall timeout
        .args(if extra.contains(&"-timeout") {
            &[][..]
        } else {
            &["-timeout", "30s"][..]
        })
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&msg)
        .args(if extra.contains(&"-m") {
            &[][..]
        } else {
            &["-m", "1"][..]
        })
        .args(extra)
        .arg(remote)
        .stdin(Stdio::null());
    let out = cmd.output().expect("run sipp (apt-get install sip-tester)");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = std::fs::read_to_string(&msg).unwrap_or_default();
    let ok = out.status.success();
    if ok {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Sipp {
        ok,
        output,
        messages,
    }
}

/// The injection line for a user: domain;[authentication …].
pub fn creds(domain: &str, user: &str, password: &str) -> String {
    format!(
        "SEQUENTIAL\n{};[authentication username={} password={}];{}\n",
        domain, user, password, user
    )
}

pub fn sipp_ok(s: &Sipp) {
    assert!(
        s.ok,
        "sipp failed:\n{}\n--- messages ---\n{}",
        s.output, s.messages
    );
}

/// Sends raw bytes over UDP and returns the first response (if any within `wait`).
pub fn udp_exchange(to: &str, from_ip: &str, data: &[u8], wait: Duration) -> Option<String> {
    let s = UdpSocket::bind(format!("{}:0", from_ip)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(data, to.parse::<SocketAddr>().unwrap()).unwrap();
    let mut buf = vec![0u8; 65536];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

/// A minimal, well-formed OPTIONS for liveness checks.
pub fn options(target: &str, branch: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{t} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{b};rport\r\nFrom: <sip:probe@127.0.0.1>;tag={b}\r\nTo: <sip:{t}>\r\nCall-ID: {b}@probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        t = target,
        b = branch
    )
    .into_bytes()
}

/// A minimal UDP user agent for tests that need what SIPp cannot do (SHA-256 digest,
/// bursts with chosen nonce-counts): alice@127.0.0.1 registering with her password. The
/// digest is computed here with the md-5/sha2 crates, not with vozbox's own code.
pub struct RawUa {
    pub sock: UdpSocket,
    pub server: String,
    call: String,
    buf: Vec<u8>,
}

impl RawUa {
    pub fn new(server: &str, call: &str) -> RawUa {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // room for every answer of a burst still being sent
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        RawUa {
            sock,
            server: server.to_string(),
            call: call.to_string(),
            buf: vec![0u8; 4096],
        }
    }

    /// Sends REGISTER number `n` (CSeq and branch), with an Authorization line or "".
    pub fn register(&self, n: u32, auth: &str) {
        let l = self.sock.local_addr().unwrap();
        self.register_contact(n, auth, &format!("sip:alice@{};n={}", l, n));
    }

    /// The same with a Contact URI of the caller's choice.
    pub fn register_contact(&self, n: u32, auth: &str, contact: &str) {
        let l = self.sock.local_addr().unwrap();
        let msg = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{c}{n};rport\r\nFrom: <sip:alice@127.0.0.1>;tag=s\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {c}@test\r\nCSeq: {n} REGISTER\r\nContact: <{contact}>\r\n{auth}Max-Forwards: 70\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n",
            c = self.call
        );
        self.sock.send_to(msg.as_bytes(), &self.server).unwrap();
    }

    pub fn recv(&mut self) -> Option<String> {
        let n = self.sock.recv(&mut self.buf).ok()?;
        Some(String::from_utf8_lossy(&self.buf[..n]).into_owned())
    }

    /// Registers without credentials and returns the 401 and its nonce.
    pub fn challenge(&mut self) -> (String, String) {
        self.register(1, "");
        let r = self.recv().expect("an answer to REGISTER");
        assert!(r.starts_with("SIP/2.0 401"), "{}", r);
        let nonce = r
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a nonce")
            .to_string();
        (r, nonce)
    }

    /// The Authorization line for alice with `algorithm` ("MD5" or "SHA-256").
    pub fn authorization(algorithm: &str, nonce: &str, nc: u32) -> String {
        let h = |s: String| -> String {
            let bytes: Vec<u8> = if algorithm == "SHA-256" {
                use sha2::Digest;
                sha2::Sha256::digest(s.as_bytes()).to_vec()
            } else {
                use md5::Digest;
                md5::Md5::digest(s.as_bytes()).to_vec()
            };
            bytes.iter().map(|b| format!("{:02x}", b)).collect()
        };
        let nc = format!("{:08x}", nc);
        let ha1 = h("alice:127.0.0.1:Alice-Secret-1".into());
        let ha2 = h("REGISTER:sip:127.0.0.1".into());
        let resp = h(format!("{}:{}:{}:c0ffee:auth:{}", ha1, nonce, nc, ha2));
        format!(
            "Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"{}\", uri=\"sip:127.0.0.1\", response=\"{}\", algorithm={}, qop=auth, nc={}, cnonce=\"c0ffee\"\r\n",
            nonce, resp, algorithm, nc
        )
    }
}

/// A SIPp callee (UAS scenario) running in the background on `local_ip:port` for one call.
pub struct SippUas {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
}

impl SippUas {
    pub fn start(scenario: &str, transport: &str, local_ip: &str, port: u16) -> SippUas {
        Self::start_with(scenario, transport, local_ip, port, &[])
    }

    /// The same with extra SIPp arguments (e.g. `-rtp_echo`).
    pub fn start_with(
        scenario: &str,
        transport: &str,
        local_ip: &str,
        port: u16,
        extra: &[&str],
    ) -> SippUas {
        let dir = temp_dir("sipp-uas");
        let sf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(scenario);
        let child = Command::new("sipp")
            .current_dir(&dir)
            .arg("-sf")
            .arg(&sf)
            .args(["-t", transport, "-i", local_ip, "-p", &port.to_string()])
            .args(if extra.contains(&"-m") {
                &[][..]
            } else {
                &["-m", "1"][..]
            })
            .args(["-nostdin", "-timeout_error"])
            .args(if extra.contains(&"-timeout") {
                &[][..]
            } else {
                &["-timeout", "40s"][..]
            })
            .args(extra)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.join("messages.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(dir.join("out.log")).unwrap(),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("err.log")).unwrap(),
            ))
            .spawn()
            .expect("run sipp (apt-get install sip-tester)");
        // SIPp binds its socket at once; give it a moment before traffic is sent to it.
        std::thread::sleep(Duration::from_millis(200));
        SippUas {
            child: Some(child),
            dir,
            port,
        }
    }

    /// Waits for the scenario to end (at most `timeout`) and returns what it did.
    pub fn wait(mut self, timeout: Duration) -> Sipp {
        let deadline = Instant::now() + timeout;
        let mut ok = false;
        if let Some(mut c) = self.child.take() {
            loop {
                match c.try_wait() {
                    Ok(Some(st)) => {
                        ok = st.success();
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        Sipp {
            ok,
            output: read("out.log") + &read("err.log"),
            messages: read("messages.log"),
        }
    }
}

impl Drop for SippUas {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An OPTIONS from `local_ip` over `transport` ("u1", "t1") to vozbox.
pub fn options_from(v: &Vozbox, transport: &str, local_ip: &str, extra: &[&str]) -> Sipp {
    sipp(
        "options.xml",
        &v.addr(),
        transport,
        local_ip,
        "SEQUENTIAL\nx\n",
        extra,
    )
}

/// alice (`Alice-Secret-1`, of the client on 127.0.0.1) dials `number` with `scenario`
/// over `transport` ("u1", "t1") from `local_ip`; the digest covers the Request-URI
/// (`-auth_uri`: SIPp would use the server's address otherwise).
pub fn alice_dials(
    v: &Vozbox,
    scenario: &str,
    number: &str,
    transport: &str,
    local_ip: &str,
    extra: &[&str],
) -> Sipp {
    let uri = format!("{}@{}", number, v.addr());
    let mut args = vec!["-auth_uri", uri.as_str()];
    args.extend_from_slice(extra);
    sipp(
        scenario,
        &v.addr(),
        transport,
        local_ip,
        &call_csv("127.0.0.1", "alice", "Alice-Secret-1", number),
        &args,
    )
}

/// The injection file of a caller: domain; credentials; user; number dialled.
pub fn call_csv(domain: &str, user: &str, password: &str, number: &str) -> String {
    format!(
        "SEQUENTIAL\n{};[authentication username={} password={}];{};{}\n",
        domain, user, password, user, number
    )
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

/// A baresip instance's configuration directory: a sine tone (`tone` Hz) as source, a
/// null player (aubridge), G.711, and `sndfile` recording what it sends and receives
/// (`dump-*-enc.wav`, `dump-*-dec.wav`) into the directory.
pub fn baresip_dir(name: &str, account: &str, tone: u32) -> (std::path::PathBuf, u16) {
    let dir = temp_dir(name);
    let port = two_free_ports();
    std::fs::write(
        dir.join("config"),
        format!(
            "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule account.so\nmodule menu.so\nmodule ausine.so\nmodule aubridge.so\naudio_source ausine,{}\naudio_player aubridge,{}\nausrc_srate 48000\nauplay_srate 48000\nausrc_channels 2\nauplay_channels 2\nmodule sndfile.so\nsnd_path {}\nsip_listen 127.0.0.1:{}\nrtp_ports 40000-59998\n",
            tone,
            name,
            dir.display(),
            port
        ),
    )
    .unwrap();
    std::fs::write(dir.join("accounts"), format!("{}\n", account)).unwrap();
    (dir, port)
}

/// Registers `user` of the client on `domain` with a Contact at `port` on 127.0.0.1 (where
/// its callee will answer).
pub fn register(v: &Vozbox, domain: &str, (user, pw): (&str, &str), port: u16) {
    sipp_ok(&sipp_at(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        port,
        &creds(domain, user, pw),
        &[],
    ));
}

/// A registered callee answering with `scenario` (extra SIPp arguments: e.g. `-rtp_echo`).
pub fn callee_with(
    v: &Vozbox,
    domain: &str,
    who: (&str, &str),
    scenario: &str,
    extra: &[&str],
) -> SippUas {
    let port = free_port("127.0.0.1");
    register(v, domain, who, port);
    SippUas::start_with(scenario, "u1", "127.0.0.1", port, extra)
}

/// A registered callee answering with `scenario`.
pub fn callee(v: &Vozbox, domain: &str, who: (&str, &str), scenario: &str) -> SippUas {
    callee_with(v, domain, who, scenario, &[])
}

/// Two baresip phones call: bob (answering automatically, from `bob_dir`) registers, then
/// alice (from `alice_dir`, quitting after `alice_secs`) dials 101. Returns what each printed
/// (with the SIP trace).
pub fn baresip_call(
    v: &Vozbox,
    alice_dir: &Path,
    bob_dir: &Path,
    secs: (u32, u32),
) -> (String, String) {
    let uri = format!("sip:101@127.0.0.1:{}", v.port);
    baresip_dial(v, alice_dir, bob_dir, secs, &uri)
}

/// The same with alice dialling `uri` (e.g. over TLS).
pub fn baresip_dial(
    v: &Vozbox,
    alice_dir: &Path,
    bob_dir: &Path,
    (alice_secs, bob_secs): (u32, u32),
    uri: &str,
) -> (String, String) {
    let bob = Command::new("baresip")
        .arg("-f")
        .arg(bob_dir)
        .args(["-n", "127.0.0.1", "-t", &bob_secs.to_string(), "-s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run baresip (apt-get install baresip-core)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.registrations().contains("sip:bob@127.0.0.1") {
        assert!(Instant::now() < deadline, "bob did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
    let alice = Command::new("baresip")
        .arg("-f")
        .arg(alice_dir)
        .args(["-n", "127.0.0.1", "-t", &alice_secs.to_string(), "-s", "-e"])
        .arg(format!("/dial {}", uri))
        .output()
        .expect("run baresip");
    let text = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let bob = bob.wait_with_output().expect("baresip bob");
    (text(&alice), text(&bob))
}

/// Power of `freq` in 16-bit mono samples at `rate` (Goertzel).
pub fn tone_power(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2).max(0.0).sqrt()
}

/// The recording of what a baresip phone received (`dump-*-dec.wav` in its directory).
pub fn received(dir: &Path) -> Vec<i16> {
    let f = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("no recording in {}", dir.display()));
    wav_samples(&f)
}

/// Asserts that a phone's recording holds `theirs` Hz far louder than its own `mine` Hz.
pub fn assert_heard(dir: &Path, theirs: f64, mine: f64) {
    let s = received(dir);
    assert!(
        s.len() > 8000,
        "{}: only {} samples",
        dir.display(),
        s.len()
    );
    let heard = tone_power(&s, 8000.0, theirs);
    let own = tone_power(&s, 8000.0, mine);
    assert!(
        heard > 100.0 * own.max(1.0),
        "{}: {} Hz {:.0} vs {} Hz {:.0}",
        dir.display(),
        theirs,
        heard,
        mine,
        own
    );
}

/// The samples of a 16-bit PCM mono WAV (its "data" chunk).
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {}", path.display(), e));
    let i = bytes
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    bytes[i + 8..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

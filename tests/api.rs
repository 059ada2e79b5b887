//! The admin API is secure by default (issue 18): every route needs a credential, browsers
//! cannot reach it (Host check, content types), the token is stored only as a hash, logins
//! hide which names exist, failures are throttled, and a non-loopback listener is refused.
//! All over real HTTP/1.1 (a raw `TcpStream`) against the real binary.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// Sends `req` (a whole HTTP/1.1 request with `Connection: close`) and reads the answer.
fn exchange(addr: SocketAddr, req: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to the admin API");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {:?}", text));
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The server's admin API: its address and the token of its `api-token` file.
struct Api {
    addr: SocketAddr,
    token: String,
}

impl Api {
    fn of(v: &Vozbox) -> Api {
        let cfg = vozbox::config::Config::load(&v.config).unwrap();
        let token = std::fs::read_to_string(v.dir.join("api-token")).expect("api-token");
        Api {
            addr: vozbox::api::client::target(cfg.api.addr().unwrap()),
            token: token.trim().to_string(),
        }
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A request with `Host: host` and extra header lines (each ending in CRLF).
    fn send(&self, method: &str, path: &str, host: &str, headers: &str, body: &str) -> Reply {
        exchange(
            self.addr,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    }

    /// The same with this server's own Host and `Authorization: Bearer <bearer>`.
    fn with(&self, bearer: &str, method: &str, path: &str, headers: &str, body: &str) -> Reply {
        let auth = format!("Authorization: Bearer {}\r\n{}", bearer, headers);
        self.send(method, path, &self.host(), &auth, body)
    }

    fn get(&self, path: &str) -> Reply {
        self.with(&self.token, "GET", path, "", "")
    }
}

/// Every route of the API: method, path, content type, body.
const ROUTES: [(&str, &str, &str, &str); 7] = [
    ("GET", "/api/registrations", "", ""),
    ("GET", "/api/calls", "", ""),
    ("DELETE", "/api/calls/1", "", ""),
    ("GET", "/api/media", "", ""),
    ("GET", "/api/tls", "", ""),
    ("POST", "/api/tls/reload", "", ""),
    (
        "POST",
        "/api/provision",
        "Content-Type: application/toml\r\n",
        PROVISION,
    ),
];

#[track_caller]
fn assert_json_error(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}\n{}", r.head, r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("a JSON body");
    assert!(v["error"].is_string(), "{}", r.body);
    assert!(
        !r.head.to_ascii_lowercase().contains("access-control-"),
        "{}",
        r.head
    );
}

/// SIP registration of a user of the test's provisioning file works (`ok`) or is refused.
fn registers(v: &Vozbox, user: &str, password: &str) -> bool {
    let s = sipp(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &creds("127.0.0.1", user, password),
        &[],
    );
    s.ok
}

#[test]
fn every_route_needs_a_credential() {
    let v = Vozbox::start("api-401", "[auth]\nban_threshold = 100\n", PROVISION);
    let api = Api::of(&v);
    for (method, path, ctype, body) in ROUTES {
        let r = api.send(method, path, &api.host(), ctype, body);
        assert_json_error(&r, 401);
        let wrong = "0".repeat(64);
        assert_json_error(&api.with(&wrong, method, path, ctype, body), 401);
        let basic = format!("Authorization: Basic YWRtaW46eA==\r\n{}", ctype);
        assert_json_error(&api.send(method, path, &api.host(), &basic, body), 401);
    }
    // what the token opens
    assert_eq!(api.get("/api/calls").status, 200);
    assert_eq!(api.get("/api/registrations").status, 200);
    // health stays open: it answers "ok" and changes nothing
    let r = api.send("GET", "/health", &api.host(), "", "");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
}

/// The attack of issue 18: a web page's anonymous `text/plain` POST that would replace
/// the PBX. Refused without the token, refused with it too for the wrong type (415), and
/// the model is the one before: alice still registers, the posted user does not.
#[test]
fn a_browser_post_of_another_model_is_refused_and_changes_nothing() {
    let v = Vozbox::start("api-attack", "", PROVISION);
    let api = Api::of(&v);
    let evil = PROVISION.replace("name = \"alice\"", "name = \"mallory\"");
    let plain = "Content-Type: text/plain\r\n";
    assert_json_error(
        &api.send("POST", "/api/provision", &api.host(), plain, &evil),
        401,
    );
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    assert_json_error(
        &api.send("POST", "/api/provision", "evil.example:80", form, &evil),
        421,
    );
    for ctype in [plain, form, ""] {
        let r = api.with(&api.token, "POST", "/api/provision", ctype, &evil);
        assert_json_error(&r, 415);
    }
    assert!(registers(&v, "alice", "Alice-Secret-1"));
    assert!(!registers(&v, "mallory", "Alice-Secret-1"));
    // the documented type with the token is what applies a file
    let r = api.with(
        &api.token,
        "POST",
        "/api/provision",
        "Content-Type: application/toml; charset=utf-8\r\n",
        &evil,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(registers(&v, "mallory", "Alice-Secret-1"));
}

/// DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends
/// `Host: evil.example:PORT`; even with a valid token it is refused.
#[test]
fn a_foreign_host_is_refused_even_with_the_token() {
    let v = Vozbox::start("api-host", "[api]\nnames = [\"pbx.test\"]\n", PROVISION);
    let api = Api::of(&v);
    let port = api.addr.port();
    let bearer = format!("Authorization: Bearer {}\r\n", api.token);
    for host in [
        format!("evil.example:{}", port),
        format!("127.0.0.1:{}", port + 1),
        "127.0.0.1".to_string(),
        format!("localhost.evil.example:{}", port),
    ] {
        assert_json_error(&api.send("GET", "/api/calls", &host, &bearer, ""), 421);
        assert_json_error(&api.send("GET", "/health", &host, "", ""), 421);
    }
    for host in [
        format!("127.0.0.1:{}", port),
        format!("localhost:{}", port),
        format!("pbx.test:{}", port),
    ] {
        let r = api.send("GET", "/api/calls", &host, &bearer, "");
        assert_eq!(r.status, 200, "{}: {}", host, r.body);
    }
    // an absolute-form target naming another host, and a second Host line
    let r = exchange(
        api.addr,
        &format!(
            "GET http://evil.example:{port}/api/calls HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{bearer}Connection: close\r\n\r\n"
        ),
    );
    assert_json_error(&r, 421);
    let r = exchange(
        api.addr,
        &format!(
            "GET /api/calls HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example:{port}\r\n{bearer}Connection: close\r\n\r\n"
        ),
    );
    assert!(r.status == 421 || r.status == 400, "{}", r.head);
}

#[test]
fn the_token_file_is_private_and_only_hashes_are_stored() {
    let mut v = Vozbox::start("api-file", "", PROVISION);
    let file = v.dir.join("api-token");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1, "{:?}", text);
    let api = Api::of(&v);
    assert_eq!(api.token.len(), 64, "256 bits in hex");
    assert_eq!(api.get("/api/calls").status, 200);
    let password = operator_password(&v);
    assert!(v
        .stdout
        .iter()
        .any(|l| l.contains(&format!("token written to {}", file.display()))));
    v.kill();
    let db = std::fs::read(v.dir.join("vozbox.redb")).unwrap();
    for secret in [api.token.as_str(), password.as_str()] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} found in the database",
            secret
        );
    }
    // a later start keeps the file and the credentials, and prints no new password
    v.stdout.clear();
    v.spawn(None);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert!(
        !v.stdout.iter().any(|l| l.contains("Admin API")),
        "{:?}",
        v.stdout
    );
    assert_eq!(Api::of(&v).get("/api/calls").status, 200);
}

fn operator_password(v: &Vozbox) -> String {
    v.stdout
        .iter()
        .find_map(|l| l.strip_prefix("Admin API operator admin  password "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no operator password printed: {:?}", v.stdout))
        .to_string()
}

fn login(api: &Api, name: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let json = "Content-Type: application/json\r\n";
    api.send("POST", "/api/login", &api.host(), json, &body)
}

#[test]
fn login_gives_an_expiring_session_and_hides_which_names_exist() {
    let v = Vozbox::start(
        "api-login",
        "[auth]\nban_threshold = 100\n[api]\nsession_ttl = 2\n",
        PROVISION,
    );
    let api = Api::of(&v);
    let password = operator_password(&v);
    let r = login(&api, "admin", &password);
    assert_eq!(r.status, 200, "{}", r.body);
    let v1: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let session = v1["token"].as_str().expect("a session token").to_string();
    assert_eq!(session.len(), 64);
    assert_ne!(session, api.token);
    assert_eq!(api.with(&session, "GET", "/api/calls", "", "").status, 200);
    // a wrong password and an unknown name: the same answer after the same work
    let timed = |name: &str, pw: &str| {
        let t = Instant::now();
        let r = login(&api, name, pw);
        (r, t.elapsed())
    };
    let (mut wrong, mut unknown) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let (a, ta) = timed("admin", "not-the-password");
        let (b, tb) = timed("root", &password);
        assert_json_error(&a, 401);
        assert_eq!((a.status, &a.body), (b.status, &b.body));
        (wrong, unknown) = (wrong.min(ta), unknown.min(tb));
    }
    assert!(
        unknown * 4 > wrong && wrong * 4 > unknown,
        "wrong password {:?}, unknown name {:?}",
        wrong,
        unknown
    );
    // only JSON logs in
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let r = api.send(
        "POST",
        "/api/login",
        &api.host(),
        form,
        "name=admin&password=x",
    );
    assert_json_error(&r, 415);
    let r = api.send(
        "POST",
        "/api/login",
        &api.host(),
        "Content-Type: application/json\r\n",
        "{",
    );
    assert_json_error(&r, 400);
    // the session expires
    std::thread::sleep(Duration::from_millis(2500));
    assert_json_error(&api.with(&session, "GET", "/api/calls", "", ""), 401);
    assert_eq!(api.get("/api/calls").status, 200);
}

#[test]
fn repeated_failures_from_one_address_are_throttled() {
    let v = Vozbox::start("api-throttle", "[auth]\nban_threshold = 5\n", PROVISION);
    let api = Api::of(&v);
    let wrong = "f".repeat(64);
    for _ in 0..4 {
        assert_json_error(&api.with(&wrong, "GET", "/api/calls", "", ""), 401);
    }
    assert_json_error(&login(&api, "admin", "guess"), 401);
    // the fifth failure banned the address: no guess is checked any more — a wrong token,
    // a login (even with the right password: argon2 is not run) — but the real token
    // still passes (256 random bits cannot be guessed; a local process that fails on
    // purpose must not lock the operator's CLI out)
    let r = api.with(&wrong, "GET", "/api/calls", "", "");
    assert_json_error(&r, 429);
    assert!(
        r.head.to_ascii_lowercase().contains("retry-after: 600"),
        "{}",
        r.head
    );
    assert_json_error(&login(&api, "admin", &operator_password(&v)), 429);
    assert_eq!(api.get("/api/calls").status, 200);
    // a missing credential is not a guess: it is not counted, but answered the same
    assert_json_error(&api.send("GET", "/api/calls", &api.host(), "", ""), 429);
}

#[test]
fn a_non_loopback_listen_is_refused_unless_plain_http_is_allowed() {
    let dir = temp_dir("api-wild");
    let (sip, port) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    std::fs::write(
        dir.join("c.toml"),
        format!(
            "[sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n[storage]\npath = \"{}\"\n[api]\nlisten = \"0.0.0.0:{port}\"\n",
            dir.join("db.redb").display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(dir.join("c.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("c.toml:6: [api] listen: 0.0.0.0:") && err.contains("allow_plain_http"),
        "{}",
        err
    );
    assert!(!dir.join("db.redb").exists());

    let v = Vozbox::start(
        "api-wild-ok",
        &format!("[api]\nlisten = \"0.0.0.0:{port}\"\nallow_plain_http = true\n"),
        PROVISION,
    );
    let api = Api::of(&v);
    assert_eq!(api.addr.to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(api.get("/api/calls").status, 200);
    // the CLI reaches a wildcard listener on loopback
    assert!(v.calls().contains("0 active call(s)"));
}

/// The CLI reads `api-token` next to the database; without it, it says where it looked;
/// `vozbox admin token` (server stopped) issues a new one.
#[test]
fn the_cli_uses_the_token_file_and_admin_token_renews_it() {
    let mut v = Vozbox::start("api-cli", "", PROVISION);
    let file = v.dir.join("api-token");
    let config = v.config.clone();
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = cli(&["tls"]);
    // no TLS listener in this test: the API answers, authenticated, 404
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("admin API: 404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let out = cli(&["calls"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.display().to_string()), "{}", err);
    let prov = v.dir.join("provision.toml");
    let out = cli(&["apply", prov.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // while the server runs, the database is its own
    let out = cli(&["admin", "token"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop the server"));
    v.kill();
    let out = cli(&["admin", "token"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = std::fs::read_to_string(&file).unwrap();
    assert_ne!(new, old);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    v.spawn(None);
    assert!(v.calls().contains("0 active call(s)"));
    let stale = Api {
        addr: Api::of(&v).addr,
        token: old.trim().to_string(),
    };
    assert_json_error(&stale.get("/api/calls"), 401);
}

/// `[api] tls = true`: a non-loopback listener is allowed, it speaks HTTPS with the
/// `[tls]` certificate (an independent client, Python's `ssl` trusting that certificate,
/// gets answers), plain HTTP gets none, and the CLI reaches it trusting exactly that
/// certificate.
#[test]
fn the_api_over_tls_with_the_sip_certificate() {
    let port = free_port("127.0.0.1");
    let v = Vozbox::start(
        "api-tls",
        &format!("[api]\nlisten = \"0.0.0.0:{port}\"\ntls = true\n"),
        PROVISION,
    );
    assert!(v.calls().contains("0 active call(s)"));
    let cert = v.dir.join("certs/vozbox.crt");
    let cert = if cert.exists() {
        cert
    } else {
        let cfg = vozbox::config::Config::load(&v.config).unwrap();
        cfg.tls.certificate.clone()
    };
    assert!(cert.exists(), "{}", cert.display());
    let token = v.token();
    let py = Command::new("python3")
        .args([
            "-c",
            "import http.client, ssl, sys\n\
             ctx = ssl.create_default_context(cafile=sys.argv[1])\n\
             ctx.check_hostname = False\n\
             c = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[2]), context=ctx)\n\
             c.request('GET', '/api/calls', headers={'Authorization': 'Bearer ' + sys.argv[3], 'Host': '127.0.0.1:' + sys.argv[2]})\n\
             r = c.getresponse()\n\
             print(r.status, r.read().decode())",
        ])
        .arg(&cert)
        .arg(port.to_string())
        .arg(&token)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&py.stdout);
    assert!(
        said.starts_with("200 []"),
        "{}{}",
        said,
        String::from_utf8_lossy(&py.stderr)
    );
    // plain HTTP to the TLS port: no HTTP answer
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!(
        "GET /api/calls HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        !String::from_utf8_lossy(&raw).contains("HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
}

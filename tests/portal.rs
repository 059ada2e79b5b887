//! The web portal (issue 19) in a real browser: Debian's chromium, headless, driven by
//! `tests/browser/portal.py` (selenium from PyPI, Debian's chromium-driver) against the
//! real binary, with SIPp registering and calling when the script asks (`STEP <name>` on
//! its stdout, `ok` back on its stdin). Screenshots of the main pages at desktop and phone
//! width go to `$PORTAL_SCREENSHOTS` (`docs/screenshots` refreshes the README's), else to
//! the target directory. A missing browser, driver or selenium fails the test. A voicemail
//! message for the voicemail page is left by baresip (a tone) while the browser goes on; a
//! call recording for the recordings page is asked for by SIPp's SIP INFO `Record: on`
//! (the client records on demand), the test sending the caller's RTP.

mod common;
use common::rtp::{alice_calls_bob_from, caller_port, echoing_bob, talk};
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Another client (its data must never show to bluebird's administrators) and the brand
/// the operator's new client joins; bluebird itself is created through the portal.
const PROVISION: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "redbird"
domain = "redbird.test"

[[user]]
client = "redbird"
name = "carol"
extension = "100"
password = "Carol-Secret-1"

[[extension]]
client = "redbird"
number = "200"
route = "echo"
"#;

const ALICE: (&str, &str) = ("alice", "Alice-Secret-1");
const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

/// The browser's tools, or a failure saying how to install them.
fn require_browser() {
    for (cmd, args, hint) in [
        ("chromium", &["--version"][..], "apt-get install chromium"),
        (
            "chromedriver",
            &["--version"][..],
            "apt-get install chromium-driver",
        ),
        (
            "python3",
            &["-c", "import selenium"][..],
            "python3 -m pip install selenium",
        ),
    ] {
        let ok = Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "{} {:?} failed: {} (./test.sh does)", cmd, args, hint);
    }
}

fn operator_password(v: &Vozbox) -> String {
    v.stdout
        .iter()
        .find_map(|l| l.strip_prefix("Admin API operator admin  password "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no operator password printed: {:?}", v.stdout))
}

fn add_admin(v: &Vozbox, body: serde_json::Value) {
    let (status, answer) = v.api_as(&v.token(), "POST", "/api/admins", Some(body));
    assert_eq!(status, 201, "{}", answer);
}

/// alice (baresip, a 440 Hz tone) calls `number` for `secs` seconds: what she printed.
fn alice_calls(port: u16, number: &str, secs: u32) -> String {
    let (dir, _) = baresip_dir(
        "portal-vm-alice",
        &format!(
            "<sip:alice@127.0.0.1:{};transport=udp>;auth_pass={};regint=0",
            port, ALICE.1
        ),
        440,
    );
    let out = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", &secs.to_string(), "-s", "-e"])
        .arg(format!("/dial sip:{}@127.0.0.1:{}", number, port))
        .output()
        .expect("run baresip (apt-get install baresip-core)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `vozbox voicemail --json` or `vozbox recordings --json`.
fn listed(v: &Vozbox, command: &str) -> Vec<serde_json::Value> {
    let out = v.cli_args(&[command, "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {}", e, out))
}

/// What `command` lists once it lists something (10 s at most).
fn listed_soon(v: &Vozbox, command: &str) -> Vec<serde_json::Value> {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let l = listed(v, command);
        if !l.is_empty() || std::time::Instant::now() > end {
            return l;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// alice calls bob (SIPp, echoing) and records 1.5 s of the call by SIP INFO `Record:
/// on`/`off`, her RTP sent from the test's socket: the recording's file.
fn alice_records_a_call(v: &Vozbox) -> PathBuf {
    let bob = echoing_bob(v, "uas_answer.xml");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket for alice's RTP");
    let port = sock.local_addr().expect("its port").port();
    let addr = v.addr();
    let caller = std::thread::spawn(move || {
        alice_calls_bob_from("uac_record_info.xml", &addr, port, &["-d", "1500"])
    });
    talk(&sock, caller_port(v), 100);
    let s = caller.join().expect("caller");
    sipp_ok(&s);
    assert!(s.messages.contains("200 Record On"), "{}", s.messages);
    sipp_ok(&bob.wait(Duration::from_secs(20)));
    let list = listed_soon(v, "recordings");
    assert_eq!(list.len(), 1, "{:?}", list);
    assert_eq!(list[0]["client"], "bluebird", "{:?}", list);
    let file = PathBuf::from(list[0]["file"].as_str().unwrap_or_default());
    assert!(file.exists(), "{:?}", list);
    file
}

#[test]
fn the_portal_in_a_real_browser() {
    require_browser();
    let v = Vozbox::start("portal", "", PROVISION);
    let cfg = vozbox::config::Config::load(&v.config).expect("config");
    let base = format!(
        "http://{}",
        vozbox::api::client::target(cfg.api.addr().expect("api"))
    );
    let shots = std::env::var_os("PORTAL_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| v.dir.join("screenshots"));
    let downloads = v.dir.join("downloads");
    for d in [&shots, &downloads] {
        std::fs::create_dir_all(d).expect("a directory for the browser");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/portal.py");
    let mut py = Command::new("python3")
        .arg(&script)
        .arg(&base)
        .arg(operator_password(&v))
        .arg(&shots)
        .arg(&downloads)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(v.dir.join("browser.log")).expect("browser.log"),
        ))
        .spawn()
        .expect("python3");
    let mut to_py = py.stdin.take().expect("stdin");
    let from_py = BufReader::new(py.stdout.take().expect("stdout"));
    let mut steps = Vec::new();
    let mut caller = None;
    let mut callee = None;
    let mut message_call = None;
    let mut message_file = None;
    let mut recording_file = None;
    let addr = v.addr();
    for line in from_py.lines().map_while(Result::ok) {
        let Some(step) = line.strip_prefix("STEP ") else {
            steps.push(line);
            continue;
        };
        steps.push(step.to_string());
        match step {
            "register" => register(&v, "127.0.0.1", ALICE, free_port("127.0.0.1")),
            "call" => {
                callee = Some(callee_with(&v, "127.0.0.1", BOB, "uas_answer.xml", &[]));
                let addr = addr.clone();
                caller = Some(std::thread::spawn(move || {
                    sipp(
                        "uac_call_remote_bye.xml",
                        &addr,
                        "u1",
                        "127.0.0.1",
                        &call_csv("127.0.0.1", ALICE.0, ALICE.1, "101"),
                        &["-auth_uri", &format!("101@{}", addr)],
                    )
                }));
            }
            "call_end" => {
                // alice's SIPp ends well only on the BYE of the hang-up, and so does bob's
                let alice = caller.take().expect("a call").join().expect("caller");
                sipp_ok(&alice);
                assert!(alice.messages.contains("BYE sip:"), "{}", alice.messages);
                sipp_ok(
                    &callee
                        .take()
                        .expect("a callee")
                        .wait(Duration::from_secs(20)),
                );
                assert!(
                    v.log().contains("hung up call"),
                    "the hang-up is not logged"
                );
            }
            "failed_call" => {
                let s = sipp(
                    "uac_refused.xml",
                    &addr,
                    "u1",
                    "127.0.0.1",
                    &call_csv("127.0.0.1", ALICE.0, ALICE.1, "199"),
                    &["-auth_uri", &format!("199@{}", addr)],
                );
                sipp_ok(&s);
            }
            // alice calls 150 (an extension to bob's mailbox) for 13 s: the greeting (8.5 s),
            // the tone, then about 4 s of her tone are kept; the browser goes on meanwhile
            "leave_message" => {
                let port = v.port;
                message_call = Some(std::thread::spawn(move || alice_calls(port, "150", 13)));
            }
            "message_left" => {
                let said = message_call.take().expect("a message call").join();
                let said = said.expect("baresip");
                assert!(said.contains("SIP/2.0 200 OK"), "not answered: {}", said);
                let list = listed_soon(&v, "voicemail");
                assert_eq!(list.len(), 1, "{:?}", list);
                assert_eq!(list[0]["mailbox"], "bob", "{:?}", list);
                message_file = list[0]["file"].as_str().map(PathBuf::from);
                assert!(message_file.as_ref().is_some_and(|f| f.exists()));
            }
            "no_messages" | "no_recordings" => {
                let (command, file) = match step {
                    "no_messages" => ("voicemail", message_file.take()),
                    _ => ("recordings", recording_file.take()),
                };
                let list = listed(&v, command);
                assert!(list.is_empty(), "the delete button left {:?}", list);
                let file = file.expect("the deleted file");
                assert!(!file.exists(), "{} stayed", file.display());
            }
            "record" => recording_file = Some(alice_records_a_call(&v)),
            "admins" => {
                // ann: added by the operator in the browser
                add_admin(
                    &v,
                    serde_json::json!({"name": "rita", "password": "Rita-Secret-123",
                        "client": "bluebird",
                        "rights": {"users": "read", "voicemail_messages": "read",
                            "recordings": "read"}}),
                );
                add_admin(
                    &v,
                    serde_json::json!({"name": "rob", "password": "Rob-Secret-123", "client": "redbird"}),
                );
            }
            other => panic!("unknown step {:?}", other),
        }
        writeln!(to_py, "ok").expect("the script waits");
    }
    let out = py.wait_with_output().expect("the browser script");
    assert!(
        out.status.success() && steps.last().map(String::as_str) == Some("DONE"),
        "the browser script failed after {:?}:\n{}\nvozbox log:\n{}",
        steps,
        std::fs::read_to_string(v.dir.join("browser.log")).unwrap_or_default(),
        v.log()
    );
    for page in [
        "login",
        "dashboard",
        "users",
        "user-edit",
        "user-error",
        "registrations",
        "calls",
        "cdrs",
        "voicemail",
        "recordings",
        "read-only",
        "admins",
        "audit",
    ] {
        for width in ["desktop", "phone"] {
            let f = shots.join(format!("{}-{}.png", page, width));
            assert!(
                std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000),
                "no screenshot {}",
                f.display()
            );
        }
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    /// The values of header `name` (lower case).
    fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// The value of cookie `name` this answer sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers("set-cookie").into_iter().find_map(|c| {
            let (n, rest) = c.split_once('=')?;
            (n == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
    }
}

/// One HTTP/1.1 request to `addr` with `Host: host`, extra header lines and a body.
fn http(
    addr: std::net::SocketAddr,
    host: &str,
    req: (&str, &str),
    headers: &str,
    body: &str,
) -> Reply {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let text = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        req.0,
        req.1,
        body.len()
    );
    s.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The hidden CSRF field's value in a page.
fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    page[at..at + 64].to_string()
}

const FORM: &str = "Content-Type: application/x-www-form-urlencoded\r\n";

/// The portal's guards over plain HTTP, without a browser: the cookie's attributes, the
/// security headers, the login form's and every POST's CSRF token, the API still closed
/// to cookies and form posts, the Host check; and the cookie `Secure` over `[api] tls`.
#[test]
fn the_portal_guards_its_cookie_and_forms() {
    let v = Vozbox::start("portal-guards", "", PROVISION);
    let cfg = vozbox::config::Config::load(&v.config).expect("config");
    let addr = vozbox::api::client::target(cfg.api.addr().expect("api"));
    let host = addr.to_string();
    let get = |path: &str, headers: &str| http(addr, &host, ("GET", path), headers, "");
    let post = |path: &str, headers: &str, body: &str| {
        http(
            addr,
            &host,
            ("POST", path),
            &format!("{FORM}{headers}"),
            body,
        )
    };
    // pages need a session; an unknown path is no page
    let r = get("/users", "");
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.headers("location"), vec!["/login?next=%2Fusers"]);
    assert_eq!(get("/nothing-here", "").status, 404);
    assert_eq!(
        get("/login", "Host: evil.example\r\n").status,
        421,
        "two Hosts"
    );
    let r = http(addr, "evil.example:80", ("GET", "/login"), "", "");
    assert_eq!(r.status, 421, "{}", r.head);
    // the login form: its own cookie and token, the headers every page has
    let form = get("/login", "");
    assert_eq!(form.status, 200);
    let csp = form.headers("content-security-policy").join(" ");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("media-src 'self'"),
        "{}",
        csp
    );
    assert!(!csp.contains("unsafe"), "{}", csp);
    assert_eq!(form.headers("x-frame-options"), vec!["DENY"]);
    let login_cookie = form.cookie("vozbox_login").expect("the login cookie");
    let token = csrf_in(&form.body);
    let password = operator_password(&v);
    let creds = format!("name=admin&password={}&_csrf={}", password, token);
    // without the form's cookie, or its token: refused
    assert_eq!(post("/login", "", &creds).status, 403);
    let jar = format!("Cookie: vozbox_login={}\r\n", login_cookie);
    let no_token = format!("name=admin&password={}", password);
    assert_eq!(post("/login", &jar, &no_token).status, 403);
    let wrong = post(
        "/login",
        &jar,
        &format!("name=admin&password=nope&_csrf={}", token),
    );
    assert_eq!(wrong.status, 401);
    let r = post("/login", &jar, &creds);
    assert_eq!(r.status, 303, "{}\n{}", r.head, r.body);
    let set = r.headers("set-cookie");
    let session_line = set
        .iter()
        .find(|c| c.starts_with("vozbox_session="))
        .expect("the session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(session_line.contains(attr), "{}", session_line);
    }
    assert!(
        !session_line.contains("Secure"),
        "plain HTTP: {}",
        session_line
    );
    let session = r.cookie("vozbox_session").expect("a session");
    let me = format!("Cookie: vozbox_session={}\r\n", session);
    let page = get("/users", &me);
    assert_eq!(page.status, 200);
    let csrf = csrf_in(&page.body);
    // every POST needs the session's token
    let user = "client=redbird&name=mallory&password=Mallory-Secret-1";
    assert_eq!(post("/users", &me, user).status, 403);
    let other = format!("{}&_csrf={}", user, "0".repeat(64));
    assert_eq!(post("/users", &me, &other).status, 403);
    assert_eq!(post("/logout", &me, "").status, 403);
    assert_eq!(
        get("/users", &me).status,
        200,
        "a refused logout logs out nothing"
    );
    assert!(!get("/users", &me).body.contains("mallory"));
    // the API takes neither the cookie nor a form
    let r = post("/api/users", &me, user);
    assert_eq!(r.status, 401, "{}", r.body);
    let bearer = format!("Authorization: Bearer {}\r\n", v.token());
    assert_eq!(post("/api/users", &bearer, user).status, 415);
    // with the token the form is taken; logout ends the session
    let ok = post("/users", &me, &format!("{}&_csrf={}", user, csrf));
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(get("/users", &me).body.contains("redbird/mallory"));
    assert_eq!(post("/logout", &me, &format!("_csrf={}", csrf)).status, 303);
    assert_eq!(get("/users", &me).status, 303);

    // over [api] tls the cookie is Secure
    let port = free_port("127.0.0.1");
    let t = Vozbox::start(
        "portal-tls",
        &format!("[api]\nlisten = \"127.0.0.1:{port}\"\ntls = true\n"),
        PROVISION,
    );
    let cert = vozbox::config::Config::load(&t.config)
        .expect("config")
        .tls
        .certificate;
    let py = Command::new("python3")
        .args([
            "-c",
            "import http.client, ssl, sys\n\
             ctx = ssl.create_default_context(cafile=sys.argv[1])\n\
             ctx.check_hostname = False\n\
             c = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[2]), context=ctx)\n\
             c.request('GET', '/login', headers={'Host': '127.0.0.1:' + sys.argv[2]})\n\
             r = c.getresponse()\n\
             print(r.status, r.getheader('Set-Cookie'))",
        ])
        .arg(&cert)
        .arg(port.to_string())
        .output()
        .expect("python3");
    let said = String::from_utf8_lossy(&py.stdout);
    assert!(
        said.starts_with("200 vozbox_login=") && said.contains("; Secure"),
        "{}{}",
        said,
        String::from_utf8_lossy(&py.stderr)
    );
}

/// A session ends at `[api] session_ttl`: the pages lead to the login form again.
#[test]
fn a_portal_session_expires() {
    let v = Vozbox::start("portal-ttl", "[api]\nsession_ttl = 1\n", PROVISION);
    let cfg = vozbox::config::Config::load(&v.config).expect("config");
    let addr = vozbox::api::client::target(cfg.api.addr().expect("api"));
    let host = addr.to_string();
    let form = http(addr, &host, ("GET", "/login"), "", "");
    let jar = format!(
        "{FORM}Cookie: vozbox_login={}\r\n",
        form.cookie("vozbox_login").expect("the login cookie")
    );
    let creds = format!(
        "name=admin&password={}&_csrf={}",
        operator_password(&v),
        csrf_in(&form.body)
    );
    let r = http(addr, &host, ("POST", "/login"), &jar, &creds);
    let me = format!(
        "Cookie: vozbox_session={}\r\n",
        r.cookie("vozbox_session").expect("a session")
    );
    assert_eq!(http(addr, &host, ("GET", "/"), &me, "").status, 200);
    std::thread::sleep(Duration::from_millis(1500));
    let r = http(addr, &host, ("GET", "/"), &me, "");
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.headers("location"), vec!["/login?next=%2F"]);
}

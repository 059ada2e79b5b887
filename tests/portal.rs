//! The web portal (issue 19) in a real browser: Debian's chromium, headless, driven by
//! `tests/browser/portal.py` (selenium from PyPI, Debian's chromium-driver) against the
//! real binary, with SIPp registering and calling when the script asks (`STEP <name>` on
//! its stdout, `ok` back on its stdin). Screenshots of the main pages at desktop and phone
//! width go to `$PORTAL_SCREENSHOTS` (`docs/screenshots` refreshes the README's), else to
//! the target directory. A missing browser, driver or selenium fails the test.

mod common;
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
            "admins" => {
                add_admin(
                    &v,
                    serde_json::json!({"name": "ann", "password": "Ann-Secret-123", "client": "bluebird"}),
                );
                add_admin(
                    &v,
                    serde_json::json!({"name": "rita", "password": "Rita-Secret-123",
                        "client": "bluebird", "rights": {"users": "read"}}),
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
        "read-only",
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

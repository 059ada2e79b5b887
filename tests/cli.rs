//! The command line: defaults, check, apply, config errors.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn vozbox(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that a command's output contains `needle`, showing the output when not.
#[track_caller]
fn expect(output: &[u8], needle: &str) {
    let t = text(output);
    assert!(t.contains(needle), "{:?} not in:\n{}", needle, t);
}

#[test]
fn check_prints_every_error_with_its_place() {
    let dir = temp_dir("check");
    std::fs::write(
        dir.join("bad.toml"),
        "[[brand]]\nname = \"acme\"\n\n[[client]]\nbrand = \"acme\"\nname = \"c\"\ndomain = \"c.example\"\n\n[[user]]\nclient = \"nobody\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\n\n[[friend]]\nclient = \"c\"\nname = \"pbx\"\nmode = \"register\"\npatterns = ['^\\d+$']\n",
    )
    .unwrap();
    let out = vozbox(&dir, &["check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:10:10: user.client: no client named \"nobody\""),
        "{}",
        err
    );
    assert!(
        err.contains("bad.toml:16:8: friend.password: a register-mode friend needs a password"),
        "{}",
        err
    );
    assert!(
        err.contains("bad.toml:18:13: friend.patterns:") && err.contains("[0-9]"),
        "{}",
        err
    );
    assert!(err.contains("3 error(s)"), "{}", err);

    std::fs::write(dir.join("typo.toml"), "[[brand]]\nnam = \"acme\"\n").unwrap();
    let out = vozbox(&dir, &["check", "typo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    expect(&out.stderr, "typo.toml:2:1: nam: unknown field `nam`");
}

#[test]
fn apply_is_atomic_and_idempotent() {
    let dir = temp_dir("apply");
    // no admin API: another test may run a server on the default port
    std::fs::write(
        dir.join("config.toml"),
        "[storage]\npath = \"db.redb\"\n[api]\nlisten = \"\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("good.toml"), PROVISION).unwrap();
    let out = vozbox(&dir, &["apply", "good.toml", "--config", "config.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    expect(&out.stdout, "applied");
    let out = vozbox(&dir, &["apply", "good.toml", "--config", "config.toml"]);
    expect(&out.stdout, "already applied, nothing changed");
    // a file with one error changes nothing at all
    let bad = PROVISION
        .replace("extension = \"101\"", "extension = \"100\"")
        .replace("Bob-Secret-22", "Bob-Secret-23");
    std::fs::write(dir.join("bad.toml"), bad).unwrap();
    let out = vozbox(&dir, &["apply", "bad.toml", "--config", "config.toml"]);
    assert_eq!(out.status.code(), Some(1));
    expect(&out.stderr, "duplicate extension \"100\"");
    assert!(text(&out.stderr).contains("nothing applied"));
    let out = vozbox(&dir, &["apply", "good.toml", "--config", "config.toml"]);
    expect(&out.stdout, "already applied, nothing changed");
}

#[test]
fn a_wrong_config_stops_the_start_naming_file_line_and_key() {
    let dir = temp_dir("badcfg");
    std::fs::write(
        dir.join("c.toml"),
        "[registrar]\nmin_expires = 60\nmax_expires = 30\n",
    )
    .unwrap();
    let out = vozbox(&dir, &["run", "--config", "c.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("c.toml:3: [registrar] max_expires: expected at least min_expires (60)"),
        "{}",
        err
    );
    std::fs::write(dir.join("d.toml"), "[sip]\nlisten = [\"udp:127.0.0.1\"]\n").unwrap();
    let out = vozbox(&dir, &["run", "--config", "d.toml"]);
    assert_eq!(out.status.code(), Some(2));
    expect(&out.stderr, "d.toml:2: [sip] listen:");
    // nothing was created
    assert!(!dir.join("data").exists());
}

#[test]
fn a_wrong_provisioning_file_stops_the_start_and_keeps_the_database() {
    let mut v = Vozbox::start("badprov", "", PROVISION);
    sipp_ok(&sipp(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &creds("127.0.0.1", "alice", "Alice-Secret-1"),
        &[],
    ));
    v.kill();
    let bad = v.dir.join("bad.toml");
    std::fs::write(&bad, "[[user]]\nclient = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&v.config)
        .arg("--provision")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    expect(&out.stderr, "bad.toml:");
    v.spawn(None);
    assert!(v.registrations().contains("sip:alice@127.0.0.1"));
    sipp_ok(&sipp(
        "register.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &creds("127.0.0.1", "alice", "Alice-Secret-1"),
        &[],
    ));
}

/// The built-in defaults but for the ports (free ones, not 5060/5061/8080, which another
/// test or a real server may hold): a demo client with two users whose generated passwords
/// it prints, two softphones register at once, and the admin API's credentials are made
/// next to the default database (`data/api-token`), which the CLI then uses.
#[test]
fn runs_on_defaults_with_a_demo_client() {
    let dir = temp_dir("defaults");
    let (sip, tls, api) = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    );
    std::fs::write(
        dir.join("ports.toml"),
        format!(
            "[sip]\nlisten = [\"udp:127.0.0.1:{sip}\", \"tcp:127.0.0.1:{sip}\", \"tls:127.0.0.1:{tls}\"]\n[api]\nlisten = \"127.0.0.1:{api}\"\n"
        ),
    )
    .unwrap();
    // from a shell whose soft limit on open files is low (a login shell's is often 1,024)
    let mut child = Command::new("sh")
        .current_dir(&dir)
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\"", BIN])
        .args(["run", "--config", "ports.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut lines = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(20)) {
        let done = l.contains("vozbox ready");
        lines.push(l);
        if done {
            break;
        }
    }
    let password = |user: &str| -> String {
        let l = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("user {} ", user)))
            .unwrap_or_else(|| panic!("no credentials for {} in {:?}", user, lines));
        l.split_whitespace().nth(3).unwrap().to_string()
    };
    let (p100, p101) = (password("100"), password("101"));
    // vozbox raised its soft limit to the hard one (the relay keeps free port pairs bound
    // by it; 256 descriptors would not carry 64 calls)
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().skip(3).take(2).collect())
        .unwrap_or_default();
    assert!(
        open_files.len() == 2 && open_files[0] == open_files[1] && open_files[0] != "256",
        "soft and hard limits on open files: {:?} (the hard one must be above 256)",
        open_files
    );
    assert!(dir.join("data/vozbox.redb").exists());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Admin API token written to data/api-token")),
        "{:?}",
        lines
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Admin API operator admin  password ")),
        "{:?}",
        lines
    );
    let addr = format!("127.0.0.1:{}", sip);
    sipp_ok(&sipp(
        "register.xml",
        &addr,
        "u1",
        "127.0.0.1",
        &creds("127.0.0.1", "100", &p100),
        &[],
    ));
    sipp_ok(&sipp(
        "register.xml",
        &addr,
        "t1",
        "127.0.0.1",
        &creds("127.0.0.1", "101", &p101),
        &[],
    ));
    // the CLI finds the token next to the database on its own
    let calls = vozbox(&dir, &["calls", "--config", "ports.toml"]);
    assert!(calls.status.success(), "{}", text(&calls.stderr));
    expect(&calls.stdout, "0 active call(s)");
    let _ = child.kill();
    let _ = child.wait();
    let list = vozbox(&dir, &["registrations", "--config", "ports.toml"]);
    let list = text(&list.stdout);
    assert!(
        list.contains("sip:100@127.0.0.1") && list.contains("sip:101@127.0.0.1"),
        "{}",
        list
    );
    // the demo's passwords can be shown again
    let demo = vozbox(&dir, &["demo", "--config", "ports.toml"]);
    let demo = text(&demo.stdout);
    assert!(
        demo.contains(&format!("user 100  password {}", p100))
            && demo.contains(&format!("user 101  password {}", p101))
            && demo.contains("dial 300"),
        "{}",
        demo
    );
    // from another directory without --config: which database was looked for, and how
    // to point at the right one
    let elsewhere = temp_dir("defaults-elsewhere");
    let lost = vozbox(&elsewhere, &["registrations"]);
    assert!(!lost.status.success());
    let said = text(&lost.stderr);
    assert!(
        said.contains("no database at ")
            && said.contains("data/vozbox.redb")
            && said.contains("--config"),
        "{}",
        said
    );
}

/// `vozbox apply` while the server runs goes through the admin API: the new user can
/// register at once, and applying the same file again changes nothing.
#[test]
fn apply_reaches_a_running_server() {
    let v = Vozbox::start("apply-live", "", PROVISION);
    let carol = "Carol-Secret-3";
    let c = creds("127.0.0.1", "carol", carol);
    // carol does not exist yet: challenged again, never registered
    sipp_ok(&sipp(
        "register_refused.xml",
        &v.addr(),
        "u1",
        "127.0.0.1",
        &c,
        &[],
    ));
    let file = v.dir.join("more.toml");
    std::fs::write(
        &file,
        format!("{}\n[[user]]\nclient = \"bluebird\"\nname = \"carol\"\nextension = \"102\"\npassword = \"{}\"\n", PROVISION, carol),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("apply")
        .arg(&file)
        .arg("--config")
        .arg(&v.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    expect(&out.stdout, "applied to the running server");
    sipp_ok(&sipp("register.xml", &v.addr(), "u1", "127.0.0.1", &c, &[]));
    let out = Command::new(BIN)
        .arg("apply")
        .arg(&file)
        .arg("--config")
        .arg(&v.config)
        .output()
        .unwrap();
    expect(&out.stdout, "already applied, nothing changed");
    // a wrong file is refused by the server with its errors, and nothing changes
    std::fs::write(
        &file,
        "[[user]]\nclient = \"nobody\"\nname = \"x\"\npassword = \"Xx-Secret-1\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("apply")
        .arg(&file)
        .arg("--config")
        .arg(&v.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    expect(&out.stderr, "no client named \"nobody\"");
    sipp_ok(&sipp("register.xml", &v.addr(), "u1", "127.0.0.1", &c, &[]));
}

/// Relative paths in a config file are relative to the file, not to the working directory:
/// the same config started from elsewhere keeps its database and API token beside it, and
/// the CLI finds both from anywhere.
#[test]
fn relative_paths_in_a_config_are_relative_to_the_file() {
    let mut v = Vozbox::start("cfg-relative", "", PROVISION);
    v.kill();
    let text = std::fs::read_to_string(&v.config).unwrap();
    let dir = v.dir.display().to_string();
    let text = text
        .replace(&format!("{}/vozbox.redb", dir), "db/vozbox.redb")
        .replace(&format!("{}/certs/", dir), "tls/");
    assert!(text.contains("path = \"db/vozbox.redb\""), "{}", text);
    std::fs::write(&v.config, text).unwrap();
    let elsewhere = temp_dir("cfg-relative-cwd");
    v.cwd = Some(elsewhere.clone());
    // a new database there: provisioned again
    let prov = v.dir.join("provision.toml");
    v.spawn(Some(&prov));
    let port = free_port("127.0.0.1");
    register(&v, "127.0.0.1", ("alice", "Alice-Secret-1"), port);
    assert!(v.dir.join("db/vozbox.redb").is_file());
    assert!(v.dir.join("db/api-token").is_file());
    assert!(!elsewhere.join("db").exists() && !elsewhere.join("tls").exists());
    // the CLI, from the test's own directory, reads the same database and token
    assert!(v.registrations().contains("sip:alice@127.0.0.1"));
    assert!(v.calls().contains("0 active call(s)"), "{}", v.calls());
}

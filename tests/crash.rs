//! Crash safety: 1,000 registrations and 500 calls, then more of both while the process is
//! killed with SIGKILL; after a restart every binding whose 200 was sent and the record of
//! every call whose BYE was answered are there, and the database opens.

mod common;
use common::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const USERS: usize = 2000;

fn provision(uas_port: u16) -> String {
    let mut p = String::from(
        "[[brand]]\nname = \"crash\"\n[[client]]\nbrand = \"crash\"\nname = \"crash\"\ndomain = \"127.0.0.1\"\n",
    );
    // The caller (SIPp on 127.0.0.6) and callee (SIPp on 127.0.0.7) are direct friends:
    // trusted by address, reached by pattern.
    p.push_str("[[friend]]\nclient = \"crash\"\nname = \"caller\"\nmode = \"direct\"\naddress = \"127.0.0.6\"\npriority = 1\npatterns = [\"^7000$\"]\n");
    p.push_str(&format!("[[friend]]\nclient = \"crash\"\nname = \"callee\"\nmode = \"direct\"\naddress = \"127.0.0.7\"\nport = {}\npriority = 2\npatterns = [\"^[0-9]+$\"]\n", uas_port));
    for i in 0..USERS {
        p.push_str(&format!(
            "[[user]]\nclient = \"crash\"\nname = \"u{:04}\"\npassword = \"Crash-Pass-{:04}\"\n",
            i, i
        ));
    }
    p
}

fn users_csv(dir: &Path, name: &str, range: std::ops::Range<usize>) -> PathBuf {
    let mut s = String::from("SEQUENTIAL\n");
    for i in range {
        s.push_str(&format!(
            "127.0.0.1;[authentication username=u{:04} password=Crash-Pass-{:04}];u{:04}\n",
            i, i, i
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

/// A background SIPp, killed when dropped (also when the test fails).
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIPp in the background with a message log (to learn what was answered).
fn sipp_bg<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], log: &str) -> Bg {
    Bg(Command::new("sipp")
        .current_dir(dir)
        .args(args)
        .args(["-nostdin", "-trace_msg", "-message_file", log])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp"))
}

/// `m` runs of scenario `sf` at `r` a second from `ip`, reading `inf` (then `extra`).
fn load(sf: &str, inf: &str, ip: &str, m: u32, r: u32, extra: &[&str]) -> Vec<String> {
    let (m, r) = (m.to_string(), r.to_string());
    let args = ["-sf", sf, "-inf", inf, "-t", "u1", "-i", ip, "-p", "0"];
    let args = args
        .into_iter()
        .chain(["-m", &m, "-r", &r])
        .chain(extra.iter().copied());
    args.map(String::from).collect()
}

/// Runs SIPp with `args` to the end; whether every run succeeded.
fn sipp_fg(dir: &Path, args: &[String], addr: &str) -> bool {
    Command::new("sipp")
        .current_dir(dir)
        .args(args)
        .args(["-nostdin", "-timeout", "60s", "-timeout_error", addr])
        .output()
        .unwrap()
        .status
        .success()
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

/// The SIPp message log's received messages that start with `start` and answer `method`.
fn received<'a>(log: &'a str, start: &str, method: &str) -> Vec<&'a str> {
    log.split("----------------------------------------------- ")
        .filter(|b| b.contains("message received"))
        .filter_map(|b| b.find("SIP/2.0").map(|i| &b[i..]))
        .filter(|m| m.starts_with(start) && header(m, "CSeq:").ends_with(method))
        .collect()
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or("")
        .trim()
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_binding_or_ended_call() {
    let uas_port = free_port("127.0.0.7");
    let dir = temp_dir("crash");
    let port = free_port("127.0.0.1");
    let mut v = Vozbox::start_in(
        dir.clone(),
        port,
        "rate_limit = 0\n[registrar]\nkeepalive_interval = 0\n",
        &provision(uas_port),
    );
    let addr = v.addr();
    let first = users_csv(&dir, "first.csv", 0..1000);
    let second = users_csv(&dir, "second.csv", 1000..USERS);
    std::fs::write(dir.join("numbers.csv"), "SEQUENTIAL\n600100200;\n").unwrap();
    let register = scenario("tests/sipp/register.xml");
    let uac = scenario("benches/sipp/uac_bench.xml");
    let uas_sf = scenario("tests/sipp/uas_answer.xml");
    let uas_p = uas_port.to_string();
    let uas = sipp_bg(
        &dir,
        &["-sf", &uas_sf, "-t", "u1", "-i", "127.0.0.7", "-p", &uas_p],
        "uas.log",
    );

    // 1,000 registrations and 500 calls, all completed.
    let first = first.display().to_string();
    let reg1 = load(&register, &first, "127.0.0.1", 1000, 500, &[]);
    assert!(sipp_fg(&dir, &reg1, &addr), "first registrations failed");
    let calls1 = load(&uac, "numbers.csv", "127.0.0.6", 500, 100, &["-d", "100"]);
    assert!(sipp_fg(&dir, &calls1, &addr), "first calls failed");

    // More of both, and SIGKILL in the middle of it.
    let second = second.display().to_string();
    let reg2 = sipp_bg(
        &dir,
        &load(&register, &second, "127.0.0.1", 1000, 300, &[&addr]),
        "reg2.log",
    );
    let calls2 = sipp_bg(
        &dir,
        &load(
            &uac,
            "numbers.csv",
            "127.0.0.6",
            2000,
            150,
            &["-d", "200", &addr],
        ),
        "calls2.log",
    );
    std::thread::sleep(Duration::from_millis(2500));
    v.kill(); // SIGKILL
    std::thread::sleep(Duration::from_millis(300));
    drop((reg2, calls2, uas));

    // Restarted on the same database.
    v.spawn(None);
    let reader = vozbox::store::Reader::open(&dir.join("vozbox.redb")).expect("database opens");
    let bound: HashSet<String> = reader
        .bindings()
        .unwrap()
        .into_iter()
        .map(|b| b.aor)
        .collect();
    for i in 0..1000 {
        let aor = format!("sip:u{:04}@127.0.0.1", i);
        assert!(bound.contains(&aor), "{} lost", aor);
    }
    let reg2_log = std::fs::read_to_string(dir.join("reg2.log")).unwrap_or_default();
    let acked: Vec<&str> = received(&reg2_log, "SIP/2.0 200", "REGISTER")
        .into_iter()
        .map(|m| header(m, "To:"))
        .collect();
    assert!(
        !acked.is_empty(),
        "the kill came before any second registration"
    );
    for to in &acked {
        let user = to
            .split("sip:")
            .nth(1)
            .and_then(|r| r.split('@').next())
            .unwrap_or("");
        let aor = format!("sip:{}@127.0.0.1", user);
        assert!(bound.contains(&aor), "{} was acknowledged, then lost", aor);
    }

    let cdrs = reader.cdrs(100_000).unwrap();
    let recorded: HashSet<&str> = cdrs.iter().map(|c| c.call_id.as_str()).collect();
    let answered = cdrs.iter().filter(|c| c.disposition == "answered").count();
    let calls2_log = std::fs::read_to_string(dir.join("calls2.log")).unwrap_or_default();
    let ended: HashSet<&str> = received(&calls2_log, "SIP/2.0 200", "BYE")
        .into_iter()
        .map(|m| header(m, "Call-ID:"))
        .collect();
    assert!(
        !ended.is_empty(),
        "the kill came before any second call ended"
    );
    let missing: Vec<&&str> = ended.iter().filter(|id| !recorded.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "{} ended calls without a record, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        answered >= 500 + ended.len(),
        "{} answered records for {} ended calls",
        answered,
        500 + ended.len()
    );
    for id in &ended {
        assert!(recorded.contains(id), "call {} ended, its record lost", id);
    }
    eprintln!(
        "after SIGKILL: {} bindings ({} acknowledged in the second wave), {} records ({} calls ended in the second wave)",
        bound.len(),
        acked.len(),
        cdrs.len(),
        ended.len()
    );
    // And the server answers again.
    sipp_ok(&options_from(&v, "u1", "127.0.0.1", &[]));
}

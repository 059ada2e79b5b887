//! SIPp against the server: one scenario run to its end (`sipp`, `sipp_at`), a callee
//! answering in the background (`SippUas`), and the registrations and calls the tests
//! build from them.

use super::*;

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

//! The far end of a TLS trunk for the tests of certificates: a baresip on 127.0.0.5
//! answering every call over TLS (its SIP port + 1) with the certificate it is given, its
//! log of the messages it saw kept for the test.

use super::baresip_dir;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TlsPeer {
    child: Child,
    /// The port it answers TLS on.
    pub port: u16,
}

/// Starts `name`'s baresip with account `user` on 127.0.0.5, presenting `pem` (certificate
/// and key), and gives it a moment to listen.
pub fn tls_peer(name: &str, user: &str, pem: &str) -> TlsPeer {
    let account = format!("<sip:{}@127.0.0.5>;regint=0;answermode=auto", user);
    let (dir, port) = baresip_dir(name, &account, 880);
    let config = std::fs::read_to_string(dir.join("config")).expect("baresip's config");
    std::fs::write(
        dir.join("config"),
        config.replace("sip_listen 127.0.0.1:", "sip_listen 127.0.0.5:")
            + &format!("sip_certificate {}\n", pem),
    )
    .expect("baresip's config");
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.5", "-t", "20", "-s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip");
    std::thread::sleep(Duration::from_millis(800));
    TlsPeer {
        child,
        port: port + 1,
    }
}

impl TlsPeer {
    /// Stops it: what it printed (the messages it saw).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let out = self.child.wait_with_output().expect("baresip's output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The Request-URIs of the INVITEs it received.
    pub fn invites(seen: &str) -> Vec<&str> {
        seen.lines()
            .filter(|l| l.starts_with("INVITE sip:"))
            .collect()
    }
}

//! A real DNS server on loopback for the tests of names (RFC 3263): `tests/dns_server.py`
//! (PyPI dnslib) answering from a zone file the test writes, and rewrites to change the
//! records.

use super::{free_port, temp_dir};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The DNS server, killed when dropped.
pub struct DnsServer {
    child: Child,
    pub port: u16,
    /// Its zone file: rewritten, the records change.
    pub zone: PathBuf,
}

impl DnsServer {
    /// vozbox's `[dns]` table pointing at it.
    pub fn config(&self) -> String {
        format!("[dns]\nservers = [\"127.0.0.1:{}\"]\n", self.port)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DNS server on loopback answering from `records` (a zone file in a test directory).
pub fn dns_server(name: &str, records: &str) -> DnsServer {
    let zone = temp_dir(name).join("records.zone");
    std::fs::write(&zone, records).expect("the zone file");
    let port = free_port("127.0.0.1");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dns_server.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(&zone)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 tests/dns_server.py (pip install dnslib)");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    match lines.next() {
        Some(Ok(l)) if l == "ready" => {}
        other => panic!("the DNS server did not start: {:?}", other),
    }
    // what it prints later (the queries) goes nowhere
    std::thread::spawn(move || for _ in lines {});
    DnsServer { child, port, zone }
}

//! baresip phones: a configuration directory with a tone as its sound source and
//! recordings of what it sends and hears, and a call between two of them, over IPv4 or IPv6
//! loopback.

use super::*;

/// The loopback the phones and the server meet on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The loopback address as baresip's `-n` takes it.
    pub fn ip(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.1",
            Family::V6 => "::1",
        }
    }

    /// The loopback address as a host in a URI or a socket address.
    pub fn host(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.1",
            Family::V6 => "[::1]",
        }
    }
}

/// A baresip instance's configuration directory: a sine tone (`tone` Hz) as source, a
/// null player (aubridge), G.711, and `sndfile` recording what it sends and receives
/// (`dump-*-enc.wav`, `dump-*-dec.wav`) into the directory. It listens on IPv4 loopback.
pub fn baresip_dir(name: &str, account: &str, tone: u32) -> (std::path::PathBuf, u16) {
    baresip_dir_on(Family::V4, name, account, tone)
}

/// The same listening (SIP and RTP) on `family`'s loopback.
pub fn baresip_dir_on(
    family: Family,
    name: &str,
    account: &str,
    tone: u32,
) -> (std::path::PathBuf, u16) {
    let dir = temp_dir(name);
    let port = two_free_ports();
    let prefer = if family == Family::V6 {
        "net_prefer_ipv6 yes\n"
    } else {
        ""
    };
    std::fs::write(
        dir.join("config"),
        format!(
            "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule account.so\nmodule menu.so\nmodule ausine.so\nmodule aubridge.so\naudio_source ausine,{}\naudio_player aubridge,{}\nausrc_srate 48000\nauplay_srate 48000\nausrc_channels 2\nauplay_channels 2\nmodule sndfile.so\nsnd_path {}\nsip_listen {}:{}\nrtp_ports 40000-59998\n{}",
            tone,
            name,
            dir.display(),
            family.host(),
            port,
            prefer
        ),
    )
    .unwrap();
    std::fs::write(dir.join("accounts"), format!("{}\n", account)).unwrap();
    (dir, port)
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
    secs: (u32, u32),
    uri: &str,
) -> (String, String) {
    baresip_dial_on(Family::V4, v, alice_dir, bob_dir, secs, uri)
}

/// The same with both phones on `family`'s loopback.
pub fn baresip_dial_on(
    family: Family,
    v: &Vozbox,
    alice_dir: &Path,
    bob_dir: &Path,
    (alice_secs, bob_secs): (u32, u32),
    uri: &str,
) -> (String, String) {
    let bob = Command::new("baresip")
        .arg("-f")
        .arg(bob_dir)
        .args(["-n", family.ip(), "-t", &bob_secs.to_string(), "-s"])
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
        .args(["-n", family.ip(), "-t", &alice_secs.to_string(), "-s", "-e"])
        .arg(format!("/dial {}", uri))
        .output()
        .expect("run baresip");
    let text = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let bob = bob.wait_with_output().expect("baresip bob");
    (text(&alice), text(&bob))
}

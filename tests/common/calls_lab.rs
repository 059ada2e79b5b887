//! The lab of the call tests (`tests/calls.rs`, `tests/friends.rs`): two clients of one
//! brand, users, a carrier and a DDI provider, friends of every mode (register, direct on
//! their own loopback addresses — they are recognised by address —, inter-vPBX), and the
//! helpers that call through it.

use super::*;
use std::time::Duration;

pub const LAB: &str = r#"
[[brand]]
name = "acme"

[[corporation]]
name = "acme-group"
brand = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = CARRIER_PORT
transport = "udp"
username = "trunk-user"
password = "Trunk-Pass-9"

[[ddi_provider]]
brand = "acme"
name = "trunk-in"
addresses = ["127.0.0.6"]

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
corporation = "acme-group"
outgoing_ddi = "+34944000100"
country = "ES"
area_code = "94"

[[client]]
brand = "acme"
name = "redwing"
domain = "redwing.example"
corporation = "acme-group"
outgoing_ddi = "+34944000200"
country = "ES"

[[call_acl]]
client = "bluebird"
name = "national"
default_policy = "deny"
rules = [{ priority = 1, policy = "allow", pattern = "^\\+34[0-9]+$" }]

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"
call_acl = "national"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

[[user]]
client = "redwing"
name = "carol"
extension = "300"
password = "Carol-Secret-3"

[[friend]]
client = "bluebird"
name = "hq-asterisk"
mode = "register"
password = "HqAsterisk-Pass+1"
priority = 1
patterns = ["^2[0-9]{2}$"]

[[friend]]
client = "bluebird"
name = "backup"
mode = "direct"
transport = "udp"
address = "127.0.0.8"
port = BACKUP_PORT
priority = 5
patterns = ["^2[0-9]+$"]
from_domain = "bluebird.example"

[[friend]]
client = "bluebird"
name = "branch-pbx"
mode = "direct"
transport = "udp"
address = "127.0.0.7"
port = DIRECT_PORT
priority = 3
patterns = ["^5[0-9]{2}$"]
allowed_codecs = ["PCMA"]

[[friend]]
client = "bluebird"
name = "secure-pbx"
mode = "direct"
password = "SecurePbx-Pass-4"
transport = "udp"
address = "127.0.0.10"
port = 5060
priority = 6
patterns = ["^6[0-9]{2}$"]

[[friend]]
client = "bluebird"
name = "wideband-only"
mode = "direct"
transport = "udp"
address = "127.0.0.9"
port = 5060
priority = 4
patterns = ["^7[0-9]{2}$"]
allowed_codecs = ["G722"]

[[friend]]
client = "bluebird"
name = "to-redwing"
mode = "intervpbx"
target_client = "redwing"
priority = 10

[[friend]]
client = "redwing"
name = "to-bluebird"
mode = "intervpbx"
target_client = "bluebird"
priority = 10

[[ddi]]
client = "bluebird"
number = "+34944000101"
route = "user"
user = "bob"
"#;

pub struct Lab {
    pub v: Vozbox,
    pub carrier_port: u16,
    pub direct_port: u16,
    pub backup_port: u16,
}

pub fn lab(name: &str) -> Lab {
    let carrier_port = free_port("127.0.0.5");
    let direct_port = free_port("127.0.0.7");
    let backup_port = free_port("127.0.0.8");
    let prov = LAB
        .replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("DIRECT_PORT", &direct_port.to_string())
        .replace("BACKUP_PORT", &backup_port.to_string());
    Lab {
        v: Vozbox::start(name, "[calls]\nno_answer_timeout = 20\n", &prov),
        carrier_port,
        direct_port,
        backup_port,
    }
}

pub const ALICE: (&str, &str) = ("alice", "Alice-Secret-1");
pub const BOB: (&str, &str) = ("bob", "Bob-Secret-22");

pub fn call(v: &Vozbox, scenario: &str, (user, pw): (&str, &str), number: &str) -> Sipp {
    call_from(v, scenario, "127.0.0.1", (user, pw), number)
}

/// A call of `caller` to `number` that must be refused with `code` (`uac_refused.xml`).
pub fn refused(v: &Vozbox, caller: (&str, &str), number: &str, code: u16) -> Sipp {
    let c = call(v, "uac_refused.xml", caller, number);
    sipp_ok(&c);
    let status = format!("SIP/2.0 {}", code);
    assert!(c.messages.contains(&status), "{}", c.messages);
    c
}

/// A call from a user of the client on `domain`. The digest covers the Request-URI
/// (`-auth_uri`: SIPp would use the server's address otherwise).
pub fn call_from(
    v: &Vozbox,
    scenario: &str,
    domain: &str,
    (user, pw): (&str, &str),
    number: &str,
) -> Sipp {
    let uri = format!("{}@{}", number, v.addr());
    sipp(
        scenario,
        &v.addr(),
        "u1",
        "127.0.0.1",
        &call_csv(domain, user, pw, number),
        &["-auth_uri", &uri, "-d", "300"],
    )
}

pub fn done(uas: SippUas) -> Sipp {
    let s = uas.wait(Duration::from_secs(20));
    sipp_ok(&s);
    s
}

/// The first message of `messages` that starts with `start`.
pub fn first<'a>(messages: &'a str, start: &str) -> &'a str {
    let i = messages
        .find(start)
        .unwrap_or_else(|| panic!("no {:?} in:\n{}", start, messages));
    let rest = &messages[i..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    &rest[..end]
}

pub fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
        .unwrap_or_else(|| panic!("no {} in:\n{}", name, message))
}

/// The record line of the latest call in `vozbox cdrs`.
pub fn last_cdr(v: &Vozbox, n: usize) -> String {
    let out = v.cdrs(n);
    out.lines()
        .rev()
        .nth(1)
        .unwrap_or_else(|| panic!("no CDR in:\n{}", out))
        .to_string()
}

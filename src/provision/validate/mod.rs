//! From the file as written to a `Model`: every reference resolved by name, every rule of
//! DESIGN §3 checked, every error collected with its place (not only the first).

use super::file::*;
use crate::config::line_col;
use crate::model::*;
use std::collections::{HashMap, HashSet};

mod admins;
mod numbers;
mod people;
mod tenants;
mod trunks;
mod voicemail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionError {
    pub line: usize,
    pub col: usize,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.col, self.key, self.message
        )
    }
}

struct Ctx<'t> {
    text: &'t str,
    server: super::Context,
    errors: Vec<ProvisionError>,
    warnings: Vec<ProvisionError>,
}

impl Ctx<'_> {
    fn at(&self, at: usize, key: &str, message: impl Into<String>) -> ProvisionError {
        let (line, col) = line_col(self.text, at);
        ProvisionError {
            line,
            col,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Something that will not work as the operator probably meant, but is allowed.
    fn warn(&mut self, at: &S, key: &str, message: impl Into<String>) {
        let w = self.at(at.span().start, key, message);
        self.warnings.push(w);
    }

    fn err(&mut self, at: &S, key: &str, message: impl Into<String>) {
        let e = self.at(at.span().start, key, message);
        self.errors.push(e);
    }
}

/// A name used as a SIP user name (users, friends) or beside one (voicemail boxes):
/// letters, digits and `- _ . +`, not empty.
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
}

fn v(s: &S) -> String {
    s.get_ref().trim().to_string()
}

/// A pinned TLS certificate fingerprint: SHA-256, written with or without colons; kept
/// in the `AB:CD:…` form. Only meaningful on a TLS peer (`tls` says whether it is one).
fn fingerprint_ok(cx: &mut Ctx, fp: &Option<S>, tls: bool, key: &str) -> Option<String> {
    let fp = fp.as_ref()?;
    if !tls {
        cx.err(
            fp,
            key,
            "only a peer reached with transport = \"tls\" has a TLS fingerprint",
        );
        return None;
    }
    match crate::sip::tls::parse_fingerprint(&v(fp)) {
        Some(bytes) => Some(crate::sip::tls::fingerprint_hex(&bytes)),
        None => {
            cx.err(
                fp,
                key,
                "expected a SHA-256 fingerprint: 32 bytes in hex, with or without colons",
            );
            None
        }
    }
}
/// Seconds between a peer's OPTIONS (`qualify_interval`): 0 (off) or 1 to 3600, and only
/// on a peer vozbox sends to at a fixed address (`fixed`).
fn qualify_ok(cx: &mut Ctx, n: &Option<toml::Spanned<u32>>, fixed: bool, key: &str) -> u32 {
    let Some(n) = n else { return 0 };
    let secs = *n.get_ref();
    let problem = if secs > 3600 {
        Some("expected 0 (off) or 1 to 3600 seconds")
    } else if secs > 0 && !fixed {
        Some("only a peer at a fixed address (a direct friend, a carrier) is qualified")
    } else {
        None
    };
    match problem {
        Some(p) => {
            let e = cx.at(n.span().start, key, p);
            cx.errors.push(e);
            0
        }
        None => secs,
    }
}

fn ov(s: &Option<S>) -> Option<String> {
    s.as_ref().map(v).filter(|x| !x.is_empty())
}

/// Checks a friend or ACL pattern: a valid regular expression in the POSIX style the seed
/// asks for (`[0-9]`, not `\d`).
pub fn check_pattern(p: &str) -> Result<(), String> {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(&c) = b.get(i + 1) {
                if c.is_ascii_alphanumeric() {
                    return Err(format!(
                        "uses the PCRE escape \\{} — write a POSIX class such as [0-9] instead of \\d",
                        c as char
                    ));
                }
            }
            i += 2;
            continue;
        }
        if b[i] == b'(' && b.get(i + 1) == Some(&b'?') {
            return Err("uses a PCRE group (?…): not a POSIX regular expression".into());
        }
        i += 1;
    }
    regex::Regex::new(p).map_err(|e| {
        format!(
            "is not a valid regular expression: {}",
            e.to_string().lines().last().unwrap_or("")
        )
    })?;
    Ok(())
}

fn is_e164(s: &str) -> bool {
    s.len() >= 4
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && (s.parse::<std::net::IpAddr>().is_ok()
            || s.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

fn parse_time(s: &str) -> Result<u64, String> {
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| {
            format!(
                "expected an RFC 3339 time like 2020-01-01T00:00:00Z ({})",
                e
            )
        })
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// A valid model, with warnings about what is allowed but probably unintended.
#[derive(Debug)]
pub struct Checked {
    pub model: Model,
    /// The file's `[[admin]]`s (kept apart from the model: an apply adds or updates them,
    /// never removes one).
    pub admins: Vec<Admin>,
    pub warnings: Vec<ProvisionError>,
}

/// What the sections checked so far know by name: later sections resolve their
/// references against it (a user's client, a DDI's route, a carrier's brand, …).
#[derive(Default)]
struct Names {
    /// media relay set names
    mrs: HashSet<String>,
    brands: HashSet<String>,
    /// corporation → its brand
    corps: HashMap<String, String>,
    /// client → (brand, corporation)
    clients: HashMap<String, (String, Option<String>)>,
    /// the clients' SIP domains
    domains: HashSet<String>,
    /// (client, ACL name)
    acls: HashSet<(String, String)>,
    /// DDI number → client
    ddis: HashMap<String, String>,
    /// (client, SIP user name) of users and friends: one name space
    sip_names: HashSet<(String, String)>,
    /// (client, user)
    users: HashSet<(String, String)>,
    /// (client, extension number)
    extensions: HashMap<(String, String), ()>,
    /// (client, friend)
    friends: HashSet<(String, String)>,
    /// (brand, carrier)
    carriers: HashSet<(String, String)>,
    /// (client, voicemail box)
    voicemails: HashSet<(String, String)>,
}

impl Names {
    fn client_ok(&self, cx: &mut Ctx, s: &S, key: &str) -> bool {
        if self.clients.contains_key(&v(s)) {
            true
        } else {
            cx.err(s, key, format!("no client named {:?}", v(s)));
            false
        }
    }

    fn acl_ok(&self, cx: &mut Ctx, client: &S, acl: &Option<S>, key: &str) {
        if let Some(a) = acl {
            if !self.acls.contains(&(v(client), v(a))) {
                cx.err(
                    a,
                    key,
                    format!("no call ACL named {:?} in client {:?}", v(a), v(client)),
                );
            }
        }
    }

    fn ddi_ok(&self, cx: &mut Ctx, client: &str, ddi: &Option<S>, key: &str) {
        if let Some(s) = ddi {
            let n = v(s);
            if !is_e164(&n) {
                cx.err(s, key, "expected an E.164 number like \"+34944000100\"");
            } else if self.ddis.get(&n).is_some_and(|c| c != client) {
                cx.err(s, key, format!("DDI {:?} belongs to another client", n));
            }
        }
    }

    fn add_ext(&mut self, cx: &mut Ctx, client: &str, number: &S, key: &str) {
        let n = v(number);
        if n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            cx.err(number, key, "expected digits (and * or #)");
        }
        if self
            .extensions
            .insert((client.to_string(), n.clone()), ())
            .is_some()
        {
            cx.err(
                number,
                key,
                format!("duplicate extension {:?} in client {:?}", n, client),
            );
        }
    }
}

/// The sections run in the order of the file's concepts, each resolving references to the
/// ones before (errors are reported sorted by place in the end).
pub fn to_model(
    file: &File,
    text: &str,
    server: &super::Context,
) -> Result<Checked, Vec<ProvisionError>> {
    let mut cx = Ctx {
        text,
        server: *server,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut m = Model::default();
    let mut k = Names::default();
    tenants::media_relay_sets(&mut cx, file, &mut m, &mut k);
    tenants::brands(&mut cx, file, &mut m, &mut k);
    tenants::corporations(&mut cx, file, &mut m, &mut k);
    tenants::clients(&mut cx, file, &mut m, &mut k);
    people::call_acls(&mut cx, file, &mut m, &mut k);
    numbers::ddis(&mut cx, file, &mut k);
    people::users(&mut cx, file, &mut m, &mut k);
    people::friends(&mut cx, file, &mut m, &mut k);
    voicemail::voicemails(&mut cx, file, &mut m, &mut k);
    numbers::extensions(&mut cx, file, &mut m, &mut k);
    numbers::ddi_routes(&mut cx, file, &mut m, &mut k);
    numbers::call_forwards(&mut cx, file, &mut m, &mut k);
    trunks::carriers(&mut cx, file, &mut m, &mut k);
    trunks::ddi_providers(&mut cx, file, &mut m, &mut k);
    trunks::outgoing_routes(&mut cx, file, &mut m, &mut k);
    trunks::rating_profiles(&mut cx, file, &mut m, &mut k);
    let admins = admins::admins(&mut cx, file, &k);

    if cx.errors.is_empty() {
        Ok(Checked {
            model: m,
            admins,
            warnings: cx.warnings,
        })
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        Err(cx.errors)
    }
}

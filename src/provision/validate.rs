//! From the file as written to a `Model`: every reference resolved by name, every rule of
//! DESIGN §3 checked, every error collected with its place (not only the first).

use super::file::*;
use crate::config::line_col;
use crate::model::*;
use std::collections::{HashMap, HashSet};

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

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let mut parts = s.split('.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    parts.next().is_none()
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
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
pub struct Checked {
    pub model: Model,
    pub warnings: Vec<ProvisionError>,
}

pub fn to_model(file: &File, text: &str) -> Result<Checked, Vec<ProvisionError>> {
    let mut cx = Ctx {
        text,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut m = Model::default();

    // --- media relay sets, brands, corporations
    let mut mrs = HashSet::new();
    for d in &file.media_relay_set {
        let name = v(&d.name);
        if !mrs.insert(name.clone()) {
            cx.err(
                &d.name,
                "media_relay_set.name",
                format!("duplicate media relay set {:?}", name),
            );
        }
        for (key, s) in [("bind", &d.bind), ("advertised", &d.advertised)] {
            if v(s).parse::<std::net::IpAddr>().is_err() {
                cx.err(
                    s,
                    &format!("media_relay_set.{}", key),
                    "expected an IP address",
                );
            }
        }
        if d.port_min.get_ref() > d.port_max.get_ref() || *d.port_min.get_ref() < 1024 {
            let e = cx.at(
                d.port_min.span().start,
                "media_relay_set.port_min",
                "expected 1024 ≤ port_min ≤ port_max",
            );
            cx.errors.push(e);
        }
        m.media_relay_sets.push(MediaRelaySet {
            name,
            bind: v(&d.bind),
            advertised: v(&d.advertised),
            port_min: *d.port_min.get_ref(),
            port_max: *d.port_max.get_ref(),
        });
    }
    let mut brands = HashSet::new();
    for d in &file.brand {
        let name = v(&d.name);
        if name.is_empty() {
            cx.err(&d.name, "brand.name", "must not be empty");
        } else if !brands.insert(name.clone()) {
            cx.err(&d.name, "brand.name", format!("duplicate brand {:?}", name));
        }
        m.brands.push(Brand {
            name,
            max_calls: d.max_calls,
        });
    }
    let mut corps: HashMap<String, String> = HashMap::new();
    for d in &file.corporation {
        let name = v(&d.name);
        if !brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "corporation.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        if corps.insert(name.clone(), v(&d.brand)).is_some() {
            cx.err(
                &d.name,
                "corporation.name",
                format!("duplicate corporation {:?}", name),
            );
        }
        m.corporations.push(Corporation {
            name,
            brand: v(&d.brand),
        });
    }

    // --- clients
    let mut clients: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut domains = HashSet::new();
    for d in &file.client {
        let name = v(&d.name);
        let brand = v(&d.brand);
        if name.is_empty() || name.contains('/') {
            cx.err(&d.name, "client.name", "must not be empty or contain '/'");
        }
        if !brands.contains(&brand) {
            cx.err(
                &d.brand,
                "client.brand",
                format!("no brand named {:?}", brand),
            );
        }
        let domain = v(&d.domain).to_ascii_lowercase();
        if !is_host(&domain) {
            cx.err(
                &d.domain,
                "client.domain",
                "expected a domain name or an IP address",
            );
        } else if !domains.insert(domain.clone()) {
            cx.err(
                &d.domain,
                "client.domain",
                format!("domain {:?} is already used by another client", domain),
            );
        }
        let corporation = ov(&d.corporation);
        if let (Some(c), Some(s)) = (&corporation, &d.corporation) {
            match corps.get(c) {
                None => cx.err(
                    s,
                    "client.corporation",
                    format!("no corporation named {:?}", c),
                ),
                Some(b) if *b != brand => cx.err(
                    s,
                    "client.corporation",
                    format!(
                        "corporation {:?} belongs to brand {:?}, not {:?}",
                        c, b, brand
                    ),
                ),
                _ => {}
            }
        }
        if let (Some(r), Some(s)) = (ov(&d.media_relay_set), &d.media_relay_set) {
            if !mrs.contains(&r) {
                cx.err(
                    s,
                    "client.media_relay_set",
                    format!("no media relay set named {:?}", r),
                );
            }
        }
        for s in &d.authorized_sources {
            if v(s).parse::<ipnet::IpNet>().is_err() && v(s).parse::<std::net::IpAddr>().is_err() {
                cx.err(
                    s,
                    "client.authorized_sources",
                    "expected an IP address or CIDR range",
                );
            }
        }
        for s in &d.geoip_countries {
            let c = v(s);
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                cx.err(
                    s,
                    "client.geoip_countries",
                    "expected ISO 3166 alpha-2 codes like \"ES\"",
                );
            }
        }
        if let Some(s) = &d.country {
            let c = v(s);
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                cx.err(
                    s,
                    "client.country",
                    "expected an ISO 3166 alpha-2 code like \"ES\"",
                );
            }
        }
        if let Some(s) = &d.area_code {
            if !v(s).bytes().all(|b| b.is_ascii_digit()) {
                cx.err(s, "client.area_code", "expected digits");
            }
        }
        let billing_method = match d.billing_method.as_ref().map(v).as_deref() {
            None | Some("none") => BillingMethod::None,
            Some("postpaid") => BillingMethod::Postpaid,
            Some("prepaid") => BillingMethod::Prepaid,
            Some(_) => {
                if let Some(s) = &d.billing_method {
                    cx.err(
                        s,
                        "client.billing_method",
                        "expected none, postpaid or prepaid",
                    );
                }
                BillingMethod::None
            }
        };
        for (key, s) in [
            ("balance", &d.balance),
            ("max_daily_usage", &d.max_daily_usage),
        ] {
            if let Some(s) = s {
                if !is_decimal(&v(s)) {
                    cx.err(
                        s,
                        &format!("client.{}", key),
                        "expected a decimal amount like \"10.50\"",
                    );
                }
            }
        }
        if let Some(s) = &d.notify_email {
            if !v(s).contains('@') {
                cx.err(s, "client.notify_email", "expected an e-mail address");
            }
        }
        if clients
            .insert(name.clone(), (brand.clone(), corporation.clone()))
            .is_some()
        {
            cx.err(
                &d.name,
                "client.name",
                format!("duplicate client {:?}", name),
            );
        }
        m.clients.push(Client {
            name,
            brand,
            domain,
            corporation,
            max_calls: d.max_calls,
            ip_filter: d.ip_filter,
            authorized_sources: d.authorized_sources.iter().map(v).collect(),
            geoip_countries: d.geoip_countries.iter().map(v).collect(),
            outgoing_ddi: ov(&d.outgoing_ddi),
            media_relay_set: ov(&d.media_relay_set),
            billing_method,
            balance: ov(&d.balance).unwrap_or_else(|| "0".into()),
            currency: ov(&d.currency).unwrap_or_else(|| "EUR".into()),
            max_daily_usage: ov(&d.max_daily_usage),
            notify_email: ov(&d.notify_email),
            language: ov(&d.language).unwrap_or_else(|| "en".into()),
            timezone: ov(&d.timezone).unwrap_or_else(|| "UTC".into()),
            country: ov(&d.country),
            area_code: ov(&d.area_code),
            voice_notifications: d.voice_notifications,
            recording_code: ov(&d.recording_code),
        });
    }
    let client_ok = |cx: &mut Ctx, s: &S, key: &str| -> bool {
        if clients.contains_key(&v(s)) {
            true
        } else {
            cx.err(s, key, format!("no client named {:?}", v(s)));
            false
        }
    };

    // --- call ACLs
    let mut acls = HashSet::new();
    for d in &file.call_acl {
        client_ok(&mut cx, &d.client, "call_acl.client");
        if !acls.insert((v(&d.client), v(&d.name))) {
            cx.err(
                &d.name,
                "call_acl.name",
                format!(
                    "duplicate call ACL {:?} in client {:?}",
                    v(&d.name),
                    v(&d.client)
                ),
            );
        }
        let policy = |cx: &mut Ctx, s: &S, key: &str| match v(s).as_str() {
            "allow" => Policy::Allow,
            "deny" => Policy::Deny,
            _ => {
                cx.err(s, key, "expected allow or deny");
                Policy::Deny
            }
        };
        let default_policy = policy(&mut cx, &d.default_policy, "call_acl.default_policy");
        let mut rules = Vec::new();
        for r in &d.rules {
            if let Err(e) = check_pattern(&v(&r.pattern)) {
                cx.err(
                    &r.pattern,
                    "call_acl.rules.pattern",
                    format!("{:?} {}", v(&r.pattern), e),
                );
            }
            rules.push(AclRule {
                priority: r.priority,
                policy: policy(&mut cx, &r.policy, "call_acl.rules.policy"),
                pattern: v(&r.pattern),
            });
        }
        rules.sort_by_key(|r| r.priority);
        m.call_acls.push(CallAcl {
            client: v(&d.client),
            name: v(&d.name),
            default_policy,
            rules,
        });
    }
    let acl_ok = |cx: &mut Ctx, client: &S, acl: &Option<S>, key: &str| {
        if let Some(a) = acl {
            if !acls.contains(&(v(client), v(a))) {
                cx.err(
                    a,
                    key,
                    format!("no call ACL named {:?} in client {:?}", v(a), v(client)),
                );
            }
        }
    };

    // --- DDIs (numbers first, routes checked after users/friends/extensions exist)
    let mut ddis: HashMap<String, String> = HashMap::new();
    for d in &file.ddi {
        client_ok(&mut cx, &d.client, "ddi.client");
        let n = v(&d.number);
        if !is_e164(&n) {
            cx.err(
                &d.number,
                "ddi.number",
                "expected an E.164 number like \"+34944000100\"",
            );
        }
        if ddis.insert(n.clone(), v(&d.client)).is_some() {
            cx.err(&d.number, "ddi.number", format!("duplicate DDI {:?}", n));
        }
    }
    let ddi_ok = |cx: &mut Ctx, client: &str, ddi: &Option<S>, key: &str| {
        if let Some(s) = ddi {
            let n = v(s);
            if !is_e164(&n) {
                cx.err(s, key, "expected an E.164 number like \"+34944000100\"");
            } else if ddis.get(&n).is_some_and(|c| c != client) {
                cx.err(s, key, format!("DDI {:?} belongs to another client", n));
            }
        }
    };
    for d in &file.client {
        ddi_ok(&mut cx, &v(&d.name), &d.outgoing_ddi, "client.outgoing_ddi");
    }

    // --- users and their extensions
    let mut sip_names: HashSet<(String, String)> = HashSet::new();
    let mut users = HashSet::new();
    let mut extensions: HashMap<(String, String), ()> = HashMap::new();
    let mut add_ext = |cx: &mut Ctx, client: &str, number: &S, key: &str| {
        let n = v(number);
        if n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            cx.err(number, key, "expected digits (and * or #)");
        }
        if extensions
            .insert((client.to_string(), n.clone()), ())
            .is_some()
        {
            cx.err(
                number,
                key,
                format!("duplicate extension {:?} in client {:?}", n, client),
            );
        }
    };
    for d in &file.user {
        client_ok(&mut cx, &d.client, "user.client");
        let name = v(&d.name);
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        {
            cx.err(
                &d.name,
                "user.name",
                "expected letters, digits and - _ . + (it is the SIP user name)",
            );
        }
        if !sip_names.insert((v(&d.client), name.clone())) {
            cx.err(
                &d.name,
                "user.name",
                format!(
                    "duplicate SIP user name {:?} in client {:?}",
                    name,
                    v(&d.client)
                ),
            );
        }
        users.insert((v(&d.client), name.clone()));
        if v(&d.password).len() < 8 {
            cx.err(
                &d.password,
                "user.password",
                "expected at least 8 characters",
            );
        }
        if let Some(e) = &d.extension {
            add_ext(&mut cx, &v(&d.client), e, "user.extension");
            m.extensions.push(Extension {
                client: v(&d.client),
                number: v(e),
                route: ExtensionRoute::User(name.clone()),
            });
        }
        acl_ok(&mut cx, &d.client, &d.call_acl, "user.call_acl");
        ddi_ok(&mut cx, &v(&d.client), &d.outgoing_ddi, "user.outgoing_ddi");
        m.users.push(User {
            client: v(&d.client),
            name,
            password: v(&d.password),
            extension: ov(&d.extension),
            call_acl: ov(&d.call_acl),
            outgoing_ddi: ov(&d.outgoing_ddi),
            max_calls: d.max_calls,
            allowed_codecs: d.allowed_codecs.iter().map(v).collect(),
            email: ov(&d.email),
        });
    }

    // --- friends
    let mut friends = HashSet::new();
    for d in &file.friend {
        client_ok(&mut cx, &d.client, "friend.client");
        let name = v(&d.name);
        let client = v(&d.client);
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        {
            cx.err(
                &d.name,
                "friend.name",
                "expected letters, digits and - _ . + (it is the SIP user name)",
            );
        }
        if !sip_names.insert((client.clone(), name.clone())) {
            cx.err(
                &d.name,
                "friend.name",
                format!(
                    "SIP user name {:?} is already used by a user or friend of client {:?}",
                    name, client
                ),
            );
        }
        friends.insert((client.clone(), name.clone()));
        let mode = match v(&d.mode).as_str() {
            "register" => FriendMode::Register,
            "direct" => FriendMode::Direct,
            "intervpbx" => FriendMode::Intervpbx,
            _ => {
                cx.err(
                    &d.mode,
                    "friend.mode",
                    "expected register, direct or intervpbx",
                );
                FriendMode::Register
            }
        };
        let password = ov(&d.password);
        match mode {
            FriendMode::Register => {
                if password.is_none() {
                    cx.err(&d.name, "friend.password", "a register-mode friend needs a password (it authenticates like a terminal)");
                }
            }
            FriendMode::Direct => {
                if ov(&d.address).is_none() {
                    cx.err(
                        &d.name,
                        "friend.address",
                        "a direct-mode friend needs an address",
                    );
                }
                if let Some(t) = &d.transport {
                    if !["udp", "tcp", "tls"].contains(&v(t).as_str()) {
                        cx.err(t, "friend.transport", "expected udp, tcp or tls");
                    }
                }
                if let Some(a) = &d.address {
                    if !is_host(&v(a)) {
                        cx.err(a, "friend.address", "expected an IP address or host name");
                    }
                }
            }
            FriendMode::Intervpbx => {
                if let Some(p) = &d.password {
                    cx.err(p, "friend.password", "an intervpbx friend has no password");
                }
                if let Some(p) = d.patterns.first() {
                    cx.err(p, "friend.patterns", "an intervpbx friend has no patterns: it matches the target client's extensions");
                }
                if let Some(a) = &d.call_acl {
                    cx.err(a, "friend.call_acl", "an intervpbx friend has no call ACL");
                }
                match &d.target_client {
                    None => cx.err(
                        &d.name,
                        "friend.target_client",
                        "an intervpbx friend needs a target_client",
                    ),
                    Some(t) => match (clients.get(&v(t)), clients.get(&client)) {
                        (None, _) => cx.err(
                            t,
                            "friend.target_client",
                            format!("no client named {:?}", v(t)),
                        ),
                        (Some(_), _) if v(t) == client => cx.err(
                            t,
                            "friend.target_client",
                            "the target client must be another client",
                        ),
                        (Some((tb, tc)), Some((b, c))) => {
                            if tb != b {
                                cx.err(
                                    t,
                                    "friend.target_client",
                                    format!("client {:?} is in brand {:?}, not {:?}", v(t), tb, b),
                                );
                            } else if tc.is_none() || tc != c {
                                cx.err(
                                    t,
                                    "friend.target_client",
                                    format!(
                                        "client {:?} is not in the same corporation as {:?}",
                                        v(t),
                                        client
                                    ),
                                );
                            }
                        }
                        _ => {}
                    },
                }
            }
        }
        if mode != FriendMode::Intervpbx {
            if let Some(t) = &d.target_client {
                cx.err(
                    t,
                    "friend.target_client",
                    "only an intervpbx friend has a target_client",
                );
            }
        }
        for p in &d.patterns {
            if let Err(e) = check_pattern(&v(p)) {
                cx.err(p, "friend.patterns", format!("{:?} {}", v(p), e));
            }
        }
        let tls_fingerprint = fingerprint_ok(
            &mut cx,
            &d.tls_fingerprint,
            mode == FriendMode::Direct && d.transport.as_ref().map(v).as_deref() == Some("tls"),
            "friend.tls_fingerprint",
        );
        acl_ok(&mut cx, &d.client, &d.call_acl, "friend.call_acl");
        ddi_ok(&mut cx, &client, &d.outgoing_ddi, "friend.outgoing_ddi");
        m.friends.push(Friend {
            client,
            name,
            description: ov(&d.description),
            priority: d.priority,
            mode,
            password,
            patterns: d.patterns.iter().map(v).collect(),
            call_acl: ov(&d.call_acl),
            outgoing_ddi: ov(&d.outgoing_ddi),
            country: ov(&d.country),
            area_code: ov(&d.area_code),
            allowed_codecs: d.allowed_codecs.iter().map(v).collect(),
            from_domain: ov(&d.from_domain),
            transport: ov(&d.transport)
                .or_else(|| (mode == FriendMode::Direct).then(|| "udp".into())),
            address: ov(&d.address),
            port: d
                .port
                .as_ref()
                .map(|p| *p.get_ref())
                .or((mode == FriendMode::Direct).then_some(5060)),
            tls_fingerprint,
            target_client: ov(&d.target_client),
        });
    }

    // --- extensions
    for d in &file.extension {
        if !client_ok(&mut cx, &d.client, "extension.client") {
            continue;
        }
        let client = v(&d.client);
        add_ext(&mut cx, &client, &d.number, "extension.number");
        let need = |cx: &mut Ctx, s: &Option<S>, key: &str| -> String {
            match s {
                Some(x) => v(x),
                None => {
                    cx.err(
                        &d.route,
                        key,
                        format!("route {:?} needs the key {}", v(&d.route), key),
                    );
                    String::new()
                }
            }
        };
        let route = match v(&d.route).as_str() {
            "user" => {
                let u = need(&mut cx, &d.user, "user");
                if !u.is_empty() && !users.contains(&(client.clone(), u.clone())) {
                    if let Some(s) = &d.user {
                        cx.err(
                            s,
                            "extension.user",
                            format!("no user named {:?} in client {:?}", u, client),
                        );
                    }
                }
                ExtensionRoute::User(u)
            }
            "voicemail" => ExtensionRoute::Voicemail(need(&mut cx, &d.user, "user")),
            "number" => {
                let n = need(&mut cx, &d.target, "target");
                if !n.is_empty()
                    && !n
                        .trim_start_matches('+')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                {
                    if let Some(s) = &d.target {
                        cx.err(s, "extension.target", "expected a phone number");
                    }
                }
                ExtensionRoute::Number(n)
            }
            "friend" => {
                let f = need(&mut cx, &d.friend, "friend");
                if !f.is_empty() && !friends.contains(&(client.clone(), f.clone())) {
                    if let Some(s) = &d.friend {
                        cx.err(
                            s,
                            "extension.friend",
                            format!("no friend named {:?} in client {:?}", f, client),
                        );
                    }
                }
                ExtensionRoute::Friend(f)
            }
            "ivr" => ExtensionRoute::Ivr(need(&mut cx, &d.ivr, "ivr")),
            "locution" => ExtensionRoute::Locution(need(&mut cx, &d.locution, "locution")),
            _ => {
                cx.err(
                    &d.route,
                    "extension.route",
                    "expected user, number, friend, voicemail, ivr or locution",
                );
                continue;
            }
        };
        m.extensions.push(Extension {
            client,
            number: v(&d.number),
            route,
        });
    }

    // --- DDI routes
    for d in &file.ddi {
        let client = v(&d.client);
        let route = match d.route.as_ref().map(v).as_deref() {
            None => None,
            Some(r) => {
                let (val, key) = match r {
                    "user" | "voicemail" => (&d.user, "user"),
                    "friend" => (&d.friend, "friend"),
                    "extension" => (&d.extension, "extension"),
                    "ivr" => (&d.ivr, "ivr"),
                    _ => {
                        if let Some(s) = &d.route {
                            cx.err(
                                s,
                                "ddi.route",
                                "expected user, friend, extension, ivr or voicemail",
                            );
                        }
                        continue;
                    }
                };
                let Some(s) = val else {
                    if let Some(rs) = &d.route {
                        cx.err(
                            rs,
                            &format!("ddi.{}", key),
                            format!("route {:?} needs the key {}", r, key),
                        );
                    }
                    continue;
                };
                let t = v(s);
                let known = match r {
                    "user" | "voicemail" => users.contains(&(client.clone(), t.clone())),
                    "friend" => friends.contains(&(client.clone(), t.clone())),
                    "extension" => extensions.contains_key(&(client.clone(), t.clone())),
                    _ => true,
                };
                if !known {
                    cx.err(
                        s,
                        &format!("ddi.{}", key),
                        format!("no {} named {:?} in client {:?}", key, t, client),
                    );
                }
                Some(match r {
                    "user" => DdiRoute::User(t),
                    "voicemail" => DdiRoute::Voicemail(t),
                    "friend" => DdiRoute::Friend(t),
                    "extension" => DdiRoute::Extension(t),
                    _ => DdiRoute::Ivr(t),
                })
            }
        };
        m.ddis.push(Ddi {
            number: v(&d.number),
            client,
            route,
            record: d.record,
        });
    }

    // --- call forwards
    for d in &file.call_forward {
        if !client_ok(&mut cx, &d.client, "call_forward.client") {
            continue;
        }
        let client = v(&d.client);
        let owner = match (&d.user, &d.friend) {
            (Some(u), None) => {
                if !users.contains(&(client.clone(), v(u))) {
                    cx.err(
                        u,
                        "call_forward.user",
                        format!("no user named {:?} in client {:?}", v(u), client),
                    );
                }
                ForwardOwner::User(v(u))
            }
            (None, Some(f)) => {
                if !friends.contains(&(client.clone(), v(f))) {
                    cx.err(
                        f,
                        "call_forward.friend",
                        format!("no friend named {:?} in client {:?}", v(f), client),
                    );
                }
                ForwardOwner::Friend(v(f))
            }
            _ => {
                cx.err(
                    &d.client,
                    "call_forward",
                    "expected exactly one of user or friend",
                );
                continue;
            }
        };
        let call_type = match v(&d.call_type).as_str() {
            "internal" => CallType::Internal,
            "external" => CallType::External,
            "any" => CallType::Any,
            _ => {
                cx.err(
                    &d.call_type,
                    "call_forward.call_type",
                    "expected internal, external or any",
                );
                CallType::Any
            }
        };
        let forward_type = match v(&d.forward_type).as_str() {
            "unconditional" => ForwardType::Unconditional,
            "no_answer" => ForwardType::NoAnswer,
            "busy" => ForwardType::Busy,
            "not_registered" => ForwardType::NotRegistered,
            _ => {
                cx.err(
                    &d.forward_type,
                    "call_forward.forward_type",
                    "expected unconditional, no_answer, busy or not_registered",
                );
                ForwardType::Unconditional
            }
        };
        let target = match v(&d.target).as_str() {
            "voicemail" => ForwardTarget::Voicemail,
            "number" => match &d.number {
                Some(n) => ForwardTarget::Number(v(n)),
                None => {
                    cx.err(
                        &d.target,
                        "call_forward.number",
                        "target \"number\" needs the key number",
                    );
                    continue;
                }
            },
            "extension" => match &d.extension {
                Some(e) => {
                    if !extensions.contains_key(&(client.clone(), v(e))) {
                        cx.warn(
                            e,
                            "call_forward.extension",
                            format!(
                                "no extension {:?} in client {:?}: the forward leads nowhere until it exists",
                                v(e),
                                client
                            ),
                        );
                    }
                    ForwardTarget::Extension(v(e))
                }
                None => {
                    cx.err(
                        &d.target,
                        "call_forward.extension",
                        "target \"extension\" needs the key extension",
                    );
                    continue;
                }
            },
            _ => {
                cx.err(
                    &d.target,
                    "call_forward.target",
                    "expected voicemail, number or extension",
                );
                continue;
            }
        };
        m.call_forwards.push(CallForward {
            client,
            owner,
            call_type,
            forward_type,
            timeout: d
                .timeout
                .unwrap_or(if forward_type == ForwardType::NoAnswer {
                    10
                } else {
                    0
                }),
            target,
            enabled: d.enabled,
        });
    }

    // --- carriers and DDI providers
    let mut carriers = HashSet::new();
    for d in &file.carrier {
        if !brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "carrier.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        if !carriers.insert((v(&d.brand), v(&d.name))) {
            cx.err(
                &d.name,
                "carrier.name",
                format!("duplicate carrier {:?}", v(&d.name)),
            );
        }
        if !is_host(&v(&d.address)) {
            cx.err(
                &d.address,
                "carrier.address",
                "expected an IP address or host name",
            );
        }
        let transport = ov(&d.transport).unwrap_or_else(|| "udp".into());
        if !["udp", "tcp", "tls"].contains(&transport.as_str()) {
            if let Some(t) = &d.transport {
                cx.err(t, "carrier.transport", "expected udp, tcp or tls");
            }
        }
        let tls_fingerprint = fingerprint_ok(
            &mut cx,
            &d.tls_fingerprint,
            transport == "tls",
            "carrier.tls_fingerprint",
        );
        m.carriers.push(Carrier {
            brand: v(&d.brand),
            name: v(&d.name),
            address: v(&d.address),
            port: d.port,
            transport,
            tls_fingerprint,
            username: ov(&d.username),
            password: ov(&d.password),
        });
    }
    for d in &file.ddi_provider {
        if !brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "ddi_provider.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        for a in &d.addresses {
            if v(a).parse::<ipnet::IpNet>().is_err() && v(a).parse::<std::net::IpAddr>().is_err() {
                cx.err(
                    a,
                    "ddi_provider.addresses",
                    "expected an IP address or CIDR range",
                );
            }
        }
        m.ddi_providers.push(DdiProvider {
            brand: v(&d.brand),
            name: v(&d.name),
            addresses: d.addresses.iter().map(v).collect(),
        });
    }

    // --- rating profiles
    for d in &file.rating_profile {
        client_ok(&mut cx, &d.client, "rating_profile.client");
        let from = parse_time(&v(&d.active_from)).unwrap_or_else(|e| {
            cx.err(&d.active_from, "rating_profile.active_from", e);
            0
        });
        let to = d.active_to.as_ref().and_then(|s| {
            parse_time(&v(s))
                .map_err(|e| cx.err(s, "rating_profile.active_to", e))
                .ok()
        });
        let mut rates = Vec::new();
        for r in &d.rates {
            if !v(&r.prefix).starts_with('+')
                || !v(&r.prefix)[1..].bytes().all(|b| b.is_ascii_digit())
            {
                cx.err(
                    &r.prefix,
                    "rating_profile.rates.prefix",
                    "expected an E.164 prefix like \"+34\"",
                );
            }
            for (k, s) in [
                ("connection_fee", &r.connection_fee),
                ("per_minute", &r.per_minute),
            ] {
                if !is_decimal(&v(s)) {
                    cx.err(
                        s,
                        &format!("rating_profile.rates.{}", k),
                        "expected a decimal amount like \"0.02\"",
                    );
                }
            }
            rates.push(Rate {
                prefix: v(&r.prefix),
                connection_fee: v(&r.connection_fee),
                per_minute: v(&r.per_minute),
                increment: r.increment.max(1),
            });
        }
        m.rating_profiles.push(RatingProfile {
            client: v(&d.client),
            name: v(&d.name),
            active_from: from,
            active_to: to,
            rates,
        });
    }

    if cx.errors.is_empty() {
        Ok(Checked {
            model: m,
            warnings: cx.warnings,
        })
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        Err(cx.errors)
    }
}

//! Call ACLs, users and friends: who calls, and what they may dial.

use super::*;

/// The call ACLs of the clients.
pub(super) fn call_acls(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.call_acl {
        k.client_ok(cx, &d.client, "call_acl.client");
        if !k.acls.insert((v(&d.client), v(&d.name))) {
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
        let default_policy = policy(cx, &d.default_policy, "call_acl.default_policy");
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
                policy: policy(cx, &r.policy, "call_acl.rules.policy"),
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
}

/// The users (terminals) and their extensions.
pub(super) fn users(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.user {
        k.client_ok(cx, &d.client, "user.client");
        let name = v(&d.name);
        if !name_ok(&name) {
            cx.err(
                &d.name,
                "user.name",
                "expected letters, digits and - _ . + (it is the SIP user name)",
            );
        }
        if !k.sip_names.insert((v(&d.client), name.clone())) {
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
        k.users.insert((v(&d.client), name.clone()));
        if v(&d.password).len() < 8 {
            cx.err(
                &d.password,
                "user.password",
                "expected at least 8 characters",
            );
        }
        if let Some(e) = &d.extension {
            k.add_ext(cx, &v(&d.client), e, "user.extension");
            m.extensions.push(Extension {
                client: v(&d.client),
                number: v(e),
                route: ExtensionRoute::User(name.clone()),
            });
        }
        k.acl_ok(cx, &d.client, &d.call_acl, "user.call_acl");
        k.ddi_ok(cx, &v(&d.client), &d.outgoing_ddi, "user.outgoing_ddi");
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
            voicemail: d.voicemail.unwrap_or(true),
        });
    }
}

/// The friends: register, direct and internal (intervpbx) ones.
pub(super) fn friends(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.friend {
        k.client_ok(cx, &d.client, "friend.client");
        let name = v(&d.name);
        let client = v(&d.client);
        if !name_ok(&name) {
            cx.err(
                &d.name,
                "friend.name",
                "expected letters, digits and - _ . + (it is the SIP user name)",
            );
        }
        if !k.sip_names.insert((client.clone(), name.clone())) {
            cx.err(
                &d.name,
                "friend.name",
                format!(
                    "SIP user name {:?} is already used by a user or friend of client {:?}",
                    name, client
                ),
            );
        }
        k.friends.insert((client.clone(), name.clone()));
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
                    if !["udp", "tcp", "tls", "auto"].contains(&v(t).as_str()) {
                        cx.err(t, "friend.transport", "expected udp, tcp, tls or auto");
                    }
                    // `auto`: the host name's NAPTR records choose (RFC 3263 §4.1)
                    let by_name = d.address.as_ref().is_some_and(|a| {
                        v(a).trim_matches(['[', ']'])
                            .parse::<std::net::IpAddr>()
                            .is_err()
                    });
                    if v(t) == "auto" && (!by_name || d.port.is_some()) {
                        cx.err(
                            t,
                            "friend.transport",
                            "auto (NAPTR) needs a host name as address and no port",
                        );
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
                    Some(t) => match (k.clients.get(&v(t)), k.clients.get(&client)) {
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
            cx,
            &d.tls_fingerprint,
            mode == FriendMode::Direct
                && matches!(d.transport.as_ref().map(v).as_deref(), Some("tls" | "auto")),
            "friend.tls_fingerprint",
        );
        let qualify_interval = qualify_ok(
            cx,
            &d.qualify_interval,
            mode == FriendMode::Direct,
            "friend.qualify_interval",
        );
        k.acl_ok(cx, &d.client, &d.call_acl, "friend.call_acl");
        k.ddi_ok(cx, &client, &d.outgoing_ddi, "friend.outgoing_ddi");
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
            // (a host name without a port: its SRV records say where, RFC 3263)
            port: d
                .port
                .as_ref()
                .map(|p| *p.get_ref())
                .or((mode == FriendMode::Direct
                    && ov(&d.address).is_none_or(|a| a.parse::<std::net::IpAddr>().is_ok()))
                .then_some(5060)),
            tls_fingerprint,
            target_client: ov(&d.target_client),
            qualify_interval,
        });
    }
}

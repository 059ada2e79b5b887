//! DDIs, extensions, DDI routes and call forwards: where a number leads.

use super::*;

/// The DDI numbers (their routes are checked once users, friends and extensions
/// exist: `ddi_routes`), and the clients' outgoing DDIs against them.
pub(super) fn ddis(cx: &mut Ctx, file: &File, k: &mut Names) {
    for d in &file.ddi {
        k.client_ok(cx, &d.client, "ddi.client");
        let n = v(&d.number);
        if !is_e164(&n) {
            cx.err(
                &d.number,
                "ddi.number",
                "expected an E.164 number like \"+34944000100\"",
            );
        }
        if k.ddis.insert(n.clone(), v(&d.client)).is_some() {
            cx.err(&d.number, "ddi.number", format!("duplicate DDI {:?}", n));
        }
    }
    for d in &file.client {
        k.ddi_ok(cx, &v(&d.name), &d.outgoing_ddi, "client.outgoing_ddi");
    }
}

/// The extensions and their routes.
pub(super) fn extensions(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.extension {
        if !k.client_ok(cx, &d.client, "extension.client") {
            continue;
        }
        let client = v(&d.client);
        k.add_ext(cx, &client, &d.number, "extension.number");
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
                let u = need(cx, &d.user, "user");
                if !u.is_empty() && !k.users.contains(&(client.clone(), u.clone())) {
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
            "voicemail" => ExtensionRoute::Voicemail(super::voicemail::route_box(
                cx,
                k,
                &client,
                "extension",
                &d.route,
                &d.voicemail,
                &d.user,
            )),
            "number" => {
                let n = need(cx, &d.target, "target");
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
                let f = need(cx, &d.friend, "friend");
                if !f.is_empty() && !k.friends.contains(&(client.clone(), f.clone())) {
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
            "ivr" => ExtensionRoute::Ivr(need(cx, &d.ivr, "ivr")),
            "locution" => ExtensionRoute::Locution(need(cx, &d.locution, "locution")),
            "echo" => ExtensionRoute::Echo,
            _ => {
                cx.err(
                    &d.route,
                    "extension.route",
                    "expected user, number, friend, voicemail, ivr, locution or echo",
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
}

/// Where each DDI goes.
pub(super) fn ddi_routes(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.ddi {
        let client = v(&d.client);
        let route = match d.route.as_ref().map(v).as_deref() {
            None => None,
            Some(r) => {
                if r == "voicemail" {
                    if let Some(rs) = &d.route {
                        let name = super::voicemail::route_box(
                            cx,
                            k,
                            &client,
                            "ddi",
                            rs,
                            &d.voicemail,
                            &d.user,
                        );
                        m.ddis.push(Ddi {
                            number: v(&d.number),
                            client,
                            route: Some(DdiRoute::Voicemail(name)),
                            record: d.record,
                        });
                    }
                    continue;
                }
                let (val, key) = match r {
                    "user" => (&d.user, "user"),
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
                    "user" => k.users.contains(&(client.clone(), t.clone())),
                    "friend" => k.friends.contains(&(client.clone(), t.clone())),
                    "extension" => k.extensions.contains_key(&(client.clone(), t.clone())),
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
}

/// The call forwards of users and friends.
pub(super) fn call_forwards(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.call_forward {
        if !k.client_ok(cx, &d.client, "call_forward.client") {
            continue;
        }
        let client = v(&d.client);
        let owner = match (&d.user, &d.friend) {
            (Some(u), None) => {
                if !k.users.contains(&(client.clone(), v(u))) {
                    cx.err(
                        u,
                        "call_forward.user",
                        format!("no user named {:?} in client {:?}", v(u), client),
                    );
                }
                ForwardOwner::User(v(u))
            }
            (None, Some(f)) => {
                if !k.friends.contains(&(client.clone(), v(f))) {
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
            "voicemail" => {
                let has_box = m.voicemails.iter().any(|x| {
                    x.client == client
                        && match &owner {
                            ForwardOwner::User(u) => x.user.as_ref() == Some(u),
                            ForwardOwner::Friend(f) => x.friend.as_ref() == Some(f),
                        }
                });
                if !has_box {
                    cx.warn(
                        &d.target,
                        "call_forward.target",
                        "its owner has no voicemail: the forward does not apply until it has one",
                    );
                }
                ForwardTarget::Voicemail
            }
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
                    if !k.extensions.contains_key(&(client.clone(), v(e))) {
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
        // One setting per owner, type and call type; and two enabled ones of the same type
        // must not both apply to a call (`any` overlaps internal and external).
        let clash = m.call_forwards.iter().find(|f| {
            f.client == client
                && f.owner == owner
                && f.forward_type == forward_type
                && (f.call_type == call_type
                    || (f.enabled
                        && d.enabled
                        && (f.call_type == CallType::Any || call_type == CallType::Any)))
        });
        if let Some(f) = clash {
            cx.err(
                &d.forward_type,
                "call_forward.forward_type",
                format!(
                    "{:?} already has a {} forward for {} calls{}",
                    match &owner {
                        ForwardOwner::User(n) | ForwardOwner::Friend(n) => n,
                    },
                    v(&d.forward_type),
                    match f.call_type {
                        CallType::Internal => "internal",
                        CallType::External => "external",
                        CallType::Any => "any",
                    },
                    if f.call_type == call_type {
                        ""
                    } else {
                        " (overlapping: both enabled)"
                    }
                ),
            );
        }
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
}

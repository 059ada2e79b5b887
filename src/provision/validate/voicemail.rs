//! Voicemail boxes: the provisioned ones, then one per user that has none of its own
//! (named after it, unless `voicemail = false` on the user).

use super::*;

fn ov(s: &Option<S>) -> Option<String> {
    s.as_ref().map(v).filter(|x| !x.is_empty())
}

pub(super) fn voicemails(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.voicemail {
        let client = v(&d.client);
        if !k.client_ok(cx, &d.client, "voicemail.client") {
            continue;
        }
        let name = v(&d.name);
        if !name_ok(&name) {
            cx.err(
                &d.name,
                "voicemail.name",
                "expected letters, digits and - _ . +",
            );
        }
        if !k.voicemails.insert((client.clone(), name.clone())) {
            cx.err(
                &d.name,
                "voicemail.name",
                format!("duplicate voicemail {:?} in client {:?}", name, client),
            );
        }
        let (user, friend) = (ov(&d.user), ov(&d.friend));
        if let (Some(u), Some(s)) = (&user, &d.user) {
            if !k.users.contains(&(client.clone(), u.clone())) {
                cx.err(
                    s,
                    "voicemail.user",
                    format!("no user named {:?} in client {:?}", u, client),
                );
            }
        }
        if let (Some(f), Some(s)) = (&friend, &d.friend) {
            if user.is_some() {
                cx.err(
                    s,
                    "voicemail.friend",
                    "a voicemail belongs to a user or a friend, not both",
                );
            } else if !k.friends.contains(&(client.clone(), f.clone())) {
                cx.err(
                    s,
                    "voicemail.friend",
                    format!("no friend named {:?} in client {:?}", f, client),
                );
            }
        }
        let owned = |x: &Voicemail| {
            x.client == client
                && ((user.is_some() && x.user == user) || (friend.is_some() && x.friend == friend))
        };
        if m.voicemails.iter().any(owned) {
            if let Some(s) = d.user.as_ref().or(d.friend.as_ref()) {
                cx.err(s, "voicemail.user", "that owner has a voicemail already");
            }
        }
        if let Some(s) = &d.email {
            if !v(s).contains('@') {
                cx.err(s, "voicemail.email", "expected an e-mail address");
            }
        }
        if d.send_mail && ov(&d.email).is_none() {
            cx.err(
                &d.name,
                "voicemail.email",
                "send_mail needs an e-mail address",
            );
        }
        if let Some(s) = &d.pin {
            let p = v(s);
            if p.len() < 4 || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()) {
                cx.err(s, "voicemail.pin", "expected 4 to 10 digits");
            }
        }
        m.voicemails.push(Voicemail {
            client,
            name,
            user,
            friend,
            email: ov(&d.email),
            send_mail: d.send_mail,
            attach_sound: d.attach_sound,
            pin: ov(&d.pin),
            greeting: ov(&d.greeting),
            enabled: d.enabled,
            max_messages: d.max_messages,
            auto: false,
        });
    }
    // A user's own box, named after it; a name already taken gives none (warned).
    for (u, d) in m.users.iter().zip(&file.user) {
        if !u.voicemail
            || m.voicemails
                .iter()
                .any(|x| x.client == u.client && x.user.as_ref() == Some(&u.name))
        {
            continue;
        }
        if !k.voicemails.insert((u.client.clone(), u.name.clone())) {
            cx.warn(
                &d.name,
                "user.voicemail",
                format!(
                    "a voicemail named {:?} exists: the user gets none of its own",
                    u.name
                ),
            );
            continue;
        }
        m.voicemails.push(Voicemail::of_user(u));
    }
}

/// The voicemail box a `voicemail` route names: its `voicemail` key, else the box named
/// after its `user` key; an error (at `route`) when neither names a box of the client.
pub(super) fn route_box(
    cx: &mut Ctx,
    k: &Names,
    client: &str,
    section: &str,
    route: &S,
    voicemail: &Option<S>,
    user: &Option<S>,
) -> String {
    let (key, s) = match (voicemail, user) {
        (Some(s), _) => ("voicemail", s),
        (None, Some(s)) => ("user", s),
        (None, None) => {
            cx.err(
                route,
                &format!("{}.voicemail", section),
                "route \"voicemail\" needs the key voicemail",
            );
            return String::new();
        }
    };
    let name = v(s);
    if !k.voicemails.contains(&(client.to_string(), name.clone())) {
        cx.err(
            s,
            &format!("{}.{}", section, key),
            format!("no voicemail named {:?} in client {:?}", name, client),
        );
    }
    name
}

//! Calls from a carrier or DDI provider: the DDI they are for, and where its route leads.

use super::{
    e164, friend_country, outbound, outbound_unrated, resolve_extension, Choice, Refusal, Route,
};
use crate::model::{DdiRoute, FriendMode, Snapshot};

/// A call from a carrier or DDI provider of `brand` to `called` (the number as the trunk
/// sent it: `+34944000100`, `34944000100` or `0034944000100`). The DDI's route: user →
/// `User`; friend → `Friend` with the DDI in the friend's national format; extension → that
/// extension of the DDI's client resolved like an internal call (no ACL; a route to a number
/// is an external call billed to the DDI's client presenting the DDI); IVR, voicemail →
/// `Unsupported`; no route, unknown DDI or a DDI of another brand → `NotFound`.
///
/// Without a time, a DDI → extension → number call is not rated; [`inbound_at`] also checks
/// that the DDI's client can bill it.
pub fn inbound(brand: &str, called: &str, snap: &Snapshot) -> Route {
    inbound_impl(brand, called, snap, None, Choice::default())
}

/// [`inbound`], and a DDI → extension → number call must be billable by the DDI's client at
/// `now` (Unix seconds), else `CannotBeBilled`.
pub fn inbound_at(brand: &str, called: &str, snap: &Snapshot, now: u64) -> Route {
    inbound_impl(brand, called, snap, Some(now), Choice::default())
}

/// [`inbound_at`] with the carriers' choice of a call that goes out again made with
/// `choice`.
pub fn inbound_with(brand: &str, called: &str, snap: &Snapshot, now: u64, choice: Choice) -> Route {
    inbound_impl(brand, called, snap, Some(now), choice)
}

/// The DDI number a trunk's call is for: `called` in E.164 (`00…` and bare digits get
/// their `+`).
pub fn called_number(called: &str) -> String {
    if called.starts_with('+') {
        called.to_string()
    } else if let Some(rest) = called.strip_prefix("00") {
        format!("+{}", rest)
    } else {
        format!("+{}", called)
    }
}

fn inbound_impl(
    brand: &str,
    called: &str,
    snap: &Snapshot,
    now: Option<u64>,
    choice: Choice,
) -> Route {
    let number = called_number(called);
    let not_found = Route::Refused(Refusal::NotFound);
    if !e164::is_e164(&number) {
        return not_found;
    }
    let Some(ddi) = snap.ddi(&number) else {
        return not_found;
    };
    let Some(client) = snap.client(&ddi.client).filter(|c| c.brand == brand) else {
        return not_found;
    };
    let Some(route) = &ddi.route else {
        return not_found;
    };
    let unsupported = |kind: &str, name: &str| Route::Unsupported {
        client: client.name.clone(),
        what: format!("{}:{}", kind, name),
    };
    match route {
        DdiRoute::User(u) => match snap.user(&client.name, u) {
            Some(u) => Route::User {
                client: client.name.clone(),
                user: u.name.clone(),
            },
            None => not_found,
        },
        DdiRoute::Friend(f) => match snap.friend(&client.name, f) {
            Some(f) if f.mode == FriendMode::Intervpbx => unsupported("intervpbx", &f.name),
            Some(f) => Route::Friend {
                client: client.name.clone(),
                friend: f.name.clone(),
                number: e164::to_national(&number, friend_country(client, f)),
            },
            None => not_found,
        },
        DdiRoute::Extension(e) => match snap.extension(&client.name, e) {
            Some(ext) => resolve_extension(snap, client, ext, |to| match now {
                Some(now) => outbound(client, to, Some(number.clone()), snap, now, choice),
                None => outbound_unrated(client, to, Some(number.clone()), snap, choice),
            }),
            None => not_found,
        },
        DdiRoute::Ivr(name) => unsupported("ivr", name),
        DdiRoute::Voicemail(name) => Route::Voicemail {
            client: client.name.clone(),
            mailbox: name.clone(),
        },
    }
}

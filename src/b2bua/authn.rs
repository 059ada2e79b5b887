//! Who places a call (DESIGN §5): carriers and DDI providers by address, a direct friend
//! without password by its address (a carrier's or friend's host name by what it resolves
//! to), everyone else by digest with `407`.

use crate::auth::verify::{Verdict, Verifier};
use crate::model::trust::{classify, Resolved, Source};
use crate::model::{FriendMode, Snapshot};
use crate::sip::headers::{uri_host, NameAddr};
use crate::sip::message::Message;
use crate::sip::transport::Flow;

/// The authenticated originator of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User {
        client: String,
        name: String,
    },
    Friend {
        client: String,
        name: String,
    },
    /// A carrier or DDI provider of a brand: an inbound call to a DDI.
    Trunk {
        brand: String,
        name: String,
    },
}

pub enum Outcome {
    Known(Caller),
    /// Answer `407` with these `Proxy-Authenticate` values.
    Challenge(Vec<String>),
    /// Answer `400`.
    Bad(&'static str),
}

/// The realm of a call: the client domain of the From URI, else of the Request-URI, else
/// the From host (an unknown domain is challenged like a known one).
fn realm(snap: &Snapshot, from: &NameAddr, req: &Message) -> (Option<String>, String) {
    let from_host = from.uri().ok().map(|u| uri_host(&u)).unwrap_or_default();
    if let Some(c) = snap.client_by_domain(&from_host) {
        return (Some(c.name.clone()), c.domain.clone());
    }
    if let Some(h) = req.request_uri_host() {
        if let Some(c) = snap.client_by_domain(&h) {
            return (Some(c.name.clone()), c.domain.clone());
        }
    }
    (None, from_host)
}

pub fn identify(
    verifier: &Verifier<'_>,
    snap: &Snapshot,
    names: &Resolved,
    req: &Message,
    from: &NameAddr,
    flow: &Flow,
) -> Outcome {
    match classify(snap, names, flow.remote) {
        Source::Carrier { brand, name } | Source::DdiProvider { brand, name } => {
            return Outcome::Known(Caller::Trunk { brand, name })
        }
        Source::DirectFriend { client, name } => {
            return Outcome::Known(Caller::Friend { client, name })
        }
        Source::MustAuthenticate => {}
    }
    let (client, realm) = realm(snap, from, req);
    let password = |name: &str| {
        let c = client.as_deref()?;
        if let Some(r) = snap.registrant(c, name) {
            return Some(r.password().to_string());
        }
        snap.friend(c, name)
            .filter(|f| f.mode == FriendMode::Direct)
            .and_then(|f| f.password.clone())
            .filter(|p| !p.is_empty())
    };
    let answer = crate::sip::headers::Challenge::Proxy.credentials_header();
    match verifier.verify(req, answer, &realm, flow, password) {
        Verdict::Authenticated(name) => {
            // `password` found a secret, so the client and the credential exist.
            let client = client.unwrap_or_default();
            if snap.user(&client, &name).is_some() {
                Outcome::Known(Caller::User { client, name })
            } else {
                Outcome::Known(Caller::Friend { client, name })
            }
        }
        Verdict::Challenge { stale } => Outcome::Challenge(verifier.challenge(&realm, stale)),
        Verdict::Bad(why) => Outcome::Bad(why),
    }
}

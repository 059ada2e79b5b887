//! Call forwarding as IvozProvider runs it, as pure decisions: which forward of a user or
//! friend applies to a call (its type, the call's origin), and where it leads as a call
//! placed by the forwarding party (an extension: routed as its internal call; a number:
//! its external call, its ACL and rating included — stricter than IvozProvider, so that a
//! forward is no way around an ACL).
//!
//! The order (the B2BUA asks in this order): no live binding → `not_registered`;
//! `unconditional` before anything else; then the call rings with the `no_answer` timer if
//! such a forward applies; a busy answer (`486`, `600`, `603`) → `busy`; no answer in time
//! → `no_answer`. A forward to voicemail leads to its owner's own mailbox (a friend's too:
//! IvozProvider takes any mailbox of the client); one whose owner has none does not apply.

use super::{route, Caller, CallerKind, Route};
use crate::model::{CallForward, CallType, ForwardOwner, ForwardTarget, ForwardType, Snapshot};

/// The forward of `owner` (a user or friend of `client`) of type `ty` that applies to a
/// call from a carrier or DDI provider (`external`) or from a user or friend: the first
/// enabled one whose call type matches and whose target can be reached now.
pub fn applicable<'a>(
    snap: &'a Snapshot,
    client: &str,
    owner: &ForwardOwner,
    ty: ForwardType,
    external: bool,
) -> Option<&'a CallForward> {
    snap.model.call_forwards.iter().find(|f| {
        f.enabled
            && f.client == client
            && &f.owner == owner
            && f.forward_type == ty
            && match f.call_type {
                CallType::Any => true,
                CallType::External => external,
                CallType::Internal => !external,
            }
            && (f.target != ForwardTarget::Voicemail || mailbox_of(snap, f).is_some())
    })
}

/// The mailbox of a forward's owner.
fn mailbox_of<'a>(snap: &'a Snapshot, f: &CallForward) -> Option<&'a str> {
    let (owner, friend) = match &f.owner {
        ForwardOwner::User(u) => (u, false),
        ForwardOwner::Friend(x) => (x, true),
    };
    snap.voicemail_of(&f.client, owner, friend)
        .map(|v| v.name.as_str())
}

/// Where `f` leads: the route of a call its owner places to the target, at `now`.
pub fn route_of(snap: &Snapshot, f: &CallForward, now: u64) -> Route {
    let kind = match &f.owner {
        ForwardOwner::User(u) => CallerKind::User(u),
        ForwardOwner::Friend(x) => CallerKind::Friend(x),
    };
    let caller = Caller {
        client: &f.client,
        kind,
        presented: None,
    };
    match &f.target {
        ForwardTarget::Extension(x) => route(&caller, x, snap, now),
        ForwardTarget::Number(n) => route(&caller, n, snap, now),
        ForwardTarget::Voicemail => match mailbox_of(snap, f) {
            Some(mailbox) => Route::Voicemail {
                client: f.client.clone(),
                mailbox: mailbox.to_string(),
            },
            None => Route::Refused(super::Refusal::NotFound),
        },
    }
}

/// The `reason` of a Diversion header (RFC 5806) for a forward of type `ty`.
pub fn diversion_reason(ty: ForwardType) -> &'static str {
    match ty {
        ForwardType::Unconditional => "unconditional",
        ForwardType::Busy => "user-busy",
        ForwardType::NoAnswer => "no-answer",
        ForwardType::NotRegistered => "unavailable",
    }
}

/// The name a call record and the log give a forward type.
pub fn type_name(ty: ForwardType) -> &'static str {
    match ty {
        ForwardType::Unconditional => "unconditional",
        ForwardType::Busy => "busy",
        ForwardType::NoAnswer => "no_answer",
        ForwardType::NotRegistered => "not_registered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;

    const MODEL: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "bluebird.example"
country = "ES"

[[call_acl]]
client = "bluebird"
name = "none"
default_policy = "deny"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"
call_acl = "none"

[[user]]
client = "bluebird"
name = "carol"
extension = "102"
password = "Carol-Secret-33"

[[call_forward]]
client = "bluebird"
user = "bob"
call_type = "internal"
forward_type = "busy"
target = "extension"
extension = "102"

[[call_forward]]
client = "bluebird"
user = "bob"
call_type = "external"
forward_type = "busy"
target = "number"
number = "600111222"

[[call_forward]]
client = "bluebird"
user = "bob"
call_type = "any"
forward_type = "no_answer"
target = "voicemail"

[[call_forward]]
client = "bluebird"
user = "carol"
call_type = "any"
forward_type = "unconditional"
target = "extension"
extension = "101"
enabled = false
"#;

    fn snap() -> Snapshot {
        Snapshot::new(crate::provision::parse(MODEL).unwrap().model)
    }

    #[test]
    fn the_forward_that_applies_follows_the_calls_origin() {
        let s = snap();
        let bob = ForwardOwner::User("bob".into());
        let internal = applicable(&s, "bluebird", &bob, ForwardType::Busy, false).unwrap();
        assert_eq!(internal.target, ForwardTarget::Extension("102".into()));
        let external = applicable(&s, "bluebird", &bob, ForwardType::Busy, true).unwrap();
        assert_eq!(external.target, ForwardTarget::Number("600111222".into()));
        // to bob's own mailbox (every user has one named after it)
        let f = applicable(&s, "bluebird", &bob, ForwardType::NoAnswer, false).unwrap();
        assert_eq!(
            route_of(&s, f, 0),
            Route::Voicemail {
                client: "bluebird".into(),
                mailbox: "bob".into()
            }
        );
        // a disabled forward never applies
        let carol = ForwardOwner::User("carol".into());
        assert!(applicable(&s, "bluebird", &carol, ForwardType::Unconditional, false).is_none());
        // another client's user of the same name is not bob
        assert!(applicable(&s, "redbird", &bob, ForwardType::Busy, false).is_none());
    }

    #[test]
    fn a_forward_is_a_call_of_its_owner() {
        let s = snap();
        let bob = ForwardOwner::User("bob".into());
        let f = applicable(&s, "bluebird", &bob, ForwardType::Busy, false).unwrap();
        assert_eq!(
            route_of(&s, f, 0),
            Route::User {
                client: "bluebird".into(),
                user: "carol".into()
            }
        );
        // to a number: bob's own ACL (deny everything) refuses it
        let f = applicable(&s, "bluebird", &bob, ForwardType::Busy, true).unwrap();
        assert_eq!(
            route_of(&s, f, 0),
            Route::Refused(super::super::Refusal::AclDenied)
        );
        assert_eq!(diversion_reason(ForwardType::NoAnswer), "no-answer");
    }
}

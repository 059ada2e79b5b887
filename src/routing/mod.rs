//! Routing: (caller, dialled number, model snapshot, now) → [`Route`]. Pure: no I/O, no clock
//! (the time is passed in), no regular expression compiled per call (the [`Snapshot`] holds
//! them compiled).
//!
//! # The rule (DESIGN §4, the seed's "destination matches an extension? a friend? else
//! external")
//!
//! A call from a user or a friend of client C to the dialled number N:
//!
//! 1. N starts with `*` → [`Route::Service`] (the code is N without the `*`, in vozbox's
//!    numbering: a client's own `service_codes` are mapped to the defaults,
//!    `model/service_codes.rs`).
//! 2. N is an **extension** of C → the extension's route: a user → [`Route::User`]; a number
//!    → that number is called as an **external** call from the caller (step 4, ACL included;
//!    the number is made E.164 with C's country and area code, as C's administrator wrote
//!    it); a friend → [`Route::Friend`]; a locution → [`Route::Locution`]; voicemail, IVR →
//!    [`Route::Unsupported`].
//!    Extensions beat every friend pattern.
//! 3. Else the **friends** of C, by priority ascending (ties by name):
//!    - a remote friend (register/direct) matches when one of its patterns matches the
//!      *whole* N (each pattern is compiled as `^(?:p)$`, so `2[0-9]{2}` matches `201` but
//!      neither `2001` nor `1200`);
//!    - an intervpbx friend with target client T matches when T has an extension N; that
//!      extension is resolved **in T**: user → `User` of T; friend → `Friend` of T; number
//!      → an external call **billed to T**, without ACL check (a "controlled external call"),
//!      presenting the fallback outgoing DDI of T's intervpbx friend towards C (the
//!      "reverse" friend), else T's outgoing DDI, else refused; voicemail etc. →
//!      `Unsupported`. Only T's extensions are reachable: a number that is not one of them
//!      goes on to the next friend and then to step 4, billed to C — an intervpbx friend
//!      never produces any other external call billed to T;
//!    - a calling friend never matches itself (a friend must not route back to itself).
//! 4. Else N is **external**: made E.164 with the caller's country and area code (a friend's
//!    own country overrides the client's; see [`Origin`]); not possible (empty, not digits,
//!    national number without a known country) → `NotFound`. Then, in this order:
//!    - the caller's call ACL (none = allow): rules by priority, the first whose pattern
//!      matches the E.164 number decides, else the default policy; deny → `AclDenied`.
//!      ACL patterns are regular expressions searched in the number as written (write `^`
//!      and `$` to anchor them, as in `^\+34[0-9]+$`);
//!    - rating: if the client bills (`billing_method` ≠ none) its active rating profile
//!      (the latest `active_from <= now` with `now < active_to`) must have a rate in force
//!      now for the number's longest matching prefix (`policy::rating`), else
//!      `CannotBeBilled`;
//!    - presented number: the caller's own presented number if, made E.164, it is a DDI of
//!      the client; else the friend's / user's outgoing DDI; else the client's outgoing DDI;
//!      else `NoPresentedNumber`;
//!    - carriers: those of the brand's outgoing routes that take the number, in the order
//!      they are tried (`outgoing.rs`: priority, weight, the carriers' health), or all the
//!      brand's carriers by name when it has no routes; none → `NoCarrier`.
//!
//! Calls to extensions and friends are internal: ACLs are never checked for them. Max calls
//! and daily usage (DESIGN §4 step 4) are counters, not part of this pure decision: they
//! belong to the B2BUA's admission of an `External` route (not enforced yet: the policy
//! work).
//!
//! Inbound calls from a carrier or DDI provider are routed by [`inbound`].
//!
//! Decisions not spelled out in DESIGN §4:
//! - an extension or DDI routed to an **intervpbx** friend is `Unsupported`: an intervpbx
//!   friend is reached only by step 3 (this also keeps intervpbx hops from chaining);
//! - the number sent to a remote friend: a number dialled in international form (`+…`,
//!   `00…`) is converted to the friend's national format ([`e164::to_national`] with the
//!   friend's country, else its client's); any other number (extensions, short numbers,
//!   national numbers) is sent as dialled;
//! - a controlled external call through an intervpbx friend is rated against the *target*
//!   client's rating profiles (it is billed to it); its number is made E.164 with the
//!   target's country and area code;
//! - a DDI routed to an extension that leads to a number is an external call billed to the
//!   DDI's client, without ACL, presenting the called DDI itself;
//! - a caller (user or friend) that does not exist in the snapshot, or whose call ACL does
//!   not exist, is refused (`NotFound`, `AclDenied`): fail closed.

pub mod e164;
pub mod forward;
mod inbound;
pub mod outgoing;

#[cfg(test)]
mod tests;

pub use inbound::{called_number, inbound, inbound_at, inbound_with};

use crate::model::{
    BillingMethod, Client, Extension, ExtensionRoute, Friend, FriendMode, Policy, Snapshot,
};
use crate::policy::rating;
pub use outgoing::Choice;
use std::fmt;

/// Who places the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind<'a> {
    /// A user (its terminal), by user name.
    User(&'a str),
    /// A remote friend (register or direct mode), by friend name.
    Friend(&'a str),
}

/// The calling side of a call from a user or a friend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The caller's client (vPBX) name.
    pub client: &'a str,
    pub kind: CallerKind<'a>,
    /// The number the caller presents (From user part) if any, as sent.
    pub presented: Option<&'a str>,
}

/// The routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `*…` service code; `code` is what follows the `*`.
    Service {
        client: String,
        code: String,
    },
    /// Ring every registered contact of this user.
    User {
        client: String,
        user: String,
    },
    /// Send to this friend (register or direct mode) with this number in the R-URI (already
    /// transformed to the friend's country format, see the module doc).
    Friend {
        client: String,
        friend: String,
        number: String,
    },
    /// Through the brand's carriers.
    External {
        /// The client the call is billed to (and counted against).
        billed_client: String,
        /// The carriers to try, in order (never empty): the first carries the call unless
        /// it fails in a way that lets the next one try (`b2bua/failover.rs`).
        carriers: Vec<String>,
        /// E.164.
        number: String,
        /// The E.164 DDI presented as the caller.
        presented: String,
    },
    /// Play the locution `name` (answered, then hung up when it ends).
    Locution {
        client: String,
        name: String,
    },
    /// The echo test: answered, the caller's audio sent back to it until it hangs up.
    Echo {
        client: String,
    },
    /// Leave a message in the voicemail box `mailbox` of `client`.
    Voicemail {
        client: String,
        mailbox: String,
    },
    /// An extension or DDI route the B2BUA does not build yet (voicemail, IVR, an
    /// intervpbx friend); `what` is `kind:name`, e.g. `voicemail:alice`.
    Unsupported {
        client: String,
        what: String,
    },
    Refused(Refusal),
}

/// Why a call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing matched and the number cannot be dialled out (or an unknown DDI / caller).
    NotFound,
    /// The caller's call ACL denies the external number.
    AclDenied,
    /// An external call with no DDI to present.
    NoPresentedNumber,
    /// The brand has no carrier.
    NoCarrier,
    /// The client bills its calls and no active rating profile rates this number.
    CannotBeBilled,
}

impl Refusal {
    /// The SIP status code of the final response.
    pub fn code(self) -> u16 {
        match self {
            Refusal::NotFound => 404,
            Refusal::AclDenied => 403,
            Refusal::NoPresentedNumber => 403,
            Refusal::NoCarrier => 503,
            Refusal::CannotBeBilled => 403,
        }
    }

    /// The SIP reason phrase of the final response.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::NotFound => "Not Found",
            Refusal::AclDenied => "Forbidden by Call ACL",
            Refusal::NoPresentedNumber => "No Outgoing DDI",
            Refusal::NoCarrier => "No Carrier Available",
            Refusal::CannotBeBilled => "Call Cannot Be Billed",
        }
    }

    /// A short snake_case name for CDRs and logs (and the voice-notification file).
    pub fn cause(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::AclDenied => "acl_denied",
            Refusal::NoPresentedNumber => "no_presented_number",
            Refusal::NoCarrier => "no_carrier",
            Refusal::CannotBeBilled => "cannot_be_billed",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.code(), self.reason(), self.cause())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Service { client, code } => write!(f, "service {}/*{}", client, code),
            Route::User { client, user } => write!(f, "user {}/{}", client, user),
            Route::Voicemail { client, mailbox } => write!(f, "voicemail {}/{}", client, mailbox),
            Route::Friend {
                client,
                friend,
                number,
            } => write!(f, "friend {}/{} number {}", client, friend, number),
            Route::External {
                billed_client,
                carriers,
                number,
                presented,
            } => write!(
                f,
                "external {} via {} as {} billed to {}",
                number,
                carriers.join(", "),
                presented,
                billed_client
            ),
            Route::Locution { client, name } => write!(f, "locution {}/{}", client, name),
            Route::Echo { client } => write!(f, "echo test {}", client),
            Route::Unsupported { client, what } => write!(f, "unsupported {}/{}", client, what),
            Route::Refused(r) => write!(f, "refused {}", r),
        }
    }
}

/// The caller as routing sees it: what its external calls inherit.
struct Origin<'a> {
    client: &'a Client,
    /// The calling friend's name (it never matches itself in step 3).
    friend: Option<&'a str>,
    call_acl: Option<&'a str>,
    outgoing_ddi: Option<&'a str>,
    /// A friend's country overrides the client's; its area code then comes from the friend
    /// only (the client's area code belongs to the client's country). A friend without a
    /// country inherits the client's country and, unless it has its own, area code.
    country: Option<&'a str>,
    area_code: Option<&'a str>,
    presented: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn new(caller: &Caller<'a>, snap: &'a Snapshot) -> Option<Origin<'a>> {
        let client = snap.client(caller.client)?;
        let mut o = Origin {
            client,
            friend: None,
            call_acl: None,
            outgoing_ddi: None,
            country: client.country.as_deref(),
            area_code: client.area_code.as_deref(),
            presented: caller.presented,
        };
        match caller.kind {
            CallerKind::User(name) => {
                let u = snap.user(caller.client, name)?;
                o.call_acl = u.call_acl.as_deref();
                o.outgoing_ddi = u.outgoing_ddi.as_deref();
            }
            CallerKind::Friend(name) => {
                let f = snap.friend(caller.client, name)?;
                o.friend = Some(f.name.as_str());
                o.call_acl = f.call_acl.as_deref();
                o.outgoing_ddi = f.outgoing_ddi.as_deref();
                if let Some(c) = f.country.as_deref() {
                    o.country = Some(c);
                    o.area_code = f.area_code.as_deref();
                } else if let Some(a) = f.area_code.as_deref() {
                    o.area_code = Some(a);
                }
            }
        }
        Some(o)
    }
}

/// Routes a call from a user or a friend (DESIGN §4; see the module doc). `now` is Unix
/// seconds, used for the rating profiles' validity. Carriers as [`Choice::default`] picks
/// them (every carrier up, draw 0).
pub fn route(caller: &Caller, dialled: &str, snap: &Snapshot, now: u64) -> Route {
    route_with(caller, dialled, snap, now, Choice::default())
}

/// [`route`] with the carriers' choice made with `choice` (its draw, the carriers' health).
pub fn route_with(
    caller: &Caller,
    dialled: &str,
    snap: &Snapshot,
    now: u64,
    choice: Choice,
) -> Route {
    let Some(origin) = Origin::new(caller, snap) else {
        return Route::Refused(Refusal::NotFound);
    };
    let client = origin.client;

    // 1. service code
    if let Some(code) = dialled.strip_prefix('*') {
        // in vozbox's numbering (a client's own codes replace the defaults); a code not in
        // effect keeps what was dialled, marked, and is no service of ours
        return Route::Service {
            client: client.name.clone(),
            code: crate::model::service_codes::canonical(&client.service_codes, code)
                .unwrap_or_else(|| format!("unknown:{}", code)),
        };
    }

    // 2. an extension of the caller's client
    if let Some(ext) = snap.extension(&client.name, dialled) {
        return resolve_extension(snap, client, ext, |number| {
            external(&origin, number, snap, now, choice)
        });
    }

    // 3. a friend of the caller's client
    for (friend, patterns) in snap.friends_by_priority(&client.name) {
        if origin.friend == Some(friend.name.as_str()) {
            continue;
        }
        match friend.mode {
            FriendMode::Intervpbx => {
                let Some(target) = friend.target_client.as_deref().and_then(|t| snap.client(t))
                else {
                    continue;
                };
                if let Some(ext) = snap.extension(&target.name, dialled) {
                    return resolve_extension(snap, target, ext, |number| {
                        let presented = snap
                            .friends_by_priority(&target.name)
                            .find(|(f, _)| {
                                f.mode == FriendMode::Intervpbx
                                    && f.target_client.as_deref() == Some(client.name.as_str())
                                    && f.outgoing_ddi.is_some()
                            })
                            .and_then(|(f, _)| f.outgoing_ddi.clone())
                            .or_else(|| target.outgoing_ddi.clone());
                        outbound(target, number, presented, snap, now, choice)
                    });
                }
            }
            FriendMode::Register | FriendMode::Direct => {
                if patterns.iter().any(|p| p.is_match(dialled)) {
                    return to_friend(client, friend, dialled, origin.country);
                }
            }
        }
    }

    // 4. external
    match e164::to_e164(dialled, origin.country, origin.area_code) {
        Some(number) => external(&origin, number, snap, now, choice),
        None => Route::Refused(Refusal::NotFound),
    }
}

/// The friend's country for number formats: its own, else its client's.
fn friend_country<'a>(client: &'a Client, friend: &'a Friend) -> Option<&'a str> {
    friend.country.as_deref().or(client.country.as_deref())
}

/// A call sent to a remote friend of `client`: the number in the friend's format.
fn to_friend(client: &Client, friend: &Friend, dialled: &str, from_country: Option<&str>) -> Route {
    let number = if e164::is_international(dialled, from_country) {
        match e164::to_e164(dialled, from_country, None) {
            Some(n) => e164::to_national(&n, friend_country(client, friend)),
            None => dialled.to_string(),
        }
    } else {
        dialled.to_string()
    };
    Route::Friend {
        client: client.name.clone(),
        friend: friend.name.clone(),
        number,
    }
}

/// Where extension `ext` of `client` leads. `to_number` decides what a route to a number
/// becomes (it gets the number in E.164, made with `client`'s country and area code).
fn resolve_extension(
    snap: &Snapshot,
    client: &Client,
    ext: &Extension,
    to_number: impl FnOnce(String) -> Route,
) -> Route {
    let unsupported = |kind: &str, name: &str| Route::Unsupported {
        client: client.name.clone(),
        what: format!("{}:{}", kind, name),
    };
    match &ext.route {
        ExtensionRoute::User(u) => match snap.user(&client.name, u) {
            Some(u) => Route::User {
                client: client.name.clone(),
                user: u.name.clone(),
            },
            None => Route::Refused(Refusal::NotFound),
        },
        ExtensionRoute::Number(n) => {
            match e164::to_e164(n, client.country.as_deref(), client.area_code.as_deref()) {
                Some(number) => to_number(number),
                None => Route::Refused(Refusal::NotFound),
            }
        }
        ExtensionRoute::Friend(f) => match snap.friend(&client.name, f) {
            Some(f) if f.mode == FriendMode::Intervpbx => unsupported("intervpbx", &f.name),
            Some(f) => to_friend(client, f, &ext.number, client.country.as_deref()),
            None => Route::Refused(Refusal::NotFound),
        },
        ExtensionRoute::Voicemail(name) => Route::Voicemail {
            client: client.name.clone(),
            mailbox: name.clone(),
        },
        ExtensionRoute::Ivr(name) => unsupported("ivr", name),
        ExtensionRoute::Locution(name) => Route::Locution {
            client: client.name.clone(),
            name: name.clone(),
        },
        ExtensionRoute::Echo => Route::Echo {
            client: client.name.clone(),
        },
    }
}

/// Step 4: an external call placed by `origin` to the E.164 `number`.
fn external(origin: &Origin, number: String, snap: &Snapshot, now: u64, choice: Choice) -> Route {
    let client = origin.client;
    if let Some(name) = origin.call_acl {
        if !acl_allows(snap, &client.name, name, &number) {
            return Route::Refused(Refusal::AclDenied);
        }
    }
    let own_ddi = origin
        .presented
        .and_then(|p| e164::to_e164(p, origin.country, origin.area_code))
        .filter(|p| snap.ddi(p).is_some_and(|d| d.client == client.name));
    let presented = own_ddi
        .or_else(|| origin.outgoing_ddi.map(str::to_string))
        .or_else(|| client.outgoing_ddi.clone());
    outbound(client, number, presented, snap, now, choice)
}

/// Whether ACL `name` of `client` lets the E.164 `number` out.
fn acl_allows(snap: &Snapshot, client: &str, name: &str, number: &str) -> bool {
    let Some((acl, rules)) = snap.call_acl(client, name) else {
        return false;
    };
    for rule in rules {
        match &rule.regex {
            Some(re) if re.is_match(number) => return rule.policy == Policy::Allow,
            Some(_) => {}
            None => return false,
        }
    }
    acl.default_policy == Policy::Allow
}

/// Whether `client` can bill a call to `number` at `now`: it does not bill, or its active
/// rating profile has a rate for the number in force now (`policy::rating`).
fn can_bill(snap: &Snapshot, client: &Client, number: &str, now: u64) -> bool {
    client.billing_method == BillingMethod::None
        || rating::tariff(snap, &client.name, number, now)
            .is_some_and(|t| rating::rate_at(&t, now).is_some())
}

/// The end of every external call: rating, presented number, carrier.
fn outbound(
    billed: &Client,
    number: String,
    presented: Option<String>,
    snap: &Snapshot,
    now: u64,
    choice: Choice,
) -> Route {
    if !can_bill(snap, billed, &number, now) {
        return Route::Refused(Refusal::CannotBeBilled);
    }
    outbound_unrated(billed, number, presented, snap, choice)
}

/// Presented number and carrier of an external call whose rating is checked elsewhere.
fn outbound_unrated(
    billed: &Client,
    number: String,
    presented: Option<String>,
    snap: &Snapshot,
    choice: Choice,
) -> Route {
    let Some(presented) = presented else {
        return Route::Refused(Refusal::NoPresentedNumber);
    };
    let carriers = outgoing::carriers(snap, &billed.brand, &number, choice);
    if carriers.is_empty() {
        return Route::Refused(Refusal::NoCarrier);
    }
    Route::External {
        billed_client: billed.name.clone(),
        carriers,
        number,
        presented,
    }
}

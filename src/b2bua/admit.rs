//! Admission of a new call, as a pure decision next to routing: from who calls (already
//! authenticated), what they dialled and the model, what the call record will say, how the
//! call presents itself, and whether it is refused (with the cause a voice notification
//! tells), plays a locution, or goes to a route's places (which the driver resolves:
//! registrations and connections are live state).

use super::authn::Caller;
use super::call::{Billing, Direction, Info};
use super::record::{route_client, route_label, Disposition};
use super::target::{Nowhere, Presentation};
use crate::media::prompts::Cause;
use crate::model::{BillingMethod, Snapshot};
use crate::policy::calls::{Counted, Over};
use crate::policy::credit::{self, Account, Ledger};
use crate::policy::{clock, ipfilter, rating, Block};
use crate::routing::{self, CallerKind, Refusal, Route};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Answered with this failure — after a voice notification of `cause` when the
    /// caller's client wants them (never for a call from a trunk).
    Refuse {
        code: u16,
        reason: &'static str,
        disposition: Disposition,
        cause: Option<Cause>,
    },
    /// An extension that plays a locution.
    Locution { client: String, name: String },
    /// The echo test of `client`.
    Echo { client: String },
    /// Leave a message in a voicemail box of `client`.
    Voicemail { client: String, mailbox: String },
    /// A service code (`*80…`) of a user of `client`: what follows the `*`.
    Service { client: String, code: String },
    /// To the places of this route.
    Route(Route),
}

/// What `admit` decided, with the call record's labels and the presentation.
#[derive(Debug, Clone)]
pub struct Decision {
    pub info: Info,
    pub presentation: Presentation,
    pub admission: Admission,
    /// An external call (from a trunk, or to a carrier) that is let through counts against
    /// its client's and brand's max calls: the driver takes its places (`policy::calls`)
    /// and refuses it with [`over_limit`] when there are none.
    pub counted: Option<Counted>,
}

/// Where the INVITE came from: its source address and, when the caller's client filters by
/// country, the country of that address (looked up by the driver).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub ip: IpAddr,
    pub country: Option<&'a str>,
    /// The clients' accounts (None: every client as provisioned, nothing spent).
    pub ledger: Option<&'a Ledger>,
    /// The carriers' choice of an external call (its draw, the carriers' health).
    pub choice: routing::Choice<'a>,
}

/// Decides a new call from `caller` to `dialled` (`from_user`: the user part of its From)
/// at `now` (seconds since the epoch), from `source`.
pub fn admit(
    caller: &Caller,
    dialled: &str,
    from_user: &str,
    snap: &Snapshot,
    now: u64,
    source: Source,
) -> Decision {
    let domain_of = |client: &str| {
        snap.client(client)
            .map(|c| c.domain.clone())
            .unwrap_or_default()
    };
    // A user or friend outside its client's IP filter is refused before routing.
    let mut ip_refused = false;
    let (route, mut info, presentation) = match caller {
        Caller::Trunk { brand, .. } => {
            let route = routing::inbound_with(brand, dialled, snap, now, source.choice);
            let client = route_client(&route).unwrap_or_default();
            let domain = domain_of(&client);
            let info = Info {
                client,
                caller: from_user.to_string(),
                callee: dialled.to_string(),
                direction: Direction::Inbound,
                start: now,
                ..Default::default()
            };
            let presentation = Presentation {
                number: from_user.to_string(),
                domain,
                ddi: None,
            };
            (route, info, presentation)
        }
        Caller::User { client, name } | Caller::Friend { client, name } => {
            let user = matches!(caller, Caller::User { .. });
            let rc = routing::Caller {
                client,
                kind: if user {
                    CallerKind::User(name)
                } else {
                    CallerKind::Friend(name)
                },
                presented: Some(from_user).filter(|s| !s.is_empty()),
            };
            ip_refused = snap
                .client(client)
                .is_some_and(|c| !ipfilter::allows(c, source.ip, source.country));
            let route = if ip_refused {
                Route::Refused(Refusal::NotFound)
            } else {
                routing::route_with(&rc, dialled, snap, now, source.choice)
            };
            // Internal calls present the caller's extension (a user) or what the friend
            // sent; external ones the DDI the routing chose.
            let number = if user {
                snap.user(client, name)
                    .and_then(|u| u.extension.clone())
                    .unwrap_or_else(|| name.clone())
            } else {
                from_user.to_string()
            };
            let (direction, billed) = match &route {
                Route::External { billed_client, .. } => (Direction::Outbound, billed_client),
                _ => (Direction::Internal, client),
            };
            let info = Info {
                client: billed.clone(),
                caller: if user {
                    format!("{} ({})", number, name)
                } else {
                    format!("{} (friend {})", number, name)
                },
                callee: dialled.to_string(),
                direction,
                start: now,
                ..Default::default()
            };
            let own_ddi = if user {
                snap.user(client, name).and_then(|u| u.outgoing_ddi.clone())
            } else {
                snap.friend(client, name)
                    .and_then(|f| f.outgoing_ddi.clone())
            };
            let presentation = Presentation {
                number,
                domain: domain_of(client),
                ddi: own_ddi.or_else(|| snap.client(client).and_then(|c| c.outgoing_ddi.clone())),
            };
            (route, info, presentation)
        }
    };
    info.route = route_label(&route);
    // what of the call may be recorded: its DDI's flag, its client's on-demand setting
    if let Some(c) = snap.client(&info.client) {
        info.record = super::info::Record {
            ddi: matches!(caller, Caller::Trunk { .. })
                && snap
                    .ddi(&routing::called_number(dialled))
                    .is_some_and(|d| d.record && d.client == c.name),
            info: c.on_demand_record != "off",
            code: c
                .recording_code
                .clone()
                .filter(|_| c.on_demand_record == "info_dtmf"),
        };
    }
    let trunk = matches!(caller, Caller::Trunk { .. });
    let admission = if ip_refused {
        info.route = format!("refused:{}", Block::IpNotAllowed.as_str());
        Admission::Refuse {
            code: 403,
            reason: "Forbidden (invalid IP)",
            disposition: Disposition::Policy(Block::IpNotAllowed),
            cause: Some(Cause::IpNotAllowed),
        }
    } else {
        admission_of(route, trunk)
    };
    // An external call of a client that bills is priced at its end (`policy::rating`).
    let mut admission = admission;
    if let Admission::Route(Route::External {
        billed_client,
        number,
        ..
    }) = &admission
    {
        match billing(snap, billed_client, number, now, source.ledger) {
            Ok(b) => info.billing = b.map(Arc::new),
            Err(block) => {
                info.route = format!("refused:{}", block.as_str());
                admission = out_of_credit(block, trunk);
            }
        }
    }
    let external = trunk || info.direction == Direction::Outbound;
    let counted = match &admission {
        Admission::Route(_)
        | Admission::Locution { .. }
        | Admission::Echo { .. }
        | Admission::Voicemail { .. }
            if external =>
        {
            counted_for(snap, &info.client)
        }
        _ => None,
    };
    Decision {
        info,
        presentation,
        admission,
        counted,
    }
}

/// The places an external call of `client` takes in its brand's and its own max calls.
pub fn counted_for(snap: &Snapshot, client: &str) -> Option<Counted> {
    snap.client(client).map(|c| Counted {
        brand: c.brand.clone(),
        brand_limit: snap
            .model
            .brands
            .iter()
            .find(|b| b.name == c.brand)
            .map(|b| b.max_calls)
            .unwrap_or(0),
        client: c.name.clone(),
        client_limit: c.max_calls,
    })
}

/// How a call of `client` to `number` set up at `now` is priced, and what it may spend
/// (`policy::credit`): None when the client does not bill (routing refused the call
/// already when it bills and cannot rate it); the limit that refuses it when its balance
/// or today's usage leaves nothing — not even the connection fee and minimum.
pub(super) fn billing(
    snap: &Snapshot,
    client: &str,
    number: &str,
    now: u64,
    ledger: Option<&Ledger>,
) -> Result<Option<Billing>, Block> {
    let Some(c) = snap.client(client) else {
        return Ok(None);
    };
    if c.billing_method == BillingMethod::None {
        return Ok(None);
    }
    let Some(tariff) = rating::tariff(snap, client, number, now) else {
        return Ok(None);
    };
    let Some(at_setup) = rating::rate_at(&tariff, now) else {
        return Ok(None);
    };
    let today = clock::local(now, &tariff.tz).day;
    let account = match ledger {
        Some(l) => l.account(&c.name, &c.balance),
        None => Account::opening(&c.balance),
    };
    let budget = credit::budget(c, &account, &today)?;
    if let Some((money, why)) = budget {
        if at_setup.affordable(money).is_none() {
            return Err(why);
        }
    }
    Ok(Some(Billing {
        tariff,
        at_setup,
        currency: c.currency.clone(),
        budget,
        prepaid: c.billing_method == BillingMethod::Prepaid,
        provisioned: c.balance.clone(),
    }))
}

/// The refusal of an external call whose client has no credit left or reached its max
/// daily usage: `403` after the `no_credit` locution (never to a trunk).
pub fn out_of_credit(block: Block, trunk: bool) -> Admission {
    Admission::Refuse {
        code: 403,
        reason: match block {
            Block::DailyLimit => "Forbidden (daily limit reached)",
            _ => "Forbidden (no credit)",
        },
        disposition: Disposition::Policy(block),
        cause: Some(Cause::NoCredit).filter(|_| !trunk),
    }
}

/// The refusal of an external call over its brand's or client's max calls: an inbound one
/// (from a trunk) is busy (`486`), an outbound one forbidden (`403`) after the `max_calls`
/// locution when its client wants voice notifications.
pub fn over_limit(over: Over, trunk: bool) -> Admission {
    if trunk {
        Admission::Refuse {
            code: 486,
            reason: "Busy Here",
            disposition: Disposition::Policy(Block::MaxCalls),
            cause: None,
        }
    } else {
        Admission::Refuse {
            code: 403,
            reason: match over {
                Over::Brand => "Forbidden (brand max calls)",
                Over::Client => "Forbidden (max calls)",
            },
            disposition: Disposition::Policy(Block::MaxCalls),
            cause: Some(Cause::MaxCalls),
        }
    }
}

/// What the B2BUA does with a route: refuse it (with the cause a caller hears, none for a
/// trunk), play, echo, or ring its places.
pub fn admission_of(route: Route, trunk: bool) -> Admission {
    match route {
        Route::Refused(r) => Admission::Refuse {
            code: r.code(),
            reason: r.reason(),
            disposition: Disposition::Refused(r),
            cause: Some(match r {
                Refusal::AclDenied => Cause::NotAllowed,
                Refusal::CannotBeBilled => Cause::CannotBeBilled,
                Refusal::NotFound => Cause::NotInService,
                Refusal::NoPresentedNumber | Refusal::NoCarrier => Cause::Failed,
            })
            .filter(|_| !trunk),
        },
        Route::Service { client, code } if code.starts_with('8') || code.starts_with("93") => {
            Admission::Service { client, code }
        }
        Route::Service { .. } | Route::Unsupported { .. } => not_implemented(),
        Route::Locution { client, name } => Admission::Locution { client, name },
        Route::Echo { client } => Admission::Echo { client },
        Route::Voicemail { client, mailbox } => Admission::Voicemail { client, mailbox },
        route => Admission::Route(route),
    }
}

/// A refusal the caller hears nothing about (no voice notification).
pub fn refusal(code: u16, reason: &'static str, disposition: Disposition) -> Admission {
    Admission::Refuse {
        code,
        reason,
        disposition,
        cause: None,
    }
}

/// What is routed but not built (an unknown service code, IVR): `501`.
pub fn not_implemented() -> Admission {
    refusal(501, "Not Implemented", Disposition::Unsupported)
}

/// The refusal of a route that has nowhere to go (`target::Lookup::resolve`).
/// The user called is at its own `max_calls`: busy (with the `busy` notification).
pub fn busy(trunk: bool) -> Admission {
    Admission::Refuse {
        code: 486,
        reason: "Busy Here",
        disposition: Disposition::Busy,
        cause: Some(Cause::Busy).filter(|_| !trunk),
    }
}

/// A `sips:` call none of whose destinations is reached over TLS: it may not go on over
/// an insecure hop (RFC 5630 §3.1.3).
pub fn insecure_only() -> Admission {
    Admission::Refuse {
        code: 480,
        reason: "Temporarily Unavailable",
        disposition: Disposition::Unreachable,
        cause: None,
    }
}

pub fn nowhere(n: Nowhere, trunk: bool) -> Admission {
    let (code, reason, disposition, cause) = match n {
        Nowhere::NotRegistered => (
            480,
            "Temporarily Unavailable",
            Disposition::NotRegistered,
            Cause::NotAvailable,
        ),
        Nowhere::Unreachable => (
            503,
            "Service Unavailable",
            Disposition::Unreachable,
            Cause::Failed,
        ),
    };
    Admission::Refuse {
        code,
        reason,
        disposition,
        cause: Some(cause).filter(|_| !trunk),
    }
}

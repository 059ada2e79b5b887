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
            let route = routing::inbound_at(brand, dialled, snap, now);
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
                routing::route(&rc, dialled, snap, now)
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
            let presentation = Presentation {
                number,
                domain: domain_of(client),
            };
            (route, info, presentation)
        }
    };
    info.route = route_label(&route);
    let trunk = matches!(caller, Caller::Trunk { .. });
    let admission = match route {
        _ if ip_refused => {
            info.route = format!("refused:{}", Block::IpNotAllowed.as_str());
            Admission::Refuse {
                code: 403,
                reason: "Forbidden (invalid IP)",
                disposition: Disposition::Policy(Block::IpNotAllowed),
                cause: Some(Cause::IpNotAllowed),
            }
        }
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
        Route::Service { .. } | Route::Unsupported { .. } => Admission::Refuse {
            code: 501,
            reason: "Not Implemented",
            disposition: Disposition::Unsupported,
            cause: None,
        },
        Route::Locution { client, name } => Admission::Locution { client, name },
        route => Admission::Route(route),
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
        Admission::Route(_) | Admission::Locution { .. } if external => {
            snap.client(&info.client).map(|c| Counted {
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
        _ => None,
    };
    Decision {
        info,
        presentation,
        admission,
        counted,
    }
}

/// How a call of `client` to `number` set up at `now` is priced, and what it may spend
/// (`policy::credit`): None when the client does not bill (routing refused the call
/// already when it bills and cannot rate it); the limit that refuses it when its balance
/// or today's usage leaves nothing — not even the connection fee and minimum.
fn billing(
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

/// The refusal of a route that has nowhere to go (`target::Lookup::resolve`).
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

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
[[brand]]
name = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = 5080
transport = "udp"

[[ddi_provider]]
brand = "acme"
name = "trunk-in"
addresses = ["127.0.0.6"]

[[client]]
brand = "acme"
name = "bluebird"
domain = "bluebird.example"
outgoing_ddi = "+34944000100"
country = "ES"
area_code = "94"

[[call_acl]]
client = "bluebird"
name = "national"
default_policy = "deny"
rules = [{ priority = 1, policy = "allow", pattern = "^\\+34[0-9]+$" }]

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"
call_acl = "national"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

[[extension]]
client = "bluebird"
number = "150"
route = "locution"
locution = "welcome"

[[ddi]]
client = "bluebird"
number = "+34944000101"
route = "user"
user = "bob"
"#;

    const LOCAL: Source = Source {
        ip: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        country: None,
        ledger: None,
    };

    fn snap() -> Snapshot {
        match crate::provision::parse(MODEL) {
            Ok(c) => Snapshot::new(c.model),
            Err(e) => panic!("{:?}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
        }
    }

    fn alice() -> Caller {
        Caller::User {
            client: "bluebird".into(),
            name: "alice".into(),
        }
    }

    fn trunk() -> Caller {
        Caller::Trunk {
            brand: "acme".into(),
            name: "trunk-in".into(),
        }
    }

    #[test]
    fn an_internal_call_goes_to_the_user_with_the_extension_presented() {
        let d = admit(&alice(), "101", "100", &snap(), 1000, LOCAL);
        assert!(matches!(d.admission, Admission::Route(Route::User { .. })));
        assert_eq!(d.info.direction, Direction::Internal);
        assert_eq!(d.info.caller, "100 (alice)");
        assert_eq!(d.info.route, "user:bob");
        assert_eq!(d.presentation.number, "100");
        assert_eq!(d.presentation.domain, "bluebird.example");
    }

    #[test]
    fn an_acl_refusal_tells_not_allowed_but_never_to_a_trunk() {
        let d = admit(&alice(), "+44207000000", "100", &snap(), 1000, LOCAL);
        assert_eq!(
            d.admission,
            Admission::Refuse {
                code: 403,
                reason: "Forbidden by Call ACL",
                disposition: Disposition::Refused(Refusal::AclDenied),
                cause: Some(Cause::NotAllowed),
            }
        );
        assert_eq!(d.info.route, "refused:acl_denied");
        let d = admit(&trunk(), "+34944000999", "600111222", &snap(), 1000, LOCAL);
        assert!(matches!(
            d.admission,
            Admission::Refuse {
                code: 404,
                cause: None,
                ..
            }
        ));
        assert_eq!(d.info.direction, Direction::Inbound);
    }

    #[test]
    fn an_external_call_is_outbound_and_service_codes_are_not_implemented() {
        let d = admit(&alice(), "600111222", "100", &snap(), 1000, LOCAL);
        assert!(matches!(
            d.admission,
            Admission::Route(Route::External { .. })
        ));
        assert_eq!(d.info.direction, Direction::Outbound);
        assert!(d.info.route.starts_with("carrier:upstream:+34600111222"));
        let d = admit(&alice(), "*98", "100", &snap(), 1000, LOCAL);
        assert!(matches!(d.admission, Admission::Refuse { code: 501, .. }));
    }

    #[test]
    fn a_locution_extension_and_an_inbound_ddi() {
        let d = admit(&alice(), "150", "100", &snap(), 1000, LOCAL);
        assert_eq!(
            d.admission,
            Admission::Locution {
                client: "bluebird".into(),
                name: "welcome".into()
            }
        );
        let d = admit(&trunk(), "+34944000101", "600111222", &snap(), 1000, LOCAL);
        assert!(matches!(d.admission, Admission::Route(Route::User { .. })));
        assert_eq!(d.info.client, "bluebird");
        assert_eq!(d.presentation.number, "600111222");
    }

    #[test]
    fn external_calls_count_against_max_calls_and_internal_ones_do_not() {
        let s = snap();
        let d = admit(&alice(), "600111222", "100", &s, 1000, LOCAL);
        let c = d.counted.expect("an outbound call is counted");
        assert_eq!((c.brand.as_str(), c.client.as_str()), ("acme", "bluebird"));
        let d = admit(&trunk(), "+34944000101", "600111222", &s, 1000, LOCAL);
        assert!(d.counted.is_some(), "an inbound call is counted");
        assert!(admit(&alice(), "101", "100", &s, 1000, LOCAL)
            .counted
            .is_none());
        // a refused call takes no place
        assert!(admit(&alice(), "+44207000000", "100", &s, 1000, LOCAL)
            .counted
            .is_none());
        assert!(matches!(
            over_limit(Over::Client, false),
            Admission::Refuse {
                code: 403,
                cause: Some(Cause::MaxCalls),
                disposition: Disposition::Policy(Block::MaxCalls),
                ..
            }
        ));
        assert!(matches!(
            over_limit(Over::Brand, true),
            Admission::Refuse {
                code: 486,
                cause: None,
                ..
            }
        ));
    }

    #[test]
    fn the_ip_filter_refuses_users_outside_it_before_routing_but_never_trunks() {
        let text = MODEL.replace(
            "area_code = \"94\"\n",
            "area_code = \"94\"\nip_filter = true\ngeoip_countries = [\"US\"]\nauthorized_sources = [\"192.0.2.0/24\"]\n",
        );
        let s = Snapshot::new(crate::provision::parse(&text).unwrap().model);
        let from = |ip: &str, country: Option<&'static str>| Source {
            ip: ip.parse().unwrap(),
            country,
            ledger: None,
        };
        let d = admit(
            &alice(),
            "101",
            "100",
            &s,
            1000,
            from("127.0.0.2", Some("RU")),
        );
        assert_eq!(
            d.admission,
            Admission::Refuse {
                code: 403,
                reason: "Forbidden (invalid IP)",
                disposition: Disposition::Policy(Block::IpNotAllowed),
                cause: Some(Cause::IpNotAllowed),
            }
        );
        assert_eq!(d.info.route, "refused:ip_not_allowed");
        assert!(d.counted.is_none());
        let ok = |src| {
            matches!(
                admit(&alice(), "101", "100", &s, 1000, src).admission,
                Admission::Route(_)
            )
        };
        assert!(ok(from("127.0.0.3", Some("US"))));
        assert!(ok(from("192.0.2.77", None)));
        let d = admit(
            &trunk(),
            "+34944000101",
            "6001",
            &s,
            1000,
            from("127.0.0.2", Some("RU")),
        );
        assert!(matches!(d.admission, Admission::Route(_)));
    }

    #[test]
    fn a_prepaid_client_without_balance_is_refused_and_one_with_some_gets_a_budget() {
        let with = |balance: &str| {
            let text = MODEL.replace(
                "area_code = \"94\"\n",
                &format!("area_code = \"94\"\nbilling_method = \"prepaid\"\nbalance = \"{}\"\n", balance),
            ) + "[[rating_profile]]\nclient = \"bluebird\"\nname = \"p\"\nactive_from = \"1970-01-01T00:00:00Z\"\nrates = [{ prefix = \"+34\", connection_fee = \"0.05\", per_minute = \"0.60\", increment = 1 }]\n";
            Snapshot::new(crate::provision::parse(&text).unwrap().model)
        };
        let d = admit(&alice(), "600111222", "100", &with("0"), 1000, LOCAL);
        assert_eq!(d.admission, out_of_credit(Block::NoCredit, false));
        assert_eq!(d.info.route, "refused:no_credit");
        assert!(d.counted.is_none());
        // not even the connection fee
        let d = admit(&alice(), "600111222", "100", &with("0.04"), 1000, LOCAL);
        assert_eq!(d.admission, out_of_credit(Block::NoCredit, false));
        let d = admit(&alice(), "600111222", "100", &with("1.05"), 1000, LOCAL);
        assert!(matches!(d.admission, Admission::Route(_)));
        let b = d.info.billing.expect("billed");
        assert!(b.prepaid);
        assert_eq!(
            b.budget.map(|(m, _)| m.to_string()).as_deref(),
            Some("1.0500")
        );
        // 0.05 + 0.01 a second: 100 s
        assert_eq!(b.at_setup.affordable(b.budget.unwrap().0), Some(100));
    }

    #[test]
    fn nowhere_to_go_is_480_or_503() {
        assert!(matches!(
            nowhere(Nowhere::NotRegistered, false),
            Admission::Refuse {
                code: 480,
                cause: Some(Cause::NotAvailable),
                ..
            }
        ));
        assert!(matches!(
            nowhere(Nowhere::Unreachable, true),
            Admission::Refuse {
                code: 503,
                cause: None,
                ..
            }
        ));
    }
}

//! Admission (`admit.rs`): routing's answer, the client policies' refusals, what an
//! external call counts against and how it is billed.

use super::super::admit::*;
use super::super::authn::Caller;
use super::super::call::Direction;
use super::super::record::Disposition;
use super::super::target::Nowhere;
use crate::media::prompts::Cause;
use crate::model::Snapshot;
use crate::policy::calls::Over;
use crate::policy::Block;
use crate::routing::{Refusal, Route};
use std::net::IpAddr;

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
    choice: crate::routing::Choice { draw: 0, up: None },
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
        choice: Default::default(),
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

//! Calls that come in to a DDI, and the refusals' codes.

use super::*;

// ---------------------------------------------------------------- inbound DDIs

#[test]
fn inbound_ddis() {
    let snap = snapshot();
    let rows: &[(&str, &str, &str, Route)] = &[
        (
            "a DDI routed to a user rings the user",
            "acme",
            "+34944000100",
            user_route("bluebird", "alice"),
        ),
        (
            "the DDI may come without +",
            "acme",
            "34944000100",
            user_route("bluebird", "alice"),
        ),
        (
            "the DDI may come with the 00 international prefix",
            "acme",
            "0034944000100",
            user_route("bluebird", "alice"),
        ),
        (
            "seeds: public network calls can be routed to the friend (DDI in its national format)",
            "acme",
            "+34944000101",
            friend_route("bluebird", "hq", "944000101"),
        ),
        (
            "the DDI is in the friend's own country format",
            "acme",
            "+34944000106",
            friend_route("bluebird", "paris", "0034944000106"),
        ),
        (
            "a DDI routed to an extension resolves it like an internal call",
            "acme",
            "+34944000102",
            user_route("bluebird", "bob"),
        ),
        (
            "decision: a DDI to an extension routed to a number calls out without ACL, presenting the DDI",
            "acme",
            "+34944000107",
            ext_route("bluebird", "+44207000000", "+34944000107"),
        ),
        (
            "a DDI without route is not found",
            "acme",
            "+34944000103",
            refused(Refusal::NotFound),
        ),
        (
            "a DDI routed to an IVR is not built yet",
            "acme",
            "+34944000104",
            unsupported("bluebird", "ivr:main"),
        ),
        (
            "a DDI routed to voicemail leaves a message in that mailbox",
            "acme",
            "+34944000105",
            Route::Voicemail {
                client: "bluebird".into(),
                mailbox: "alice".into(),
            },
        ),
        (
            "an unknown DDI is not found",
            "acme",
            "+34999999999",
            refused(Refusal::NotFound),
        ),
        (
            "a DDI of another brand is not found",
            "other",
            "+34944000100",
            refused(Refusal::NotFound),
        ),
        (
            "a called number that is not a number is not found",
            "acme",
            "alice",
            refused(Refusal::NotFound),
        ),
    ];
    let mut failures = Vec::new();
    for (sentence, brand, called, want) in rows {
        let got = inbound(brand, called, &snap);
        if &got != want {
            failures.push(format!(
                "{}: {} → want {}, got {}",
                sentence, called, want, got
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn inbound_at_rates_a_ddi_forwarded_out() {
    let mut m = snapshot().model;
    m.ddis.push(ddi(
        "+34930000101",
        "billed",
        Some(DdiRoute::Extension("800".into())),
    ));
    let snap = Snapshot::new(m);
    assert_eq!(
        inbound_at("acme", "+34930000101", &snap, NOW),
        refused(Refusal::CannotBeBilled),
        "+44 is not rated by billed's active profile at NOW"
    );
    assert_eq!(
        inbound_at("acme", "+34930000101", &snap, 6000),
        ext_route("billed", "+44207000000", "+34930000101")
    );
    assert_eq!(
        inbound("acme", "+34930000101", &snap),
        ext_route("billed", "+44207000000", "+34930000101"),
        "without a time, no rating"
    );
}

// ---------------------------------------------------------------- refusals

#[test]
fn refusal_codes() {
    let rows = [
        (Refusal::NotFound, 404, "not_found"),
        (Refusal::AclDenied, 403, "acl_denied"),
        (Refusal::NoPresentedNumber, 403, "no_presented_number"),
        (Refusal::NoCarrier, 503, "no_carrier"),
        (Refusal::CannotBeBilled, 403, "cannot_be_billed"),
    ];
    for (r, code, cause) in rows {
        assert_eq!((r.code(), r.cause()), (code, cause), "{:?}", r);
        assert!(!r.reason().is_empty());
    }
}

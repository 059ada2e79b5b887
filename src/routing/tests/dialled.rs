//! What a user or friend dials, step by step: service codes, extensions, remote and
//! internal friends, external calls and their rating.

use super::*;

// ---------------------------------------------------------------- step 1: service codes

#[test]
fn service_codes() {
    check(&[
        (
            "§4.1 a number starting with * is a service code",
            u("bluebird", "alice"),
            "*80555",
            NOW,
            Route::Service {
                client: "bluebird".into(),
                code: "80555".into(),
            },
        ),
        (
            "§4.1 a * number that is no code in effect is marked unknown (no service of ours)",
            u("bluebird", "alice"),
            "*55",
            NOW,
            Route::Service {
                client: "bluebird".into(),
                code: "unknown:55".into(),
            },
        ),
        (
            "§4.1 service codes come before extensions and friends, also for friends",
            f("bluebird", "hq"),
            "*93250",
            NOW,
            Route::Service {
                client: "bluebird".into(),
                code: "93250".into(),
            },
        ),
    ]);
}

// ---------------------------------------------------------------- step 2: extensions

#[test]
fn extensions() {
    check(&[
        (
            "§4.2 an extension routed to a user rings that user",
            u("bluebird", "bob"),
            "100",
            NOW,
            user_route("bluebird", "alice"),
        ),
        (
            "seeds: internal extensions have priority over any expression defined in the friends",
            u("bluebird", "alice"),
            "250",
            NOW,
            user_route("bluebird", "bob"),
        ),
        (
            "seeds: a friend can place calls to all internal extensions",
            f("bluebird", "hq"),
            "250",
            NOW,
            user_route("bluebird", "bob"),
        ),
        (
            "§4.2 the caller's own extension beats an intervpbx target's extension with the same number",
            u("bluebird", "carol"),
            "100",
            NOW,
            user_route("bluebird", "alice"),
        ),
        (
            "§4.2 an extension routed to a number is an external call of the caller (allowed by the ACL)",
            u("bluebird", "bob"),
            "300",
            NOW,
            ext_route("bluebird", "+44207000000", "+34944000110"),
        ),
        (
            "§4.2 an extension routed to a number goes through the caller's ACL (denied)",
            u("bluebird", "alice"),
            "300",
            NOW,
            refused(Refusal::AclDenied),
        ),
        (
            "§4.2 an extension's national number is made E.164 with the client's country, not the calling friend's",
            f("bluebird", "paris"),
            "301",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000100"),
        ),
        (
            "§4.2 an extension routed to a friend sends the extension number to that friend",
            u("bluebird", "alice"),
            "310",
            NOW,
            friend_route("bluebird", "hq", "310"),
        ),
        (
            "decision: an extension routed to an intervpbx friend is not supported",
            u("bluebird", "alice"),
            "320",
            NOW,
            unsupported("bluebird", "intervpbx:to-redwing"),
        ),
        (
            "§4.2 an extension routed to voicemail leaves a message in that mailbox",
            u("bluebird", "alice"),
            "400",
            NOW,
            Route::Voicemail {
                client: "bluebird".into(),
                mailbox: "alice".into(),
            },
        ),
        (
            "§4.2 an extension routed to an IVR is not built yet",
            u("bluebird", "alice"),
            "401",
            NOW,
            unsupported("bluebird", "ivr:main"),
        ),
        (
            "§4.2 an extension routed to a locution plays it",
            u("bluebird", "alice"),
            "402",
            NOW,
            Route::Locution {
                client: "bluebird".into(),
                name: "closed".into(),
            },
        ),
    ]);
}

// ---------------------------------------------------------------- step 3: remote friends

#[test]
fn remote_friends() {
    check(&[
        (
            "§4.3 a remote friend matches when a pattern matches the whole number",
            u("bluebird", "alice"),
            "201",
            NOW,
            friend_route("bluebird", "hq", "201"),
        ),
        (
            "§4.3 patterns are anchored: 2[0-9]{2} does not match 2001 (external instead)",
            u("bluebird", "alice"),
            "2001",
            NOW,
            ext_route("bluebird", "+34942001", "+34944000100"),
        ),
        (
            "§4.3 patterns are anchored: 2[0-9]{2} does not match 1200 (external instead)",
            u("bluebird", "alice"),
            "1200",
            NOW,
            ext_route("bluebird", "+34941200", "+34944000100"),
        ),
        (
            "seeds: the friend with less priority value wins, whatever the names",
            u("bluebird", "alice"),
            "8123",
            NOW,
            friend_route("bluebird", "omega", "8123"),
        ),
        (
            "§4.3 friends of equal priority are tried by name",
            u("bluebird", "alice"),
            "7123",
            NOW,
            friend_route("bluebird", "tie-a", "7123"),
        ),
        (
            "§4.3 a friend never routes back to itself: the next matching friend takes the call",
            f("bluebird", "hq"),
            "201",
            NOW,
            friend_route("bluebird", "paris", "201"),
        ),
        (
            "seeds: ACLs are not checked when calling a friend (alice's ACL denies +33)",
            u("bluebird", "alice"),
            "+33145000000",
            NOW,
            friend_route("bluebird", "paris", "0145000000"),
        ),
        (
            "seeds: ACLs are not checked when the caller is another friend either",
            f("bluebird", "paris"),
            "201",
            NOW,
            friend_route("bluebird", "hq", "201"),
        ),
        (
            "seeds: country and area code are used for number transformation to the friend",
            f("bluebird", "hq"),
            "+33145000001",
            NOW,
            friend_route("bluebird", "paris", "0145000001"),
        ),
        (
            "seeds: friends are the caller's client's only (redwing's rw-pbx matches 9xx)",
            u("bluebird", "bob"),
            "901",
            NOW,
            ext_route("bluebird", "+3494901", "+34944000110"),
        ),
    ]);
}

// ---------------------------------------------------------------- step 3: intervpbx friends

#[test]
fn intervpbx_friends() {
    check(&[
        (
            "seeds: an internal friend lets a client call extensions of another client (user-user)",
            u("bluebird", "alice"),
            "600",
            NOW,
            user_route("redwing", "erin"),
        ),
        (
            "seeds: only extensions: a number that is not an extension of the target is the caller's external call",
            u("bluebird", "bob"),
            "699",
            NOW,
            ext_route("bluebird", "+3494699", "+34944000110"),
        ),
        (
            "seeds: an intervpbx friend cannot generate an external call paid by the other client",
            u("bluebird", "bob"),
            "+34600111222",
            NOW,
            ext_route("bluebird", "+34600111222", "+34944000110"),
        ),
        (
            "seeds: the fallback outgoing DDI of the internal friend is presented when the extension calls out",
            u("bluebird", "bob"),
            "601",
            NOW,
            ext_route("redwing", "+34600111222", "+34910000199"),
        ),
        (
            "seeds: an extension of the target routed to a number is allowed even if the caller's ACL denies it, billed to the target",
            u("bluebird", "alice"),
            "602",
            NOW,
            ext_route("redwing", "+44207000000", "+34910000199"),
        ),
        (
            "§4.3 without a reverse friend, the target client's outgoing DDI is presented",
            u("greenfin", "gina"),
            "601",
            NOW,
            ext_route("redwing", "+34600111222", "+34910000100"),
        ),
        (
            "§4.3 neither a reverse friend DDI nor a target outgoing DDI: refused",
            u("bluebird", "alice"),
            "700",
            NOW,
            refused(Refusal::NoPresentedNumber),
        ),
        (
            "decision: a controlled external call is rated against the target's profiles",
            u("bluebird", "alice"),
            "800",
            NOW,
            refused(Refusal::CannotBeBilled),
        ),
        (
            "§4.3 an extension of the target routed to one of its friends goes to that friend of the target",
            u("bluebird", "alice"),
            "603",
            NOW,
            friend_route("redwing", "rw-pbx", "603"),
        ),
        (
            "§4.3 an extension of the target routed to voicemail leaves a message in that mailbox",
            u("bluebird", "alice"),
            "604",
            NOW,
            Route::Voicemail {
                client: "redwing".into(),
                mailbox: "erin".into(),
            },
        ),
        (
            "decision: intervpbx hops do not chain (target's extension → its intervpbx friend)",
            u("bluebird", "alice"),
            "605",
            NOW,
            unsupported("redwing", "intervpbx:to-bluebird"),
        ),
        (
            "seeds: a remote friend may also reach the other client's extensions",
            f("bluebird", "hq"),
            "600",
            NOW,
            user_route("redwing", "erin"),
        ),
    ]);
}

// ---------------------------------------------------------------- step 4: external calls

#[test]
fn external_calls() {
    check(&[
        (
            "§4.4 a brand without outgoing routes: its carriers by name (the first tried first), with the client's DDI",
            u("bluebird", "alice"),
            "944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000100"),
        ),
        (
            "§4.4 a local number gets the area code",
            u("bluebird", "alice"),
            "4123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000100"),
        ),
        (
            "§4.4 a 00 international number is made E.164",
            u("bluebird", "bob"),
            "0044207000000",
            NOW,
            ext_route("bluebird", "+44207000000", "+34944000110"),
        ),
        (
            "§4.4 the ACL denies: refused",
            u("bluebird", "alice"),
            "+44207000000",
            NOW,
            refused(Refusal::AclDenied),
        ),
        (
            "seeds: a friend's ACL is checked for its external calls; its country makes the number E.164",
            f("bluebird", "paris"),
            "0145000000",
            NOW,
            refused(Refusal::AclDenied),
        ),
        (
            "seeds: a friend's external call allowed by its ACL",
            f("bluebird", "paris"),
            "+34944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000100"),
        ),
        (
            "§4.4 ACL rules by priority, first match decides (priority 1 allow before priority 5 deny)",
            u("bluebird", "carol"),
            "900123456",
            NOW,
            ext_route("bluebird", "+34900123456", "+34944000100"),
        ),
        (
            "§4.4 ACL rules by priority: the deny rule decides when the allow does not match",
            u("bluebird", "carol"),
            "905123456",
            NOW,
            refused(Refusal::AclDenied),
        ),
        (
            "§4.4 no ACL rule matches: the default policy decides",
            u("bluebird", "carol"),
            "+44207000000",
            NOW,
            ext_route("bluebird", "+44207000000", "+34944000100"),
        ),
        (
            "§4.4 no call ACL: allowed",
            u("bluebird", "bob"),
            "+1212555123",
            NOW,
            ext_route("bluebird", "+1212555123", "+34944000110"),
        ),
        (
            "§4.4 the caller's own DDI is presented (sent in national format)",
            presenting(u("bluebird", "alice"), "944000101"),
            "944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000101"),
        ),
        (
            "seeds: a friend presents its source when it is a DDI of the client",
            presenting(f("bluebird", "hq"), "+34944000106"),
            "944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000106"),
        ),
        (
            "seeds: a presented number that is not a DDI of the client gives the friend's fallback DDI",
            presenting(f("bluebird", "hq"), "+34910000100"),
            "944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000120"),
        ),
        (
            "§4.4 a presented number that is no DDI at all gives the user's outgoing DDI",
            presenting(u("bluebird", "bob"), "bob"),
            "944123456",
            NOW,
            ext_route("bluebird", "+34944123456", "+34944000110"),
        ),
        (
            "§4.4 no DDI to present: refused",
            u("nocli", "nobody"),
            "+34600000000",
            NOW,
            refused(Refusal::NoPresentedNumber),
        ),
        (
            "§4.4 the brand has no carrier: refused",
            u("lonely", "solo"),
            "+34600000000",
            NOW,
            refused(Refusal::NoCarrier),
        ),
        (
            "§4.4 nothing matched and the number is empty: not found",
            u("bluebird", "bob"),
            "",
            NOW,
            refused(Refusal::NotFound),
        ),
        (
            "§4.4 nothing matched and the number is not digits: not found",
            u("bluebird", "bob"),
            "alice",
            NOW,
            refused(Refusal::NotFound),
        ),
        (
            "§4.4 a national number in a client without country cannot be made E.164: not found",
            u("nocli", "nobody"),
            "600000000",
            NOW,
            refused(Refusal::NotFound),
        ),
        (
            "decision: an unknown caller is not routed",
            u("bluebird", "mallory"),
            "100",
            NOW,
            refused(Refusal::NotFound),
        ),
        (
            "decision: an unknown client is not routed",
            u("nowhere", "alice"),
            "100",
            NOW,
            refused(Refusal::NotFound),
        ),
    ]);
}

// ---------------------------------------------------------------- step 4: rating

#[test]
fn rating() {
    check(&[
        (
            "seeds: no outgoing call unless an active rating profile can bill it (active)",
            u("billed", "payer"),
            "+34600000000",
            NOW,
            ext_route("billed", "+34600000000", "+34930000100"),
        ),
        (
            "seeds: a profile that is not active yet cannot bill",
            u("billed", "payer"),
            "+44207000000",
            NOW,
            refused(Refusal::CannotBeBilled),
        ),
        (
            "§4.4 active_from is inclusive",
            u("billed", "payer"),
            "+34600000000",
            1000,
            ext_route("billed", "+34600000000", "+34930000100"),
        ),
        (
            "§4.4 before active_from the profile is not active",
            u("billed", "payer"),
            "+34600000000",
            999,
            refused(Refusal::CannotBeBilled),
        ),
        (
            "§4.4 active_to is exclusive",
            u("billed", "payer"),
            "+34600000000",
            5000,
            refused(Refusal::CannotBeBilled),
        ),
        (
            "§4.4 an open-ended profile bills from its start",
            u("billed", "payer"),
            "+44207000000",
            5000,
            ext_route("billed", "+44207000000", "+34930000100"),
        ),
        (
            "§4.4 a client without billing needs no rating profile",
            u("bluebird", "bob"),
            "+44207000000",
            NOW,
            ext_route("bluebird", "+44207000000", "+34944000110"),
        ),
    ]);
}

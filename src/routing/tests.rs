//! The routing rule as a table: one row per sentence of DESIGN §4 and of the seeds (friends,
//! internal friends, vPBX clients). Each row names the sentence it checks.

use super::e164::{calling_code, to_e164, to_national};
use super::*;
use crate::model::*;

// ---------------------------------------------------------------- the model of the tests
//
// brand "acme": carriers "zeta-trunk" and "alpha-trunk"; corporation "group".
//   bluebird (ES, area 94, outgoing DDI +34944000100, no billing)
//     users: alice ext 100 (ACL "national"), bob ext 101 (own outgoing DDI +34944000110),
//            carol ext 102 (ACL "ordered")
//     extensions: 250 → bob (inside hq's pattern), 300 → +44207000000, 301 → 944123456,
//                 310 → friend hq, 320 → friend to-redwing (intervpbx), 400 voicemail,
//                 401 ivr, 402 locution
//     friends: hq (register, prio 1, "^2[0-9]{2}$", outgoing DDI +34944000120)
//              to-redwing (intervpbx → redwing, prio 3, fallback DDI +34944000130)
//              to-nocli (intervpbx → nocli, prio 3), to-billed (intervpbx → billed, prio 3)
//              paris (direct, prio 5, "2[0-9]{2}" and "\+33[0-9]+", FR, ACL "national")
//              omega (prio 2) and alpha (prio 9), both "8[0-9]{3}"
//              tie-b and tie-a (prio 7), both "7[0-9]{3}"
//   redwing (ES, area 91, outgoing DDI +34910000100)
//     users: dave ext 100, erin ext 600
//     extensions: 601 → +34600111222, 602 → +44207000000, 603 → friend rw-pbx,
//                 604 → voicemail, 605 → friend to-bluebird (intervpbx)
//     friends: to-bluebird (intervpbx → bluebird, fallback DDI +34910000199),
//              rw-pbx (direct, "9[0-9]{2}")
//   greenfin (ES, no outgoing DDI): user gina; friend to-redwing (intervpbx → redwing)
//   nocli (no country, no outgoing DDI): user nobody; extension 700 → +34600000000
//   billed (ES, area 93, postpaid): user payer; extension 800 → +44207000000;
//     rating profiles "current" [1000, 5000) rates +34, "future" [5000, ∞) rates +44
// brand "other": no carrier; lonely (ES, outgoing DDI +34950000100): user solo

fn client(name: &str, brand: &str, country: Option<&str>, area: Option<&str>) -> Client {
    Client {
        name: name.into(),
        brand: brand.into(),
        domain: format!("{}.example", name),
        corporation: (brand == "acme").then(|| "group".into()),
        max_calls: 0,
        ip_filter: false,
        authorized_sources: vec![],
        geoip_countries: vec![],
        outgoing_ddi: None,
        media_relay_set: None,
        billing_method: BillingMethod::None,
        balance: "0".into(),
        currency: "EUR".into(),
        max_daily_usage: None,
        notify_email: None,
        language: "en".into(),
        timezone: "UTC".into(),
        country: country.map(Into::into),
        area_code: area.map(Into::into),
        voice_notifications: false,
        recording_code: None,
        on_demand_record: "off".into(),
        allow_recording_removal: true,
        service_codes: Default::default(),
        voicemail_subject: None,
        voicemail_body: None,
    }
}

fn user(client: &str, name: &str, ext: Option<&str>) -> User {
    User {
        client: client.into(),
        name: name.into(),
        password: "Secret-Pass-1".into(),
        extension: ext.map(Into::into),
        call_acl: None,
        outgoing_ddi: None,
        max_calls: 0,
        allowed_codecs: vec![],
        email: None,
        voicemail: true,
    }
}

fn friend(client: &str, name: &str, mode: FriendMode, priority: u32, patterns: &[&str]) -> Friend {
    Friend {
        client: client.into(),
        name: name.into(),
        description: None,
        priority,
        mode,
        password: None,
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        call_acl: None,
        outgoing_ddi: None,
        country: None,
        area_code: None,
        allowed_codecs: vec![],
        from_domain: None,
        transport: None,
        address: None,
        port: None,
        tls_fingerprint: None,
        target_client: None,
        qualify_interval: 0,
    }
}

fn internal(client: &str, name: &str, target: &str, ddi: Option<&str>) -> Friend {
    Friend {
        target_client: Some(target.into()),
        qualify_interval: 0,
        outgoing_ddi: ddi.map(Into::into),
        ..friend(client, name, FriendMode::Intervpbx, 3, &[])
    }
}

fn ext(client: &str, number: &str, route: ExtensionRoute) -> Extension {
    Extension {
        client: client.into(),
        number: number.into(),
        route,
    }
}

fn ddi(number: &str, client: &str, route: Option<DdiRoute>) -> Ddi {
    Ddi {
        number: number.into(),
        client: client.into(),
        route,
        record: false,
    }
}

fn rule(priority: u32, policy: Policy, pattern: &str) -> AclRule {
    AclRule {
        priority,
        policy,
        pattern: pattern.into(),
    }
}

fn carrier(brand: &str, name: &str) -> Carrier {
    Carrier {
        brand: brand.into(),
        name: name.into(),
        address: "127.0.0.1".into(),
        port: Some(5080),
        tls_fingerprint: None,
        transport: "udp".into(),
        username: None,
        password: None,
        qualify_interval: 0,
    }
}

fn snapshot() -> Snapshot {
    use ExtensionRoute as E;
    let mut m = Model {
        brands: vec![
            Brand {
                name: "acme".into(),
                max_calls: 0,
            },
            Brand {
                name: "other".into(),
                max_calls: 0,
            },
        ],
        corporations: vec![Corporation {
            name: "group".into(),
            brand: "acme".into(),
        }],
        carriers: vec![
            carrier("acme", "zeta-trunk"),
            carrier("acme", "alpha-trunk"),
        ],
        ..Default::default()
    };

    // bluebird
    let mut c = client("bluebird", "acme", Some("ES"), Some("94"));
    c.outgoing_ddi = Some("+34944000100".into());
    m.clients.push(c);
    let mut alice = user("bluebird", "alice", Some("100"));
    alice.call_acl = Some("national".into());
    let mut bob = user("bluebird", "bob", Some("101"));
    bob.outgoing_ddi = Some("+34944000110".into());
    let mut carol = user("bluebird", "carol", Some("102"));
    carol.call_acl = Some("ordered".into());
    m.users.extend([alice, bob, carol]);
    m.extensions.extend([
        ext("bluebird", "100", E::User("alice".into())),
        ext("bluebird", "101", E::User("bob".into())),
        ext("bluebird", "102", E::User("carol".into())),
        ext("bluebird", "250", E::User("bob".into())),
        ext("bluebird", "300", E::Number("+44207000000".into())),
        ext("bluebird", "301", E::Number("944123456".into())),
        ext("bluebird", "310", E::Friend("hq".into())),
        ext("bluebird", "320", E::Friend("to-redwing".into())),
        ext("bluebird", "400", E::Voicemail("alice".into())),
        ext("bluebird", "401", E::Ivr("main".into())),
        ext("bluebird", "402", E::Locution("closed".into())),
    ]);
    let mut hq = friend("bluebird", "hq", FriendMode::Register, 1, &["^2[0-9]{2}$"]);
    hq.password = Some("HqAsterisk-Pass+1".into());
    hq.outgoing_ddi = Some("+34944000120".into());
    let mut paris = friend(
        "bluebird",
        "paris",
        FriendMode::Direct,
        5,
        &["2[0-9]{2}", "\\+33[0-9]+"],
    );
    paris.country = Some("FR".into());
    paris.call_acl = Some("national".into());
    m.friends.extend([
        // written out of order on purpose: the snapshot orders them
        friend("bluebird", "alpha", FriendMode::Direct, 9, &["8[0-9]{3}"]),
        friend("bluebird", "tie-b", FriendMode::Direct, 7, &["7[0-9]{3}"]),
        paris,
        internal("bluebird", "to-billed", "billed", None),
        internal("bluebird", "to-nocli", "nocli", None),
        internal("bluebird", "to-redwing", "redwing", Some("+34944000130")),
        hq,
        friend("bluebird", "tie-a", FriendMode::Direct, 7, &["7[0-9]{3}"]),
        friend("bluebird", "omega", FriendMode::Direct, 2, &["8[0-9]{3}"]),
    ]);
    m.call_acls.extend([
        CallAcl {
            client: "bluebird".into(),
            name: "national".into(),
            default_policy: Policy::Deny,
            rules: vec![rule(1, Policy::Allow, "^\\+34[0-9]+$")],
        },
        CallAcl {
            client: "bluebird".into(),
            name: "ordered".into(),
            default_policy: Policy::Allow,
            // out of order on purpose: priority 1 is tried first
            rules: vec![
                rule(5, Policy::Deny, "^\\+34[89]0[0-9]+$"),
                rule(1, Policy::Allow, "^\\+34900[0-9]+$"),
            ],
        },
    ]);
    m.ddis.extend([
        ddi(
            "+34944000100",
            "bluebird",
            Some(DdiRoute::User("alice".into())),
        ),
        ddi(
            "+34944000101",
            "bluebird",
            Some(DdiRoute::Friend("hq".into())),
        ),
        ddi(
            "+34944000102",
            "bluebird",
            Some(DdiRoute::Extension("250".into())),
        ),
        ddi("+34944000103", "bluebird", None),
        ddi(
            "+34944000104",
            "bluebird",
            Some(DdiRoute::Ivr("main".into())),
        ),
        ddi(
            "+34944000105",
            "bluebird",
            Some(DdiRoute::Voicemail("alice".into())),
        ),
        ddi(
            "+34944000106",
            "bluebird",
            Some(DdiRoute::Friend("paris".into())),
        ),
        ddi(
            "+34944000107",
            "bluebird",
            Some(DdiRoute::Extension("300".into())),
        ),
        ddi("+34944000110", "bluebird", None),
        ddi("+34944000120", "bluebird", None),
        ddi("+34944000130", "bluebird", None),
    ]);

    // redwing
    let mut c = client("redwing", "acme", Some("ES"), Some("91"));
    c.outgoing_ddi = Some("+34910000100".into());
    m.clients.push(c);
    m.users.extend([
        user("redwing", "dave", Some("100")),
        user("redwing", "erin", Some("600")),
    ]);
    m.extensions.extend([
        ext("redwing", "100", E::User("dave".into())),
        ext("redwing", "600", E::User("erin".into())),
        ext("redwing", "601", E::Number("+34600111222".into())),
        ext("redwing", "602", E::Number("+44207000000".into())),
        ext("redwing", "603", E::Friend("rw-pbx".into())),
        ext("redwing", "604", E::Voicemail("erin".into())),
        ext("redwing", "605", E::Friend("to-bluebird".into())),
    ]);
    m.friends.extend([
        internal("redwing", "to-bluebird", "bluebird", Some("+34910000199")),
        friend("redwing", "rw-pbx", FriendMode::Direct, 1, &["9[0-9]{2}"]),
    ]);
    m.ddis.extend([
        ddi("+34910000100", "redwing", None),
        ddi("+34910000199", "redwing", None),
    ]);

    // greenfin
    m.clients
        .push(client("greenfin", "acme", Some("ES"), Some("96")));
    m.users.push(user("greenfin", "gina", None));
    m.friends
        .push(internal("greenfin", "to-redwing", "redwing", None));

    // nocli
    m.clients.push(client("nocli", "acme", None, None));
    m.users.push(user("nocli", "nobody", None));
    m.extensions
        .push(ext("nocli", "700", E::Number("+34600000000".into())));

    // billed
    let mut c = client("billed", "acme", Some("ES"), Some("93"));
    c.outgoing_ddi = Some("+34930000100".into());
    c.billing_method = BillingMethod::Postpaid;
    m.clients.push(c);
    m.users.push(user("billed", "payer", None));
    m.extensions
        .push(ext("billed", "800", E::Number("+44207000000".into())));
    m.ddis.push(ddi("+34930000100", "billed", None));
    let rate = |prefix: &str| Rate {
        prefix: prefix.into(),
        connection_fee: "0.00".into(),
        per_minute: "0.02".into(),
        increment: 60,
        ..Rate::default()
    };
    m.rating_profiles.extend([
        RatingProfile {
            client: "billed".into(),
            name: "current".into(),
            active_from: 1000,
            active_to: Some(5000),
            rates: vec![rate("+34")],
        },
        RatingProfile {
            client: "billed".into(),
            name: "future".into(),
            active_from: 5000,
            active_to: None,
            rates: vec![rate("+44")],
        },
    ]);

    // lonely, in a brand without carrier
    let mut c = client("lonely", "other", Some("ES"), Some("95"));
    c.outgoing_ddi = Some("+34950000100".into());
    m.clients.push(c);
    m.users.push(user("lonely", "solo", None));
    m.ddis.push(ddi("+34950000100", "lonely", None));

    Snapshot::new(m)
}

// ---------------------------------------------------------------- row helpers

const NOW: u64 = 2000;

fn u<'a>(client: &'a str, name: &'a str) -> Caller<'a> {
    Caller {
        client,
        kind: CallerKind::User(name),
        presented: None,
    }
}

fn f<'a>(client: &'a str, name: &'a str) -> Caller<'a> {
    Caller {
        client,
        kind: CallerKind::Friend(name),
        presented: None,
    }
}

fn presenting<'a>(c: Caller<'a>, number: &'a str) -> Caller<'a> {
    Caller {
        presented: Some(number),
        ..c
    }
}

fn user_route(client: &str, user: &str) -> Route {
    Route::User {
        client: client.into(),
        user: user.into(),
    }
}

fn friend_route(client: &str, friend: &str, number: &str) -> Route {
    Route::Friend {
        client: client.into(),
        friend: friend.into(),
        number: number.into(),
    }
}

fn ext_route(billed: &str, number: &str, presented: &str) -> Route {
    Route::External {
        billed_client: billed.into(),
        // a brand without outgoing routes: all its carriers, by name
        carriers: vec!["alpha-trunk".into(), "zeta-trunk".into()],
        number: number.into(),
        presented: presented.into(),
    }
}

fn unsupported(client: &str, what: &str) -> Route {
    Route::Unsupported {
        client: client.into(),
        what: what.into(),
    }
}

fn refused(r: Refusal) -> Route {
    Route::Refused(r)
}

/// (the sentence, the caller, the dialled number, the time, the expected route)
type Row<'a> = (&'a str, Caller<'a>, &'a str, u64, Route);

fn check(rows: &[Row]) {
    let snap = snapshot();
    let mut failures = Vec::new();
    for (sentence, caller, dialled, now, want) in rows {
        let got = route(caller, dialled, &snap, *now);
        if &got != want {
            failures.push(format!(
                "{}\n    {:?} dials {:?}\n    want {}\n    got  {}",
                sentence, caller, dialled, want, got
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

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

// ---------------------------------------------------------------- E.164

/// (the sentence, the number, country, area code, the expected E.164)
type E164Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

#[test]
fn e164_normalisation() {
    let rows: &[E164Row] = &[
        (
            "+… is kept",
            "+34944000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "00… becomes +…",
            "0034944000100",
            Some("ES"),
            None,
            Some("+34944000100"),
        ),
        (
            "00… needs no country",
            "0044207000000",
            None,
            None,
            Some("+44207000000"),
        ),
        (
            "a national number gets the calling code",
            "944000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "a local number of ≤ 7 digits gets the area code",
            "4000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "a local number without area code only gets the calling code",
            "4000100",
            Some("ES"),
            None,
            Some("+344000100"),
        ),
        (
            "the French trunk 0 is removed",
            "0145000000",
            Some("FR"),
            None,
            Some("+33145000000"),
        ),
        (
            "the German trunk 0 is removed",
            "0301234567",
            Some("DE"),
            Some("30"),
            Some("+49301234567"),
        ),
        (
            "a German local number gets the area code",
            "1234567",
            Some("DE"),
            Some("30"),
            Some("+49301234567"),
        ),
        (
            "an area code written with its trunk 0",
            "1234567",
            Some("DE"),
            Some("030"),
            Some("+49301234567"),
        ),
        (
            "the British trunk 0 is removed",
            "02070000000",
            Some("GB"),
            None,
            Some("+442070000000"),
        ),
        (
            "Italy has no trunk prefix: the 0 stays",
            "0612345678",
            Some("IT"),
            None,
            Some("+390612345678"),
        ),
        (
            "Portugal has no trunk prefix",
            "212345678",
            Some("PT"),
            None,
            Some("+351212345678"),
        ),
        (
            "Spain has no trunk prefix",
            "0800123",
            Some("ES"),
            None,
            Some("+340800123"),
        ),
        (
            "a US number",
            "2125551234",
            Some("US"),
            None,
            Some("+12125551234"),
        ),
        (
            "the US trunk 1 is removed",
            "12125551234",
            Some("US"),
            None,
            Some("+12125551234"),
        ),
        (
            "the US international prefix 011",
            "011442070000000",
            Some("US"),
            None,
            Some("+442070000000"),
        ),
        (
            "a US local number gets the area code",
            "5551234",
            Some("US"),
            Some("212"),
            Some("+12125551234"),
        ),
        (
            "spaces are not digits",
            "944 000 100",
            Some("ES"),
            None,
            None,
        ),
        ("letters are not digits", "94a", Some("ES"), None, None),
        ("+ only at the start", "+34-944", Some("ES"), None, None),
        ("empty", "", Some("ES"), None, None),
        ("a lone +", "+", Some("ES"), None, None),
        ("a lone 00", "00", Some("ES"), None, None),
        (
            "a national number without country",
            "944000100",
            None,
            None,
            None,
        ),
        (
            "a national number in an unknown country",
            "944000100",
            Some("XX"),
            None,
            None,
        ),
        (
            "longer than E.164 allows",
            "+1234567890123456",
            Some("ES"),
            None,
            None,
        ),
    ];
    for (sentence, number, country, area, want) in rows {
        assert_eq!(
            to_e164(number, *country, *area).as_deref(),
            *want,
            "{}: {:?} in {:?}/{:?}",
            sentence,
            number,
            country,
            area
        );
    }
}

#[test]
fn e164_to_national() {
    let rows: &[(&str, &str, Option<&str>, &str)] = &[
        (
            "Spanish number in ES",
            "+34944000100",
            Some("ES"),
            "944000100",
        ),
        (
            "French number in FR gets the trunk 0",
            "+33145000000",
            Some("FR"),
            "0145000000",
        ),
        (
            "foreign number in ES gets 00",
            "+33145000000",
            Some("ES"),
            "0033145000000",
        ),
        (
            "foreign number in FR gets 00",
            "+34944000100",
            Some("FR"),
            "0034944000100",
        ),
        (
            "Italian number keeps its 0",
            "+390612345678",
            Some("IT"),
            "0612345678",
        ),
        (
            "US number in US gets the trunk 1",
            "+12125551234",
            Some("US"),
            "12125551234",
        ),
        (
            "foreign number in US gets 011",
            "+442070000000",
            Some("US"),
            "011442070000000",
        ),
        (
            "no country: unchanged",
            "+34944000100",
            None,
            "+34944000100",
        ),
        (
            "unknown country: unchanged",
            "+34944000100",
            Some("XX"),
            "+34944000100",
        ),
        ("not E.164: unchanged", "944000100", Some("ES"), "944000100"),
    ];
    for (sentence, number, country, want) in rows {
        assert_eq!(to_national(number, *country), *want, "{}", sentence);
    }
}

#[test]
fn calling_codes() {
    let rows = [
        ("ES", "34"),
        ("PT", "351"),
        ("FR", "33"),
        ("DE", "49"),
        ("IT", "39"),
        ("GB", "44"),
        ("IE", "353"),
        ("NL", "31"),
        ("BE", "32"),
        ("CH", "41"),
        ("AT", "43"),
        ("US", "1"),
        ("CA", "1"),
        ("MX", "52"),
        ("AR", "54"),
        ("BR", "55"),
        ("CL", "56"),
        ("CO", "57"),
    ];
    for (iso, cc) in rows {
        assert_eq!(calling_code(iso), Some(cc), "{}", iso);
    }
    assert_eq!(calling_code("XX"), None);
}

// ---------------------------------------------------------------- the snapshot's indices

#[test]
fn snapshot_orders_friends_and_acl_rules() {
    let snap = snapshot();
    let order: Vec<&str> = snap
        .friends_by_priority("bluebird")
        .map(|(f, _)| f.name.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "hq",
            "omega",
            "to-billed",
            "to-nocli",
            "to-redwing",
            "paris",
            "tie-a",
            "tie-b",
            "alpha"
        ]
    );
    let (_, rules) = snap.call_acl("bluebird", "ordered").expect("acl");
    let prios: Vec<u32> = rules.iter().map(|r| r.priority).collect();
    assert_eq!(prios, [1, 5]);
    assert_eq!(
        snap.carrier_of_brand("acme").map(|c| c.name.as_str()),
        Some("alpha-trunk")
    );
}

// ------------------------------------------------------------- outgoing routes

fn out_route(
    name: &str,
    prefix: &str,
    priority: u32,
    weight: u32,
    carriers: &[&str],
) -> OutgoingRoute {
    OutgoingRoute {
        brand: "acme".into(),
        name: name.into(),
        prefix: prefix.into(),
        priority,
        weight,
        carriers: carriers.iter().map(|c| c.to_string()).collect(),
    }
}

/// acme with carriers alpha-trunk, zeta-trunk, backup, cheap and `routes`.
fn routed(routes: Vec<OutgoingRoute>) -> Snapshot {
    let mut m = snapshot().model.clone();
    m.carriers.push(carrier("acme", "backup"));
    m.carriers.push(carrier("acme", "cheap"));
    m.outgoing_routes = routes;
    Snapshot::new(m)
}

#[test]
fn outgoing_routes_choose_the_carriers() {
    use outgoing::carriers;
    let all_up = Choice::default();
    let snap = routed(vec![
        out_route("spain", "+34", 1, 1, &["cheap", "alpha-trunk"]),
        out_route("mobiles", "+346", 1, 1, &["zeta-trunk"]),
        out_route("any", "*", 2, 1, &["backup", "cheap"]),
    ]);
    let rows: &[(&str, &str, &[&str])] = &[
        (
            "a number only the catch-all takes: its carriers",
            "+44207000000",
            &["backup", "cheap"],
        ),
        (
            "priority 1 before priority 2; a carrier listed twice is tried once, at its first place",
            "+34944123456",
            &["cheap", "alpha-trunk", "backup"],
        ),
    ];
    for (what, number, want) in rows {
        assert_eq!(carriers(&snap, "acme", number, all_up), *want, "{}", what);
    }
    // two routes of one priority: both orders happen, each route's carriers together
    let mobile = |draw| carriers(&snap, "acme", "+34600111222", Choice { draw, up: None });
    let orders: std::collections::HashSet<Vec<String>> = (0..64).map(mobile).collect();
    assert_eq!(orders.len(), 2, "{:?}", orders);
    for o in &orders {
        assert!(
            o == &["cheap", "alpha-trunk", "zeta-trunk", "backup"]
                || o == &["zeta-trunk", "cheap", "alpha-trunk", "backup"],
            "{:?}",
            o
        );
    }
    // the same draw, the same order (the choice is a pure function)
    assert_eq!(mobile(7), mobile(7));

    // a carrier that is down is left out; all down: none
    let zeta_down = |_: &str, c: &str| c != "zeta-trunk";
    let choice = Choice {
        draw: 0,
        up: Some(&zeta_down),
    };
    assert_eq!(
        carriers(&snap, "acme", "+34600111222", choice),
        ["cheap", "alpha-trunk", "backup"]
    );
    let none_up = |_: &str, _: &str| false;
    let down = Choice {
        draw: 0,
        up: Some(&none_up),
    };
    assert!(carriers(&snap, "acme", "+34600111222", down).is_empty());
    // a brand with routes and none that takes the number: no carrier
    let spain_only = routed(vec![out_route("spain", "+34", 1, 1, &["cheap"])]);
    assert!(carriers(&spain_only, "acme", "+44207000000", all_up).is_empty());
    // a brand without routes: all its carriers by name
    assert_eq!(
        carriers(&routed(Vec::new()), "acme", "+44207000000", all_up),
        ["alpha-trunk", "backup", "cheap", "zeta-trunk"]
    );
}

#[test]
fn outgoing_route_weights_share_the_first_place() {
    let snap = routed(vec![
        out_route("heavy", "*", 1, 3, &["cheap"]),
        out_route("light", "*", 1, 1, &["backup"]),
    ]);
    let first: Vec<String> = (0..4000u64)
        .map(|draw| outgoing::carriers(&snap, "acme", "+34944123456", Choice { draw, up: None }))
        .map(|c| c[0].clone())
        .collect();
    let heavy = first.iter().filter(|c| *c == "cheap").count();
    // weight 3 against 1: first three times in four (±5 %)
    assert!((2800..=3200).contains(&heavy), "{} of 4000", heavy);
}

#[test]
fn outgoing_routes_in_the_routing_decision() {
    let snap = routed(vec![out_route("spain", "+34", 1, 1, &["cheap", "backup"])]);
    let up = |_: &str, c: &str| c != "cheap";
    let choice = Choice {
        draw: 0,
        up: Some(&up),
    };
    match route_with(&u("bluebird", "alice"), "944123456", &snap, NOW, choice) {
        Route::External { carriers, .. } => assert_eq!(carriers, ["backup"]),
        other => panic!("{:?}", other),
    }
    // every carrier of the number's routes down, or no route for it: 503 no carrier
    let none = |_: &str, _: &str| false;
    let down = Choice {
        draw: 0,
        up: Some(&none),
    };
    assert_eq!(
        route_with(&u("bluebird", "alice"), "944123456", &snap, NOW, down),
        refused(Refusal::NoCarrier)
    );
    assert_eq!(
        route_with(
            &u("bluebird", "bob"),
            "0044207000000",
            &snap,
            NOW,
            Choice::default()
        ),
        refused(Refusal::NoCarrier)
    );
    // a DDI whose extension leads to a number goes out by the routes too
    let any = routed(vec![out_route("any", "*", 1, 1, &["cheap", "backup"])]);
    match inbound_with("acme", "+34944000107", &any, NOW, choice) {
        Route::External { carriers, .. } => assert_eq!(carriers, ["backup"]),
        other => panic!("{:?}", other),
    }
}

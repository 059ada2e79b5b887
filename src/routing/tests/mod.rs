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

mod dialled;
mod inbound;
mod numbers;
mod routes;

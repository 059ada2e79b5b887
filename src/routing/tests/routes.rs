//! The snapshot's indices, and outgoing routes choosing the carriers.

use super::*;

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

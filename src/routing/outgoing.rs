//! Which carriers an external call of a brand goes out through, in the order they are
//! tried (IvozProvider's outgoing routing). Pure: the random draw and the carriers' health
//! are inputs ([`Choice`]).
//!
//! # The rule
//!
//! - A brand **without outgoing routes** sends every external call through all its
//!   carriers, by name (the first by name first, as before routes existed; the others are
//!   the call's next carriers when the first fails).
//! - A brand with routes: the routes whose prefix starts the E.164 number (`*` takes any)
//!   are ordered by `priority` ascending; routes of one priority in a weighted random order
//!   (a route of weight 3 comes first three times as often as one of weight 1), drawn from
//!   [`Choice::draw`]. Their carriers follow in that order, each route's in its written
//!   order; a carrier listed by two routes is tried once, at its first place. No route
//!   takes the number: no carrier (the call is refused `503`, as a brand without
//!   carriers): routes are how a brand says where its calls may go.
//! - A carrier the health checker says is down ([`Choice::up`]) is left out; when every
//!   one is down, no carrier.

use crate::model::{OutgoingRoute, Snapshot};

/// Whether a brand's carrier (brand, carrier name) is up.
pub type IsUp<'a> = &'a dyn Fn(&str, &str) -> bool;

/// The inputs of the choice that are not the model: a random number (the driver draws
/// one per call; tests fix it) and the carriers' health (by brand and carrier name; None:
/// all up).
#[derive(Clone, Copy, Default)]
pub struct Choice<'a> {
    pub draw: u64,
    pub up: Option<IsUp<'a>>,
}

impl std::fmt::Debug for Choice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choice")
            .field("draw", &self.draw)
            .field("up", &self.up.is_some())
            .finish()
    }
}

impl Choice<'_> {
    fn is_up(&self, brand: &str, carrier: &str) -> bool {
        self.up.is_none_or(|up| up(brand, carrier))
    }
}

/// The carriers of `brand` an external call to the E.164 `number` is tried through, in
/// order (see the module doc); empty: none.
pub fn carriers(snap: &Snapshot, brand: &str, number: &str, choice: Choice) -> Vec<String> {
    let mut routes: Vec<&OutgoingRoute> = snap.outgoing_routes(brand).collect();
    let names: Vec<String> = if routes.is_empty() {
        snap.carriers_of_brand(brand)
            .map(|c| c.name.clone())
            .collect()
    } else {
        routes.retain(|r| r.takes(number));
        // (stable: a written order under the random one, for equal draws)
        routes.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.name.cmp(&b.name)));
        let mut ordered = Vec::with_capacity(routes.len());
        let mut rng = SplitMix(choice.draw);
        let mut start = 0;
        while start < routes.len() {
            let p = routes[start].priority;
            let end = start
                + routes[start..]
                    .iter()
                    .take_while(|r| r.priority == p)
                    .count();
            ordered.extend(weighted_order(&routes[start..end], &mut rng));
            start = end;
        }
        let mut names: Vec<String> = Vec::new();
        for r in ordered {
            for c in &r.carriers {
                if !names.contains(c) {
                    names.push(c.clone());
                }
            }
        }
        names
    };
    names
        .into_iter()
        .filter(|c| choice.is_up(brand, c))
        .collect()
}

/// `routes` in a weighted random order: each next one drawn with a probability
/// proportional to its weight among those left.
fn weighted_order<'a>(routes: &[&'a OutgoingRoute], rng: &mut SplitMix) -> Vec<&'a OutgoingRoute> {
    let mut left: Vec<&OutgoingRoute> = routes.to_vec();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u64 = left.iter().map(|r| r.weight.max(1) as u64).sum();
        let mut x = rng.next() % total;
        let mut pick = 0;
        for (i, r) in left.iter().enumerate() {
            let w = r.weight.max(1) as u64;
            if x < w {
                pick = i;
                break;
            }
            x -= w;
        }
        out.push(left.remove(pick));
    }
    out
}

/// A small deterministic generator (SplitMix64) seeded by the call's draw: one draw orders
/// every group of routes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

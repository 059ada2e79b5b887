//! The driver's side of carrier failover (`failover.rs`): an external call's next
//! destinations when it is set up, the next one's branches built when the core asks
//! (`Action::FailOver` → `Event::FailedOver`), and the hook through which the carriers'
//! health (the "qualify" checker) reaches the route choice.

use super::call::{Event, Fork};
use super::driver::CallRef;
use super::failover::{Failover, Next};
use super::target::{Lookup, Target};
use super::{codecs, B2bua};
use crate::auth::nonce::now_secs;
use crate::routing::Route;
use std::sync::Arc;
use std::time::Duration;

/// Whether a carrier (by name) is up, as a health checker sees it. Set once on the B2BUA
/// (`B2bua::health`); none set: every carrier is up.
pub trait PeerHealth: Send + Sync {
    fn up(&self, carrier: &str) -> bool;
}

/// The failover of a call set up on `route` whose branches are `targets`: an external
/// call's carriers after the first (the carrier of its branches).
pub fn failover_for(route: &Route, targets: &[Target], timeout: Duration) -> Option<Failover> {
    let Route::External { carriers, .. } = route else {
        return None;
    };
    let (first, rest) = carriers.split_first()?;
    let t = targets.first()?;
    Some(Failover::new(
        route.clone(),
        t,
        first,
        rest.iter().map(|c| Next::carrier(c)),
        timeout,
    ))
}

impl B2bua {
    /// The route choice's inputs for a new call: a random draw, the carriers' health.
    pub(super) fn with_choice<R>(&self, f: impl FnOnce(crate::routing::Choice) -> R) -> R {
        let health = self.health.get().cloned();
        let up = |c: &str| health.as_ref().is_none_or(|h| h.up(c));
        f(crate::routing::Choice {
            draw: rand::random(),
            up: Some(&up),
        })
    }

    /// The core asked for the call's next destination `next`: its branches are built
    /// (no call locked: a TCP or TLS carrier's connection may be opened) and handed to
    /// the call.
    pub(super) fn fail_over(self: &Arc<Self>, cell: &CallRef, next: Next) {
        let taken = {
            let slot = cell.lock();
            let c = &slot.call;
            c.failover.clone().map(|f| {
                let max_forwards = c.forks.first().map(|f| f.max_forwards).unwrap_or(69);
                (
                    f,
                    c.b_offer.clone(),
                    c.a_invite.clone(),
                    c.from.clone(),
                    max_forwards,
                )
            })
        };
        let Some((f, b_offer, a_invite, from, max_forwards)) = taken else {
            return;
        };
        let snap = self.snapshot.load();
        let lookup = Lookup {
            snap: &snap,
            location: &self.location,
            transports: &self.out.transports,
            now: now_secs(),
        };
        let targets = match &f.route {
            Route::External {
                billed_client,
                number,
                presented,
                ..
            } => lookup
                .carrier(&next.carrier, billed_client, number, presented, &from)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let forks: Vec<Fork> = targets
            .into_iter()
            .filter_map(|mut t| {
                t.headers = f.headers.clone();
                t.from_uri = f.from_uri.clone();
                t.pai = f.pai.clone();
                let offer = match &b_offer {
                    None => None,
                    Some(body) => match codecs::filter(body, &t.allowed_codecs) {
                        Ok(Some(filtered)) => Some(filtered),
                        Ok(None) => Some(body.clone()),
                        Err(codecs::NoCommonCodec) => return None,
                    },
                };
                Some(Fork::new(&t, &a_invite, offer, max_forwards))
            })
            .collect();
        let ids: Vec<String> = forks.iter().map(|f| f.leg.call_id.clone()).collect();
        for id in &ids {
            self.calls.insert(id.clone(), cell.clone());
        }
        let carrier = next.carrier;
        self.drive(cell, move |c, now, out| {
            c.handle(
                now,
                Event::FailedOver {
                    forks,
                    carrier,
                    more: Vec::new(),
                },
                out,
            )
        });
        // A call that ended meanwhile did not take the branches: their Call-IDs go.
        let slot = cell.lock();
        for id in &ids {
            if !slot.call.forks.iter().any(|f| &f.leg.call_id == id) {
                self.calls.remove(id);
            }
        }
    }
}

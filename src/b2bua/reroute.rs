//! The driver's side of carrier failover (`failover.rs`): an external call's next
//! destinations when it is set up, the next one's branches built when the core asks
//! (`Action::FailOver` → `Event::FailedOver`), and the route choice's inputs (a draw, the
//! carriers' health as the qualify checker sees it).

use super::call::{Event, Fork};
use super::driver::CallRef;
use super::failover::{Failover, Next};
use super::target::{Lookup, Target};
use super::{codecs, B2bua};
use crate::auth::nonce::now_secs;
use crate::qualify::probe::PeerKind;
use crate::routing::Route;
use std::sync::Arc;
use std::time::Duration;

/// The failover of a call set up on `route` whose branches are `targets`: an external
/// call's carriers after the first (the carrier of its branches), or all of them when it
/// has no branch yet (its first carrier is a host name, resolved by the failover).
pub fn failover_for(route: &Route, targets: &[Target], timeout: Duration) -> Option<Failover> {
    let carriers = match route {
        Route::External { carriers, .. } => carriers,
        // a direct friend reached by host name: its addresses, once resolved
        Route::Friend { friend, .. } if targets.is_empty() => {
            let next = [Next::carrier(friend)];
            return Some(Failover::new(route.clone(), None, "", next, timeout));
        }
        _ => return None,
    };
    let (first, rest) = carriers.split_first()?;
    let f = match targets.first() {
        Some(t) => Failover::new(
            route.clone(),
            Some(t),
            first,
            rest.iter().map(|c| Next::carrier(c)),
            timeout,
        ),
        None => Failover::new(
            route.clone(),
            None,
            "",
            carriers.iter().map(|c| Next::carrier(c)),
            timeout,
        ),
    };
    Some(f)
}

impl B2bua {
    /// The route choice's inputs for a new call: a random draw, the carriers' health.
    pub(super) fn with_choice<R>(&self, f: impl FnOnce(crate::routing::Choice) -> R) -> R {
        // a carrier the qualify checker finds down is left out (unknown or unprobed: up)
        let up = |brand: &str, c: &str| self.qualify.is_up(PeerKind::Carrier, brand, c);
        f(crate::routing::Choice {
            draw: rand::random(),
            up: Some(&up),
        })
    }

    /// The core asked for the call's next destination `next` (its failover of `round`:
    /// none if another has taken its place meanwhile): a carrier reached by name
    /// is resolved (on the runtime: its addresses after the first are the call's next
    /// destinations), its branch built (no call locked: a TCP or TLS carrier's connection
    /// may be opened) and handed to the call.
    pub(super) async fn fail_over(self: &Arc<Self>, cell: &CallRef, next: Next, round: u32) {
        let taken = {
            let slot = cell.lock();
            let c = &slot.call;
            c.failover.clone().filter(|f| f.round == round).map(|f| {
                // as its first branches, or the caller's less one (loops still end in 483)
                let max_forwards =
                    c.forks.first().map(|f| f.max_forwards).unwrap_or_else(|| {
                        c.a_invite.max_forwards().unwrap_or(70).saturating_sub(1)
                    });
                let (b_offer, from, max_forwards) = match &f.transfer {
                    // a transfer's target: no offer (the remaining party makes it later),
                    // the transferor's presentation (`refer.rs`)
                    Some(p) => (None, p.clone(), 70),
                    None => (c.b_offer.clone(), c.from.clone(), max_forwards),
                };
                (f, b_offer, c.a_invite.clone(), from, max_forwards)
            })
        };
        let Some((f, b_offer, a_invite, from, max_forwards)) = taken else {
            return;
        };
        let by_name = |lookup: &Lookup| match &f.route {
            Route::External { billed_client, .. } => {
                lookup.carrier_by_name(billed_client, &next.carrier)
            }
            Route::Friend { client, friend, .. } => lookup.friend_by_name(client, friend),
            _ => None,
        };
        let mut at = next.to;
        let mut more = Vec::new();
        let named = {
            let snap = self.snapshot.load();
            by_name(&self.lookup(&snap))
        };
        if let (None, Some((host, transport, port))) = (at, named) {
            let addrs = match self.dns.get() {
                Some(dns) => dns.resolve(&host, &transport, port).await,
                None => Vec::new(),
            };
            tracing::info!("carrier {} ({}): {:?}", next.carrier, host, addrs);
            let mut addrs = addrs.into_iter();
            at = addrs.next();
            more = addrs
                .map(|a| Next {
                    carrier: next.carrier.clone(),
                    to: Some(a),
                })
                .collect();
            if at.is_none() {
                more.clear();
            }
        }
        let targets = {
            let snap = self.snapshot.load();
            let lookup = self.lookup(&snap);
            let named = by_name(&lookup).is_some();
            match (&f.route, at) {
                (_, None) if named => Vec::new(),
                (
                    Route::External {
                        billed_client,
                        number,
                        presented,
                        ..
                    },
                    _,
                ) => lookup
                    .carrier(&next.carrier, at, billed_client, number, presented, &from)
                    .unwrap_or_default(),
                (
                    Route::Friend {
                        client,
                        friend,
                        number,
                    },
                    Some(at),
                ) => snap
                    .friend(client, friend)
                    .and_then(|fr| lookup.friend_at(fr, number, &from, at).ok())
                    .unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        // a sips: call goes on over TLS only (RFC 5630), on every carrier it fails over to
        // (a transfer's target is a call of the transferor's: its first branch is not held
        // to it either, `refer.rs`)
        let secure = f.transfer.is_none() && super::invite::secure_only(&a_invite);
        let forks: Vec<Fork> = targets
            .into_iter()
            .filter(|t| !secure || t.dest.flow.proto == crate::sip::transport::Proto::Tls)
            .filter_map(|mut t| {
                if let Some(s) = &f.shape {
                    t.headers = s.headers.clone();
                    t.from_uri = s.from_uri.clone();
                    t.pai = s.pai.clone();
                }
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
        let (carrier, round) = (next.carrier, f.round);
        self.drive(cell, move |c, now, out| {
            c.handle(
                now,
                Event::FailedOver {
                    forks,
                    carrier,
                    more,
                    round,
                },
                out,
            )
        });
        // a call that ended meanwhile did not take the branches: their Call-IDs go
        self.settle_branches(cell, &ids, None);
    }

    fn lookup<'a>(&'a self, snap: &'a crate::model::Snapshot) -> Lookup<'a> {
        Lookup {
            snap,
            location: &self.location,
            transports: &self.out.transports,
            now: now_secs(),
            qualify: &self.qualify,
        }
    }
}

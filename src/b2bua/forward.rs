//! Call forwarding, the driver's side: the forwards decided before a call rings
//! (unconditional; not registered: no live binding) and the routing of a forward the core
//! asks for once it rings (busy, no answer: `Action::Forward`). A forward is a call the
//! forwarding party places (`routing::forward`); its branches carry a `Diversion` header
//! (RFC 5806) naming that party — its extension towards an extension, its outgoing DDI
//! towards a number — and the ones already on the call. A call that comes back to a party
//! it passed, or forwards more than `[calls] max_forwards` times, ends with `482`.

use super::admit::{admission_of, not_implemented, nowhere, refusal, Admission};
use super::call::{Event, Fork};
use super::divert::{Divert, Hop};
use super::driver::CallRef;
use super::record::{route_label, Disposition};
use super::target::{Lookup, Nowhere, Presentation, Target};
use super::{codecs, B2bua};
use crate::auth::nonce::now_secs;
use crate::model::{CallForward, ForwardOwner, ForwardType, Snapshot};
use crate::routing::forward::{applicable, diversion_reason, route_of, type_name};
use crate::routing::Route;
use std::sync::Arc;
use std::time::Duration;

/// The party a route rings whose forwards apply: its client and itself.
fn party_of(route: &Route) -> Option<(String, ForwardOwner)> {
    match route {
        Route::User { client, user } => Some((client.clone(), ForwardOwner::User(user.clone()))),
        Route::Friend { client, friend, .. } => {
            Some((client.clone(), ForwardOwner::Friend(friend.clone())))
        }
        _ => None,
    }
}

fn party_name(client: &str, owner: &ForwardOwner) -> String {
    match owner {
        ForwardOwner::User(n) | ForwardOwner::Friend(n) => format!("{}/{}", client, n),
    }
}

/// What of the forwards of the party `route` rings can still happen once it rings.
pub(super) fn divert_for(snap: &Snapshot, route: &Route, external: bool) -> Option<Divert> {
    let (client, owner) = party_of(route)?;
    let busy = applicable(snap, &client, &owner, ForwardType::Busy, external).is_some();
    let no_answer = applicable(snap, &client, &owner, ForwardType::NoAnswer, external)
        .map(|f| Duration::from_secs(u64::from(f.timeout.max(1))));
    (busy || no_answer.is_some()).then_some(Divert {
        client,
        owner,
        external,
        busy,
        no_answer,
        asked: false,
    })
}

/// The `Diversion` value of forward `f`: the forwarding party as its extension towards an
/// extension (a friend: its name), as its outgoing DDI (else its client's) towards a number.
fn diversion(snap: &Snapshot, f: &CallForward, to: &Route) -> String {
    let client = snap.client(&f.client);
    let domain = client.map(|c| c.domain.as_str()).unwrap_or("");
    let external = matches!(to, Route::External { .. });
    let who = match &f.owner {
        ForwardOwner::User(u) => {
            let user = snap.user(&f.client, u);
            if external {
                user.and_then(|u| u.outgoing_ddi.clone())
            } else {
                user.and_then(|u| u.extension.clone())
            }
            .unwrap_or_else(|| u.clone())
        }
        ForwardOwner::Friend(n) => {
            let friend = snap.friend(&f.client, n);
            if external {
                friend.and_then(|x| x.outgoing_ddi.clone())
            } else {
                None
            }
            .unwrap_or_else(|| n.clone())
        }
    };
    let who = if external && !who.starts_with('+') {
        client.and_then(|c| c.outgoing_ddi.clone()).unwrap_or(who)
    } else {
        who
    };
    format!(
        "<sip:{}@{}>;reason={};counter=1",
        who,
        domain,
        diversion_reason(f.forward_type)
    )
}

/// The `Diversion` header values a call came with.
pub(super) fn diversions_of(invite: &crate::sip::message::Message) -> Vec<String> {
    invite
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Diversion"))
        .map(|h| h.value.to_string())
        .collect()
}

/// What a forward out through a carrier takes as an external call of its billed client:
/// its places in the max calls, and its pricing (and credit cap).
pub(super) type External = (
    Option<crate::policy::calls::Permit>,
    Option<Arc<super::call::Billing>>,
);

impl B2bua {
    /// A forward that leads out through a carrier is an external call of its billed client
    /// (the forwarding party's): counted in its max calls, priced and capped by its credit
    /// like its own call, refused like one when over them.
    pub(super) fn forwarded_external(
        &self,
        snap: &Snapshot,
        route: &Route,
        trunk: bool,
        held: bool,
    ) -> Result<External, Admission> {
        let Route::External {
            billed_client,
            number,
            ..
        } = route
        else {
            return Ok((None, None));
        };
        let ledger = Some(&self.policy.ledger);
        let billing = super::admit::billing(snap, billed_client, number, now_secs(), ledger)
            .map_err(|b| {
                self.policy.stats.refused(b, "INVITE");
                tracing::info!(
                    "forward of client {} to {} refused: {}",
                    billed_client,
                    number,
                    b.as_str()
                );
                super::admit::out_of_credit(b, trunk)
            })?
            .map(Arc::new);
        // A call that holds its places already (from a trunk) is counted once.
        let permit = match super::admit::counted_for(snap, billed_client).filter(|_| !held) {
            Some(c) => Some(self.policy.calls.acquire(&c).map_err(|over| {
                self.policy
                    .stats
                    .refused(crate::policy::Block::MaxCalls, "INVITE");
                tracing::info!(
                    "forward of client {} to {} refused: over the max calls",
                    billed_client,
                    number
                );
                super::admit::over_limit(over, trunk)
            })?),
            None => None,
        };
        Ok((permit, billing))
    }

    /// Follows forward `f` from the call that passed `hops`: the route it leads to, with
    /// its hop added; a loop or one forward too many is refused with `482`.
    fn take(
        &self,
        snap: &Snapshot,
        f: &CallForward,
        hops: &mut Vec<Hop>,
        prior: usize,
        now: u64,
    ) -> Result<Route, Admission> {
        let party = party_name(&f.client, &f.owner);
        let route = route_of(snap, f, now);
        let next = party_of(&route).map(|(c, o)| party_name(&c, &o));
        let circle =
            hops.iter().any(|h| Some(&h.party) == next.as_ref()) || next == Some(party.clone());
        // (diversions the call came with count: a loop through a carrier and back in)
        if circle || hops.len() + prior >= self.cfg.max_forwards as usize {
            let chain: Vec<&str> = hops.iter().map(|h| h.party.as_str()).collect();
            tracing::info!(
                "call forward loop: {} → {} ({} → {})",
                chain.join(" → "),
                party,
                type_name(f.forward_type),
                next.as_deref().unwrap_or("?"),
            );
            return Err(refusal(482, "Loop Detected", Disposition::ForwardLoop));
        }
        hops.push(Hop {
            party,
            diversion: diversion(snap, f, &route),
            why: type_name(f.forward_type),
            to: route_label(&route),
        });
        Ok(route)
    }

    /// Where a call to `route` goes once the forwards decided before ringing are followed
    /// (unconditional; not registered), and its destinations; each forward's `Diversion`
    /// in `hops`. `external`: the call comes from a trunk.
    pub(super) fn follow(
        &self,
        snap: &Snapshot,
        mut route: Route,
        from: &Presentation,
        external: bool,
        hops: &mut Vec<Hop>,
        prior: &[String],
    ) -> Result<(Route, Vec<Target>), Admission> {
        let now = now_secs();
        let lookup = Lookup {
            snap,
            location: &self.location,
            transports: &self.out.transports,
            now,
            qualify: &self.qualify,
        };
        loop {
            let party = party_of(&route);
            if let Some((client, owner)) = &party {
                let unconditional = ForwardType::Unconditional;
                if let Some(f) = applicable(snap, client, owner, unconditional, external) {
                    route = self.take(snap, f, hops, prior.len(), now)?;
                    continue;
                }
                // a user at its own max calls is busy: its busy forward, else 486
                if let Route::User { user, .. } = &route {
                    if self.at_max_calls(snap, client, user) {
                        match applicable(snap, client, owner, ForwardType::Busy, external) {
                            Some(f) => {
                                route = self.take(snap, f, hops, prior.len(), now)?;
                                continue;
                            }
                            None => return Err(super::admit::busy(external)),
                        }
                    }
                }
            }
            // A forward's route may be refused (its owner's ACL, rating) like any call.
            let admitted = match admission_of(route, external) {
                Admission::Route(r) => r,
                // a mailbox: answered by vozbox itself, no destination to ring
                Admission::Voicemail { client, mailbox } => {
                    return Ok((Route::Voicemail { client, mailbox }, Vec::new()))
                }
                refused @ Admission::Refuse { .. } => return Err(refused),
                // a forward to a locution or the echo test is not a destination of its own
                _ => return Err(not_implemented()),
            };
            // Forwarded to a number: an external caller keeps its number (in E.164), an
            // internal one shows its own outgoing DDI; else the forwarding party's (the
            // route's presented number, as the carrier's target has it already).
            let shown = match (&admitted, hops.is_empty()) {
                (Route::External { .. }, false) if external => {
                    Some(from.number.clone()).filter(|n| n.starts_with('+'))
                }
                (Route::External { .. }, false) => from.ddi.clone(),
                _ => None,
            };
            match lookup.resolve(&admitted, from) {
                Ok(mut targets) => {
                    // ours, newest first, then those the call came with (RFC 5806)
                    let headers: Vec<(String, String)> = hops
                        .iter()
                        .rev()
                        .map(|h| h.diversion.clone())
                        .chain(prior.iter().cloned())
                        .map(|d| ("Diversion".to_string(), d))
                        .collect();
                    for t in &mut targets {
                        t.headers = headers.clone();
                        if let Some(n) = &shown {
                            t.from_uri = format!("<sip:{}@{}>", n, from.domain);
                            t.pai = Some(t.from_uri.clone());
                        }
                    }
                    return Ok((admitted, targets));
                }
                Err(Nowhere::NotRegistered) => {
                    let not_registered = ForwardType::NotRegistered;
                    let f = party.as_ref().and_then(|(client, owner)| {
                        applicable(snap, client, owner, not_registered, external)
                    });
                    match f {
                        Some(f) => route = self.take(snap, f, hops, prior.len(), now)?,
                        None => return Err(nowhere(Nowhere::NotRegistered, external)),
                    }
                }
                Err(n) => return Err(nowhere(n, external)),
            }
        }
    }

    /// The core asked for the forward of type `ty` of its called party: routes it and
    /// hands the call the forward's branches, or its failure. Runs with no call locked.
    pub(super) fn forward(self: &Arc<Self>, cell: &CallRef, ty: ForwardType) {
        let taken = {
            let slot = cell.lock();
            let c = &slot.call;
            c.divert.clone().map(|d| {
                // as its first branches, or the caller's less one (loops still end in 483)
                let max_forwards =
                    c.forks.first().map(|f| f.max_forwards).unwrap_or_else(|| {
                        c.a_invite.max_forwards().unwrap_or(70).saturating_sub(1)
                    });
                (
                    d,
                    c.b_offer.clone(),
                    c.a_invite.clone(),
                    c.from.clone(),
                    c.hops.clone(),
                    max_forwards,
                    c.info.route.clone(),
                )
            })
        };
        let Some((d, b_offer, a_invite, from, mut hops, max_forwards, label)) = taken else {
            return;
        };
        let (code, reason, disposition) = match ty {
            ForwardType::Busy => (486, "Busy Here", Disposition::Busy),
            _ => (480, "Temporarily Unavailable", Disposition::NoAnswer),
        };
        let fail = |code, reason, disposition| {
            self.drive(cell, |c, now, out| {
                c.handle(
                    now,
                    Event::ForwardFailed {
                        code,
                        reason,
                        disposition,
                    },
                    out,
                )
            })
        };
        let snap = self.snapshot.load();
        let Some(f) = applicable(&snap, &d.client, &d.owner, ty, d.external) else {
            // changed meanwhile: the call fails as it would have without it
            return fail(code, reason, disposition);
        };
        let prior = diversions_of(&a_invite);
        let first_hop = hops.len();
        let held = cell.lock().permit.is_some();
        let followed = self
            .take(&snap, f, &mut hops, prior.len(), now_secs())
            .and_then(|route| self.follow(&snap, route, &from, d.external, &mut hops, &prior));
        let followed = followed.and_then(|(route, targets)| {
            let external = self.forwarded_external(&snap, &route, d.external, held)?;
            Ok((route, targets, external))
        });
        // the call counts against the user it now reaches, no more the one who forwarded
        let was = match &d.owner {
            ForwardOwner::User(u) => Some(format!("{}/{}", d.client, u)),
            ForwardOwner::Friend(_) => None,
        };
        let now_at = match &followed {
            Ok((Route::User { client, user }, _, _)) => Some(format!("{}/{}", client, user)),
            _ => None,
        };
        if followed.is_ok() {
            if let Some(h) = &mut cell.lock().lines {
                h.shift(was.as_deref(), now_at);
            }
        }
        if let Ok((Route::Voicemail { client, mailbox }, _, _)) = &followed {
            let label = super::divert::label_with(&label, &hops[first_hop..]);
            cell.lock().call.hops = hops.clone();
            return self.forward_to_voicemail(cell, (client, mailbox), label);
        }
        let (route, targets, (permit, billing)) = match followed {
            Ok(x) => x,
            Err(Admission::Refuse {
                code,
                reason,
                disposition,
                ..
            }) => return fail(code, reason, disposition),
            Err(_) => return fail(code, reason, disposition),
        };
        let forks: Vec<Fork> = targets
            .iter()
            .filter_map(|t| {
                let offer = match &b_offer {
                    None => None,
                    Some(body) => match codecs::filter(body, &t.allowed_codecs) {
                        Ok(Some(filtered)) => Some(filtered),
                        Ok(None) => Some(body.clone()),
                        Err(codecs::NoCommonCodec) => return None,
                    },
                };
                let mut t = t.clone();
                t.headers
                    .extend(super::session_timer::invite_headers(self.sessions()));
                Some(Fork::new(&t, &a_invite, offer, max_forwards))
            })
            .collect();
        // an external forward moves on through its carriers too; a carrier or friend by
        // name has its branch once resolved
        let timeout = Duration::from_secs(self.cfg.carrier_timeout.max(1));
        let failover = super::reroute::failover_for(&route, &targets, timeout);
        if forks.is_empty() && (failover.is_none() || !targets.is_empty()) {
            return fail(488, "Not Acceptable Here", Disposition::NoCommonCodec);
        }
        let ids: Vec<String> = forks.iter().map(|f| f.leg.call_id.clone()).collect();
        for id in &ids {
            self.calls.insert(id.clone(), cell.clone());
        }
        let divert = divert_for(&snap, &route, d.external);
        let label = super::divert::label_with(&label, &hops[first_hop..]);
        self.drive(cell, move |c, now, out| {
            c.hops = hops;
            if c.phase == super::call::Phase::Ringing && !c.notifying {
                c.take_failover(failover);
            }
            c.handle(
                now,
                Event::Forwarded {
                    forks,
                    divert,
                    label,
                    billing,
                },
                out,
            )
        });
        // a call that ended meanwhile did not take the branches; the places of a forward
        // out through a carrier go with the call that took it
        self.settle_branches(cell, &ids, permit);
    }
}

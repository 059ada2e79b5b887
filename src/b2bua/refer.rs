//! Call transfers, the driver's side (`transfer.rs` is the core's): a blind transfer's
//! target is routed as a new call of the transferor — its client, IP filter, routing and
//! ACL, presented number, the target's forwards, an external call's max calls, rating
//! and credit — exactly as its own INVITE would be (`admit`, `follow`); an attended one
//! takes the remaining party of the transferor's other call, which must be the
//! transferor's own (`Call::give_away`). Runs with no call locked.

use super::admit::{self, Admission};
use super::authn::Caller;
use super::call::{Direction, Event, Fork};
use super::driver::CallRef;
use super::record::route_label;
use super::reroute::failover_for;
use super::transfer::{Ask, Segment, Step};
use super::B2bua;
use crate::auth::nonce::now_secs;
use crate::routing::Route;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

impl B2bua {
    /// Carries out what a call's REFER asked for, and hands the call the result.
    pub(super) fn transfer(self: &Arc<Self>, cell: &CallRef, ask: Ask) {
        match ask {
            Ask::Blind { by, dialled, ip } => self.blind(cell, &by, &dialled, ip),
            Ask::Attended { by, call_id, tags } => self.attended(cell, &by, &call_id, &tags),
        }
    }

    fn transfer_step(self: &Arc<Self>, cell: &CallRef, step: Step) {
        self.drive(cell, move |c, now, out| {
            c.handle(now, Event::Transfer(Box::new(step)), out)
        });
    }

    fn transfer_fails(self: &Arc<Self>, cell: &CallRef, code: u16, reason: &str) {
        let reason = reason.to_string();
        self.transfer_step(cell, Step::Failed { code, reason });
    }

    /// Routes `dialled` as a call of `by`, from `ip`.
    fn blind(self: &Arc<Self>, cell: &CallRef, by: &Caller, dialled: &str, ip: IpAddr) {
        let snap = self.snapshot.load();
        let (client, name) = match by {
            Caller::User { client, name } | Caller::Friend { client, name } => (client, name),
            Caller::Trunk { .. } => return self.transfer_fails(cell, 403, "Forbidden"),
        };
        let country = snap
            .client(client)
            .and_then(|c| self.policy.country_for(c, ip));
        let source = admit::Source {
            ip,
            country: country.as_deref(),
            ledger: Some(&self.policy.ledger),
            choice: Default::default(),
        };
        // what it presents: a user its extension (as its INVITEs), a friend its name
        let from_user = snap
            .user(client, name)
            .and_then(|u| u.extension.clone())
            .unwrap_or_else(|| name.clone());
        let decision = self.with_choice(|choice| {
            let source = admit::Source { choice, ..source };
            admit::admit(by, dialled, &from_user, &snap, now_secs(), source)
        });
        let refused = |a: Admission| match a {
            Admission::Refuse { code, reason, .. } => (code, reason),
            // a locution, the echo test, a mailbox, a service code: not a transfer's
            _ => (501, "Not Implemented"),
        };
        let route = match decision.admission {
            Admission::Route(r) => r,
            other => {
                let (code, reason) = refused(other);
                tracing::info!(
                    "transfer by {} to {} refused: {} {}",
                    name,
                    dialled,
                    code,
                    reason
                );
                return self.transfer_fails(cell, code, reason);
            }
        };
        let mut hops = Vec::new();
        let followed = self.follow(&snap, route, &decision.presentation, false, &mut hops, &[]);
        let (route, targets) = match followed {
            Ok((Route::Voicemail { .. }, _)) => {
                return self.transfer_fails(cell, 501, "Not Implemented")
            }
            Ok(x) => x,
            Err(a) => {
                let (code, reason) = refused(a);
                return self.transfer_fails(cell, code, reason);
            }
        };
        // an external target is an external call of the transferor's client
        let held = cell.lock().permit.is_some();
        let (permit, billing) = match self.forwarded_external(&snap, &route, false, held) {
            Ok(x) => x,
            Err(a) => {
                let (code, reason) = refused(a);
                return self.transfer_fails(cell, code, reason);
            }
        };
        let a_invite = cell.lock().call.a_invite.clone();
        let forks: Vec<Fork> = targets
            .iter()
            .map(|t| Fork::new(t, &a_invite, None, 70))
            .collect();
        // an external target moves on through its carriers (its first one by host name:
        // no branch yet), as the transferor's own call would
        let timeout = Duration::from_secs(self.cfg.carrier_timeout.max(1));
        let failover = failover_for(&route, &targets, timeout).map(|mut f| {
            f.transfer = Some(decision.presentation.clone());
            f
        });
        if forks.is_empty() && failover.is_none() {
            return self.transfer_fails(cell, 480, "Temporarily Unavailable");
        }
        // the place it takes in the max calls is the call's from now on (given back by the
        // core, `Action::Uncount`, when the transfer fails or is not taken)
        let counted = permit.is_some_and(|p| {
            let mut slot = cell.lock();
            let free = slot.permit.is_none();
            if free {
                slot.permit = Some(p);
            }
            free
        });
        let external = matches!(route, Route::External { .. });
        let segment = Segment {
            client: decision.info.client.clone(),
            callee: dialled.to_string(),
            route: super::divert::label_with(&route_label(&route), &hops),
            direction: external.then_some(Direction::Outbound),
            billing,
            carriers: match &failover {
                Some(f) if external && !f.carrier.is_empty() => vec![f.carrier.clone()],
                _ => Vec::new(),
            },
            counted,
        };
        let ids: Vec<String> = forks.iter().map(|f| f.leg.call_id.clone()).collect();
        for id in &ids {
            self.calls.insert(id.clone(), cell.clone());
        }
        let step = Step::Calling {
            forks,
            segment,
            failover: failover.map(Box::new),
        };
        self.transfer_step(cell, step);
        // a call that ended (or a transfer given up) meanwhile did not take them
        self.settle_branches(cell, &ids, None);
    }

    /// Takes the remaining party of `by`'s other call (its leg `call_id`, `tags`).
    fn attended(
        self: &Arc<Self>,
        cell: &CallRef,
        by: &Caller,
        call_id: &str,
        tags: &(String, String),
    ) {
        let Some(other) = self.find(call_id) else {
            return self.transfer_fails(cell, 481, "Call/Transaction Does Not Exist");
        };
        if Arc::ptr_eq(&other, cell) {
            return self.transfer_fails(cell, 403, "Forbidden");
        }
        // The other call's places in the max calls are its external party's (the
        // transferor is a user or friend): they go with that party, if it comes.
        let permit = other.lock().permit.take();
        let mut given = None;
        self.drive(&other, |c, now, out| {
            given = Some(c.give_away(now, call_id, tags, by, out));
        });
        let mut moved = false;
        if !matches!(given, Some(Ok(_))) {
            other.lock().permit = permit;
        } else if let Some(p) = permit {
            let mut slot = cell.lock();
            if slot.permit.is_none() && !slot.call.is_ended() {
                slot.permit = Some(p);
                moved = true;
            }
        }
        match given {
            Some(Ok((fork, mut segment))) => {
                // (given back if the joined party never takes its place)
                segment.counted = moved;
                // its requests come to this call from now on
                self.calls.insert(fork.leg.call_id.clone(), cell.clone());
                self.transfer_step(cell, Step::Joined { fork, segment });
            }
            Some(Err((code, reason))) => {
                tracing::info!(
                    "attended transfer of {} refused: {} {}",
                    call_id,
                    code,
                    reason
                );
                self.transfer_fails(cell, code, reason)
            }
            None => self.transfer_fails(cell, 500, "Server Internal Error"),
        }
    }
}

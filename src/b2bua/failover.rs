//! Carrier failover in the call core: an external call's branch that a carrier fails in a
//! way that says "not here, try elsewhere" — `408`, a `5xx`, a `6xx` other than `603`, no
//! response at all within `[calls] carrier_timeout` (Timer B for carrier branches), its
//! connection lost — is followed, within the same call, by a new INVITE to the next
//! destination: the next carrier of the route (`routing::outgoing`), or the next address
//! of the same carrier. The caller hears nothing of it meanwhile (its `100`/`183` stand).
//! A `4xx` other than `408` (the called party's answer: busy, not found …) or a `603` is
//! final and ends the call as before.
//!
//! The next destination is asked of the driver (`Action::FailOver`), which resolves it
//! (the carrier's address, a DNS name) with no call locked and hands back its branches
//! (`Event::FailedOver`; none: it could not be reached, a `503` of its own).

use super::actions::{Action, Actions};
use super::call::{Call, Fork, Phase};
use super::timers::{Wait, GIVE_UP};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A place an external call (or a call to a direct friend reached by host name) may go
/// next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// The carrier (by name, of the billed client's brand), or the friend of the route.
    pub carrier: String,
    /// One address of it already resolved (the next SRV target) and its transport; None:
    /// the carrier as provisioned, resolved by the driver.
    pub to: Option<crate::dns::Found>,
}

impl Next {
    pub fn carrier(name: &str) -> Next {
        Next {
            carrier: name.to_string(),
            to: None,
        }
    }
}

/// What an external call keeps to move on to its next destination.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The destinations not tried yet, in order.
    pub next: VecDeque<Next>,
    /// The carrier of the branches in flight.
    pub carrier: String,
    /// A next destination was asked of the driver: its answer is awaited.
    pub asked: bool,
    /// How long a carrier branch waits for its first response (at most Timer B).
    pub timeout: Duration,
    /// The latest final failure of the branches in flight.
    pub last: Option<u16>,
    /// What the driver needs to build the next branches: the route (`External`) and, when
    /// the call was set up with a first branch, the INVITE's own header fields (a
    /// forward's `Diversion`), From and P-Asserted-Identity as that branch had them.
    pub route: crate::routing::Route,
    pub shape: Option<Shape>,
    /// Which failover of the call this is: 0 the one it was set up with, N the Nth put in
    /// place after it (a forward's, a transfer's): an answer of the driver to an earlier
    /// one's ask is not this one's.
    pub round: u32,
    /// A transfer target's failover (`transfer.rs`): its branches are sent without an
    /// offer, presenting the transferor as this.
    pub transfer: Option<super::target::Presentation>,
}

/// A branch's own header fields, From and P-Asserted-Identity.
#[derive(Debug, Clone)]
pub struct Shape {
    pub headers: Vec<(String, String)>,
    pub from_uri: String,
    pub pai: Option<String>,
}

/// Whether a carrier's final failure `code` lets the call go on to the next destination.
pub fn moves_on(code: u16) -> bool {
    matches!(code, 408 | 500..=599) || (600..=699).contains(&code) && code != 603
}

impl Failover {
    /// The failover of an external call whose first branch (`first`, to `carrier`) was
    /// built for `route`, with `rest` to try after it (no first branch: `carrier` empty,
    /// every destination in `rest`).
    pub fn new(
        route: crate::routing::Route,
        first: Option<&super::target::Target>,
        carrier: &str,
        rest: impl IntoIterator<Item = Next>,
        timeout: Duration,
    ) -> Failover {
        Failover {
            next: rest.into_iter().collect(),
            carrier: carrier.to_string(),
            asked: false,
            timeout,
            last: None,
            route,
            shape: first.map(|t| Shape {
                headers: t.headers.clone(),
                from_uri: t.from_uri.clone(),
                pai: t.pai.clone(),
            }),
            round: 0,
            transfer: None,
        }
    }
}

impl Call {
    /// Whether the next destination was asked of the driver and is awaited.
    pub(super) fn failover_awaited(&self) -> bool {
        self.failover.as_ref().is_some_and(|f| f.asked)
    }

    /// How long the INVITE of a branch (or anything else) waits before it is given up:
    /// a carrier's branch `[calls] carrier_timeout`, else 64·T1.
    pub(super) fn give_up(&self, wait: &Wait) -> Duration {
        match (wait, &self.failover) {
            (Wait::Fork { .. }, Some(f)) => f.timeout.min(GIVE_UP),
            _ => GIVE_UP,
        }
    }

    /// A branch failed with `code` (RFC 3261 §16.7 aggregation aside).
    pub(super) fn note_carrier_failure(&mut self, code: u16) {
        if let Some(f) = &mut self.failover {
            // a final answer among the branches in flight stays final
            if f.last.is_none_or(moves_on) {
                f.last = Some(code);
            }
        }
    }

    /// The failover of the call's new branches (a forward's), replacing any earlier one.
    pub(super) fn take_failover(&mut self, failover: Option<Failover>) {
        if let Some(f) = &failover {
            if matches!(f.route, crate::routing::Route::External { .. }) && !f.carrier.is_empty() {
                self.info.carriers.push(f.carrier.clone());
            }
        }
        self.install_failover(failover);
    }

    /// Puts `failover` in place of any earlier one, as the next round.
    pub(super) fn install_failover(&mut self, failover: Option<Failover>) {
        self.failover = failover.map(|f| {
            self.failover_rounds += 1;
            Failover {
                round: self.failover_rounds,
                ..f
            }
        });
    }

    /// Whether the branches in flight may fail over: the call's own while it rings, or a
    /// transfer target's.
    fn failover_live(&self) -> bool {
        self.phase == Phase::Ringing && !self.notifying || self.transfer_calling()
    }

    /// A call (a forward, a transfer's target) set up with no branch yet from index
    /// `first` on (its carrier is a host name being resolved): its first destination is
    /// asked of the driver. (The branches before `first` may still wind down.)
    pub(super) fn first_destination(&mut self, first: usize, out: &mut Actions) {
        let mine = self.forks.get(first..).unwrap_or_default();
        if mine.iter().any(|f| f.state.waiting()) || !self.failover_live() {
            return;
        }
        let Some(f) = self.failover.as_mut().filter(|f| !f.asked) else {
            return;
        };
        if let Some(next) = f.next.pop_front() {
            f.asked = true;
            let round = f.round;
            out.push(Action::FailOver { next, round });
        }
    }

    /// Every branch failed: when the last failure lets it, the next destination is asked
    /// of the driver (true), else the call fails as it would have (false).
    pub(super) fn fail_over(&mut self, out: &mut Actions) -> bool {
        let Some(f) = self.failover.as_mut() else {
            return false;
        };
        if f.asked || !f.last.is_some_and(moves_on) {
            return false;
        }
        let Some(next) = f.next.pop_front() else {
            return false;
        };
        tracing::info!(
            "call {}: carrier {} failed ({}); next: {}",
            self.id,
            f.carrier,
            f.last.unwrap_or(0),
            next.carrier
        );
        f.asked = true;
        let round = f.round;
        out.push(Action::FailOver { next, round });
        true
    }

    /// The next destination's branches (not sent yet; none: it could not be reached) for
    /// `carrier`, asked by the failover of `round`, and the further addresses of that
    /// carrier to try (`more`, before the rest).
    pub(super) fn failed_over(
        &mut self,
        now: Instant,
        forks: Vec<Fork>,
        (carrier, round): (String, u32),
        more: Vec<Next>,
        out: &mut Actions,
    ) {
        if !self.failover_live() || !self.failover_awaited() {
            return;
        }
        let Some(f) = self.failover.as_mut().filter(|f| f.round == round) else {
            return;
        };
        f.asked = false;
        f.last = None;
        for n in more.into_iter().rev() {
            f.next.push_front(n);
        }
        let old = std::mem::replace(&mut f.carrier, carrier.clone());
        let external = matches!(f.route, crate::routing::Route::External { .. });
        // the record (the call's, or the transfer target's) names the carrier that
        // carries the call, and the ones tried
        let calling = self.transfer_calling();
        let (route, carriers) = match self.transfer.on.as_mut().and_then(|t| t.segment.as_mut()) {
            Some(s) if calling => (&mut s.route, &mut s.carriers),
            _ => (&mut self.info.route, &mut self.info.carriers),
        };
        if old != carrier {
            let old = format!("carrier:{}:", old);
            if let Some(at) = route.rfind(&old) {
                route.replace_range(at..at + old.len(), &format!("carrier:{}:", carrier));
            }
        }
        if external && carriers.last() != Some(&carrier) {
            carriers.push(carrier);
        }
        if forks.is_empty() && calling {
            // unreachable: a failure of its own (`transfer_after` moves on)
            self.note_failure(503, "Service Unavailable");
            return;
        }
        if forks.is_empty() {
            // unreachable: a failure of its own, and on to the next one
            self.branch_failed(
                now,
                503,
                "Service Unavailable",
                super::record::Disposition::Unreachable,
                out,
            );
            return;
        }
        let first = self.forks.len();
        self.forks.extend(forks);
        for i in first..self.forks.len() {
            let f = &self.forks[i];
            let (dest, bytes, branch) = (f.leg.dest.clone(), f.invite.clone(), f.branch.clone());
            out.send(&dest, bytes.clone());
            self.retransmit(now, bytes, dest, Wait::Fork { index: i, branch });
        }
    }
}

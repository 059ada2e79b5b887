//! Call forwarding in the call core: the forwards of the called user or friend that can
//! only happen once the call rings — busy (every branch answered `486`, `600` or `603`)
//! and no answer (its own timer) — are asked of the driver (`Action::Forward`), which
//! routes the forward and hands back its branches (`Event::Forwarded`) or its failure
//! (`Event::ForwardFailed`). Meanwhile the caller keeps ringing: the failures of the
//! branches being left are not its final answer. Unconditional and not-registered
//! forwards are decided before the call is made (`forward.rs`).

use super::actions::{Action, Actions};
use super::call::{Call, Fork, Phase};
use super::record::Disposition;
use super::timers::Wait;
use crate::model::{ForwardOwner, ForwardType};
use std::time::{Duration, Instant};

/// The called party whose forwards apply to the call, and which of them can still happen.
#[derive(Debug, Clone, PartialEq)]
pub struct Divert {
    pub client: String,
    pub owner: ForwardOwner,
    /// The call came from a carrier or DDI provider (external forwards apply).
    pub external: bool,
    /// A busy forward applies.
    pub busy: bool,
    /// A no-answer forward applies after ringing this long.
    pub no_answer: Option<Duration>,
    /// A forward was asked of the driver: the call waits for its answer.
    pub asked: bool,
}

/// One forward a call took.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// The forwarding party, `client/name`.
    pub party: String,
    /// The `Diversion` header value it added.
    pub diversion: String,
    /// Why (`busy`, `unconditional`, …) and where to (the route's label), for the record.
    pub why: &'static str,
    pub to: String,
}

/// The record's route label of a call that took `hops` from `label`:
/// `user:bob >busy> user:carol >unconditional> carrier:upstream:+34…`.
pub fn label_with(label: &str, hops: &[Hop]) -> String {
    hops.iter().fold(label.to_string(), |l, h| {
        format!("{} >{}> {}", l, h.why, h.to)
    })
}

impl Call {
    /// How long the call may ring before its caller gets `480`: the `[calls]` limit, but
    /// never before a no-answer forward is due, and a forward being routed gets a last
    /// `NOTICE_MAX` of its own (a driver that never answers cannot hold the caller).
    pub(super) fn ring_limit(&self) -> Instant {
        let mut limit = self.ring_from + self.limits.no_answer;
        if let Some(d) = &self.divert {
            if let Some(t) = d.no_answer {
                limit = limit.max(self.ring_from + t + super::timers::T1);
            }
            if d.asked {
                limit += super::timers::NOTICE_MAX;
            }
        }
        limit
    }

    /// When the no-answer forward is due (none asked yet, the call still ringing).
    pub(super) fn no_answer_due(&self) -> Option<Instant> {
        if self.phase != Phase::Ringing || self.notifying {
            return None;
        }
        let d = self.divert.as_ref().filter(|d| !d.asked)?;
        Some(self.ring_from + d.no_answer?)
    }

    /// Every branch failed with `code`: a busy forward is asked when one applies.
    pub(super) fn divert_busy(&mut self, code: u16, out: &mut Actions) -> bool {
        if !matches!(code, 486 | 600 | 603) {
            return false;
        }
        let Some(d) = self.divert.as_mut().filter(|d| d.busy && !d.asked) else {
            return false;
        };
        d.asked = true;
        // (the call's carriers are done with: the forward brings its own)
        self.failover = None;
        out.push(Action::Forward {
            ty: ForwardType::Busy,
        });
        true
    }

    /// The no-answer forward is due: the ringing branches are cancelled and it is asked.
    pub(super) fn divert_no_answer(&mut self, now: Instant, out: &mut Actions) {
        self.cancel_forks(now, None, out);
        if let Some(d) = self.divert.as_mut() {
            d.asked = true;
        }
        // (a late answer for the carriers of the branches cancelled is not the forward's)
        self.failover = None;
        out.push(Action::Forward {
            ty: ForwardType::NoAnswer,
        });
    }

    /// Whether a forward asked of the driver is still awaited.
    pub(super) fn forward_awaited(&self) -> bool {
        self.divert.as_ref().is_some_and(|d| d.asked)
    }

    /// The forward leads to vozbox's own application (voicemail): what still rings is
    /// cancelled, the caller answered with `answer`, and the application started.
    pub(super) fn forwarded_here(
        &mut self,
        now: Instant,
        answer: Vec<u8>,
        label: String,
        out: &mut Actions,
    ) {
        if self.phase != Phase::Ringing || self.notifying || !self.forward_awaited() {
            return;
        }
        self.cancel_forks(now, None, out);
        self.info.route = label;
        self.best = None;
        self.answer_with(now, answer, None, out);
        out.push(Action::App);
    }

    /// The forward's branches (their INVITEs sent now), the forwards of the party they
    /// reach, and the route label of the record.
    pub(super) fn forwarded(
        &mut self,
        now: Instant,
        forks: Vec<Fork>,
        divert: Option<Divert>,
        label: String,
        billing: Option<std::sync::Arc<super::call::Billing>>,
        out: &mut Actions,
    ) {
        // The caller gave up meanwhile (or a branch left behind answered): the branches
        // are never sent.
        if self.phase != Phase::Ringing || self.notifying || !self.forward_awaited() {
            return;
        }
        let first = self.forks.len();
        self.forks.extend(forks);
        self.divert = divert;
        self.ring_from = now;
        self.info.route = label;
        // the failures of the branches left behind are not the forward's
        self.best = None;
        if billing.is_some() {
            self.info.billing = billing;
        }
        for i in first..self.forks.len() {
            let f = &self.forks[i];
            let (dest, bytes, branch) = (f.leg.dest.clone(), f.invite.clone(), f.branch.clone());
            out.send(&dest, bytes.clone());
            self.retransmit(now, bytes, dest, Wait::Fork { index: i, branch });
        }
        // (a carrier or friend by name: its branch is asked for now)
        self.first_destination(first, out);
    }

    /// The forward leads nowhere (refused, unreachable, a loop): the caller gets `code`.
    pub(super) fn forward_failed(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        disposition: Disposition,
        out: &mut Actions,
    ) {
        self.divert = None;
        self.cancel_forks(now, None, out);
        self.fail(now, code, reason, disposition, out);
    }
}

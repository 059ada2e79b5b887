//! Call transfers in the call core: a party of an answered call sends `REFER` (RFC 3515)
//! and vozbox carries it out for the party that stays (the transferee): `202 Accepted`,
//! the target reached, the remaining party re-INVITEd with it, the transferor told how it
//! went with `NOTIFY` (`message/sipfrag`, unless `Refer-Sub: false`, RFC 4488) and hung up.
//!
//! Blind: the driver routes `Refer-To` as a new call of the transferor (its ACL, rating,
//! limits, presentation: `refer.rs`) and hands back its branches, sent without an offer.
//! Attended: `Refer-To` carries `Replaces` (RFC 3891) naming the transferor's leg of
//! another call of its own; that call gives its remaining party away (`give_away`) and
//! ends. Either way the new party's offer (its 200 to our INVITE, or to a re-INVITE
//! without SDP) goes to the remaining party in a re-INVITE, and its answer comes back in
//! our ACK (RFC 3725's third party call control): the relay stays, the new party takes
//! the transferor's side of it. A failed target leaves the call as it was.
//!
//! The original call's record ends there (`transferred`, who transferred); what follows
//! is a record of its own, written when the call ends (`transferred_by`).

use super::actions::{Action, Actions};
use super::authn::Caller;
use super::call::{Billing, Call, Direction, Fork, Method, Phase, Side};
use super::fork::{contact_uri, status};
use super::record::Disposition;
use super::refer_to::{refer_to, ReferTo};
use super::timers::Wait;
use super::Incoming;
use crate::media::sdp::Advertised;
use crate::media::Facing;
use crate::sip::message::{HeaderField, Message};
use crate::sip::reply::response;
use crate::sip::respond::prepare;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// What a call knows for transfers: who its caller is, the transfer in progress, and the
/// ACK of a new party kept for its retransmitted 200.
#[derive(Default)]
pub struct Transfers {
    /// The user or friend that placed the call (None: a carrier, or not known).
    pub caller: Option<Caller>,
    pub on: Option<Transfer>,
    /// The call-ID and CSeq of the last new party's 200 and our ACK of it.
    pub(super) ack: Option<(String, u32, Arc<Vec<u8>>)>,
    /// The new party's session timer, until it takes its place (`session_peer.rs`).
    pub(super) timer: Option<super::session_timer::LegTimer>,
    /// Transfers tried so far (`transfer_ends::MAX_TRANSFERS`).
    pub(super) tried: u32,
}

/// A transfer in progress.
pub struct Transfer {
    /// The transferor's side, and who it is.
    pub by: Side,
    pub party: Caller,
    /// NOTIFYs are owed (the REFER did not say `Refer-Sub: false`).
    pub(super) notify: bool,
    /// The target rang: told to the transferor, or owed (`transfer_notify.rs`).
    pub(super) rang: bool,
    /// The ringing's status line, owed until the NOTIFY before it is answered.
    pub(super) ringing_owed: Option<String>,
    /// The transferor hung up meanwhile (RFC 5589 lets it after the 202).
    pub(super) gone: bool,
    pub(super) stage: Stage,
    /// The target rings until then.
    deadline: Option<Instant>,
    /// What the record of the call after the transfer will say.
    pub(super) segment: Option<Segment>,
}

#[derive(Debug, Clone)]
pub(super) enum Stage {
    /// The driver routes the target, or fetches the other call's party.
    Routing,
    /// The target's branches, from index `first`, ring.
    Calling { first: usize },
    /// The joined party (fork `n`) is asked for an offer (re-INVITE without SDP).
    Offering { n: usize, branch: String },
    /// Fork `n` offered (its INVITE or re-INVITE has CSeq `cseq`, ACKed later); the
    /// remaining party got the offer in our re-INVITE `branch`.
    Joining {
        n: usize,
        branch: String,
        cseq: u32,
        adv: Option<Advertised>,
    },
}

/// What the driver is asked for.
#[derive(Debug, Clone)]
pub enum Ask {
    /// Route `dialled` as a call of `by` (whose REFER came from `ip`).
    Blind {
        by: Caller,
        dialled: String,
        ip: IpAddr,
    },
    /// The remaining party of `by`'s other call, whose leg of `by` is `call_id` with
    /// these two tags.
    Attended {
        by: Caller,
        call_id: String,
        tags: (String, String),
    },
}

/// What the call after the transfer is, for its record.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    pub client: String,
    pub callee: String,
    pub route: String,
    pub direction: Option<Direction>,
    pub billing: Option<Arc<Billing>>,
    /// The carriers tried, the last one carrying the call (an external target).
    pub carriers: Vec<String>,
    /// The transfer took a place in the client's max calls (an external target of a call
    /// that held none): given back when it fails.
    pub counted: bool,
}

impl Segment {
    /// A transfer that took a place in the max calls and did not happen gives it back.
    pub(super) fn give_back(&self, out: &mut Actions) {
        if self.counted {
            out.push(Action::Uncount);
        }
    }
}

/// The driver's answer to an `Ask`.
pub enum Step {
    /// The target's branches (not sent yet; none: its first carrier is a host name),
    /// and where it goes when they fail (an external target's next carriers).
    Calling {
        forks: Vec<Fork>,
        segment: Segment,
        failover: Option<Box<super::failover::Failover>>,
    },
    /// The other call's remaining party, its dialog now this call's.
    Joined { fork: Box<Fork>, segment: Segment },
    /// The transfer cannot be made: the transferor is told this status.
    Failed { code: u16, reason: String },
}

/// How a record names a party: `user:alice`, `friend:pbx`.
pub fn label(c: &Caller) -> String {
    match c {
        Caller::User { name, .. } => format!("user:{}", name),
        Caller::Friend { name, .. } => format!("friend:{}", name),
        Caller::Trunk { name, .. } => format!("carrier:{}", name),
    }
}

fn reply(inc: &Incoming, code: u16, reason: &str, out: &mut Actions) {
    let r = response(&inc.msg, code, reason, "");
    out.push(Action::Reply {
        sent: prepare(&inc.checked.via, &inc.flow, r),
        key: inc.key,
    });
}

pub(super) fn to_tag(m: &Message) -> Option<String> {
    m.name_addr("To").and_then(|n| n.tag().map(str::to_string))
}

pub(super) fn facing(side: Side) -> Facing {
    match side {
        Side::A => Facing::A,
        Side::B(_) => Facing::B,
    }
}

impl Call {
    /// The user or friend a side of the call is (None: a carrier).
    pub fn party_of(&self, side: Side) -> Option<Caller> {
        match side {
            Side::A => self.transfer.caller.clone(),
            Side::B(i) => self.forks.get(i).and_then(|f| f.party.clone()),
        }
    }

    /// How the record names a side's party: the caller's, or the callee's.
    pub(super) fn name_of(&self, side: Side) -> String {
        match side {
            Side::A => self.info.caller.clone(),
            Side::B(_) => self.info.callee.clone(),
        }
    }

    /// A REFER, or the transferor's BYE while its transfer goes on; false: not ours.
    pub(super) fn transfer_request(
        &mut self,
        now: Instant,
        side: Side,
        method: &Method,
        inc: &Incoming,
        out: &mut Actions,
    ) -> bool {
        match method {
            Method::Bye => self.transfer_bye(now, side, inc, out),
            Method::Other(m) if m == "REFER" => {
                self.on_refer(now, side, inc, out);
                true
            }
            _ => false,
        }
    }

    fn on_refer(&mut self, now: Instant, side: Side, inc: &Incoming, out: &mut Actions) {
        let winner = match self.phase {
            Phase::Answered {
                winner: Some(w), ..
            } => w,
            // nothing to transfer yet (or a call vozbox answered itself)
            _ => return reply(inc, 603, "Decline", out),
        };
        if side != Side::A && side != Side::B(winner) {
            return reply(inc, 481, "Call/Transaction Does Not Exist", out);
        }
        if self.transfer.on.is_some() {
            return reply(inc, 491, "Request Pending", out);
        }
        let Some(to) = refer_to(&inc.msg) else {
            return reply(inc, 400, "Bad Request (Refer-To)", out);
        };
        // A carrier's party cannot spend the platform's calls.
        let Some(party) = self.party_of(side) else {
            return reply(inc, 403, "Forbidden", out);
        };
        if !self.transfer_allowed(inc, out) {
            return;
        }
        let notify = !inc
            .msg
            .get("Refer-Sub")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let mut r = response(&inc.msg, 202, "Accepted", "");
        if !notify {
            r.push_header("Refer-Sub", "false");
        }
        out.push(Action::Reply {
            sent: prepare(&inc.checked.via, &inc.flow, r),
            key: inc.key,
        });
        tracing::info!("call {}: {} transfers to {:?}", self.id, label(&party), to);
        self.transfer.on = Some(Transfer {
            by: side,
            party: party.clone(),
            notify,
            rang: false,
            ringing_owed: None,
            gone: false,
            stage: Stage::Routing,
            deadline: None,
            segment: None,
        });
        self.notify_transferor(now, "SIP/2.0 100 Trying", false, out);
        let ask = match to {
            ReferTo::Blind(dialled) => Ask::Blind {
                by: party,
                dialled,
                ip: inc.flow.remote.ip(),
            },
            ReferTo::Replaces(call_id, tags) => Ask::Attended {
                by: party,
                call_id,
                tags,
            },
        };
        out.push(Action::Transfer(Box::new(ask)));
    }

    /// The transfer ends, made or not: it is taken off the call, and so is the failover
    /// its target's carriers put in place.
    pub(super) fn end_transfer(&mut self) -> Option<Transfer> {
        self.failover = None;
        self.transfer.on.take()
    }

    /// The transfer failed: the transferor hears why, the call stays as it was (a
    /// transferor that hung up meanwhile leaves the remaining party alone: it is hung up).
    pub(super) fn transfer_failed(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        out: &mut Actions,
    ) {
        let line = super::transfer_notify::status_line(code, reason);
        self.notify_transferor(now, &line, true, out);
        let Some(t) = self.end_transfer() else {
            return;
        };
        if let Some(s) = &t.segment {
            s.give_back(out);
        }
        tracing::info!("call {}: transfer failed: {} {}", self.id, code, reason);
        if t.gone && !self.is_ended() {
            if let Some(r) = self.peer(t.by) {
                self.hang_up(now, r, out);
            }
            self.end(now, Disposition::Answered, 200, None, out);
        }
    }

    /// The driver's answer.
    pub(super) fn transfer_step(&mut self, now: Instant, step: Step, out: &mut Actions) {
        let routing = !self.is_ended()
            && self
                .transfer
                .on
                .as_ref()
                .is_some_and(|t| matches!(t.stage, Stage::Routing));
        match step {
            Step::Failed { code, reason } if routing => {
                self.transfer_failed(now, code, &reason, out)
            }
            Step::Failed { .. } => {}
            Step::Calling {
                forks,
                segment,
                failover,
            } => {
                if !routing {
                    segment.give_back(out);
                    return; // never sent: the driver forgets their Call-IDs
                }
                let first = self.forks.len();
                self.forks.extend(forks);
                self.best = None;
                // (the call's own failover ended with its answer)
                self.install_failover(failover.map(|f| *f));
                if let Some(t) = self.transfer.on.as_mut() {
                    t.stage = Stage::Calling { first };
                    t.deadline = Some(now + self.limits.no_answer);
                    t.segment = Some(segment);
                }
                for i in first..self.forks.len() {
                    let f = &self.forks[i];
                    let (dest, bytes, branch) =
                        (f.leg.dest.clone(), f.invite.clone(), f.branch.clone());
                    out.send(&dest, bytes.clone());
                    self.retransmit(now, bytes, dest, Wait::Fork { index: i, branch });
                }
                self.first_destination(first, out);
            }
            Step::Joined { fork, segment } => {
                let n = self.forks.len();
                self.forks.push(*fork);
                if !routing {
                    segment.give_back(out);
                    // its dialog is ours now: nobody else will end it
                    return self.hang_up(now, Side::B(n), out);
                }
                let mut extra = vec![HeaderField::new("Allow", crate::sip::reply::ALLOW)];
                extra.extend(super::session_peer::asked(self.sessions.settings));
                let sent = self.send_own(now, Side::B(n), Method::Invite, None, extra, out);
                if let (Some(branch), Some(t)) = (sent, self.transfer.on.as_mut()) {
                    t.stage = Stage::Offering { n, branch };
                    t.segment = Some(segment);
                }
            }
        }
    }

    /// Sees an event before the call does: what belongs to the transfer is taken (None).
    pub(super) fn transfer_first(
        &mut self,
        now: Instant,
        event: super::call::Event,
        out: &mut Actions,
    ) -> Option<super::call::Event> {
        use super::call::Event;
        // our ACK again for a retransmitted 200 of a new party
        if let Event::Response { msg, .. } | Event::ForkResponse { msg, .. } = &event {
            if let (Some((id, cseq, ack)), Some((c, m))) = (self.transfer.ack.clone(), msg.cseq()) {
                if msg.call_id() == Some(id.as_str())
                    && c == cseq
                    && m == "INVITE"
                    && (200..300).contains(&status(msg).0)
                {
                    let side = self.side_of(&id);
                    if let Some(d) = side.and_then(|s| self.leg_mut(s).map(|l| l.dest.clone())) {
                        out.send(&d, ack);
                    }
                    return None;
                }
            }
        }
        let Some(stage) = self.transfer.on.as_ref().map(|t| t.stage.clone()) else {
            return Some(event);
        };
        match (&event, stage) {
            (Event::ForkResponse { index, msg }, Stage::Calling { first }) if *index >= first => {
                let (i, code) = (*index, status(msg).0);
                if (200..300).contains(&code) {
                    self.target_answered(now, i, msg, out);
                } else {
                    self.notify_ringing(now, i, msg, out);
                    // provisional and failures as for any branch (never to the caller)
                    self.fork_response(now, i, msg, out);
                }
                None
            }
            (Event::BranchesLost(lost), Stage::Calling { first }) => {
                if lost.iter().any(|i| *i >= first) && self.best.is_none() {
                    self.best = Some((503, "Service Unavailable".into()));
                }
                Some(event)
            }
            (Event::Response { side, branch, msg }, Stage::Offering { n, branch: b })
                if *side == Side::B(n) && *branch == b =>
            {
                let code = status(msg).0;
                if code < 200 {
                    return Some(event);
                }
                if (200..300).contains(&code) {
                    let cseq = match self.pending.iter_mut().find(|p| p.branch == b) {
                        Some(p) if !p.done => {
                            p.done = true;
                            p.cseq
                        }
                        // a retransmission while the remaining party is asked
                        _ => return None,
                    };
                    if let Some(c) = contact_uri(msg) {
                        self.forks[n].leg.remote_target = c;
                    }
                    let msg = msg.clone();
                    self.offered(now, n, cseq, &msg, out);
                    return None;
                }
                // the joined party refused: it is let go, the call stays as it was
                let reason = status(msg).1.to_string();
                self.pending_response(now, *side, branch, msg, out);
                self.hang_up(now, Side::B(n), out);
                self.transfer_failed(now, code, &reason, out);
                None
            }
            (
                Event::Response { side, branch, msg },
                Stage::Joining {
                    n,
                    branch: b,
                    cseq,
                    adv,
                },
            ) if *branch == b && status(msg).0 >= 200 => {
                let (code, reason) = status(msg);
                let (side, msg) = (*side, msg.clone());
                let reason = reason.to_string();
                // (our ACK of the remaining party's answer, as for any re-INVITE)
                self.pending_response(now, side, &b, &msg, out);
                if (200..300).contains(&code) {
                    self.joined(now, side, n, cseq, adv, &msg, out);
                } else {
                    self.release(now, n, cseq, out);
                    self.transfer_failed(now, code, &reason, out);
                }
                None
            }
            _ => Some(event),
        }
    }

    /// After every event: a target that failed, rang too long, or a call that ended.
    pub(super) fn transfer_after(&mut self, now: Instant, out: &mut Actions) {
        let Some(t) = &self.transfer.on else { return };
        let stage = t.stage.clone();
        let late = t.deadline.is_some_and(|d| now >= d);
        if self.is_ended() {
            // the call is gone: so is the transfer's new party
            self.cancel_forks(now, None, out);
            match stage {
                Stage::Joining { n, cseq, .. } => self.release(now, n, cseq, out),
                Stage::Offering { n, .. } => self.hang_up(now, Side::B(n), out),
                _ => {}
            }
            self.end_transfer();
            return;
        }
        if let Stage::Calling { first } = stage {
            if late {
                self.cancel_forks(now, None, out);
                return self.transfer_failed(now, 480, "Temporarily Unavailable", out);
            }
            let waiting = self.forks[first..].iter().any(|f| f.state.waiting());
            // a failed carrier: the next one (`failover.rs`)
            if !waiting && !self.failover_awaited() && !self.fail_over(out) {
                let (code, reason) = self.best.take().unwrap_or((408, "Request Timeout".into()));
                self.transfer_failed(now, code, &reason, out);
            }
        }
    }

    /// Whether branch `i` is a transfer's target still being called (a carrier's
    /// challenge to it is answered as a ringing call's).
    pub(super) fn transfer_rings(&self, i: usize) -> bool {
        self.transfer_first_branch().is_some_and(|first| i >= first)
    }

    /// Whether a transfer's target is being called.
    pub(super) fn transfer_calling(&self) -> bool {
        self.transfer_first_branch().is_some()
    }

    /// The first branch of a transfer's target being called.
    pub(super) fn transfer_first_branch(&self) -> Option<usize> {
        match self.transfer.on.as_ref().map(|t| &t.stage) {
            Some(Stage::Calling { first }) => Some(*first),
            _ => None,
        }
    }

    /// When the target stops ringing.
    pub fn transfer_deadline(&self) -> Option<Instant> {
        let t = self.transfer.on.as_ref()?;
        matches!(t.stage, Stage::Calling { .. })
            .then_some(t.deadline)
            .flatten()
    }
}

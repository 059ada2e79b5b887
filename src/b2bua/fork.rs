//! The branches of the outbound leg (call core): their INVITEs' responses — provisionals
//! relayed to the caller, the first 2xx wins and the others are cancelled, a carrier's
//! challenge answered once, failures aggregated (RFC 3261 §16.7) — and the caller's final
//! failure, told first by a voice notification when its client wants one.

use super::actions::{Action, Actions};
use super::call::{Call, ForkState, Phase, Side};
use super::leg::{self, build_invite, Leg};
use super::media::add_body;
use super::record::Disposition;
use super::timers::Wait;
use crate::media::{sdp, Facing};
use crate::sip::headers::Challenge;
use crate::sip::message::{Message, StartLine};
use crate::sip::reply::{self, response};
use std::sync::Arc;
use std::time::Instant;

/// The URI inside a Contact value.
pub fn contact_uri(m: &Message) -> Option<String> {
    m.name_addr("Contact").map(|n| n.uri_text.into())
}

/// The To tag of a response.
fn to_tag(m: &Message) -> Option<String> {
    m.name_addr("To").and_then(|n| n.tag().map(str::to_string))
}

/// A status line's code and reason.
pub fn status(m: &Message) -> (u16, &str) {
    match &m.start {
        StartLine::Response { code, reason, .. } => (*code, reason.as_str()),
        _ => (0, ""),
    }
}

/// The cause a final failure code tells the caller, if any (a CANCEL's 487 tells nothing).
pub fn cause_of_code(code: u16) -> Option<crate::media::prompts::Cause> {
    use crate::media::prompts::Cause;
    match code {
        487 => None,
        486 | 600 => Some(Cause::Busy),
        404 | 484 | 604 => Some(Cause::NotInService),
        408 | 480 => Some(Cause::NotAvailable),
        400..=699 => Some(Cause::Failed),
        _ => None,
    }
}

impl super::call::Fork {
    /// The branch to target `t`, with its INVITE carrying the caller's `offer` (as
    /// filtered for it), not sent yet.
    pub fn new(
        t: &super::target::Target,
        a_invite: &Message,
        offer: Option<Vec<u8>>,
        max_forwards: u32,
    ) -> Self {
        let leg = Leg::branch_to(t);
        let branch = leg::branch();
        let invite = build_invite(
            &leg,
            &t.ruri,
            t.pai.as_deref(),
            &branch,
            a_invite,
            offer.as_deref(),
            max_forwards,
            None,
            &t.headers,
        );
        Self {
            leg,
            ruri: t.ruri.clone(),
            branch,
            cseq: 1,
            invite: Arc::new(invite.to_bytes()),
            state: ForkState::Calling { cancel_owed: false },
            credentials: t.credentials.clone(),
            auth_tried: false,
            pai: t.pai.clone(),
            max_forwards,
            offer,
            headers: t.headers.clone(),
            party: t.party.clone(),
        }
    }
}

impl Call {
    /// Whether no branch can answer any more (failed, or a late 2xx hung up).
    pub fn all_failed(&self) -> bool {
        self.forks.iter().all(|f| !f.state.waiting())
    }

    /// Sends every branch's INVITE (the call was just made).
    pub fn start(&mut self, now: Instant, out: &mut Actions) {
        let trying = response(&self.a_invite, 100, "Trying", "");
        self.reply_a(trying, None, out);
        for i in 0..self.forks.len() {
            let f = &self.forks[i];
            let (dest, bytes, branch) = (f.leg.dest.clone(), f.invite.clone(), f.branch.clone());
            out.send(&dest, bytes.clone());
            self.retransmit(now, bytes, dest, Wait::Fork { index: i, branch });
        }
        self.first_destination(0, out);
    }

    /// A response to branch `i`'s INVITE.
    pub(super) fn fork_response(
        &mut self,
        now: Instant,
        i: usize,
        msg: &Message,
        out: &mut Actions,
    ) {
        if i >= self.forks.len() {
            return;
        }
        let (code, reason) = status(msg);
        if code < 200 {
            return self.provisional(now, i, msg, out);
        }
        if (200..300).contains(&code) {
            return self.answered(now, i, msg, out);
        }
        // A final failure of this branch: ACK it (hop by hop), then maybe answer the caller.
        let f = &mut self.forks[i];
        let to = msg.get("To").unwrap_or("").to_string();
        let ack = f.leg.ack_non_2xx(&f.ruri, &f.branch, f.cseq, &to);
        out.send(&f.leg.dest, Arc::new(ack.to_bytes()));
        if !f.state.waiting() {
            // a retransmission of a final response already taken
            return;
        }
        if (code == 401 || code == 407) && self.answer_challenge(now, i, code, msg, out) {
            return;
        }
        if code == 422 && self.retry_422(now, i, msg, out) {
            return;
        }
        self.forks[i].state = ForkState::Failed;
        let (code, reason) = if code == 401 || code == 407 {
            // Friends and phones must not challenge vozbox: the call fails here.
            tracing::info!("call {}: branch {} challenged vozbox", self.id, i);
            (502, "Bad Gateway")
        } else {
            (code, reason)
        };
        self.note_failure(code, reason);
        if code >= 600 && self.phase == Phase::Ringing {
            // A global failure ends every branch (RFC 3261 §16.7).
            self.cancel_forks(now, None, out);
        }
        self.fail_if_all_failed(now, 500, "Server Internal Error", None, out);
    }

    fn provisional(&mut self, now: Instant, i: usize, msg: &Message, out: &mut Actions) {
        if self.prack_branch(now, i, msg, out) {
            return;
        }
        let (code, reason) = status(msg);
        let ringing = self.phase == Phase::Ringing;
        let f = &mut self.forks[i];
        match f.state {
            ForkState::Calling { cancel_owed: true } => {
                f.state = ForkState::Proceeding;
                return self.send_cancel(now, i, out);
            }
            ForkState::Calling { .. } => f.state = ForkState::Proceeding,
            _ => {}
        }
        // (a late one from a branch that failed, answered or is being cancelled: nothing)
        if code == 100 || !ringing || f.state != ForkState::Proceeding {
            return;
        }
        if let Some(tag) = to_tag(msg) {
            f.leg.remote_tag = Some(tag);
            if let Some(c) = contact_uri(msg) {
                f.leg.remote_target = c;
            }
        }
        let Ok(body) = self.carry(Side::B(i), msg, out) else {
            // Early media the relay cannot carry: this branch is given up, as if it had
            // refused the offer (its 487 does not outrank the 488).
            self.note_failure(488, "Not Acceptable Here");
            return self.send_cancel(now, i, out);
        };
        let mut r = response(&self.a_invite, code, reason, &self.a.local_tag);
        r.push_header("Contact", self.a.contact.clone());
        add_body(&mut r, body);
        self.provisional_to_a(now, r, out);
    }

    fn answered(&mut self, now: Instant, i: usize, msg: &Message, out: &mut Actions) {
        let (code, reason) = status(msg);
        let cancelled;
        {
            let f = &mut self.forks[i];
            cancelled = matches!(
                f.state,
                ForkState::Cancelling { .. } | ForkState::Calling { cancel_owed: true }
            );
            match &f.state {
                // A retransmitted 2xx: our ACK got lost.
                ForkState::Answered { ack: Some(ack) } => {
                    return out.send(&f.leg.dest, ack.clone())
                }
                // Retransmitted while the caller's ACK (with the late answer) is awaited.
                ForkState::Answered { ack: None } => return,
                _ => {}
            }
            f.leg.remote_tag = to_tag(msg);
            if let Some(c) = contact_uri(msg) {
                f.leg.remote_target = c;
            }
            f.leg.route_set = msg.all("Record-Route").map(str::to_string).collect();
            f.leg.route_set.reverse();
        }
        let body = if self.phase != Phase::Ringing || self.notifying || cancelled {
            Err(None)
        } else {
            self.carry(Side::B(i), msg, out).map_err(Some)
        };
        let body = match body {
            Ok(body) => body,
            Err(unrelayable) => {
                // Another branch won, or the caller is gone (a 2xx racing our CANCEL), or
                // the answer is SDP the relay cannot carry: ACK and hang this one up (RFC
                // 3261 §9.1).
                self.ack_answer(i, out);
                self.hang_up(now, Side::B(i), out);
                if unrelayable.is_some() {
                    self.note_failure(488, "Not Acceptable Here");
                }
                // (the last branch that could answer: the caller gets the best failure)
                self.fail_if_all_failed(now, 500, "Server Internal Error", None, out);
                return;
            }
        };
        self.phase = Phase::Answered {
            at: now,
            winner: Some(i),
        };
        self.note_answer(now);
        out.push(Action::MediaAnswered);
        if self.late_offer {
            // (its ACK carries the caller's answer)
            self.forks[i].state = ForkState::Answered { ack: None };
        } else {
            self.ack_answer(i, out);
        }
        self.cancel_forks(now, Some(i), out);
        let mut r = response(&self.a_invite, code, reason, &self.a.local_tag);
        r.push_header("Contact", self.a.contact.clone());
        r.push_header("Allow", reply::ALLOW);
        add_body(&mut r, body);
        self.session_answer_b(now, i, msg);
        self.session_answer_a(now, &mut r);
        // Not kept in the transaction memory (RFC 3261 §17.2.1: a 2xx ends the INVITE
        // transaction): its retransmissions are the call's own until the ACK, and a
        // repeated INVITE meanwhile is absorbed by the transaction still marked in
        // progress.
        self.final_to_a(now, r, out);
    }

    /// ACKs branch `i`'s 2xx without a body, the ACK kept for the 2xx's retransmissions.
    pub(super) fn ack_answer(&mut self, i: usize, out: &mut Actions) {
        let f = &mut self.forks[i];
        let ack = Arc::new(f.leg.ack_2xx(f.cseq, None).to_bytes());
        f.state = ForkState::Answered {
            ack: Some(ack.clone()),
        };
        out.send(&f.leg.dest, ack);
    }

    /// A carrier's 401/407 answered once with its credentials: the INVITE goes again
    /// (new branch, next CSeq). False when it cannot be answered.
    fn answer_challenge(
        &mut self,
        now: Instant,
        i: usize,
        code: u16,
        msg: &Message,
        out: &mut Actions,
    ) -> bool {
        let Some(challenge) = Challenge::of_status(code) else {
            return false;
        };
        // (a transfer's target is called while the call is up)
        let ringing = self.phase == Phase::Ringing || self.transfer_rings(i);
        let f = &mut self.forks[i];
        // Not when the branch is being cancelled: the call no longer wants it.
        if f.auth_tried
            || !ringing
            || !matches!(
                f.state,
                ForkState::Calling { cancel_owed: false } | ForkState::Proceeding
            )
        {
            return false;
        }
        let Some((user, pass)) = f.credentials.clone() else {
            return false;
        };
        let Some(v) = msg
            .get(challenge.header())
            .and_then(|ch| super::challenge::answer(ch, &user, &pass, "INVITE", &f.ruri))
        else {
            return false;
        };
        f.auth_tried = true;
        self.resend_invite(now, i, Some((challenge.credentials_header(), v)), out);
        true
    }

    /// Branch `i`'s INVITE again as a new transaction (next CSeq, new branch), with `auth`
    /// (a carrier's challenge answered) and the branch's header fields as they are now;
    /// retransmitted over UDP like the first.
    pub(super) fn resend_invite(
        &mut self,
        now: Instant,
        i: usize,
        auth: Option<(&str, String)>,
        out: &mut Actions,
    ) {
        let Some(f) = self.forks.get_mut(i) else {
            return;
        };
        f.cseq += 1;
        f.leg.local_cseq = f.cseq;
        f.branch = leg::branch();
        f.state = ForkState::Calling { cancel_owed: false };
        let invite = build_invite(
            &f.leg,
            &f.ruri,
            f.pai.as_deref(),
            &f.branch,
            &self.a_invite,
            f.offer.as_deref(),
            f.max_forwards,
            auth,
            &f.headers,
        );
        f.invite = Arc::new(invite.to_bytes());
        let (bytes, dest, branch) = (f.invite.clone(), f.leg.dest.clone(), f.branch.clone());
        out.send(&dest, bytes.clone());
        self.retransmit(now, bytes, dest, Wait::Fork { index: i, branch });
    }

    /// A branch failed with `code` (noted among the failures); when it was the last one
    /// that could answer, the caller gets the best failure, with `disp`.
    pub(super) fn branch_failed(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        disp: Disposition,
        out: &mut Actions,
    ) {
        self.note_failure(code, reason);
        self.fail_if_all_failed(now, code, reason, Some(disp), out);
    }

    /// When every branch has failed while ringing: the caller gets the best failure
    /// (`default` when none was noted), with `disp` or the code's disposition.
    pub(super) fn fail_if_all_failed(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        disp: Option<Disposition>,
        out: &mut Actions,
    ) {
        // (while the caller hears a notification, its final response is already owed; while
        // a forward is routed, the branches left behind do not answer the caller)
        if self.all_failed()
            && self.phase == Phase::Ringing
            && !self.notifying
            && !self.forward_awaited()
            && !self.failover_awaited()
        {
            let (code, reason) = self.best.clone().unwrap_or((code, reason.to_string()));
            if self.fail_over(out) || self.divert_busy(code, out) {
                return;
            }
            let disp = disp.unwrap_or(Disposition::of_code(code));
            self.fail(now, code, &reason, disp, out);
        }
    }

    /// Answers the caller with a final failure and ends the call; a caller of a client
    /// with voice notifications hears why first (the final response comes when the
    /// locution ends: `Event::PlaybackDone`).
    pub fn fail(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        disp: Disposition,
        out: &mut Actions,
    ) {
        if self.phase != Phase::Ringing {
            return;
        }
        if !self.notifying && self.notify(now, code, reason, disp, out) {
            return;
        }
        let r = response(&self.a_invite, code, reason, &self.a.local_tag);
        let sent = self.reply_a(r, self.a_key, out);
        self.a_final = Some(sent.clone());
        self.retransmit_final(now, sent);
        self.end(now, disp, code, None, out);
    }

    /// Starts the notification of a failed call: 183 with SDP from the relay, the
    /// locution. False when none applies or it cannot be played (no relay, no G.711).
    fn notify(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        disp: Disposition,
        out: &mut Actions,
    ) -> bool {
        if self.info.direction == super::call::Direction::Inbound {
            return false;
        }
        let (Some(notices), Some(relay)) = (&self.notices, self.relay) else {
            return false;
        };
        if self.a_invite.body.is_empty() {
            return false;
        }
        let cause = self.cause.or_else(|| cause_of_code(code));
        let Some(prompt) = cause.and_then(|c| notices.get(c)) else {
            return false;
        };
        let Some((peer, pt, answer)) = sdp::prompt_answer(&self.a_invite.body, relay.a) else {
            // no G.711 offered (or a held offer): nothing the caller could hear
            return false;
        };
        out.push(Action::MediaPeer {
            facing: Facing::A,
            adv: peer,
            signalling: self.a_flow.remote.ip(),
        });
        let mut early = response(&self.a_invite, 183, "Session Progress", &self.a.local_tag);
        early.push_header("Contact", self.a.contact.clone());
        early.push_header("Content-Type", "application/sdp");
        early.body = answer;
        self.provisional_to_a(now, early, out);
        out.push(Action::Play { prompt, pt });
        self.notifying = true;
        self.notified_at = Some(now);
        self.notified = Some((code, reason.to_string(), disp));
        true
    }

    /// Cancels every branch still ringing but `keep`.
    pub(super) fn cancel_forks(&mut self, now: Instant, keep: Option<usize>, out: &mut Actions) {
        for i in 0..self.forks.len() {
            if Some(i) == keep {
                continue;
            }
            match self.forks[i].state {
                ForkState::Proceeding => self.send_cancel(now, i, out),
                // RFC 3261 §9.1: no CANCEL before a provisional response; send it then.
                ForkState::Calling { .. } => {
                    self.forks[i].state = ForkState::Calling { cancel_owed: true }
                }
                _ => {}
            }
        }
    }

    /// CANCELs branch `i`, retransmitted over UDP until the branch's INVITE gets its
    /// final response (or the call is forgotten).
    pub(super) fn send_cancel(&mut self, now: Instant, i: usize, out: &mut Actions) {
        let f = &mut self.forks[i];
        f.state = ForkState::Cancelling { answered: false };
        let bytes = Arc::new(f.leg.cancel(&f.ruri, &f.branch, f.cseq).to_bytes());
        let (dest, branch) = (f.leg.dest.clone(), f.branch.clone());
        out.send(&dest, bytes.clone());
        self.retransmit(now, bytes, dest, Wait::Cancel { index: i, branch });
    }
}

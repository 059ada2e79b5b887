//! Every wait of a call is bounded (RFC 3261 §17), in the call core as deadlines: requests
//! and final responses are retransmitted over UDP with T1 doubling (capped at T2; an
//! INVITE's not capped, and not resent after a provisional), and each wait gives up after
//! 64·T1 (Timers B, F, H); a call rings at most `no_answer` and lasts at most
//! `max_duration`; an ended call lingers `LINGER` for late messages. `poll_timeout` is the
//! earliest of them all; the driver wakes the call then with `Event::Timeout`.

use super::actions::{Action, Actions};
use super::call::{Call, ForkState, Method, Phase, Side};
use super::leg::Dest;
use super::record::Disposition;
use crate::sip::reply::response;
use crate::sip::respond::{prepare, Sent};
use crate::sip::transport::Proto;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
/// Timers B, F and H: 64·T1.
pub const GIVE_UP: Duration = Duration::from_secs(32);
/// How long an ended call stays known: late final responses of cancelled branches are
/// ACKed, the caller's ACK stops our retransmissions, responses to our BYEs are matched.
/// Later stragglers (a peer retransmitting because our ACK was lost) are ignored and end
/// on the peer's own timers; retransmitted requests are answered by the transaction memory.
pub const LINGER: Duration = Duration::from_secs(5);
/// The longest a voice notification may hold the caller's final response (a locution is a
/// few seconds; this bounds a playback that never reports its end).
pub const NOTICE_MAX: Duration = Duration::from_secs(60);

/// What a retransmission waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// A response to a branch's INVITE (this branch id, so a resent INVITE with
    /// credentials has its own wait).
    Fork { index: usize, branch: String },
    /// The final response to a request relayed (or sent) inside the call.
    Pending { branch: String },
    /// The caller's ACK for the final response to its INVITE.
    AFinal,
    /// A final response to the INVITE of a branch we CANCELed.
    Cancel { index: usize, branch: String },
    /// The caller's PRACK of our reliable provisional with this RSeq (`prack.rs`).
    Reliable { rseq: u32 },
}

/// One message retransmitted (over UDP) until what it waits for happens, or given up.
pub struct Retrans {
    wait: Wait,
    /// What is resent, and where; a final response to the caller is a `Reply`.
    what: Resend,
    /// The next resend (or, over TCP/TLS, the deadline itself).
    next: Instant,
    interval: Duration,
    cap: Duration,
    deadline: Instant,
    reliable: bool,
}

enum Resend {
    Request(Dest, Arc<Vec<u8>>),
    Response(Sent),
}

impl Call {
    /// Resends `bytes` to `dest` over UDP until `wait` is over, and gives up after 64·T1
    /// (over TCP/TLS only the give-up).
    pub(super) fn retransmit(&mut self, now: Instant, bytes: Arc<Vec<u8>>, dest: Dest, wait: Wait) {
        let reliable = dest.flow.proto != Proto::Udp;
        self.arm(now, wait, Resend::Request(dest, bytes), reliable);
    }

    /// Resends the final response to the caller's INVITE until its ACK.
    pub(super) fn retransmit_final(&mut self, now: Instant, sent: Sent) {
        let reliable = sent.flow.proto != Proto::Udp;
        self.arm(now, Wait::AFinal, Resend::Response(sent), reliable);
    }

    /// Resends a reliable provisional to the caller until its PRACK (RFC 3262 §3: T1
    /// doubling, not capped).
    pub(super) fn retransmit_reliable(&mut self, now: Instant, sent: Sent, rseq: u32) {
        let reliable = sent.flow.proto != Proto::Udp;
        self.arm(
            now,
            Wait::Reliable { rseq },
            Resend::Response(sent),
            reliable,
        );
    }

    fn arm(&mut self, now: Instant, wait: Wait, what: Resend, reliable: bool) {
        let deadline = now + self.give_up(&wait);
        self.retrans.retain(|r| r.wait != wait);
        self.retrans.push(Retrans {
            cap: match wait {
                Wait::Fork { .. } | Wait::Reliable { .. } => GIVE_UP,
                _ => T2,
            },
            wait,
            what,
            next: if reliable { deadline } else { now + T1 },
            interval: T1,
            deadline,
            reliable,
        });
    }

    /// The next instant the call must be woken at: a retransmission, a give-up, the no
    /// answer or maximum duration limit, or the end of lingering.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limit = match self.phase {
            // A caller hearing why the call failed is not cut off by the no-answer limit.
            Phase::Ringing => match self.notified_at {
                Some(at) => at + NOTICE_MAX,
                None => {
                    let limit = self.ring_limit();
                    self.no_answer_due().map_or(limit, |due| due.min(limit))
                }
            },
            Phase::Answered { at, .. } => at + self.longest(),
            Phase::Ended { at } => at + LINGER,
        };
        self.retrans
            .iter()
            .map(|r| r.next)
            .chain(std::iter::once(limit))
            .chain(self.session_deadline())
            .chain(self.transfer_deadline())
            .min()
    }

    /// How long an answered call may last: `max_duration`, or less when its budget pays
    /// for less.
    pub fn longest(&self) -> Duration {
        match self.credit {
            Some((d, _)) => d.min(self.limits.max_duration),
            None => self.limits.max_duration,
        }
    }

    /// Whether anything the call sent still waits for its answer (over UDP: is resent).
    pub fn awaiting_answers(&self) -> bool {
        self.retrans.iter().any(|r| self.waiting(&r.wait).0)
    }

    /// Whether a wait is still on; whether its message is still resent.
    fn waiting(&self, wait: &Wait) -> (bool, bool) {
        match wait {
            Wait::Fork { index, branch } => match self.forks.get(*index) {
                Some(f) if &f.branch == branch => {
                    let on = matches!(f.state, ForkState::Calling { .. });
                    (on, on)
                }
                _ => (false, false),
            },
            Wait::Pending { branch } => match self.pending.iter().find(|p| &p.branch == branch) {
                Some(p) if !p.done => (true, !(p.method == Method::Invite && p.provisional)),
                _ => (false, false),
            },
            Wait::AFinal => {
                let on = !self.a_acked && self.a_final.is_some();
                (on, on)
            }
            Wait::Cancel { index, branch } => match self.forks.get(*index) {
                Some(f) if &f.branch == branch => {
                    let on = matches!(f.state, ForkState::Cancelling { .. });
                    (on, f.state == (ForkState::Cancelling { answered: false }))
                }
                _ => (false, false),
            },
            Wait::Reliable { rseq } => {
                let on = self.reliable_waiting(*rseq);
                (on, on)
            }
        }
    }

    /// `poll_timeout` has passed: what is due is resent or given up, and the call's own
    /// limits are applied.
    pub(super) fn on_timeout(&mut self, now: Instant, out: &mut Actions) {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.retrans.len() {
            let r = &self.retrans[i];
            let (on, resend) = self.waiting(&r.wait);
            if !on {
                self.retrans.swap_remove(i);
                continue;
            }
            if r.next > now {
                i += 1;
                continue;
            }
            if now >= r.deadline {
                due.push(self.retrans.swap_remove(i).wait);
                continue;
            }
            let r = &mut self.retrans[i];
            if resend && !r.reliable {
                match &r.what {
                    Resend::Request(dest, bytes) => out.send(dest, bytes.clone()),
                    Resend::Response(sent) => out.push(Action::Reply {
                        sent: sent.clone(),
                        key: None,
                    }),
                }
            }
            r.interval = (r.interval * 2).min(r.cap);
            r.next = if r.reliable {
                r.deadline
            } else {
                (now + r.interval).min(r.deadline)
            };
            i += 1;
        }
        for wait in due {
            self.timed_out(now, &wait, out);
        }
        self.session_due(now, out);
        match self.phase {
            Phase::Ringing if self.notified_at.is_some_and(|at| now >= at + NOTICE_MAX) => {
                // a notification that never ended: the final response it owes
                if let Some((code, reason, disp)) = self.notified.take() {
                    self.fail(now, code, &reason, disp, out);
                }
            }
            Phase::Ringing if self.no_answer_due().is_some_and(|due| now >= due) => {
                self.divert_no_answer(now, out);
            }
            Phase::Ringing if !self.notifying && now >= self.ring_limit() => {
                self.cancel_forks(now, None, out);
                self.fail(
                    now,
                    480,
                    "Temporarily Unavailable",
                    Disposition::NoAnswer,
                    out,
                );
            }
            Phase::Answered { at, .. } if now >= at + self.longest() => {
                let disp = match self.credit {
                    Some((d, why)) if d < self.limits.max_duration => Disposition::Policy(why),
                    _ => Disposition::MaxDuration,
                };
                self.hang_up_both(now, out);
                self.end(now, disp, 200, None, out);
            }
            Phase::Ended { at } if now >= at + LINGER => out.push(Action::Forget),
            _ => {}
        }
    }

    fn timed_out(&mut self, now: Instant, wait: &Wait, out: &mut Actions) {
        match wait {
            Wait::Fork { index, .. } => {
                // Timer B: this branch never answered.
                if let Some(f) = self.forks.get_mut(*index) {
                    f.state = ForkState::Failed;
                }
                self.branch_failed(now, 408, "Request Timeout", Disposition::NoAnswer, out);
            }
            Wait::Pending { branch } if self.session_refresh_lost(now, branch, out) => {}
            Wait::Pending { branch } => {
                let Some(i) = self.pending.iter().position(|p| &p.branch == branch) else {
                    return;
                };
                let p = self.pending.remove(i);
                self.notify_answered(now, &p.method, out);
                if let Some(o) = &p.origin {
                    let r = response(&o.req, 408, "Request Timeout", "");
                    out.push(Action::Reply {
                        sent: prepare(&o.via, &o.flow, r),
                        key: o.key,
                    });
                }
                if self.transfer_request_lost(now, &p, out) {
                    return;
                }
                // A party of the bridge that stops answering inside an answered call is
                // gone: end it. (an unanswered NOTIFY of a transfer, or PRACK, or a
                // request to a leg outside the bridge — a losing branch, a transfer's new
                // party — leaves the call as it is)
                let optional = matches!(p.method.as_str(), "NOTIFY" | "PRACK");
                let bridged = match p.target {
                    Side::A => true,
                    Side::B(i) => self.winner() == Some(i),
                };
                if matches!(self.phase, Phase::Answered { .. })
                    && p.method != Method::Bye
                    && !optional
                    && bridged
                {
                    if let Some(o) = self.peer(p.target) {
                        self.hang_up(now, o, out);
                    }
                    self.end(now, Disposition::PeerVanished, 408, None, out);
                }
            }
            Wait::AFinal => {
                // RFC 3261 §13.3.1.4: a 2xx never acknowledged ends the dialog.
                if matches!(self.phase, Phase::Answered { .. }) {
                    tracing::info!("call {}: no ACK from the caller; hanging up", self.id);
                    self.hang_up_both(now, out);
                    self.end(now, Disposition::NoAck, 408, None, out);
                }
            }
            // A branch that answers neither the INVITE nor the CANCEL: mark it failed.
            Wait::Cancel { index, .. } => {
                if let Some(f) = self.forks.get_mut(*index) {
                    f.state = ForkState::Failed;
                }
                self.fail_if_all_failed(
                    now,
                    408,
                    "Request Timeout",
                    Some(Disposition::NoAnswer),
                    out,
                );
            }
            Wait::Reliable { .. } => self.reliable_lost(now, out),
        }
    }

    /// The connections of branches `lost` closed (or never opened): a branch still
    /// waiting for its final answer fails at once with 503 (RFC 3261 §8.1.3.1) instead of
    /// waiting for Timer B.
    pub(super) fn branches_lost(&mut self, now: Instant, lost: &[usize], out: &mut Actions) {
        let mut failed = false;
        for &i in lost {
            if let Some(f) = self.forks.get_mut(i) {
                if f.state.waiting() {
                    f.state = ForkState::Failed;
                    failed = true;
                }
            }
        }
        if failed {
            let disp = Disposition::Unreachable;
            self.branch_failed(now, 503, "Service Unavailable", disp, out);
        }
    }

    /// Which of the branches waiting for their final answer go over a connection that
    /// `over` says is gone.
    pub fn waiting_branches(&self, over: impl Fn(&Dest) -> bool) -> Vec<usize> {
        self.forks
            .iter()
            .enumerate()
            .filter(|(_, f)| f.state.waiting() && over(&f.leg.dest))
            .map(|(i, _)| i)
            .collect()
    }
}

//! A transfer's loose ends (call core; `transfer.rs` and `join.rs` are the transfer): a
//! transferor that hangs up takes its session timer and the requests still sent to it
//! along; a new party that hangs up before it is joined fails the transfer; a request of
//! the transfer nobody answers fails it too, instead of ending the call; requests in
//! flight when the parties swap places keep finding their answers; and a call tries at
//! most `MAX_TRANSFERS` transfers (each leaves its branches and Call-IDs behind).

use super::actions::{Action, Actions};
use super::call::{Call, ForkState, Pending, Side};
use super::transfer::Stage;
use super::Incoming;
use crate::sip::reply::response;
use crate::sip::respond::prepare;
use std::sync::Arc;
use std::time::Instant;

/// The most transfers one call may try.
pub const MAX_TRANSFERS: u32 = 8;

fn reply(inc: &Incoming, code: u16, reason: &str, out: &mut Actions) {
    let r = response(&inc.msg, code, reason, "");
    out.push(Action::Reply {
        sent: prepare(&inc.checked.via, &inc.flow, r),
        key: inc.key,
    });
}

impl Call {
    /// A REFER that may start a transfer: refused (403, false) past `MAX_TRANSFERS`.
    pub(super) fn transfer_allowed(&mut self, inc: &Incoming, out: &mut Actions) -> bool {
        if self.transfer.tried >= MAX_TRANSFERS {
            tracing::info!("call {}: too many transfers", self.id);
            reply(inc, 403, "Forbidden (too many transfers)", out);
            return false;
        }
        self.transfer.tried += 1;
        self.transfer.timer = None;
        true
    }

    /// A BYE while a transfer goes on: the transferor's (the transfer goes on without it,
    /// RFC 5589 §6.1), or the new party's before it is joined (the transfer fails). False:
    /// not the transfer's.
    pub(super) fn transfer_bye(
        &mut self,
        now: Instant,
        side: Side,
        inc: &Incoming,
        out: &mut Actions,
    ) -> bool {
        let Some(t) = self.transfer.on.as_mut() else {
            return false;
        };
        if t.by == side {
            t.gone = true;
            reply(inc, 200, "OK", out);
            // its session timer goes with it (a refresh answered 481 would end the call),
            // and what was still sent to it
            *self.sessions.leg_mut(side) = None;
            self.let_go(side, out);
            return true;
        }
        let (n, cseq) = match t.stage {
            Stage::Offering { n, .. } => (n, None),
            Stage::Joining { n, cseq, .. } => (n, Some(cseq)),
            _ => return false,
        };
        if side != Side::B(n) {
            return false;
        }
        reply(inc, 200, "OK", out);
        let f = &mut self.forks[n];
        if let Some(cseq) = cseq {
            // its 200 waited for our ACK: it stops resending it
            let ack = f.leg.ack_2xx(cseq, None);
            out.send(&f.leg.dest.clone(), Arc::new(ack.to_bytes()));
        }
        f.state = ForkState::Failed;
        self.let_go(side, out);
        self.transfer.timer = None;
        self.transfer_failed(now, 480, "Temporarily Unavailable", out);
        true
    }

    /// Nothing more is awaited from `side`: its requests are no longer resent, what was
    /// relayed to it is answered 503 to its originator.
    fn let_go(&mut self, side: Side, out: &mut Actions) {
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.target == side && !p.done)
        {
            p.done = true;
            if let Some(o) = p.origin.take() {
                let r = response(&o.req, 503, "Service Unavailable", "");
                out.push(Action::Reply {
                    sent: prepare(&o.via, &o.flow, r),
                    key: o.key,
                });
            }
        }
    }

    /// A request of vozbox's got no answer (`p`, taken off the pending): true when it was
    /// the transfer's re-INVITE asking the joined party for an offer (the transfer fails,
    /// the call goes on).
    pub(super) fn transfer_request_lost(
        &mut self,
        now: Instant,
        p: &Pending,
        out: &mut Actions,
    ) -> bool {
        let n = match self.transfer.on.as_ref().map(|t| &t.stage) {
            Some(Stage::Offering { n, branch }) if *branch == p.branch => *n,
            _ => return false,
        };
        if let Some(f) = self.forks.get_mut(n) {
            f.state = ForkState::Failed;
        }
        self.hang_up(now, Side::B(n), out);
        self.transfer.timer = None;
        self.transfer_failed(now, 408, "Request Timeout", out);
        true
    }

    /// The new party (fork `n`) and the transferor (A) swap legs: requests in flight to
    /// either (and the requests they came from) follow their leg, so their answers match.
    pub(super) fn swap_pending(&mut self, n: usize) {
        let swap = |s: &mut Side| {
            *s = match *s {
                Side::A => Side::B(n),
                Side::B(i) if i == n => Side::A,
                other => other,
            }
        };
        for p in &mut self.pending {
            swap(&mut p.target);
            if let Some(o) = p.origin.as_mut() {
                swap(&mut o.side);
            }
        }
    }
}

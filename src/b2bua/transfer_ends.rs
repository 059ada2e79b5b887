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

impl Call {

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
        self.transfer_failed(now, 408, "Request Timeout", out);
        true
    }

}

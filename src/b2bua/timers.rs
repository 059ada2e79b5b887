//! Every wait of a call is bounded (RFC 3261 §17): requests and final responses are
//! retransmitted over UDP with T1 doubling (capped at T2, or not at all for INVITE after
//! a provisional), and give up after 64·T1; a call rings at most `no_answer_timeout` and
//! lasts at most `max_duration`. A vanished peer never leaves the other side ringing.
//!
//! Each wait is one task holding only a weak reference to its call: the task ends as soon
//! as what it waits for has happened or the call is gone.

use super::call::{CallRef, ForkState, Phase, Side};
use super::leg::Dest;
use super::B2bua;
use crate::sip::reply::response;
use crate::sip::transport::{Flow, Proto, SendError};
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

/// What a retransmission task waits for.
#[derive(Debug, Clone)]
pub enum Wait {
    /// A response to a branch's INVITE (this branch id, so a resent INVITE with
    /// credentials has its own task).
    Fork { index: usize, branch: String },
    /// The final response to a request relayed inside the call.
    Pending { branch: String },
    /// The caller's ACK for the final response to its INVITE.
    AFinal,
    /// A final response to the INVITE of a branch we CANCELed.
    Cancel { index: usize, branch: String },
}

impl B2bua {
    /// Sends bytes to a leg's destination (errors are logged, timers handle the rest).
    pub(super) fn send(&self, dest: &Dest, bytes: Arc<Vec<u8>>) {
        let t = &self.out.transports;
        match t.send_to(&dest.flow, dest.to, &bytes) {
            Ok(()) => {}
            // The connection to a friend or carrier was closed (peer restart): reach the
            // same address over a new or another open connection. A connection a phone
            // or PBX opened to us is never opened again from our side (RFC 5626): its
            // binding waits for the next REGISTER.
            Err(SendError::ConnectionGone) if dest.reconnect => {
                match t.flow_to(dest.flow.proto, dest.to, dest.tls.as_ref()) {
                    Some(flow) => {
                        if let Err(e) = t.send_to(&flow, dest.to, &bytes) {
                            tracing::info!("send to {}: {}", dest.to, e);
                        }
                    }
                    None => tracing::info!("send to {}: no connection", dest.to),
                }
            }
            Err(e) => tracing::info!("send to {}: {}", dest.to, e),
        }
    }

    /// Retransmits the final response to the caller's INVITE until its ACK (UDP).
    pub(super) fn retransmit_final(
        self: &Arc<Self>,
        cell: &CallRef,
        sent: crate::sip::respond::Sent,
    ) {
        let dest = Dest {
            local: sent.flow.local,
            flow: sent.flow,
            to: sent.to,
            tls: None,
            reconnect: false,
        };
        self.retransmit(cell, sent.bytes, dest, Wait::AFinal);
    }

    /// Whether the wait is still on; whether the message is still retransmitted.
    fn waiting(&self, cell: &CallRef, wait: &Wait) -> (bool, bool) {
        let call = cell.lock();
        match wait {
            Wait::Fork { index, branch } => match call.forks.get(*index) {
                Some(f) if &f.branch == branch => {
                    let on = f.state == ForkState::Calling;
                    (on, on)
                }
                _ => (false, false),
            },
            Wait::Pending { branch } => match call.pending.iter().find(|p| &p.branch == branch) {
                Some(p) if !p.done => (true, !(p.method == "INVITE" && p.provisional)),
                _ => (false, false),
            },
            Wait::AFinal => {
                let on = !call.a_acked && call.a_final.is_some();
                (on, on)
            }
            Wait::Cancel { index, branch } => match call.forks.get(*index) {
                Some(f) if &f.branch == branch => {
                    let on = f.state == ForkState::Proceeding;
                    (on, on)
                }
                _ => (false, false),
            },
        }
    }

    /// Retransmits `bytes` over UDP until `wait` is over, and handles its timeout (over
    /// TCP only the timeout runs).
    pub(super) fn retransmit(
        self: &Arc<Self>,
        cell: &CallRef,
        bytes: Arc<Vec<u8>>,
        dest: Dest,
        wait: Wait,
    ) {
        let weak = Arc::downgrade(cell);
        let me = self.clone();
        let reliable = dest.flow.proto != Proto::Udp;
        let cap = match wait {
            Wait::Fork { .. } => GIVE_UP,
            _ => T2,
        };
        self.rt.spawn(async move {
            let deadline = Instant::now() + GIVE_UP;
            let mut interval = T1;
            loop {
                let now = Instant::now();
                let step = if reliable {
                    deadline.saturating_duration_since(now)
                } else {
                    interval.min(deadline.saturating_duration_since(now))
                };
                tokio::time::sleep(step).await;
                let Some(cell) = weak.upgrade() else { return };
                let (on, resend) = me.waiting(&cell, &wait);
                if !on {
                    return;
                }
                if Instant::now() >= deadline {
                    me.timed_out(&cell, &wait);
                    return;
                }
                if resend && !reliable {
                    me.send(&dest, bytes.clone());
                }
                interval = (interval * 2).min(cap);
            }
        });
    }

    /// A TCP/TLS connection closed (or never opened: refused, handshake failed). A branch
    /// still waiting for its final answer over it fails at once with 503 (RFC 3261
    /// §8.1.3.1) instead of waiting for Timer B. A branch to a fixed address (friend,
    /// carrier) is reached over whichever connection to that peer is open, so it fails
    /// when the connection to its address fails and its own is gone too.
    pub fn on_connection_closed(self: &Arc<Self>, closed: &Flow) {
        let t = &self.out.transports;
        let over = |d: &Dest| {
            d.flow.conn == closed.conn
                || (d.reconnect
                    && d.to == closed.remote
                    && d.flow.proto == closed.proto
                    && !t.is_open(&d.flow))
        };
        // Collected first: no call lock is taken while a map shard is held.
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        for cell in cells {
            let mut call = cell.lock();
            let mut failed = false;
            for f in call.forks.iter_mut() {
                let waiting = matches!(f.state, ForkState::Calling | ForkState::Proceeding);
                if waiting && over(&f.leg.dest) {
                    f.state = ForkState::Failed;
                    failed = true;
                }
            }
            if !failed {
                continue;
            }
            call.note_failure(503, "Service Unavailable");
            if call.all_failed() && call.phase == Phase::Ringing {
                let (code, reason) = call
                    .best
                    .clone()
                    .unwrap_or((503, "Service Unavailable".into()));
                self.fail_call(&mut call, &cell, code, &reason, "unreachable");
            }
        }
    }

    fn timed_out(self: &Arc<Self>, cell: &CallRef, wait: &Wait) {
        let mut call = cell.lock();
        match wait {
            Wait::Fork { index, .. } => {
                // Timer B: this branch never answered.
                if let Some(f) = call.forks.get_mut(*index) {
                    f.state = ForkState::Failed;
                }
                call.note_failure(408, "Request Timeout");
                if call.all_failed() && call.phase == Phase::Ringing {
                    let (code, reason) =
                        call.best.clone().unwrap_or((408, "Request Timeout".into()));
                    self.fail_call(&mut call, cell, code, &reason, "no_answer");
                }
            }
            Wait::Pending { branch } => {
                let Some(i) = call.pending.iter().position(|p| &p.branch == branch) else {
                    return;
                };
                let p = call.pending.remove(i);
                if let Some(o) = &p.origin {
                    let r = response(&o.req, 408, "Request Timeout", "");
                    self.out.send(&o.via, &o.flow, r, o.key.as_deref());
                }
                // A peer that stops answering inside an answered call is gone: end it.
                if call.phase == Phase::Answered && p.method != "BYE" {
                    let other = call.peer(p.target);
                    if let Some(o) = other {
                        self.hang_up(&mut call, o, cell);
                    }
                    self.end(&mut call, "peer_vanished", 408);
                }
            }
            Wait::AFinal => {
                // RFC 3261 §13.3.1.4: a 2xx never acknowledged ends the dialog.
                if call.phase == Phase::Answered {
                    tracing::info!("call {}: no ACK from the caller; hanging up", call.id);
                    if let Some(w) = call.winner {
                        self.hang_up(&mut call, Side::B(w), cell);
                    }
                    self.hang_up(&mut call, Side::A, cell);
                    self.end(&mut call, "no_ack", 408);
                }
            }
            // A branch that answers neither the INVITE nor the CANCEL: mark it failed.
            Wait::Cancel { index, .. } => {
                if let Some(f) = call.forks.get_mut(*index) {
                    f.state = ForkState::Failed;
                }
            }
        }
    }

    /// Forgets an ended call at once (its Call-ID is being reused).
    pub(super) fn forget_now(&self, cell: &CallRef) {
        let ids: Vec<String> = {
            let c = cell.lock();
            std::iter::once(c.a.call_id.clone())
                .chain(c.forks.iter().map(|f| f.leg.call_id.clone()))
                .collect()
        };
        for id in ids {
            self.calls.remove_if(&id, |_, v| Arc::ptr_eq(v, cell));
        }
    }

    /// Once a second (from the housekeeping loop): a call ringing longer than
    /// `no_answer_timeout` gets 480, one answered longer than `max_duration` or without
    /// media for `[media] timeout` gets BYE on both legs, one ended more than `LINGER` ago
    /// is forgotten. One pass over the calls
    /// instead of a timer task per call and per limit.
    pub fn sweep(self: &Arc<Self>) {
        let now = Instant::now();
        let no_answer = Duration::from_secs(self.cfg.no_answer_timeout);
        let max_duration = Duration::from_secs(self.cfg.max_duration);
        // The handles first, the call locks after: never a call lock under a map shard lock.
        let cells: Vec<(String, CallRef)> = self
            .calls
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        for (id, cell) in cells {
            let mut call = cell.lock();
            if call.a.call_id != id {
                // Every call is visited once, under the caller's Call-ID.
                continue;
            }
            match call.phase {
                Phase::Ringing if now.duration_since(call.started) >= no_answer => {
                    self.cancel_forks(&mut call, &cell, None);
                    self.fail_call(
                        &mut call,
                        &cell,
                        480,
                        "Temporarily Unavailable",
                        "no_answer",
                    );
                }
                Phase::Answered
                    if call
                        .answered_at
                        .is_some_and(|t| now.duration_since(t) >= max_duration) =>
                {
                    if let Some(w) = call.winner {
                        self.hang_up(&mut call, Side::B(w), &cell);
                    }
                    self.hang_up(&mut call, Side::A, &cell);
                    self.end(&mut call, "max_duration", 200);
                }
                // Media stopped in both directions for `[media] timeout` seconds: the
                // phones are gone (or the network between them).
                Phase::Answered
                    if self.media.timeout > 0
                        && call.media.as_ref().is_some_and(|m| {
                            m.idle() >= Duration::from_secs(self.media.timeout)
                        }) =>
                {
                    tracing::info!(
                        "call {}: no media for {} s; hanging up",
                        call.id,
                        self.media.timeout
                    );
                    if let Some(w) = call.winner {
                        self.hang_up(&mut call, Side::B(w), &cell);
                    }
                    self.hang_up(&mut call, Side::A, &cell);
                    self.end(&mut call, "media_timeout", 200);
                }
                Phase::Ended
                    if call
                        .ended_at
                        .is_some_and(|t| now.duration_since(t) >= LINGER) =>
                {
                    drop(call);
                    self.forget_now(&cell);
                }
                _ => {}
            }
        }
    }
}

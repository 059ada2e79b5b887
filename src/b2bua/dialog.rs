//! Inside a call: ACK, CANCEL, and every in-dialog request (BYE, re-INVITE, UPDATE, INFO
//! …) relayed from one leg to the other as a request of that leg's own dialog, with the
//! answer carried back.

use super::call::{CallRef, ForkState, Origin, Pending, Phase, Side};
use super::invite::{contact_uri, status};
use super::leg::Dest;
use super::media::carry;
use super::timers::Wait;
use super::{B2bua, Incoming};
use crate::sip::message::{HeaderField, Message};
use crate::sip::reply::response;
use std::sync::Arc;

/// Headers of an in-dialog request worth carrying to the other leg.
const CARRIED: &[&str] = &["Reason", "Info-Package", "Event", "Subscription-State"];

impl B2bua {
    pub(super) fn on_ack(self: &Arc<Self>, inc: Incoming) {
        let Some(cell) = self.find(inc.msg.call_id().unwrap_or("")) else {
            return;
        };
        let mut call = cell.lock();
        let cseq = inc.msg.cseq().map(|c| c.0).unwrap_or(0);
        match call.side_of(inc.msg.call_id().unwrap_or("")) {
            Some(Side::A) if cseq == call.a_cseq => {
                call.a_acked = true;
                // A late offer: the caller's answer travels in this ACK.
                if let Some(w) = call.winner {
                    let body = carry(&call, Side::A, &inc.msg);
                    let f = &mut call.forks[w];
                    if f.ack.is_none() && f.state == ForkState::Answered {
                        let body = body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice()));
                        let ack = Arc::new(f.leg.ack_2xx(f.cseq, body).to_bytes());
                        f.ack = Some(ack.clone());
                        self.send(&f.leg.dest, ack);
                    }
                }
            }
            // ACKs of re-INVITEs were sent to the answering side when the 2xx came.
            _ => {}
        }
    }

    pub(super) fn on_cancel(self: &Arc<Self>, inc: Incoming) {
        let Some(cell) = self.find(inc.msg.call_id().unwrap_or("")) else {
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        };
        let mut call = cell.lock();
        // The CANCEL matches the INVITE's transaction: same Call-ID, same branch.
        if call.side_of(inc.msg.call_id().unwrap_or("")) != Some(Side::A)
            || inc.checked.via.branch() != call.a_via.branch()
        {
            drop(call);
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        }
        // 200 for the CANCEL itself (RFC 3261 §9.2), whatever its effect.
        let ok = response(&inc.msg, 200, "OK", &call.a.local_tag);
        self.out
            .send(&inc.checked.via, &inc.flow, ok, inc.key.as_deref());
        if call.phase == Phase::Ringing {
            self.cancel_forks(&mut call, &cell, None);
            self.fail_call(&mut call, &cell, 487, "Request Terminated", "cancelled");
        }
    }

    pub(super) fn on_in_dialog(self: &Arc<Self>, inc: Incoming) {
        let call_id = inc.msg.call_id().unwrap_or("");
        let Some(cell) = self.find(call_id) else {
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        };
        let mut call = cell.lock();
        let Some(side) = call.side_of(call_id) else {
            drop(call);
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        };
        let method = inc.msg.method().unwrap_or("").to_string();
        // RFC 3261 §12.2.2: the request must belong to this leg's dialog (both tags), and
        // its CSeq must be higher than the last one.
        let in_dialog = call.leg_mut(side).is_some_and(|l| {
            inc.checked.to.tag() == Some(l.local_tag.as_str())
                && (l.remote_tag.is_none() || inc.checked.from.tag() == l.remote_tag.as_deref())
        });
        if call.phase == Phase::Ended || !in_dialog {
            drop(call);
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        }
        let cseq = inc.msg.cseq().map(|c| c.0).unwrap_or(0);
        if let Some(l) = call.leg_mut(side) {
            if cseq <= l.remote_cseq && l.remote_cseq != 0 {
                drop(call);
                return self.reply(&inc, 500, "Server Internal Error");
            }
            l.remote_cseq = cseq;
        }
        let peer = call.peer(side);
        if method == "BYE" {
            let ok = response(&inc.msg, 200, "OK", "");
            // The BYE that ends an answered call is answered once its record is durable:
            // a call its party saw end always has its CDR, even across a crash.
            let ends_call = call.phase == Phase::Answered
                && match side {
                    Side::A => true,
                    Side::B(i) => call.winner == Some(i),
                };
            let mut answer = None;
            if ends_call {
                let (out, via, flow, key) = (
                    self.out.clone(),
                    inc.checked.via.clone(),
                    inc.flow.clone(),
                    inc.key.clone(),
                );
                let send: crate::store::writer::Done = Box::new(move |_| {
                    out.send(&via, &flow, ok, key.as_deref());
                });
                answer = Some(send);
            } else {
                self.out
                    .send(&inc.checked.via, &inc.flow, ok, inc.key.as_deref());
            }
            match (side, call.phase) {
                (Side::A, Phase::Ringing) => {
                    // A BYE before the answer: the caller gave up.
                    self.cancel_forks(&mut call, &cell, None);
                    self.fail_call(&mut call, &cell, 487, "Request Terminated", "cancelled");
                }
                // The caller, or the branch that answered, hangs up (a call that plays a
                // locution has no branch at all).
                (Side::A, Phase::Answered) => {
                    if let Some(p) = peer {
                        self.hang_up(&mut call, p, &cell);
                    }
                    self.end_then(&mut call, "answered", 200, answer);
                }
                (Side::B(i), Phase::Answered) if call.winner == Some(i) => {
                    self.hang_up(&mut call, Side::A, &cell);
                    self.end_then(&mut call, "answered", 200, answer);
                }
                (Side::B(i), _) => {
                    // A branch that is not the call hangs up its early dialog.
                    call.forks[i].state = ForkState::Failed;
                }
                _ => {}
            }
            return;
        }
        let Some(peer) = peer else {
            drop(call);
            return self.reply(&inc, 481, "Call/Transaction Does Not Exist");
        };
        let mut extra: Vec<HeaderField> = CARRIED
            .iter()
            .filter_map(|h| inc.msg.get(h).map(|v| HeaderField::new(h, v)))
            .collect();
        if method == "INVITE" {
            extra.push(HeaderField::new("Allow", crate::sip::reply::ALLOW));
        }
        let body = carry(&call, side, &inc.msg);
        let Some(leg) = call.leg_mut(peer) else {
            return;
        };
        let body = body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice()));
        let (req, branch) = leg.in_dialog(&method, body, extra);
        let cseq = leg.local_cseq;
        let dest = leg.dest.clone();
        let bytes = Arc::new(req.to_bytes());
        self.send(&dest, bytes.clone());
        call.pending.retain(|p| !p.done);
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        call.pending.push(Pending {
            branch: branch.clone(),
            cseq,
            method,
            origin: Some(Box::new(Origin {
                side,
                req: msg,
                via: checked.via,
                flow,
                key,
            })),
            target: peer,
            provisional: false,
            done: false,
        });
        drop(call);
        self.retransmit(&cell, bytes, dest, Wait::Pending { branch });
    }

    /// A response to a request we relayed (or sent ourselves) inside a call.
    pub(super) fn pending_response(
        self: &Arc<Self>,
        cell: &CallRef,
        side: Side,
        branch: &str,
        msg: &Message,
    ) {
        let mut call = cell.lock();
        let Some(pi) = call
            .pending
            .iter()
            .position(|p| p.branch == branch && p.target == side)
        else {
            return;
        };
        let (code, reason) = status(msg);
        let is_invite = call.pending[pi].method == "INVITE";
        if code < 200 {
            call.pending[pi].provisional = true;
            return;
        }
        let cseq = call.pending[pi].cseq;
        if is_invite {
            // ACK the answering side ourselves; the originator's ACK ends at vozbox.
            let Some(leg) = call.leg_mut(side) else {
                return;
            };
            let ack = if (200..300).contains(&code) {
                if let Some(c) = contact_uri(msg) {
                    leg.remote_target = c;
                }
                leg.ack_2xx(cseq, None)
            } else {
                leg.ack_non_2xx(
                    &leg.remote_target.clone(),
                    branch,
                    cseq,
                    msg.get("To").unwrap_or(""),
                )
            };
            let dest = leg.dest.clone();
            self.send(&dest, Arc::new(ack.to_bytes()));
        }
        if call.pending[pi].done {
            return;
        }
        call.pending[pi].done = true;
        let origin = call.pending[pi].origin.take();
        let is_update = call.pending[pi].method == "UPDATE";
        // A re-INVITE stays known (done) until the next request: a retransmitted 2xx is
        // ACKed again above.
        if !is_invite {
            call.pending.remove(pi);
        }
        let Some(o) = origin else { return };
        let mut r = response(&o.req, code, reason, "");
        if (200..300).contains(&code) && (is_invite || is_update) {
            if let Some(l) = call.leg_mut(o.side) {
                r.push_header("Contact", l.contact.clone());
            }
        }
        if let Some((ctype, body)) = carry(&call, side, msg) {
            r.push_header("Content-Type", ctype);
            r.body = body;
        }
        self.out.send(&o.via, &o.flow, r, o.key.as_deref());
    }

    /// Sends BYE to one side on vozbox's own behalf (the other side hung up, or a timer
    /// ended the call).
    pub(super) fn hang_up(
        self: &Arc<Self>,
        call: &mut super::call::Call,
        side: Side,
        cell: &CallRef,
    ) {
        let Some(leg) = call.leg_mut(side) else {
            return;
        };
        let (req, branch) = leg.in_dialog("BYE", None, Vec::new());
        let cseq = leg.local_cseq;
        let dest: Dest = leg.dest.clone();
        let bytes = Arc::new(req.to_bytes());
        self.send(&dest, bytes.clone());
        call.pending.retain(|p| !p.done);
        call.pending.push(Pending {
            branch: branch.clone(),
            cseq,
            method: "BYE".into(),
            origin: None,
            target: side,
            provisional: false,
            done: false,
        });
        self.retransmit(cell, bytes, dest, Wait::Pending { branch });
    }
}

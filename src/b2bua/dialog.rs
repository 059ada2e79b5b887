//! Inside a call (call core): ACK, CANCEL, and every in-dialog request (BYE, re-INVITE,
//! UPDATE, INFO …) relayed from one leg to the other as a request of that leg's own
//! dialog, with the answer carried back.

use super::actions::{Action, Actions};
use super::call::{Call, ForkState, Method, Origin, Pending, Phase, Side};
use super::fork::{contact_uri, status};
use super::media::carry_plain;
use super::record::Disposition;
use super::timers::Wait;
use super::Incoming;
use crate::sip::message::{HeaderField, Message};
use crate::sip::reply::response;
use crate::sip::respond::prepare;
use std::sync::Arc;
use std::time::Instant;

/// Headers of an in-dialog request worth carrying to the other leg.
const CARRIED: &[&str] = &["Reason", "Info-Package", "Event", "Subscription-State"];

/// An answer to a request that arrived (`inc`), stamped for where it goes.
fn answer(inc: &Incoming, code: u16, reason: &str, tag: &str) -> Action {
    let r = response(&inc.msg, code, reason, tag);
    Action::Reply {
        sent: prepare(&inc.checked.via, &inc.flow, r),
        key: inc.key,
    }
}

impl Call {
    pub(super) fn on_ack(&mut self, now: Instant, inc: &Incoming, out: &mut Actions) {
        let cseq = inc.msg.cseq().map(|c| c.0).unwrap_or(0);
        if self.side_of(inc.msg.call_id().unwrap_or("")) != Some(Side::A) || cseq != self.a_cseq {
            // ACKs of re-INVITEs were sent to the answering side when the 2xx came.
            return;
        }
        self.a_acked = true;
        // A late offer: the caller's answer travels in this ACK.
        let Some(w) = self.winner() else { return };
        if self.forks[w].state != (ForkState::Answered { ack: None }) {
            return;
        }
        let Ok(body) = self.carry(Side::A, &inc.msg, out) else {
            // An answer the relay cannot carry: the branch's offer is acknowledged without
            // one (vozbox has none to give it), and the call ends at once.
            self.ack_answer(w, out);
            self.hang_up_both(now, out);
            return self.end(now, Disposition::BadSdp, 488, None, out);
        };
        let f = &mut self.forks[w];
        let body = body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice()));
        let ack = Arc::new(f.leg.ack_2xx(f.cseq, body).to_bytes());
        f.state = ForkState::Answered {
            ack: Some(ack.clone()),
        };
        out.send(&f.leg.dest, ack);
    }

    /// The caller's CANCEL of its INVITE: `200` for the CANCEL itself (RFC 3261 §9.2),
    /// whatever its effect; `487` and CANCEL to the branches while ringing.
    pub(super) fn on_cancel(&mut self, now: Instant, inc: &Incoming, out: &mut Actions) {
        // The CANCEL matches the INVITE's transaction: same Call-ID, same branch.
        if self.side_of(inc.msg.call_id().unwrap_or("")) != Some(Side::A)
            || inc.checked.via.branch() != self.a_via.branch()
        {
            out.push(answer(inc, 481, "Call/Transaction Does Not Exist", ""));
            return;
        }
        out.push(answer(inc, 200, "OK", &self.a.local_tag));
        if self.phase == Phase::Ringing {
            self.cancel_forks(now, None, out);
            self.fail(now, 487, "Request Terminated", Disposition::Cancelled, out);
        }
    }

    /// A request inside one of the call's dialogs.
    pub(super) fn on_request(&mut self, now: Instant, inc: Incoming, out: &mut Actions) {
        let no_call = |out: &mut Actions| {
            out.push(answer(&inc, 481, "Call/Transaction Does Not Exist", ""));
        };
        let Some(side) = self.side_of(inc.msg.call_id().unwrap_or("")) else {
            return no_call(out);
        };
        let method = Method::parse(inc.msg.method().unwrap_or(""));
        // RFC 3261 §12.2.2: the request must belong to this leg's dialog (both tags), and
        // its CSeq must be higher than the last one.
        let in_dialog = self.leg_mut(side).is_some_and(|l| {
            inc.checked.to.tag() == Some(l.local_tag.as_str())
                && (l.remote_tag.is_none() || inc.checked.from.tag() == l.remote_tag.as_deref())
        });
        if self.is_ended() || !in_dialog {
            return no_call(out);
        }
        let cseq = inc.msg.cseq().map(|c| c.0).unwrap_or(0);
        if let Some(l) = self.leg_mut(side) {
            if cseq <= l.remote_cseq && l.remote_cseq != 0 {
                out.push(answer(&inc, 500, "Server Internal Error", ""));
                return;
            }
            l.remote_cseq = cseq;
        }
        if self.transfer_request(now, side, &method, &inc, out) {
            return;
        }
        if method == Method::Bye {
            return self.on_bye(now, side, &inc, out);
        }
        if method.as_str() == "PRACK" {
            return self.on_prack(now, side, &inc, out);
        }
        if method == Method::Invite {
            let open = |p: &&Pending| !p.done && p.method == Method::Invite;
            if self.pending.iter().filter(open).any(|p| p.target == side) {
                // RFC 3261 §14.2: our own re-INVITE on this leg is still open (glare).
                out.push(answer(&inc, 491, "Request Pending", ""));
                return;
            }
            if self
                .pending
                .iter()
                .filter(open)
                .any(|p| p.origin.as_ref().is_some_and(|o| o.side == side))
            {
                // A second re-INVITE before the first one was answered.
                let mut r = response(&inc.msg, 500, "Server Internal Error", "");
                r.push_header("Retry-After", "1");
                out.push(Action::Reply {
                    sent: prepare(&inc.checked.via, &inc.flow, r),
                    key: inc.key,
                });
                return;
            }
        }
        let refresh = matches!(method, Method::Invite | Method::Update);
        // An offer the relay cannot carry is refused before anything changes (the leg's
        // session timer included): the session stays as it was. What the relay is told
        // goes out with the request.
        let mut media = Actions::default();
        let carried = if refresh {
            self.carry(side, &inc.msg, &mut media)
        } else {
            Ok(carry_plain(&inc.msg))
        };
        let Ok(body) = carried else {
            out.push(answer(&inc, 488, "Not Acceptable Here", ""));
            return;
        };
        if refresh && self.session_refresh(now, side, &inc, out) {
            return;
        }
        if matches!(self.phase, Phase::Answered { winner: None, .. }) {
            return self.on_request_here(method, &inc, out);
        }
        if method.as_str() == "INFO" {
            let caller = side == Side::A;
            // an on-demand recording asked by a phone (Yealink's `Record: on|off`)
            if let Some(v) = inc.msg.get("Record") {
                let on = v.trim().eq_ignore_ascii_case("on");
                if !self.info.record.info || !matches!(self.phase, Phase::Answered { .. }) {
                    out.push(answer(&inc, 403, "Forbidden", ""));
                    return;
                }
                let reason = if on { "Record On" } else { "Record Off" };
                out.push(answer(&inc, 200, reason, ""));
                out.push(Action::Recording { on, caller });
                return;
            }
            // a key, relayed as ever; the recording code may be in it
            if self.info.record.code.is_some() {
                let ct = inc.msg.content_type().unwrap_or("");
                if let Some(k) = crate::media::dtmf::info_key(ct, &inc.msg.body) {
                    out.push(Action::RecordKey { caller, k });
                }
            }
        }
        let Some(peer) = self.peer(side) else {
            return no_call(out);
        };
        let mut extra: Vec<HeaderField> = CARRIED
            .iter()
            .filter_map(|h| inc.msg.get(h).map(|v| HeaderField::new(h, v)))
            .collect();
        if method == Method::Invite {
            extra.push(HeaderField::new("Allow", crate::sip::reply::ALLOW));
        }
        out.0.append(&mut media.0);
        if refresh {
            // (what a refresh by re-INVITE offers again: SDP only)
            let sdp = body
                .as_ref()
                .filter(|(c, _)| c == "application/sdp")
                .map(|(_, b)| b.as_slice());
            extra.extend(self.session_relayed(peer, sdp));
        }
        let Some(leg) = self.leg_mut(peer) else {
            return;
        };
        let body = body.as_ref().map(|(c, b)| (c.as_str(), b.as_slice()));
        let (req, branch) = leg.in_dialog(method.as_str(), body, extra);
        let cseq = leg.local_cseq;
        let dest = leg.dest.clone();
        let bytes = Arc::new(req.to_bytes());
        out.send(&dest, bytes.clone());
        self.pending.retain(|p| !p.done);
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        self.pending.push(Pending {
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
        self.retransmit(now, bytes, dest, Wait::Pending { branch });
    }

    /// A request inside a call vozbox answered itself (a locution, the echo test,
    /// voicemail): a key in an INFO goes to the application; a new offer is declined (the
    /// session stays as it is).
    fn on_request_here(&mut self, method: Method, inc: &Incoming, out: &mut Actions) {
        match method.as_str() {
            "INFO" => {
                let key = crate::media::dtmf::info_key(
                    inc.msg.content_type().unwrap_or(""),
                    &inc.msg.body,
                );
                out.push(answer(inc, 200, "OK", ""));
                if let Some(k) = key {
                    out.push(Action::Key(k));
                }
            }
            "INVITE" | "UPDATE" => out.push(answer(inc, 488, "Not Acceptable Here", "")),
            "OPTIONS" => out.push(answer(inc, 200, "OK", "")),
            _ => out.push(answer(inc, 405, "Method Not Allowed", "")),
        }
    }

    fn on_bye(&mut self, now: Instant, side: Side, inc: &Incoming, out: &mut Actions) {
        let ok = answer(inc, 200, "OK", "");
        // The BYE that ends an answered call is answered once its record is durable: a
        // call its party saw end always has its CDR, even across a crash.
        let winner = self.winner();
        let ends_call = matches!(self.phase, Phase::Answered { .. })
            && match side {
                Side::A => true,
                Side::B(i) => winner == Some(i),
            };
        if !ends_call {
            out.push(ok.clone());
        }
        match (side, self.phase) {
            (Side::A, Phase::Ringing) => {
                // A BYE before the answer: the caller gave up.
                self.cancel_forks(now, None, out);
                self.fail(now, 487, "Request Terminated", Disposition::Cancelled, out);
            }
            // The caller, or the branch that answered, hangs up (a call that plays a
            // locution has no branch at all).
            (Side::A, Phase::Answered { .. }) => {
                if let Some(w) = winner {
                    self.hang_up(now, Side::B(w), out);
                }
                self.end(now, Disposition::Answered, 200, Some(ok), out);
            }
            (Side::B(i), Phase::Answered { .. }) if winner == Some(i) => {
                self.hang_up(now, Side::A, out);
                self.end(now, Disposition::Answered, 200, Some(ok), out);
            }
            (Side::B(i), _) => {
                // A branch that is not the call hangs up its early dialog.
                self.forks[i].state = ForkState::Failed;
                self.fail_if_all_failed(now, 480, "Temporarily Unavailable", None, out);
            }
            _ => {}
        }
    }

    /// A response to a request we relayed (or sent ourselves) inside the call.
    pub(super) fn pending_response(
        &mut self,
        now: Instant,
        side: Side,
        branch: &str,
        msg: &Message,
        out: &mut Actions,
    ) {
        let Some(pi) = self
            .pending
            .iter()
            .position(|p| p.branch == branch && p.target == side)
        else {
            return;
        };
        let (code, reason) = status(msg);
        let is_invite = self.pending[pi].method == Method::Invite;
        if code < 200 {
            self.pending[pi].provisional = true;
            return;
        }
        let cseq = self.pending[pi].cseq;
        if is_invite {
            // ACK the answering side ourselves; the originator's ACK ends at vozbox.
            let Some(leg) = self.leg_mut(side) else {
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
            out.send(&leg.dest.clone(), Arc::new(ack.to_bytes()));
        }
        if self.pending[pi].done {
            return;
        }
        self.pending[pi].done = true;
        let origin = self.pending[pi].origin.take();
        let is_update = self.pending[pi].method == Method::Update;
        // A re-INVITE stays known (done) until the next request: a retransmitted 2xx is
        // ACKed again above.
        if !is_invite {
            let p = self.pending.remove(pi);
            self.notify_answered(now, &p.method, out);
        }
        let Some(o) = origin else { return };
        let mut r = response(&o.req, code, reason, "");
        if (200..300).contains(&code) && (is_invite || is_update) {
            if let Some(l) = self.leg_mut(o.side) {
                r.push_header("Contact", l.contact.clone());
            }
        }
        // Only a 2xx to a re-INVITE or UPDATE answers an offer; any other body with SDP (a
        // 606's capabilities, an OPTIONS' 200) is left out.
        let carried = if (200..300).contains(&code) && (is_invite || is_update) {
            self.carry(side, msg, out)
        } else {
            Ok(carry_plain(msg))
        };
        match carried {
            Ok(Some((ctype, body))) => {
                r.push_header("Content-Type", ctype);
                r.body = body;
            }
            Ok(None) => {}
            Err(_) => {
                // An answer the relay cannot carry (the answering side is ACKed above):
                // the originator's request is refused and the call ends, its two sides no
                // longer agreeing on the session.
                let r = response(&o.req, 488, "Not Acceptable Here", "");
                out.push(Action::Reply {
                    sent: prepare(&o.via, &o.flow, r),
                    key: o.key,
                });
                match (self.phase, side) {
                    (Phase::Answered { .. }, _) => {
                        self.hang_up_both(now, out);
                        self.end(now, Disposition::BadSdp, 488, None, out);
                    }
                    // (an UPDATE in a branch's early dialog: that branch is given up)
                    (Phase::Ringing, Side::B(i)) => {
                        self.note_failure(488, "Not Acceptable Here");
                        if self.forks.get(i).map(|f| &f.state) == Some(&ForkState::Proceeding) {
                            self.send_cancel(now, i, out);
                        }
                    }
                    _ => {}
                }
                return;
            }
        }
        if is_invite || is_update {
            self.session_relayed_answer(o.side, &o.req, &mut r);
        }
        out.push(Action::Reply {
            sent: prepare(&o.via, &o.flow, r),
            key: o.key,
        });
    }

    /// Sends BYE to one side on vozbox's own behalf (the other side hung up, or a timer
    /// ended the call).
    pub(super) fn hang_up(&mut self, now: Instant, side: Side, out: &mut Actions) {
        self.send_own(now, side, Method::Bye, None, Vec::new(), out);
    }

    /// Sends a request of vozbox's own in `side`'s dialog (`body`: its type and bytes) and
    /// keeps it pending, resent until answered: its branch (None: no such leg).
    pub(super) fn send_own(
        &mut self,
        now: Instant,
        side: Side,
        method: Method,
        body: Option<(&str, &[u8])>,
        extra: Vec<HeaderField>,
        out: &mut Actions,
    ) -> Option<String> {
        let leg = self.leg_mut(side)?;
        let (req, branch) = leg.in_dialog(method.as_str(), body, extra);
        let (cseq, dest) = (leg.local_cseq, leg.dest.clone());
        let bytes = Arc::new(req.to_bytes());
        out.send(&dest, bytes.clone());
        self.pending.retain(|p| !p.done);
        self.pending.push(Pending {
            branch: branch.clone(),
            cseq,
            method,
            origin: None,
            target: side,
            provisional: false,
            done: false,
        });
        let wait = Wait::Pending {
            branch: branch.clone(),
        };
        self.retransmit(now, bytes, dest, wait);
        Some(branch)
    }

    /// BYE to the branch that answered and to the caller.
    pub(super) fn hang_up_both(&mut self, now: Instant, out: &mut Actions) {
        if let Some(w) = self.winner() {
            self.hang_up(now, Side::B(w), out);
        }
        self.hang_up(now, Side::A, out);
    }
}

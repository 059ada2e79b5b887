//! Reliable provisional responses (RFC 3262) in the call core. Towards a branch: a
//! provisional with `Require: 100rel` and an `RSeq` is PRACKed on that branch's early
//! dialog (`RAck: rseq cseq INVITE`, a request of its own, resent over UDP until
//! answered); a retransmission of one already PRACKed is not passed on. Towards a caller
//! that required `100rel`: every provisional but 100 is sent reliably (`RSeq`,
//! `Require: 100rel`), resent from T1 doubling until its PRACK, one at a time (the next
//! wait, only the latest and the latest with SDP; a 2xx waits for the PRACK of one that
//! carried SDP), and after 64·T1 without one the INVITE is refused with 5xx; the caller's
//! PRACK is answered 200 here (481 when it acknowledges nothing we sent). Other callers
//! get provisionals as they always did.

use super::actions::{Action, Actions};
use super::call::{Call, Method, Pending, Phase, Side};
use super::fork::{contact_uri, status};
use super::record::Disposition;
use super::timers::Wait;
use super::Incoming;
use crate::sip::message::{HeaderField, Message};
use crate::sip::reply::response;
use crate::sip::respond::prepare;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// A call's reliable provisionals, both ways.
#[derive(Debug, Clone, Default)]
pub struct Prack {
    /// The caller required `100rel`.
    pub a_required: bool,
    /// The RSeq of vozbox's last reliable provisional to the caller.
    a_rseq: u32,
    /// The one awaiting its PRACK (its RSeq).
    pub a_unacked: Option<u32>,
    /// The unacknowledged one carried SDP: a 2xx waits for its PRACK (RFC 3262 §3).
    a_unacked_sdp: bool,
    /// Provisionals waiting for the one before to be PRACKed.
    a_queue: VecDeque<Message>,
    /// The 2xx to the caller held until that PRACK.
    pub a_held: Option<Message>,
    /// Per branch, the last RSeq PRACKed.
    b_rseq: Vec<(usize, u32)>,
}

/// A number header's value (RSeq).
fn number(msg: &Message, name: &str) -> Option<u32> {
    msg.get(name)?.trim().parse().ok()
}

impl Prack {
    pub fn new(a_invite: &Message) -> Prack {
        Prack {
            a_required: a_invite
                .list("Require")
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case("100rel")),
            // RFC 3262 §3: the first RSeq is random in 1..2^31; a small one leaves room.
            a_rseq: rand::random::<u32>() % 1_000_000,
            ..Prack::default()
        }
    }
}

impl Call {
    /// A provisional from branch `i`: a reliable one is PRACKed once. True when it is a
    /// retransmission of one already PRACKed (not passed on, RFC 3262 §4).
    pub(super) fn prack_branch(
        &mut self,
        now: Instant,
        i: usize,
        msg: &Message,
        out: &mut Actions,
    ) -> bool {
        let reliable = status(msg).0 > 100
            && msg
                .list("Require")
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case("100rel"));
        let (Some(rseq), true) = (number(msg, "RSeq"), reliable) else {
            return false;
        };
        let last = self.prack.b_rseq.iter().find(|(b, _)| *b == i).map(|x| x.1);
        if last.is_some_and(|l| rseq <= l) {
            return true;
        }
        if last.is_some_and(|l| rseq != l + 1) {
            // RFC 3262 §4: out of order; it will come again
            return true;
        }
        let Some(f) = self.forks.get_mut(i) else {
            return false;
        };
        // The early dialog the PRACK belongs to: the provisional's tag, target and route.
        let tag = msg
            .name_addr("To")
            .and_then(|n| n.tag().map(str::to_string));
        if tag.is_none() {
            return false;
        }
        f.leg.remote_tag = tag;
        if let Some(c) = contact_uri(msg) {
            f.leg.remote_target = c;
        }
        f.leg.route_set = msg.all("Record-Route").map(str::to_string).collect();
        f.leg.route_set.reverse();
        let rack = format!("{} {} INVITE", rseq, f.cseq);
        let (req, branch) = f
            .leg
            .in_dialog("PRACK", None, vec![HeaderField::new("RAck", rack)]);
        let (cseq, dest) = (f.leg.local_cseq, f.leg.dest.clone());
        let bytes = Arc::new(req.to_bytes());
        out.send(&dest, bytes.clone());
        match self.prack.b_rseq.iter_mut().find(|(b, _)| *b == i) {
            Some(e) => e.1 = rseq,
            None => self.prack.b_rseq.push((i, rseq)),
        }
        self.pending.retain(|p| !p.done);
        self.pending.push(Pending {
            branch: branch.clone(),
            cseq,
            method: Method::Other("PRACK".into()),
            origin: None,
            target: Side::B(i),
            provisional: false,
            done: false,
        });
        self.retransmit(now, bytes, dest, Wait::Pending { branch });
        false
    }

    /// A provisional (not 100) to the caller: reliable when it required 100rel, queued
    /// behind one still unacknowledged.
    pub(super) fn provisional_to_a(&mut self, now: Instant, r: Message, out: &mut Actions) {
        if !self.prack.a_required {
            self.reply_a(r, None, out);
            return;
        }
        if self.prack.a_unacked.is_some() {
            // Bounded for a caller that never PRACKs: only the latest provisional and the
            // latest with SDP wait (an older one of the same kind is superseded).
            let sdp = !r.body.is_empty();
            self.prack.a_queue.retain(|q| q.body.is_empty() == sdp);
            self.prack.a_queue.push_back(r);
            return;
        }
        self.send_reliable(now, r, out);
    }

    fn send_reliable(&mut self, now: Instant, mut r: Message, out: &mut Actions) {
        self.prack.a_rseq += 1;
        let rseq = self.prack.a_rseq;
        r.push_header("Require", "100rel");
        r.push_header("RSeq", rseq.to_string());
        self.prack.a_unacked_sdp = !r.body.is_empty();
        let sent = self.reply_a(r, None, out);
        self.prack.a_unacked = Some(rseq);
        self.retransmit_reliable(now, sent, rseq);
    }

    /// The 2xx to the caller's INVITE (`r`): sent and resent until its ACK — or held until
    /// the PRACK of a reliable provisional with SDP still unacknowledged (RFC 3262 §3).
    pub(super) fn final_to_a(&mut self, now: Instant, r: Message, out: &mut Actions) {
        self.prack.a_queue.clear();
        if self.prack.a_unacked.is_some() && self.prack.a_unacked_sdp {
            self.prack.a_held = Some(r);
            return;
        }
        let sent = self.reply_a(r, None, out);
        self.a_final = Some(sent.clone());
        self.retransmit_final(now, sent);
    }

    /// Whether the reliable provisional `rseq` still waits for its PRACK.
    pub(super) fn reliable_waiting(&self, rseq: u32) -> bool {
        (self.phase == Phase::Ringing || self.prack.a_held.is_some())
            && self.prack.a_unacked == Some(rseq)
    }

    /// 64·T1 without the PRACK (RFC 3262 §3): the caller's INVITE is refused (a callee
    /// that answered meanwhile is hung up).
    pub(super) fn reliable_lost(&mut self, now: Instant, out: &mut Actions) {
        if self.prack.a_held.take().is_some() {
            tracing::info!("call {}: no PRACK from the caller; hanging up", self.id);
            self.prack.a_unacked = None;
            if let Some(w) = self.winner() {
                self.hang_up(now, Side::B(w), out);
            }
            let r = response(&self.a_invite, 504, "Server Time-out", &self.a.local_tag);
            let sent = self.reply_a(r, self.a_key, out);
            self.a_final = Some(sent.clone());
            self.retransmit_final(now, sent);
            self.end(now, Disposition::Failed, 504, None, out);
            return;
        }
        if self.phase != Phase::Ringing {
            return;
        }
        tracing::info!("call {}: no PRACK from the caller", self.id);
        self.prack.a_unacked = None;
        self.prack.a_queue.clear();
        self.notices = None;
        self.cancel_forks(now, None, out);
        self.fail(now, 504, "Server Time-out", Disposition::Failed, out);
    }

    /// A PRACK (from the caller, for a reliable provisional of ours): 200, and the next
    /// queued provisional goes; 481 when it acknowledges nothing outstanding.
    pub(super) fn on_prack(&mut self, now: Instant, side: Side, inc: &Incoming, out: &mut Actions) {
        let rack: Vec<&str> = inc
            .msg
            .get("RAck")
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let matches = match (side, rack.as_slice(), self.prack.a_unacked) {
            (Side::A, [rseq, cseq, method], Some(want)) => {
                rseq.parse::<u32>().ok() == Some(want)
                    && cseq.parse::<u32>().ok() == Some(self.a_cseq)
                    && method.eq_ignore_ascii_case("INVITE")
            }
            _ => false,
        };
        let (code, reason) = if matches {
            (200, "OK")
        } else {
            (481, "Call/Transaction Does Not Exist")
        };
        let r = response(&inc.msg, code, reason, "");
        out.push(Action::Reply {
            sent: prepare(&inc.checked.via, &inc.flow, r),
            key: inc.key,
        });
        if !matches {
            return;
        }
        self.prack.a_unacked = None;
        if let Some(ok) = self.prack.a_held.take() {
            return self.final_to_a(now, ok, out);
        }
        if self.phase == Phase::Ringing {
            if let Some(next) = self.prack.a_queue.pop_front() {
                self.send_reliable(now, next, out);
            }
        }
    }
}

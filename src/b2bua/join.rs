//! The join of a transfer (call core): the new party — a blind transfer's target that
//! answered our INVITE without an offer, or an attended transfer's party asked by a
//! re-INVITE without SDP — offered; the remaining party gets that offer in a re-INVITE
//! and its answer goes back in our ACK (RFC 3725's third party call control). The relay
//! stays: the new party takes the transferor's side of it, and the transferor's place in
//! the call (`complete`). `give_away` is the other call's side of an attended transfer.

use super::actions::{Action, Actions};
use super::authn::Caller;
use super::call::{Call, Direction, Fork, ForkState, Info, Method, Pending, Phase, Side};
use super::fork::contact_uri;
use super::media::{body_of, Body};
use super::record::{cdr, Disposition};
use super::timers::Wait;
use super::transfer::{facing, label, to_tag, Segment, Stage};
use crate::media::sdp::{self, Advertised};
use crate::media::Facing;
use crate::sip::message::{HeaderField, Message};
use std::sync::Arc;
use std::time::Instant;

impl Call {
    /// A branch of the target answered (with its offer: our INVITE had none).
    pub(super) fn target_answered(
        &mut self,
        now: Instant,
        i: usize,
        msg: &Message,
        out: &mut Actions,
    ) {
        let cseq = {
            let f = &mut self.forks[i];
            f.leg.remote_tag = to_tag(msg);
            if let Some(c) = contact_uri(msg) {
                f.leg.remote_target = c;
            }
            f.leg.route_set = msg.all("Record-Route").map(str::to_string).collect();
            f.leg.route_set.reverse();
            f.state = ForkState::Answered { ack: None };
            f.cseq
        };
        self.cancel_forks(now, Some(i), out);
        self.offered(now, i, cseq, msg, out);
    }

    /// The new party (fork `n`) is let go: its 2xx (CSeq `cseq`, with its offer)
    /// acknowledged without an answer, then BYE.
    pub(super) fn release(&mut self, now: Instant, n: usize, cseq: u32, out: &mut Actions) {
        let f = &mut self.forks[n];
        let ack = f.leg.ack_2xx(cseq, None);
        out.send(&f.leg.dest.clone(), Arc::new(ack.to_bytes()));
        f.state = ForkState::Failed;
        self.hang_up(now, Side::B(n), out);
    }

    /// Fork `n` offered in `msg` (a 200 with CSeq `cseq`): the remaining party gets the
    /// offer in a re-INVITE.
    pub(super) fn offered(
        &mut self,
        now: Instant,
        n: usize,
        cseq: u32,
        msg: &Message,
        out: &mut Actions,
    ) {
        let Some(by) = self.transfer.on.as_ref().map(|t| t.by) else {
            return;
        };
        let Some(rest) = self.peer(by) else { return };
        self.session_offered(now, n, msg);
        let Body::Sdp(offer) = body_of(msg) else {
            self.release(now, n, cseq, out);
            return self.transfer_failed(now, 488, "Not Acceptable Here", out);
        };
        let (adv, body) = match self.relay {
            Some(relay) => {
                let to = match facing(rest) {
                    Facing::A => relay.a,
                    Facing::B => relay.b,
                };
                match sdp::rewrite(offer, to) {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::info!("call {}: transfer: {}", self.id, e);
                        self.release(now, n, cseq, out);
                        return self.transfer_failed(now, 488, "Not Acceptable Here", out);
                    }
                }
            }
            None => (None, offer.to_vec()),
        };
        let Some(leg) = self.leg_mut(rest) else {
            return;
        };
        let extra = vec![HeaderField::new("Allow", crate::sip::reply::ALLOW)];
        let (req, branch) = leg.in_dialog("INVITE", Some(("application/sdp", &body)), extra);
        let (rcseq, dest) = (leg.local_cseq, leg.dest.clone());
        let bytes = Arc::new(req.to_bytes());
        out.send(&dest, bytes.clone());
        self.pending.retain(|p| !p.done);
        self.pending.push(Pending {
            branch: branch.clone(),
            cseq: rcseq,
            method: Method::Invite,
            origin: None,
            target: rest,
            provisional: false,
            done: false,
        });
        self.retransmit(
            now,
            bytes,
            dest,
            Wait::Pending {
                branch: branch.clone(),
            },
        );
        if let Some(t) = self.transfer.on.as_mut() {
            t.stage = Stage::Joining {
                n,
                branch,
                cseq,
                adv,
            };
        }
    }

    /// The remaining party (`rest`) took the new party's offer: its answer goes to the new
    /// party in our ACK, the relay's transferor side now faces the new party, and the
    /// call is theirs.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn joined(
        &mut self,
        now: Instant,
        rest: Side,
        n: usize,
        cseq: u32,
        adv: Option<Advertised>,
        msg: &Message,
        out: &mut Actions,
    ) {
        let Some(by) = self.transfer.on.as_ref().map(|t| t.by) else {
            return;
        };
        // (the remaining party's answer: its SDP alone goes to the new party)
        let (mut body, answer) = match body_of(msg) {
            Body::Sdp(sdp) => (sdp.to_vec(), Some(sdp)),
            Body::Unreadable(_) => (Vec::new(), Some(&b""[..])),
            _ => (Vec::new(), None),
        };
        if let (Some(relay), Some(answer)) = (self.relay, answer) {
            let to = match facing(by) {
                Facing::A => relay.a,
                Facing::B => relay.b,
            };
            match sdp::rewrite(answer, to) {
                Ok((radv, b)) => {
                    body = b;
                    let rest_ip = self.leg_mut(rest).map(|l| l.dest.to.ip());
                    if let Some(ip) = rest_ip {
                        out.push(Action::MediaPeer {
                            facing: facing(rest),
                            adv: radv,
                            signalling: ip,
                        });
                    }
                }
                Err(e) => {
                    // An answer the relay cannot carry: the new party is let go (its offer
                    // acknowledged without one, then BYE), the transfer fails, and the call
                    // ends: the remaining party took the new party's offer, so it and the
                    // transferor no longer agree on the session.
                    tracing::info!("call {}: transfer: {}", self.id, e);
                    self.release(now, n, cseq, out);
                    self.transfer_failed(now, 488, "Not Acceptable Here", out);
                    if !self.is_ended() {
                        self.hang_up_both(now, out);
                        self.end(now, Disposition::BadSdp, 488, None, out);
                    }
                    return;
                }
            }
        }
        if let Some(t) = self.transfer.timer.as_mut() {
            // (a refresh by re-INVITE offers the new party what our ACK answered)
            t.sdp = (!body.is_empty()).then(|| body.clone());
        }
        let f = &mut self.forks[n];
        let ack = Arc::new(
            f.leg
                .ack_2xx(
                    cseq,
                    (!body.is_empty()).then_some(("application/sdp", &body)),
                )
                .to_bytes(),
        );
        out.send(&f.leg.dest.clone(), ack.clone());
        f.state = ForkState::Answered {
            ack: Some(ack.clone()),
        };
        self.transfer.ack = Some((f.leg.call_id.clone(), cseq, ack));
        out.push(Action::MediaPeer {
            facing: facing(by),
            adv,
            signalling: f.leg.dest.to.ip(),
        });
        self.notify_transferor(now, "SIP/2.0 200 OK", true, out);
        self.complete(now, rest, n, out);
    }

    /// The transfer is made: the original call's record ends, the new party takes the
    /// transferor's place, the transferor is hung up.
    fn complete(&mut self, now: Instant, rest: Side, n: usize, out: &mut Actions) {
        let Some(t) = self.end_transfer() else {
            return;
        };
        let by_label = label(&t.party);
        // the record of the call as it was
        let mut info = self.info.clone();
        info.disposition = Disposition::Transferred.as_str().to_string();
        info.code = 200;
        info.transferred_by = Some(by_label.clone());
        let user = |c: Option<&Caller>| match c {
            Some(Caller::User { client, name }) => Some(format!("{}/{}", client, name)),
            _ => None,
        };
        out.push(Action::Segment {
            cdr: Box::new(cdr(&self.a.call_id, info, self.wall_ms(now))),
            billing: self.info.billing.clone(),
            lines: (user(Some(&t.party)), user(self.forks[n].party.as_ref())),
        });
        // and of the call that follows, from now
        let seg = t.segment.unwrap_or_default();
        let direction = seg.direction.unwrap_or(match (rest, self.info.direction) {
            (Side::A, Direction::Inbound) => Direction::Inbound,
            _ => Direction::Internal,
        });
        self.info = Info {
            client: seg.client,
            caller: self.name_of(rest),
            callee: seg.callee,
            direction,
            route: seg.route,
            carriers: seg.carriers,
            start: self.wall(now),
            billing: seg.billing,
            lines: self.info.lines.clone(),
            record: self.info.record.clone(),
            transferred_by: Some(by_label),
            ..Default::default()
        };
        self.credit = None;
        self.note_answer(now);
        tracing::info!("call {}: transferred ({})", self.id, self.info.route);
        // the new party takes the transferor's side
        let gone = match t.by {
            Side::A => {
                // the transferor's dialog stays known (its BYE is answered) as a branch
                std::mem::swap(&mut self.a, &mut self.forks[n].leg);
                self.a_flow = self.a.dest.flow.clone();
                self.a_flow.remote = self.a.dest.to;
                self.forks[n].state = ForkState::Failed;
                let new_party = self.forks[n].party.take();
                self.forks[n].party = std::mem::replace(&mut self.transfer.caller, new_party);
                self.swap_pending(n);
                Side::B(n)
            }
            by @ Side::B(_) => by,
        };
        // the transferor's session timer goes with it; the new party's takes its place
        // (RFC 4028 is per dialog: none when the new party set none)
        self.session_handed(t.by);
        let winner = match rest {
            Side::B(w) => w,
            Side::A => n,
        };
        self.phase = Phase::Answered {
            at: now,
            winner: Some(winner),
        };
        if !t.gone {
            self.hang_up(now, gone, out);
        }
    }

    /// Another call's transfer takes this call's party: `call_id` (with `tags`) must be
    /// a leg of `by` answered in this call. That leg is hung up, this call ends
    /// (`transferred`), and the remaining party's dialog is handed over.
    pub fn give_away(
        &mut self,
        now: Instant,
        call_id: &str,
        tags: &(String, String),
        by: &Caller,
        out: &mut Actions,
    ) -> Result<(Box<Fork>, Segment), (u16, &'static str)> {
        let nothing = (481, "Call/Transaction Does Not Exist");
        let side = self.side_of(call_id).ok_or(nothing)?;
        let winner = self.winner().ok_or(nothing)?;
        if self.is_ended() || (side != Side::A && side != Side::B(winner)) {
            return Err(nothing);
        }
        let leg = self.leg_mut(side).ok_or(nothing)?;
        let (l, r) = (
            leg.local_tag.clone(),
            leg.remote_tag.clone().unwrap_or_default(),
        );
        let same = (tags.0 == l && tags.1 == r) || (tags.0 == r && tags.1 == l);
        if !same {
            return Err(nothing);
        }
        // a call of somebody else is not the transferor's to take
        if self.party_of(side).as_ref() != Some(by) {
            return Err((403, "Forbidden"));
        }
        if self.transfer.on.is_some() {
            return Err((491, "Request Pending"));
        }
        let rest = self.peer(side).ok_or(nothing)?;
        let leg = self.leg_mut(rest).ok_or(nothing)?.clone();
        let fork = Fork {
            ruri: leg.remote_target.clone(),
            branch: String::new(),
            cseq: leg.local_cseq,
            invite: Arc::default(),
            state: ForkState::Answered { ack: None },
            credentials: None,
            auth_tried: false,
            pai: None,
            max_forwards: 70,
            offer: None,
            headers: Vec::new(),
            party: self.party_of(rest),
            leg,
        };
        let segment = Segment {
            client: self.info.client.clone(),
            callee: self.name_of(rest),
            route: self.info.route.clone(),
            direction: Some(self.info.direction),
            billing: self.info.billing.clone(),
            carriers: self.info.carriers.clone(),
            counted: false,
        };
        // this call ends here: its remaining party is not hung up, it goes on elsewhere
        self.hang_up(now, side, out);
        self.info.transferred_by = Some(label(by));
        self.end(now, Disposition::Transferred, 200, None, out);
        Ok((Box::new(fork), segment))
    }
}

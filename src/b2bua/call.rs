//! The state of one bridged call: the caller's leg (A), the branches of the outbound leg
//! (B, one per contact when forking), requests relayed between them, and what goes into
//! the call record.

use super::leg::Leg;
use crate::sip::headers::{NameAddr, Via};
use crate::sip::message::Message;
use crate::sip::respond::Sent;
use crate::sip::transport::Flow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

pub type CallRef = Arc<CallCell>;

/// A call behind its own lock: calls never wait for each other.
pub struct CallCell(Mutex<Call>);

impl CallCell {
    pub fn new(call: Call) -> CallCell {
        CallCell(Mutex::new(call))
    }
    pub fn lock(&self) -> MutexGuard<'_, Call> {
        // A panic while holding the lock leaves a call whose state is still consistent
        // enough to be ended; never propagate the poison to other requests.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Outbound branches sent, nothing answered.
    Ringing,
    Answered,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkState {
    /// INVITE sent, no response yet (retransmitted over UDP).
    Calling,
    /// A provisional response came.
    Proceeding,
    /// Answered with 2xx (the winner, or a late 2xx that was hung up).
    Answered,
    /// A final non-2xx came, or it timed out.
    Failed,
}

/// One branch of the outbound leg.
pub struct Fork {
    pub leg: Leg,
    /// Request-URI and branch of its INVITE (for CANCEL and the non-2xx ACK).
    pub ruri: String,
    pub branch: String,
    pub cseq: u32,
    pub invite: Arc<Vec<u8>>,
    pub state: ForkState,
    pub credentials: Option<(String, String)>,
    pub auth_tried: bool,
    /// Whether we sent CANCEL (once a provisional came).
    pub cancelled: bool,
    /// Whether CANCEL is owed as soon as a provisional response arrives.
    pub cancel_pending: bool,
    /// The ACK of its 2xx, sent again if the 2xx is retransmitted.
    pub ack: Option<Arc<Vec<u8>>>,
    /// P-Asserted-Identity and Max-Forwards of its INVITE (kept to resend it with
    /// credentials).
    pub pai: Option<String>,
    pub max_forwards: u32,
    /// The offer as sent on this branch (filtered by its allowed codecs).
    pub offer: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    /// The branch at this index.
    B(usize),
}

/// A request from one side relayed to the other, waiting for the answer to carry back.
pub struct Pending {
    /// Branch and CSeq of our request on the other side.
    pub branch: String,
    pub cseq: u32,
    pub method: String,
    /// Where the answer goes; None for vozbox's own requests (a BYE it sends) and once
    /// answered.
    pub origin: Option<Box<Origin>>,
    pub target: Side,
    pub provisional: bool,
    pub done: bool,
}

/// The request a relayed request came from, to answer it.
pub struct Origin {
    pub side: Side,
    pub req: Message,
    pub via: Via,
    pub flow: Flow,
    pub key: Option<String>,
}

/// What the call record will say.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub client: String,
    pub caller: String,
    pub callee: String,
    pub direction: &'static str,
    pub route: String,
    pub start: u64,
    pub answer: Option<u64>,
    pub end: Option<u64>,
    pub disposition: String,
    pub code: u16,
}

pub struct Call {
    pub id: u64,
    /// The caller's dialog; `a.call_id` keys the call.
    pub a: Leg,
    /// The caller's INVITE: every response to it is built from it.
    pub a_invite: Message,
    pub a_via: Via,
    pub a_flow: Flow,
    pub a_key: Option<String>,
    pub a_cseq: u32,
    /// The final response to the caller's INVITE, retransmitted over UDP until ACK.
    pub a_final: Option<Sent>,
    pub a_acked: bool,
    /// The caller offered no SDP in its INVITE: the answer comes in its ACK.
    pub late_offer: bool,
    pub forks: Vec<Fork>,
    pub winner: Option<usize>,
    pub phase: Phase,
    pub pending: Vec<Pending>,
    /// The best final failure of the branches so far (code, reason).
    pub best: Option<(u16, String)>,
    pub info: Info,
    /// When the call started, was answered and ended: the once-a-second sweep ends a
    /// call that rings or lasts too long and forgets an ended one.
    pub started: Instant,
    pub answered_at: Option<Instant>,
    pub ended_at: Option<Instant>,
    /// The relay session (its ports go back when it is dropped, at the end of the call).
    pub media: Option<crate::media::MediaSession>,
    /// A locution or notification being played (stopped when the call ends).
    pub playback: Option<tokio::task::AbortHandle>,
    /// The caller is hearing why the call failed; the final response comes after.
    pub notifying: bool,
}

impl Call {
    /// A call for the caller's INVITE (its dialog `a`), ringing, with nothing else yet.
    pub fn new(
        id: u64,
        a: Leg,
        (a_invite, a_via, a_flow, a_key): (Message, Via, Flow, Option<String>),
        info: Info,
    ) -> Call {
        Call {
            id,
            a,
            a_cseq: a_invite.cseq().map(|c| c.0).unwrap_or(0),
            late_offer: a_invite.body.is_empty(),
            a_invite,
            a_via,
            a_flow,
            a_key,
            a_final: None,
            a_acked: false,
            forks: Vec::new(),
            winner: None,
            phase: Phase::Ringing,
            pending: Vec::new(),
            best: None,
            info,
            started: Instant::now(),
            answered_at: None,
            ended_at: None,
            media: None,
            playback: None,
            notifying: false,
        }
    }

    /// The leg of a side.
    pub fn leg_mut(&mut self, side: Side) -> Option<&mut Leg> {
        match side {
            Side::A => Some(&mut self.a),
            Side::B(i) => self.forks.get_mut(i).map(|f| &mut f.leg),
        }
    }

    /// Which side a Call-ID belongs to.
    pub fn side_of(&self, call_id: &str) -> Option<Side> {
        if self.a.call_id == call_id {
            return Some(Side::A);
        }
        self.forks
            .iter()
            .position(|f| f.leg.call_id == call_id)
            .map(Side::B)
    }

    /// The other side of the bridge for an in-dialog request from `side`.
    pub fn peer(&self, side: Side) -> Option<Side> {
        match side {
            Side::A => self
                .winner
                .or_else(|| {
                    self.forks.iter().position(|f| {
                        f.state == ForkState::Proceeding && f.leg.remote_tag.is_some()
                    })
                })
                .map(Side::B),
            Side::B(i) if Some(i) == self.winner => Some(Side::A),
            Side::B(_) => None,
        }
    }

    /// Whether every branch has failed.
    pub fn all_failed(&self) -> bool {
        self.forks.iter().all(|f| f.state == ForkState::Failed)
    }

    /// Keeps the better of two final failures (RFC 3261 §16.7: 6xx first, then the lowest
    /// class; among 4xx, anything but 408/480 over those).
    pub fn note_failure(&mut self, code: u16, reason: &str) {
        let rank = |c: u16| -> u32 {
            match c {
                600..=699 => 0,
                486 => 1,
                400..=499 if c != 408 && c != 480 && c != 487 => 2,
                480 => 3,
                408 => 4,
                500..=599 => 5,
                _ => 6,
            }
        };
        match &self.best {
            Some((b, _)) if rank(*b) <= rank(code) => {}
            _ => self.best = Some((code, reason.to_string())),
        }
    }
}

/// A From/To value without its tag parameter.
pub fn without_tag(value: &str) -> String {
    match NameAddr::parse(value) {
        Ok(na) => {
            let mut out = String::with_capacity(value.len());
            if let Some(d) = &na.display {
                out.push('"');
                out.push_str(d);
                out.push_str("\" ");
            }
            out.push('<');
            out.push_str(&na.uri_text);
            out.push('>');
            for (k, v) in &na.params {
                if k.eq_ignore_ascii_case("tag") {
                    continue;
                }
                out.push(';');
                out.push_str(k);
                if let Some(v) = v {
                    out.push('=');
                    out.push_str(v);
                }
            }
            out
        }
        Err(_) => value.to_string(),
    }
}

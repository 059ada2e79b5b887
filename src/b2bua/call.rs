//! The call core: the state of one bridged call — the caller's leg (A), the branches of the
//! outbound leg (B, one per contact when forking), the requests relayed between them, the
//! timers, and what goes into the call record — as a plain state machine with no sockets,
//! no tasks and no clock of its own (like quinn-proto): `handle(now, Event)` returns the
//! actions to perform (`actions.rs`) and `poll_timeout()` the next instant it must be
//! woken at. The driver (`driver.rs`) owns the sockets, the relay session and the timer.
//!
//! What happens on each kind of event is in `fork.rs` (responses to the branches'
//! INVITEs, CANCEL), `dialog.rs` (ACK, CANCEL, in-dialog requests and their answers) and
//! `timers.rs` (RFC 3261 retransmissions and timeouts, no answer, maximum duration).

use super::actions::{Action, Actions};
pub use super::info::{Billing, Direction, Info};
use super::leg::Leg;
use super::record::Disposition;
use super::timers::Retrans;
use super::Incoming;
use crate::media::prompts::{Cause, Prompt, Prompts};
use crate::sip::headers::{NameAddr, Via};
use crate::sip::message::Message;
use crate::sip::respond::Sent;
use crate::sip::transaction::TxKey;
use crate::sip::transport::Flow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Outbound branches sent, nothing answered.
    Ringing,
    /// Answered by branch `winner` (none: a locution vozbox answered itself) at `at`.
    Answered { at: Instant, winner: Option<usize> },
    /// Ended at `at`; it lingers for late messages (`timers::LINGER`).
    Ended { at: Instant },
}

/// Where one branch is. Each state holds what only it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkState {
    /// INVITE sent, no response yet (retransmitted over UDP); `cancel_owed`: the call was
    /// given up before any provisional, so a CANCEL goes as soon as one comes (RFC 3261
    /// §9.1: never before).
    Calling { cancel_owed: bool },
    /// A provisional response came.
    Proceeding,
    /// We sent CANCEL (after a provisional); the INVITE's final response is awaited.
    /// `answered`: the CANCEL got its own 200 (it is no longer resent, RFC 3261 §17.1.2).
    Cancelling { answered: bool },
    /// Answered with 2xx (the winner, or a late 2xx that was hung up); `ack` is our ACK,
    /// sent again if the 2xx is retransmitted (None: the winner's ACK waits for the
    /// caller's, which carries the answer to a late offer).
    Answered { ack: Option<Arc<Vec<u8>>> },
    /// A final non-2xx came, or it timed out.
    Failed,
}

impl ForkState {
    /// Still waiting for the INVITE's final response.
    pub fn waiting(&self) -> bool {
        matches!(
            self,
            ForkState::Calling { .. } | ForkState::Proceeding | ForkState::Cancelling { .. }
        )
    }
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
    /// Credentials to answer a carrier's challenge, once (`auth_tried`).
    pub credentials: Option<(String, String)>,
    pub auth_tried: bool,
    /// P-Asserted-Identity and Max-Forwards of its INVITE (kept to resend it with
    /// credentials).
    pub pai: Option<String>,
    pub max_forwards: u32,
    /// The offer as sent on this branch (filtered by its allowed codecs).
    pub offer: Option<Vec<u8>>,
    /// Header fields of its own on the INVITE (the `Diversion` of a forwarded call).
    pub headers: Vec<(String, String)>,
    /// The user or friend it reaches (None: a carrier): who may transfer from it.
    pub party: Option<super::authn::Caller>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    /// The branch at this index.
    B(usize),
}

/// The SIP methods the call core treats apart; any other is relayed as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Invite,
    Update,
    Bye,
    Other(String),
}

impl Method {
    pub fn parse(m: &str) -> Method {
        match m {
            "INVITE" => Method::Invite,
            "UPDATE" => Method::Update,
            "BYE" => Method::Bye,
            other => Method::Other(other.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Update => "UPDATE",
            Method::Bye => "BYE",
            Method::Other(m) => m,
        }
    }
}

/// A request from one side relayed to the other (or vozbox's own BYE), waiting for the
/// answer to carry back.
pub struct Pending {
    /// Branch and CSeq of our request on the other side.
    pub branch: String,
    pub cseq: u32,
    pub method: Method,
    /// Where the answer goes; None for vozbox's own requests (a BYE it sends) and once
    /// answered.
    pub origin: Option<Box<Origin>>,
    pub target: Side,
    pub provisional: bool,
    pub done: bool,
}

/// The relay's addresses as each side must see them (its SDP is rewritten to these).
/// The request a relayed request came from, to answer it.
pub struct Origin {
    pub side: Side,
    pub req: Message,
    pub via: Via,
    pub flow: Flow,
    pub key: Option<TxKey>,
}

#[derive(Debug, Clone, Copy)]
pub struct Relay {
    pub a: SocketAddr,
    pub b: SocketAddr,
}

/// The voice notifications a caller gets (its client wants them, in its language).
#[derive(Clone)]
pub struct Notices {
    pub prompts: Arc<Prompts>,
    pub language: String,
}

impl Notices {
    pub fn get(&self, cause: Cause) -> Option<Arc<Prompt>> {
        self.prompts.get(&self.language, cause)
    }
}

/// The limits of `[calls]` a call is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub no_answer: Duration,
    pub max_duration: Duration,
}

/// What happens to a call; `Call::handle` takes one at a time.
pub enum Event {
    /// A response to the INVITE of branch `index` (Via branch matched).
    ForkResponse { index: usize, msg: Message },
    /// The 200 to the CANCEL of branch `index`.
    CancelAnswered { index: usize },
    /// A response to a request of ours inside the call on `side` (top Via `branch`).
    Response {
        side: Side,
        branch: String,
        msg: Message,
    },
    /// An ACK for this call.
    Ack(Incoming),
    /// The caller's CANCEL (matched to its INVITE by the driver).
    Cancel(Incoming),
    /// A request inside a dialog of the call (BYE, re-INVITE, UPDATE, INFO …).
    Request(Incoming),
    /// `poll_timeout` has passed.
    Timeout,
    /// The connections of these branches closed (or never opened) while they waited.
    BranchesLost(Vec<usize>),
    /// No RTP either way for `[media] timeout`.
    MediaIdle,
    /// The locution or notification being played ended.
    PlaybackDone,
    /// Hang up now (an operator's command).
    HangUp,
    /// The branches of a forward asked with `Action::Forward` (not sent yet), the
    /// forwards of the party they reach, and the record's route label.
    Forwarded {
        forks: Vec<Fork>,
        divert: Option<super::divert::Divert>,
        label: String,
        /// A forward out through a carrier: priced as its billed client's call.
        billing: Option<Arc<Billing>>,
    },
    /// The forward asked leads to an application of vozbox (voicemail): the caller is
    /// answered with this SDP and the application starts (`Action::App`).
    ForwardedHere { answer: Vec<u8>, label: String },
    /// The forward asked leads nowhere: the caller gets this.
    ForwardFailed {
        code: u16,
        reason: &'static str,
        disposition: Disposition,
    },
    /// End now: the client's credit or daily usage is spent (`policy::Block`).
    Cut(crate::policy::Block),
    /// The driver's answer to `Action::Transfer` (`transfer.rs`).
    Transfer(Box<super::transfer::Step>),
    /// The next destination asked with `Action::FailOver` by the failover of `round`: its
    /// branches (not sent yet; none: unreachable), its carrier, and more addresses of that
    /// carrier to try next.
    FailedOver {
        forks: Vec<Fork>,
        carrier: String,
        more: Vec<super::failover::Next>,
        round: u32,
    },
}

pub struct Call {
    pub id: u64,
    /// The caller's dialog; `a.call_id` keys the call.
    pub a: Leg,
    /// The caller's INVITE: every response to it is built from it.
    pub a_invite: Message,
    pub a_via: Via,
    pub a_flow: Flow,
    pub a_key: Option<TxKey>,
    pub a_cseq: u32,
    /// The final response to the caller's INVITE, retransmitted over UDP until ACK.
    pub a_final: Option<Sent>,
    pub a_acked: bool,
    /// The caller offered no SDP in its INVITE: the answer comes in its ACK.
    pub late_offer: bool,
    pub forks: Vec<Fork>,
    pub phase: Phase,
    pub pending: Vec<Pending>,
    /// The best final failure of the branches so far (code, reason).
    pub best: Option<(u16, String)>,
    pub info: Info,
    pub started: Instant,
    /// Milliseconds since the epoch at `started` (the wall clock of the call records).
    pub started_ms: u64,
    pub limits: Limits,
    /// The relay's addresses (None: no relay session).
    pub relay: Option<Relay>,
    /// Voice notifications, when the caller's client wants them.
    pub notices: Option<Notices>,
    /// The caller is hearing why the call failed (since this instant); the final response
    /// comes after.
    pub notifying: bool,
    pub notified_at: Option<Instant>,
    /// The final response (code, reason, disposition) owed when the notification ends.
    pub notified: Option<(u16, String, Disposition)>,
    /// The cause a refusal tells (else the final code's: `fork::cause_of_code`).
    pub cause: Option<Cause>,
    /// An answered billed call with a budget: how long it may last, and the limit that
    /// ends it then (`policy::Block::NoCredit` or `DailyLimit`).
    pub credit: Option<(Duration, crate::policy::Block)>,
    /// What is retransmitted or awaited, each with its RFC 3261 timers.
    pub(super) retrans: Vec<Retrans>,
    /// Ringing since (the call's start, or its last forward): the no-answer limits count
    /// from here.
    pub ring_from: Instant,
    /// The called user's or friend's forwards that may still apply.
    pub divert: Option<super::divert::Divert>,
    /// The offer as the callee side gets it (pointing at the relay), for a forward's
    /// branches.
    pub b_offer: Option<Vec<u8>>,
    /// Who the call presents itself as to callees, for a forward's branches.
    pub from: super::target::Presentation,
    /// The forwards taken so far, the latest last.
    pub hops: Vec<super::divert::Hop>,
    /// Each leg's session timer (RFC 4028, `session_timer.rs`).
    pub sessions: super::session_timer::Sessions,
    /// Reliable provisionals both ways (RFC 3262, `prack.rs`).
    pub prack: super::prack::Prack,
    /// Who placed it, and a transfer in progress (`transfer.rs`).
    pub transfer: super::transfer::Transfers,
    /// An external call's next destinations (`failover.rs`).
    pub failover: Option<super::failover::Failover>,
    /// Failovers installed after the call's first (the last one's `round`).
    pub(super) failover_rounds: u32,
}

impl Call {
    /// A call for the caller's INVITE (its dialog `a`), ringing, with nothing else yet.
    pub fn new(
        id: u64,
        a: Leg,
        (a_invite, a_via, a_flow, a_key): (Message, Via, Flow, Option<TxKey>),
        info: Info,
        limits: Limits,
        (now, now_ms): (Instant, u64),
    ) -> Call {
        Call {
            id,
            a,
            sessions: super::session_timer::Sessions::new(Default::default(), &a_invite),
            prack: super::prack::Prack::new(&a_invite),
            a_cseq: a_invite.cseq().map(|c| c.0).unwrap_or(0),
            late_offer: !super::media::has_sdp(&a_invite),
            a_invite,
            a_via,
            a_flow,
            a_key,
            a_final: None,
            a_acked: false,
            forks: Vec::new(),
            phase: Phase::Ringing,
            pending: Vec::new(),
            best: None,
            info,
            started: now,
            started_ms: now_ms,
            limits,
            relay: None,
            notices: None,
            notifying: false,
            notified_at: None,
            notified: None,
            cause: None,
            credit: None,
            retrans: Vec::new(),
            ring_from: now,
            divert: None,
            b_offer: None,
            from: Default::default(),
            hops: Vec::new(),
            transfer: Default::default(),
            failover: None,
            failover_rounds: 0,
        }
    }

    /// Takes one event at `now`; what to do goes into `out`, in order.
    pub fn handle(&mut self, now: Instant, event: Event, out: &mut Actions) {
        let Some(event) = self.transfer_first(now, event, out) else {
            return self.transfer_after(now, out);
        };
        self.handle_event(now, event, out);
        self.transfer_after(now, out);
    }

    fn handle_event(&mut self, now: Instant, event: Event, out: &mut Actions) {
        match event {
            Event::ForkResponse { index, msg } => self.fork_response(now, index, &msg, out),
            Event::Response { side, branch, msg } => {
                self.pending_response(now, side, &branch, &msg, out);
                self.session_response(now, side, &branch, &msg, out);
            }
            Event::Ack(inc) => self.on_ack(now, &inc, out),
            Event::Cancel(inc) => self.on_cancel(now, &inc, out),
            Event::Request(inc) => self.on_request(now, inc, out),
            Event::CancelAnswered { index } => {
                if let Some(f) = self.forks.get_mut(index) {
                    if f.state == (ForkState::Cancelling { answered: false }) {
                        f.state = ForkState::Cancelling { answered: true };
                    }
                }
            }
            Event::Timeout => self.on_timeout(now, out),
            Event::BranchesLost(lost) => self.branches_lost(now, &lost, out),
            Event::MediaIdle => {
                if matches!(self.phase, Phase::Answered { .. }) {
                    tracing::info!("call {}: no media; hanging up", self.id);
                    self.hang_up_both(now, out);
                    self.end(now, Disposition::MediaTimeout, 200, None, out);
                }
            }
            Event::PlaybackDone => self.playback_done(now, out),
            Event::Cut(why) => match self.phase {
                Phase::Ringing => {
                    self.notices = None;
                    self.cancel_forks(now, None, out);
                    let reason = match why {
                        crate::policy::Block::DailyLimit => "Forbidden (daily limit reached)",
                        _ => "Forbidden (no credit)",
                    };
                    self.fail(now, 403, reason, Disposition::Policy(why), out);
                }
                Phase::Answered { .. } => {
                    self.hang_up_both(now, out);
                    self.end(now, Disposition::Policy(why), 200, None, out);
                }
                Phase::Ended { .. } => {}
            },
            Event::HangUp => match self.phase {
                Phase::Ringing => {
                    // An operator's hang-up is not explained to the caller.
                    self.notices = None;
                    self.cancel_forks(now, None, out);
                    self.fail(
                        now,
                        480,
                        "Temporarily Unavailable",
                        Disposition::HungUp,
                        out,
                    );
                }
                Phase::Answered { .. } => {
                    self.hang_up_both(now, out);
                    self.end(now, Disposition::HungUp, 200, None, out);
                }
                Phase::Ended { .. } => {}
            },
            Event::Forwarded {
                forks,
                divert,
                label,
                billing,
            } => self.forwarded(now, forks, divert, label, billing, out),
            Event::ForwardFailed {
                code,
                reason,
                disposition,
            } => self.forward_failed(now, code, reason, disposition, out),
            Event::ForwardedHere { answer, label } => self.forwarded_here(now, answer, label, out),
            Event::Transfer(step) => self.transfer_step(now, *step, out),
            Event::FailedOver {
                forks,
                carrier,
                more,
                round,
            } => self.failed_over(now, forks, (carrier, round), more, out),
        }
    }

    /// The branch that answered, if any.
    pub fn winner(&self) -> Option<usize> {
        match self.phase {
            Phase::Answered { winner, .. } => winner,
            _ => None,
        }
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Seconds since the epoch at `now`, from the call's start (the core never reads a
    /// clock itself).
    pub fn wall(&self, now: Instant) -> u64 {
        self.wall_ms(now) / 1000
    }

    /// Milliseconds since the epoch at `now`.
    pub fn wall_ms(&self, now: Instant) -> u64 {
        self.started_ms + now.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The call is answered at `now`: the record's answer time, and the rate of a billed
    /// call in force at that moment.
    pub(super) fn note_answer(&mut self, now: Instant) {
        let ms = self.wall_ms(now);
        self.info.answer = Some(ms / 1000);
        self.info.answered_ms = Some(ms);
        if let Some(b) = &self.info.billing {
            let rate = crate::policy::rating::rate_at(&b.tariff, ms / 1000).unwrap_or(b.at_setup);
            self.info.rate = Some(rate);
            // what the budget pays at this rate (nothing at all: it ends at once)
            self.credit = b.budget.map(|(money, why)| {
                let secs = rate.affordable(money).unwrap_or(0);
                (Duration::from_secs(secs), why)
            });
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
                .winner()
                .or_else(|| {
                    self.forks.iter().position(|f| {
                        matches!(
                            f.state,
                            ForkState::Proceeding | ForkState::Cancelling { .. }
                        ) && f.leg.remote_tag.is_some()
                    })
                })
                .map(Side::B),
            Side::B(i) if Some(i) == self.winner() => Some(Side::A),
            Side::B(_) => None,
        }
    }

    /// Keeps the better of two final failures (RFC 3261 §16.7: 6xx first, then the lowest
    /// class; among 4xx, anything but 408/480 over those).
    pub fn note_failure(&mut self, code: u16, reason: &str) {
        self.note_carrier_failure(code);
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

    /// Sends a response to the caller's INVITE (stamped for its Via and flow).
    pub(super) fn reply_a(&self, msg: Message, key: Option<TxKey>, out: &mut Actions) -> Sent {
        let sent = crate::sip::respond::prepare(&self.a_via, &self.a_flow, msg);
        out.push(Action::Reply {
            sent: sent.clone(),
            key,
        });
        sent
    }

    /// A locution or notification ended.
    fn playback_done(&mut self, now: Instant, out: &mut Actions) {
        if self.notifying {
            // The notification told the caller why: now the final response.
            if let Some((code, reason, disp)) = self.notified.take() {
                self.fail(now, code, &reason, disp, out);
            }
        } else if matches!(self.phase, Phase::Answered { winner: None, .. }) {
            // A locution answered by vozbox: it hangs up when the locution ends.
            self.hang_up(now, Side::A, out);
            self.end(now, Disposition::Answered, 200, None, out);
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

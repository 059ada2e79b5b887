//! The B2BUA: every call is two independent dialogs (own Call-ID, tags, CSeq) bridged by
//! vozbox.
//!
//! The call core is a state machine without I/O (`call.rs` with `fork.rs`, `dialog.rs`,
//! `timers.rs`, `record.rs`, `media.rs`): given an event and `now` it returns actions
//! (`actions.rs`) and its next deadline. The driver (`driver.rs`, this file, `invite.rs`,
//! `notify.rs`, `locution.rs`) feeds it what arrives, performs what it returns and wakes
//! it at its deadline. `invite` sets a call up (authentication, routing, forking).
//!
//! Calls are kept in a sharded map by the Call-ID of each of their legs; each call has its
//! own lock, so calls never wait for each other.

pub mod actions;
pub mod admit;
pub mod alarms;
pub mod app;
pub mod authn;
pub mod call;
pub mod challenge;
pub mod codecs;
pub mod credit;
pub mod dialog;
pub mod divert;
pub mod driver;
pub mod failover;
pub mod fork;
pub mod forward;
pub mod info;
pub mod invite;
pub mod join;
pub mod leg;
pub mod lines;
pub mod locution;
pub mod media;
pub mod mwi;
pub mod names;
pub mod notify;
pub mod prack;
pub mod record;
pub mod refer;
pub mod refer_to;
pub mod reroute;
pub mod service;
pub mod session_peer;
pub mod session_timer;
pub mod setting_up;
pub mod stats;
pub mod target;
#[cfg(test)]
mod tests;
pub mod timers;
pub mod transfer;
pub mod transfer_ends;
pub mod transfer_notify;
pub mod voicemail;

use crate::config;
use crate::model::Snapshot;
use crate::registrar::{Location, Registrar};
use crate::sip::headers::Via;
use crate::sip::message::Message;
use crate::sip::message::StartLine;
use crate::sip::reply::response;
use crate::sip::respond::{to_tag, Responder};
use crate::sip::transaction::TxKey;
use crate::sip::transport::Flow;
use crate::sip::validate::Checked;
use crate::store::writer::Writer;
use arc_swap::ArcSwap;
use call::{Event, Phase};
use dashmap::DashMap;
use driver::CallRef;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct B2bua {
    pub out: Arc<Responder>,
    /// Digest settings, nonces and bans are the registrar's.
    pub registrar: Arc<Registrar>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub location: Arc<Location>,
    pub writer: Writer,
    pub cfg: config::Calls,
    /// The relay, its settings and the voice notifications.
    pub media: Arc<crate::media::Media>,
    /// Model changes (a user's forward set by a service code).
    pub models: Arc<crate::models::Models>,
    /// The client policies' live state: max calls counters, refusals.
    pub policy: Arc<crate::policy::Policy>,
    /// Call recording (`None`: not set up).
    pub recording: Option<Arc<crate::recording::Service>>,
    /// Voicemail (`None` in tests that build a B2BUA without a store folder).
    pub voicemail: Option<Arc<crate::voicemail::Service>>,
    /// Every leg's Call-ID → its call.
    calls: DashMap<String, CallRef>,
    /// Calls not yet ended.
    active: AtomicUsize,
    /// Calls in progress per user (`client/name`), in and out: a user's `max_calls`.
    pub lines: lines::Lines,
    /// Phones subscribed to their mailbox's message waiting state.
    pub subscriptions: mwi::Subscriptions,
    /// Calls started, in progress and ended, setup times (for `GET /metrics`).
    pub stats: stats::CallStats,
    /// Calls sent on and not yet answered or ended (`[overload] max_setup`).
    pub setting_up: setting_up::SettingUp,
    /// When new calls and registrations are refused to keep admitted ones going.
    pub overload: Arc<crate::overload::Overload>,
    /// The health of the direct friends and carriers probed with OPTIONS: a call to one
    /// that is down is refused at once.
    pub qualify: Arc<crate::qualify::Qualify>,
    /// The server is shutting down: new calls are refused (`refuse_new_calls`).
    draining: AtomicBool,
    next_id: AtomicU64,
    rt: tokio::runtime::Handle,
    /// The calls' deadlines, served by one thread (`start_alarms`, from `app.rs`).
    alarms: Arc<alarms::Alarms<std::sync::Weak<driver::CallCell>>>,
    /// Resolves carriers reached by host name (unset: such a carrier is unreachable).
    pub dns: std::sync::OnceLock<Arc<crate::dns::Dns>>,
    /// What the host names of carriers and direct friends resolve to: their requests are
    /// recognised by it (`model::trust::classify`; kept by `names.rs`).
    pub names: Arc<ArcSwap<crate::model::trust::Resolved>>,
}

/// A request as the server received and checked it.
pub struct Incoming {
    pub msg: Message,
    pub checked: Checked,
    pub flow: Flow,
    /// Its server transaction key (UDP), for retransmissions of the answer.
    pub key: Option<TxKey>,
}

/// One active call as `vozbox calls` shows it.
#[derive(Debug, Serialize)]
pub struct CallView {
    pub id: u64,
    pub client: String,
    pub caller: String,
    pub callee: String,
    pub direction: String,
    pub route: String,
    pub state: String,
    pub start: u64,
    pub answer: Option<u64>,
    pub legs: Vec<String>,
    /// Relay ports and packets per direction.
    pub media: Option<crate::media::Counters>,
}

impl B2bua {
    pub fn new(
        out: Arc<Responder>,
        registrar: Arc<Registrar>,
        cfg: config::Calls,
        media: Arc<crate::media::Media>,
        models: Arc<crate::models::Models>,
        policy: Arc<crate::policy::Policy>,
        rt: tokio::runtime::Handle,
    ) -> B2bua {
        B2bua {
            models,
            policy,
            voicemail: None,
            recording: None,
            snapshot: registrar.snapshot.clone(),
            location: registrar.location.clone(),
            // the registrar's store writer: call records go with the bindings
            writer: registrar.writer.clone(),
            out,
            registrar,
            cfg,
            media,
            calls: DashMap::new(),
            active: AtomicUsize::new(0),
            subscriptions: Default::default(),
            lines: Default::default(),
            stats: Default::default(),
            setting_up: Default::default(),
            overload: Arc::new(crate::overload::Overload::new(Default::default())),
            qualify: Default::default(),
            draining: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            rt,
            alarms: Default::default(),
            dns: std::sync::OnceLock::new(),
            names: Default::default(),
        }
    }

    /// The same with the overload settings of `[overload]`.
    pub fn with_overload(self, limits: crate::overload::Settings) -> B2bua {
        B2bua {
            overload: Arc::new(crate::overload::Overload::new(limits)),
            ..self
        }
    }

    /// The same with voicemail.
    pub fn with_voicemail(self, voicemail: Arc<crate::voicemail::Service>) -> B2bua {
        B2bua {
            voicemail: Some(voicemail),
            ..self
        }
    }

    /// The same with call recording.
    pub fn with_recording(self, recording: Arc<crate::recording::Service>) -> B2bua {
        B2bua {
            recording: Some(recording),
            ..self
        }
    }

    /// Whether user `name` of `client` is at its own `max_calls` (0: no limit).
    pub(super) fn at_max_calls(
        &self,
        snap: &crate::model::Snapshot,
        client: &str,
        name: &str,
    ) -> bool {
        let limit = snap.user(client, name).map(|u| u.max_calls).unwrap_or(0);
        self.lines.at(&format!("{}/{}", client, name), limit)
    }

    /// Asks for the caller's credentials: `407` with one `Proxy-Authenticate` per value.
    fn challenge(&self, inc: &Incoming, values: Vec<String>) {
        let mut r = response(
            &inc.msg,
            407,
            "Proxy Authentication Required",
            &to_tag(&inc.msg),
        );
        for v in values {
            r.push_header(crate::sip::headers::Challenge::Proxy.header(), v);
        }
        self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
    }

    /// Answers a request the B2BUA cannot take, from its own transaction.
    fn reply(&self, inc: &Incoming, code: u16, reason: &str) {
        let r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
        self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
    }

    fn find(&self, call_id: &str) -> Option<CallRef> {
        self.calls.get(call_id).map(|c| c.clone())
    }

    /// Whether a leg with this Call-ID belongs to a call in progress.
    pub fn has_call(&self, call_id: &str) -> bool {
        self.calls.contains_key(call_id)
    }

    /// A request for the B2BUA: a new INVITE, or anything inside a call.
    pub fn on_request(self: &Arc<Self>, inc: Incoming) {
        let method = inc.msg.method().unwrap_or("");
        let in_dialog = inc.checked.to.tag().is_some();
        match method {
            "ACK" => self.to_call(inc, Event::Ack),
            "CANCEL" => self.to_call(inc, Event::Cancel),
            "INVITE" if !in_dialog && self.draining.load(Ordering::Relaxed) => {
                // Shutting down: the caller's phone or PBX may try another server (or this
                // one once it is back); calls in progress go on.
                let mut r = response(&inc.msg, 503, "Service Unavailable", &to_tag(&inc.msg));
                r.push_header("Retry-After", "5");
                self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
            }
            "INVITE" if !in_dialog => self.on_invite(inc),
            "SUBSCRIBE" => self.on_subscribe(inc),
            _ if in_dialog => self.to_call(inc, Event::Request),
            _ => self.reply(&inc, 481, "Call/Transaction Does Not Exist"),
        }
    }

    /// A response to a request the B2BUA sent.
    pub fn on_response(self: &Arc<Self>, msg: Message) {
        let Some(call_id) = msg.call_id() else { return };
        let Some(cell) = self.find(call_id) else {
            if let (StartLine::Response { code, .. }, Some((cseq, _))) = (&msg.start, msg.cseq()) {
                self.mwi_response(call_id, *code, cseq);
            }
            return;
        };
        let Some(via) = msg.top_via() else {
            return;
        };
        self.drive(&cell, |c, now, out| {
            if let Some(ev) = response_event(c, msg, &via) {
                c.handle(now, ev, out);
            }
        });
    }

    /// An ACK, a CANCEL or an in-dialog request for a call that exists (481 otherwise).
    fn to_call(self: &Arc<Self>, inc: Incoming, event: fn(Incoming) -> Event) {
        match self.find(inc.msg.call_id().unwrap_or("")) {
            Some(cell) => self.drive(&cell, |c, now, out| c.handle(now, event(inc), out)),
            // (an ACK without a call is dropped: nothing answers an ACK)
            None if inc.msg.method() == Some("ACK") => {}
            None => self.reply(&inc, 481, "Call/Transaction Does Not Exist"),
        }
    }

    /// The active calls, oldest first.
    pub fn list(&self) -> Vec<CallView> {
        // The handles first, the call locks after: never a call lock under a map shard lock.
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for cell in cells {
            let slot = cell.lock();
            let c = &slot.call;
            if c.is_ended() || !seen.insert(c.id) {
                continue;
            }
            out.push(CallView {
                id: c.id,
                client: c.info.client.clone(),
                caller: c.info.caller.clone(),
                callee: c.info.callee.clone(),
                direction: c.info.direction.as_str().to_string(),
                route: c.info.route.clone(),
                state: match c.phase {
                    Phase::Ringing => "ringing",
                    Phase::Answered { .. } => "answered",
                    Phase::Ended { .. } => "ended",
                }
                .to_string(),
                start: c.info.start,
                answer: c.info.answer,
                legs: std::iter::once(c.a.call_id.clone())
                    .chain(c.forks.iter().map(|f| f.leg.call_id.clone()))
                    .collect(),
                media: slot.media.as_ref().map(|m| m.counters()),
            });
        }
        out.sort_by_key(|c| c.id);
        out
    }

    /// Hangs up the call in progress with this id (`Event::HangUp`); false when there is
    /// none.
    pub fn hang_up(self: &Arc<Self>, id: u64) -> bool {
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        let Some(cell) = cells.into_iter().find(|c| {
            let slot = c.lock();
            slot.call.id == id && !slot.call.is_ended()
        }) else {
            return false;
        };
        self.drive(&cell, |c, now, out| c.handle(now, Event::HangUp, out));
        true
    }

    /// Hangs up every call in progress (`Event::HangUp`, as `hang_up` does one); how many.
    pub fn hang_up_all(self: &Arc<Self>) -> usize {
        // A call is entered once per leg: the second visit finds it ended.
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        let mut n = 0;
        for cell in cells {
            let live = !cell.lock().call.is_ended();
            if live {
                self.drive(&cell, |c, now, out| c.handle(now, Event::HangUp, out));
                n += 1;
            }
        }
        n
    }

    /// Whether a call in progress sends over this connection (asked only when the
    /// connection has been idle for the idle timeout).
    pub fn uses_connection(&self, flow: &Flow) -> bool {
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        cells.iter().any(|cell| {
            let slot = cell.lock();
            let call = &slot.call;
            !call.is_ended()
                && (call.a_flow.conn == flow.conn
                    || call.forks.iter().any(|f| f.leg.dest.flow.conn == flow.conn))
        })
    }

    /// Relay port pairs in use (two per call with media).
    pub fn media_ports_in_use(&self) -> usize {
        self.media.ports_in_use()
    }

    /// Calls not yet ended.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// From now on every new INVITE is answered `503` + `Retry-After` (the server is
    /// shutting down); requests inside calls, and so the calls in progress, go on.
    /// Whether new calls are refused (the server is draining).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub fn refuse_new_calls(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether a call, ended or not, still waits for an answer to something it sent (a
    /// BYE, a CANCEL, its final response's ACK).
    pub fn awaiting_answers(&self) -> bool {
        let cells: Vec<CallRef> = self.calls.iter().map(|e| e.value().clone()).collect();
        cells.iter().any(|cell| cell.lock().call.awaiting_answers())
    }
}

/// Which event a response to a request of ours inside call `c` is: a branch INVITE's, the
/// 200 to a branch's CANCEL (it stops the CANCEL's retransmission), or one relayed or sent
/// inside a dialog.
fn response_event(c: &call::Call, msg: Message, via: &Via) -> Option<Event> {
    let side = c.side_of(msg.call_id().unwrap_or(""))?;
    let (_, method) = msg.cseq()?;
    let branch = via.branch().unwrap_or("").to_string();
    if let call::Side::B(index) = side {
        if method == "INVITE" && c.forks.get(index).is_some_and(|f| f.branch == branch) {
            return Some(Event::ForkResponse { index, msg });
        }
        if method == "CANCEL" {
            // the CANCEL's own 200 (a final failure of it changes nothing)
            let ok = (200..300).contains(&fork::status(&msg).0);
            return (ok && c.forks.get(index).is_some_and(|f| f.branch == branch))
                .then_some(Event::CancelAnswered { index });
        }
    }
    Some(Event::Response { side, branch, msg })
}

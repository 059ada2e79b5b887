//! The end of a call (call core) and its record: one CDR per call, answered or not; the
//! driver queues it to the store's single writer (committed durably with the next group
//! of changes).

use super::actions::{Action, Actions};
use super::call::{Call, Info, Phase};
use crate::model::Cdr;
use crate::policy::money::Money;
use crate::routing::Route;
use std::sync::Arc;
use std::time::Instant;

/// How a call ended, as its record says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Answered,
    Busy,
    Cancelled,
    NoAnswer,
    NotFound,
    Rejected,
    Failed,
    /// The user or friend has no live binding.
    NotRegistered,
    /// A destination that is misconfigured, or whose connection failed.
    Unreachable,
    /// A service code that is none of ours, or an IVR route (not built yet).
    Unsupported,
    NoCommonCodec,
    BadSdp,
    NoMediaPorts,
    LocutionMissing,
    MaxDuration,
    MediaTimeout,
    /// A request inside the call got no answer (Timer F).
    PeerVanished,
    /// The caller never acknowledged the 200.
    NoAck,
    /// A leg's session timer ran out, or vozbox's refresh failed (RFC 4028).
    SessionExpired,
    /// An operator hung up (admin API).
    HungUp,
    /// Its forwards went round in a circle, or further than `[calls] max_forwards`.
    ForwardLoop,
    /// A party transferred it (REFER): what follows has a record of its own.
    Transferred,
    /// Refused by the routing decision.
    Refused(crate::routing::Refusal),
    /// Refused, or ended, by a client policy (max calls, IP filter, credit, daily usage).
    Policy(crate::policy::Block),
}

impl Disposition {
    /// What a caller's final failure `code` is called.
    pub fn of_code(code: u16) -> Disposition {
        match code {
            200..=299 => Disposition::Answered,
            486 | 600 => Disposition::Busy,
            487 => Disposition::Cancelled,
            408 | 480 => Disposition::NoAnswer,
            404 | 484 | 604 => Disposition::NotFound,
            403 | 603 => Disposition::Rejected,
            _ => Disposition::Failed,
        }
    }

    /// The word in the call record.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Busy => "busy",
            Disposition::Cancelled => "cancelled",
            Disposition::NoAnswer => "no_answer",
            Disposition::NotFound => "not_found",
            Disposition::Rejected => "rejected",
            Disposition::Failed => "failed",
            Disposition::NotRegistered => "not_registered",
            Disposition::Unreachable => "unreachable",
            Disposition::Unsupported => "unsupported",
            Disposition::NoCommonCodec => "no_common_codec",
            Disposition::BadSdp => "bad_sdp",
            Disposition::NoMediaPorts => "no_media_ports",
            Disposition::LocutionMissing => "locution_missing",
            Disposition::MaxDuration => "max_duration",
            Disposition::MediaTimeout => "media_timeout",
            Disposition::PeerVanished => "peer_vanished",
            Disposition::NoAck => "no_ack",
            Disposition::SessionExpired => "session_expired",
            Disposition::HungUp => "hung_up",
            Disposition::ForwardLoop => "forward_loop",
            Disposition::Transferred => "transferred",
            Disposition::Refused(r) => r.cause(),
            Disposition::Policy(b) => b.as_str(),
        }
    }
}

/// The client a route belongs to (for inbound calls and records).
pub fn route_client(route: &Route) -> Option<String> {
    match route {
        Route::Service { client, .. }
        | Route::User { client, .. }
        | Route::Friend { client, .. }
        | Route::Locution { client, .. }
        | Route::Echo { client }
        | Route::Voicemail { client, .. }
        | Route::Unsupported { client, .. } => Some(client.clone()),
        Route::External { billed_client, .. } => Some(billed_client.clone()),
        Route::Refused(_) => None,
    }
}

/// How the call record names the route taken.
pub fn route_label(route: &Route) -> String {
    match route {
        Route::Service { code, .. } => format!("service:{}", code),
        Route::User { user, .. } => format!("user:{}", user),
        Route::Friend { friend, .. } => format!("friend:{}", friend),
        Route::External {
            carriers, number, ..
        } => format!(
            "carrier:{}:{}",
            carriers.first().map(String::as_str).unwrap_or(""),
            number
        ),
        Route::Locution { name, .. } => format!("locution:{}", name),
        Route::Echo { .. } => "echo".into(),
        Route::Voicemail { mailbox, .. } => format!("voicemail:{}", mailbox),
        Route::Unsupported { what, .. } => format!("unsupported:{}", what),
        Route::Refused(r) => format!("refused:{}", r.cause()),
    }
}

/// The seconds an answered call with `info` lasted if it ended at `end_ms` (milliseconds
/// since the epoch): whole seconds since the answer.
pub fn duration(info: &Info, end_ms: u64) -> u64 {
    match (info.answered_ms, info.answer) {
        (Some(a), _) => end_ms.saturating_sub(a) / 1000,
        (None, Some(a)) => (end_ms / 1000).saturating_sub(a),
        (None, None) => 0,
    }
}

/// The price of a call with `info` that lasted `duration` seconds, if it is billed: its
/// rate at the answer; nothing for an unanswered call.
pub fn price(info: &Info, duration: u64) -> Option<Money> {
    info.billing.as_ref()?;
    Some(match (info.answer, info.rate) {
        (Some(_), Some(rate)) => rate.of(duration),
        _ => Money::ZERO,
    })
}

/// The record of a call with `info`, ended at `end_ms` (milliseconds since the epoch).
pub fn cdr(call_id: &str, info: Info, end_ms: u64) -> Cdr {
    let end = end_ms / 1000;
    let duration = duration(&info, end_ms);
    let price = price(&info, duration);
    let currency = info.billing.as_ref().map(|b| b.currency.clone());
    Cdr {
        call_id: call_id.to_string(),
        client: info.client,
        caller: info.caller,
        callee: info.callee,
        direction: info.direction.as_str().to_string(),
        route: info.route,
        start: info.start,
        answer: info.answer,
        end,
        duration,
        disposition: info.disposition,
        sip_code: info.code,
        price: price.map(|p| p.to_string()),
        currency,
        recording: None,
        transferred_by: info.transferred_by,
        carrier: info.carriers.last().cloned(),
        carriers_tried: if info.carriers.len() > 1 {
            info.carriers
        } else {
            Vec::new()
        },
    }
}

impl Call {
    /// Ends the call once: the relay stops, the record is written, and the call lingers
    /// (`timers::LINGER`). `then` is performed once the record is durable (at once when
    /// the call had already ended).
    pub(super) fn end(
        &mut self,
        now: Instant,
        disposition: Disposition,
        code: u16,
        then: Option<Action>,
        out: &mut Actions,
    ) {
        if self.is_ended() {
            if let Some(a) = then {
                out.push(a);
            }
            return;
        }
        self.phase = Phase::Ended { at: now };
        out.push(Action::Ended);
        // The relay stops and its ports go back now, whatever ended the call (an application
        // — voicemail — gives them back when it has finished its file); so does a
        // locution or notification still playing.
        out.push(Action::MediaStop);
        // An ended call lingers a few seconds for late responses and ACKs; what only the
        // live call needed goes now (the caller's INVITE, the offers).
        self.a_invite.headers = Vec::new();
        self.a_invite.body = Vec::new();
        if self.a_acked {
            self.a_final = None;
        }
        for f in &mut self.forks {
            f.offer = None;
            f.invite = Arc::default();
        }
        let mut info = self.info.clone();
        info.disposition = disposition.as_str().to_string();
        info.code = code;
        out.push(Action::Record {
            cdr: Box::new(cdr(&self.a.call_id, info, self.wall_ms(now))),
            then: then.map(Box::new),
        });
    }
}

//! The end of a call (call core) and its record: one CDR per call, answered or not; the
//! driver queues it to the store's single writer (committed durably with the next group
//! of changes).

use super::actions::{Action, Actions};
use super::call::{Call, Info, Phase};
use crate::model::Cdr;
use crate::routing::Route;
use std::sync::Arc;
use std::time::Instant;

/// What a caller's failure is called in the call record.
pub fn disposition(code: u16) -> &'static str {
    match code {
        200..=299 => "answered",
        486 | 600 => "busy",
        487 => "cancelled",
        408 | 480 => "no_answer",
        404 | 484 | 604 => "not_found",
        403 | 603 => "rejected",
        _ => "failed",
    }
}

/// The client a route belongs to (for inbound calls and records).
pub fn route_client(route: &Route) -> Option<String> {
    match route {
        Route::Service { client, .. }
        | Route::User { client, .. }
        | Route::Friend { client, .. }
        | Route::Locution { client, .. }
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
            carrier, number, ..
        } => format!("carrier:{}:{}", carrier, number),
        Route::Locution { name, .. } => format!("locution:{}", name),
        Route::Unsupported { what, .. } => format!("unsupported:{}", what),
        Route::Refused(r) => format!("refused:{}", r.cause()),
    }
}

/// The record of a call with `info`, ended at `end` (seconds since the epoch).
pub fn cdr(call_id: &str, info: Info, end: u64) -> Cdr {
    let duration = info.answer.map(|a| end.saturating_sub(a)).unwrap_or(0);
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
        price: None,
    }
}

impl Call {
    /// Ends the call once: the relay stops, the record is written, and the call lingers
    /// (`timers::LINGER`). `then` is performed once the record is durable (at once when
    /// the call had already ended).
    pub(super) fn end(
        &mut self,
        now: Instant,
        disposition: &str,
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
        // The relay stops and its ports go back now, whatever ended the call; so does a
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
        info.disposition = disposition.to_string();
        info.code = code;
        out.push(Action::Record {
            cdr: Box::new(cdr(&self.a.call_id, info, self.wall(now))),
            then: then.map(Box::new),
        });
    }
}

//! The end of a call and its record: one CDR per call, answered or not, queued to the
//! store's single writer (committed durably with the next group of changes).

use super::call::{Call, Info, Phase};
use super::B2bua;
use crate::auth::nonce::now_secs;
use crate::model::Cdr;
use crate::store::writer::{Done, Op, Written};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl B2bua {
    /// Ends a call once: the record is written and the call forgotten after a while.
    pub(super) fn end(self: &Arc<Self>, call: &mut Call, disposition: &str, code: u16) {
        self.end_then(call, disposition, code, None);
    }

    /// The same, running `after` once the record is durable (or the store gave up).
    pub(super) fn end_then(
        self: &Arc<Self>,
        call: &mut Call,
        disposition: &str,
        code: u16,
        after: Option<Done>,
    ) {
        if call.phase == Phase::Ended {
            if let Some(a) = after {
                a(Written::Durable);
            }
            return;
        }
        call.phase = Phase::Ended;
        self.active.fetch_sub(1, Ordering::Relaxed);
        call.ended_at = Some(std::time::Instant::now());
        // The relay stops and its ports go back now, whatever ended the call; so does a
        // locution or notification still playing.
        call.media = None;
        if let Some(p) = call.playback.take() {
            p.abort();
        }
        // An ended call lingers a few seconds for late responses and ACKs; what only the
        // live call needed goes now (the caller's INVITE, the offers).
        call.a_invite.headers = Vec::new();
        call.a_invite.body = Vec::new();
        if call.a_acked {
            call.a_final = None;
        }
        for f in &mut call.forks {
            f.offer = None;
            f.invite = Arc::default();
        }
        let mut info = call.info.clone();
        info.disposition = disposition.to_string();
        info.code = code;
        self.write_cdr(&call.a.call_id, info, now_secs(), after);
    }

    /// Records a call refused before any branch was tried.
    pub(super) fn record(&self, call_id: &str, info: Info, disposition: &str, code: u16, now: u64) {
        let mut info = info;
        info.disposition = disposition.to_string();
        info.code = code;
        self.write_cdr(call_id, info, now, None);
    }

    fn write_cdr(&self, call_id: &str, info: Info, end: u64, after: Option<Done>) {
        let duration = info.answer.map(|a| end.saturating_sub(a)).unwrap_or(0);
        let cdr = Cdr {
            call_id: call_id.to_string(),
            client: info.client,
            caller: info.caller,
            callee: info.callee,
            direction: info.direction.to_string(),
            route: info.route,
            start: info.start,
            answer: info.answer,
            end,
            duration,
            disposition: info.disposition,
            sip_code: info.code,
            price: None,
        };
        // Never wait under a call lock or on a receive thread: a full queue hands the record
        // to a blocking thread that waits for room.
        if let Err((ops, done)) = self.writer.try_queue(vec![Op::Cdr(Box::new(cdr))], after) {
            let writer = self.writer.clone();
            self.rt
                .spawn_blocking(move || writer.submit_wait(ops, done));
        }
    }
}

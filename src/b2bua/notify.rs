//! Voice notifications (the seed: "when a call fails, the user will listen a locution
//! explaining what occurred"): for a caller of a client with `voice_notifications`, a
//! failed call is answered `183 Session Progress` with SDP from the relay, the locution of
//! the cause is streamed in the G.711 codec the caller offered, and only then comes the
//! final response. Without notifications, without a prompt for the cause, or without
//! G.711 in the offer: the final response at once.
//!
//! The notification runs inside a call (one is made for a call refused before it had
//! one), so the caller's CANCEL stops it with 487, the final response is retransmitted
//! until the ACK, and it counts among the calls in progress.

use super::call::{Call, CallCell, CallRef, Info};
use super::B2bua;
use crate::media::prompts::{Cause, Prompt};
use crate::media::{sdp, Facing};
use crate::sip::reply::response;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The cause a final failure code tells the caller, if any (a CANCEL's 487 tells nothing).
pub fn cause_of_code(code: u16) -> Option<Cause> {
    match code {
        487 => None,
        486 | 600 => Some(Cause::Busy),
        404 | 484 | 604 => Some(Cause::NotInService),
        408 | 480 => Some(Cause::NotAvailable),
        400..=699 => Some(Cause::Failed),
        _ => None,
    }
}

impl B2bua {
    /// The prompt for this caller and cause, when the caller's client wants them.
    pub(super) fn notice(
        &self,
        client: Option<&str>,
        cause: Cause,
        offer: &[u8],
    ) -> Option<Arc<Prompt>> {
        let snap = self.snapshot.load();
        let c = snap.client(client?)?;
        if !c.voice_notifications || offer.is_empty() {
            return None;
        }
        self.media.prompts.get(&c.language, cause)
    }

    /// A call refused before it had one (`inc` routed nowhere): when a notification
    /// applies, a call is made for it and failed the notifying way; returns false (and
    /// does nothing) otherwise.
    pub(super) fn refuse_with_notice(
        self: &Arc<Self>,
        inc: &super::Incoming,
        info: &Info,
        (code, reason, disp): (u16, &str, &str),
        cause: Cause,
    ) -> bool {
        let Some(prompt) = self.notice(Some(info.client.as_str()), cause, &inc.msg.body) else {
            return false;
        };
        let a = self.caller_leg(&inc.msg, &inc.checked, &inc.flow);
        let call = Call::new(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            a,
            (
                inc.msg.clone(),
                inc.checked.via.clone(),
                inc.flow.clone(),
                inc.key.clone(),
            ),
            info.clone(),
        );
        let cell = Arc::new(CallCell::new(call));
        match self
            .calls
            .entry(inc.msg.call_id().unwrap_or("").to_string())
        {
            dashmap::Entry::Occupied(_) => return false,
            dashmap::Entry::Vacant(v) => {
                v.insert(cell.clone());
            }
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        let mut call = cell.lock();
        if !self.notify(&mut call, &cell, prompt, (code, reason, disp)) {
            call.notifying = true;
            self.fail_call(&mut call, &cell, code, reason, disp);
        }
        true
    }

    /// Starts the notification of a failed call (`fail_call` decided it applies): 183 with
    /// SDP, the locution, then `fail_call` again, which sends the final response. Returns
    /// false when it cannot be played (no G.711 offered, no relay port).
    pub(super) fn notify(
        self: &Arc<Self>,
        call: &mut Call,
        cell: &CallRef,
        prompt: Arc<Prompt>,
        (code, reason, disp): (u16, &str, &str),
    ) -> bool {
        let session = match call.media.take() {
            Some(s) => s,
            None => match self.open_media(&call.info.client) {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!("call {}: voice notification not played: {}", call.id, e);
                    return false;
                }
            },
        };
        let Some((peer, pt, answer)) =
            sdp::prompt_answer(&call.a_invite.body, session.address(Facing::A))
        else {
            // no G.711 offered (or a held offer): nothing the caller could hear
            return false;
        };
        session.set_peer(Facing::A, peer, call.a_flow.remote.ip());
        let mut early = response(&call.a_invite, 183, "Session Progress", &call.a.local_tag);
        early.push_header("Contact", call.a.contact.clone());
        early.push_header("Content-Type", "application/sdp");
        early.body = answer;
        self.out.send(&call.a_via, &call.a_flow, early, None);
        call.notifying = true;
        let (me, weak) = (self.clone(), Arc::downgrade(cell));
        let (reason, disp) = (reason.to_string(), disp.to_string());
        call.playback = Some(session.play(prompt, pt, move || {
            let Some(cell) = weak.upgrade() else { return };
            let mut call = cell.lock();
            me.fail_call(&mut call, &cell, code, &reason, &disp);
        }));
        true
    }
}

//! Voice notifications (the seed: "when a call fails, the user will listen a locution
//! explaining what occurred"): for a caller of a client with `voice_notifications`, a
//! failed call is answered `183 Session Progress` with SDP from the relay, the locution of
//! the cause is streamed in the G.711 codec the caller offered, and only then comes the
//! final response. Without notifications, without a prompt for the cause, or without
//! G.711 in the offer: the final response at once.
//!
//! The decision and the messages are the call core's (`Call::fail`, `fork.rs`). A call
//! refused before it had one gets one here, so the caller's CANCEL stops the notification
//! with 487, the final response is retransmitted until the ACK, and it counts among the
//! calls in progress.

use super::call::{Info, Relay};
use super::B2bua;
use crate::media::prompts::Cause;
use crate::media::Facing;
use std::sync::Arc;

impl B2bua {
    /// A call refused before it had one (`inc` routed nowhere): when a notification
    /// applies, a call is made for it and failed the notifying way; returns false (and
    /// does nothing) otherwise.
    pub(super) fn refuse_with_notice(
        self: &Arc<Self>,
        inc: &super::Incoming,
        info: &Info,
        (code, reason, disp): (u16, &str, super::record::Disposition),
        cause: Cause,
    ) -> bool {
        let wanted = self
            .notices_for(&info.client)
            .is_some_and(|n| n.get(cause).is_some());
        if !wanted || inc.msg.body.is_empty() {
            return false;
        }
        let a = self.caller_leg(&inc.msg, &inc.checked, &inc.flow);
        let mut call = self.new_call(
            a,
            (
                inc.msg.clone(),
                inc.checked.via.clone(),
                inc.flow.clone(),
                inc.key,
            ),
            info.clone(),
        );
        let session = match self.open_media(&info.client) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("call {}: voice notification not played: {}", call.id, e);
                return false;
            }
        };
        call.relay = Some(Relay {
            a: session.address(Facing::A),
            b: session.address(Facing::B),
        });
        let reason = reason.to_string();
        call.cause = Some(cause);
        // (a call with this Call-ID set up at the same moment: `enter` answered 482)
        self.enter(call, Some(session), None, move |c, now, out| {
            c.fail(now, code, &reason, disp, out)
        });
        true
    }
}

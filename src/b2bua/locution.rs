//! An extension (or a DDI through an extension) routed to a locution: the call is answered
//! with `200 OK` and SDP from the relay, the locution is streamed in the caller's G.711,
//! and vozbox hangs up with BYE when it ends. A call with one leg only: the caller's.

use super::call::{Call, CallCell, Info, Phase, Side};
use super::{B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::media::{sdp, Facing};
use crate::sip::reply::{self, response};
use crate::sip::respond::to_tag;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl B2bua {
    pub(super) fn play_locution(
        self: &Arc<Self>,
        inc: Incoming,
        mut info: Info,
        client: &str,
        name: &str,
    ) {
        let call_id = inc.msg.call_id().unwrap_or("").to_string();
        let refuse = |code: u16, reason: &str, disp: &str, info: Info| {
            let r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
            self.out
                .send(&inc.checked.via, &inc.flow, r, inc.key.as_deref());
            self.record(&call_id, info, disp, code, now_secs());
        };
        let snap = self.snapshot.load();
        let c = snap.client(client);
        let language = c.map(|c| c.language.as_str()).unwrap_or("en");
        let Some(prompt) = self.media.prompts.named(language, name) else {
            tracing::warn!(
                "locution {:?} of client {}: no sounds/{}/{}.wav",
                name,
                client,
                language,
                name
            );
            return refuse(503, "Service Unavailable", "locution_missing", info);
        };
        let session = match self.open_media(client) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("INVITE {}: {}", call_id, e);
                return refuse(503, "Service Unavailable", "no_media_ports", info);
            }
        };
        let Some((peer, pt, answer)) =
            sdp::prompt_answer(&inc.msg.body, session.address(Facing::A))
        else {
            return refuse(488, "Not Acceptable Here", "no_common_codec", info);
        };
        session.set_peer(Facing::A, peer, inc.flow.remote.ip());
        let a = self.caller_leg(&inc.msg, &inc.checked, &inc.flow);
        let mut ok = response(&inc.msg, 200, "OK", &a.local_tag);
        ok.push_header("Contact", a.contact.clone());
        ok.push_header("Allow", reply::ALLOW);
        ok.push_header("Content-Type", "application/sdp");
        ok.body = answer;
        info.answer = Some(now_secs());
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        let sent = self.out.send(&checked.via, &flow, ok, None);
        let mut call = Call::new(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            a,
            (msg, checked.via, flow, key),
            info,
        );
        call.a_final = Some(sent.clone());
        call.phase = Phase::Answered;
        call.answered_at = Some(std::time::Instant::now());
        let cell = Arc::new(CallCell::new(call));
        match self.calls.entry(call_id) {
            dashmap::Entry::Occupied(_) => return,
            dashmap::Entry::Vacant(v) => {
                v.insert(cell.clone());
            }
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        self.retransmit_final(&cell, sent);
        // When the locution ends, vozbox hangs up (unless the caller already did).
        let (me, weak) = (self.clone(), Arc::downgrade(&cell));
        let handle = session.play(prompt, pt, move || {
            let Some(cell) = weak.upgrade() else { return };
            let mut call = cell.lock();
            if call.phase == Phase::Answered {
                me.hang_up(&mut call, Side::A, &cell);
                me.end(&mut call, "answered", 200);
            }
        });
        cell.lock().playback = Some(handle);
    }
}

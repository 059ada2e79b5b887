//! An extension (or a DDI through an extension) routed to a locution: the call is answered
//! with `200 OK` and SDP from the relay, the locution is streamed in the caller's G.711,
//! and vozbox hangs up with BYE when it ends. A call with one leg only: the caller's.
//! The driver opens the relay and finds the locution; the core answers and plays.
//! The echo test is the same call without a locution: the relay sends the caller's own
//! audio back to it until it hangs up.

use super::actions::{Action, Actions};
use super::call::{Call, Info, Phase};
use super::record::Disposition;
use super::{B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::media::prompts::Prompt;
use crate::media::{sdp, Facing};
use crate::sip::reply::{self, response};
use crate::sip::respond::to_tag;
use std::sync::Arc;
use std::time::Instant;

impl B2bua {
    pub(super) fn play_locution(
        self: &Arc<Self>,
        inc: Incoming,
        info: Info,
        client: &str,
        name: Option<&str>,
        permit: Option<crate::policy::calls::Permit>,
    ) {
        let call_id = inc.msg.call_id().unwrap_or("").to_string();
        let refuse = |code: u16, reason: &str, disp: Disposition, info: Info| {
            let r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
            self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
            self.record(&call_id, info, disp, code, now_secs());
        };
        let snap = self.snapshot.load();
        let c = snap.client(client);
        let language = c.map(|c| c.language.as_str()).unwrap_or("en");
        let prompt = match name {
            None => None,
            Some(name) => match self.media.prompts.named(language, name) {
                Some(p) => Some(p),
                None => {
                    tracing::warn!(
                        "locution {:?} of client {}: no sounds/{}/{}.wav",
                        name,
                        client,
                        language,
                        name
                    );
                    return refuse(
                        503,
                        "Service Unavailable",
                        Disposition::LocutionMissing,
                        info,
                    );
                }
            },
        };
        let session = match self.open_media(client) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("INVITE {}: {}", call_id, e);
                return refuse(503, "Service Unavailable", Disposition::NoMediaPorts, info);
            }
        };
        let Some((peer, pt, answer)) =
            sdp::prompt_answer(&inc.msg.body, session.address(Facing::A))
        else {
            return refuse(488, "Not Acceptable Here", Disposition::NoCommonCodec, info);
        };
        session.set_peer(Facing::A, peer, inc.flow.remote.ip());
        if prompt.is_none() {
            session.echo();
        }
        let a = self.caller_leg(&inc.msg, &inc.checked, &inc.flow);
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        let call = self.new_call(a, (msg, checked.via, flow, key), info);
        self.enter(call, Some(session), permit, move |c, now, out| {
            c.answer_with(now, answer, prompt.map(|p| (p, pt)), out)
        });
    }
}

impl Call {
    /// Answers the caller itself (`200` with the relay's SDP `answer`, retransmitted until
    /// the ACK) and plays `prompt` in payload type `pt`; the end of the playback hangs up
    /// (`PlaybackDone`). Without a prompt (the echo test) the call lasts until the caller
    /// hangs up (or the media or duration limits end it).
    pub fn answer_with(
        &mut self,
        now: Instant,
        answer: Vec<u8>,
        play: Option<(Arc<Prompt>, u8)>,
        out: &mut Actions,
    ) {
        let mut ok = response(&self.a_invite, 200, "OK", &self.a.local_tag);
        ok.push_header("Contact", self.a.contact.clone());
        ok.push_header("Allow", reply::ALLOW);
        ok.push_header("Content-Type", "application/sdp");
        ok.body = answer;
        self.note_answer(now);
        let sent = self.reply_a(ok, None, out);
        self.a_final = Some(sent.clone());
        self.phase = Phase::Answered {
            at: now,
            winner: None,
        };
        self.retransmit_final(now, sent);
        if let Some((prompt, pt)) = play {
            out.push(Action::Play { prompt, pt });
        }
    }
}

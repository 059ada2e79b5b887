//! Voice notifications (the seed: "when a call fails, the user will listen a locution
//! explaining what occurred"): for a caller of a client with `voice_notifications`, a
//! failed call is answered `183 Session Progress` with SDP from the relay, the locution of
//! the cause is streamed in the G.711 codec the caller offered, and only then comes the
//! final response. Without notifications, without a prompt for the cause, or without
//! G.711 in the offer: the final response at once.

use super::leg::Dest;
use super::B2bua;
use crate::media::prompts::{Cause, Prompt};
use crate::media::{sdp, Facing, MediaSession};
use crate::sip::headers::Via;
use crate::sip::message::Message;
use crate::sip::reply::response;
use crate::sip::transport::Flow;
use std::sync::Arc;

/// The caller's failed INVITE and where its answers go.
pub struct Failed {
    pub invite: Message,
    pub via: Via,
    pub flow: Flow,
    pub key: Option<String>,
    /// Our To tag toward the caller.
    pub tag: String,
    /// The caller's client (whose settings decide), None for trunks.
    pub client: Option<String>,
}

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
    /// Whether a failure with `cause` is told to this caller.
    pub(super) fn notice_applies(&self, client: Option<&str>, cause: Cause, offer: &[u8]) -> bool {
        self.notice(client, cause, offer).is_some()
    }

    /// The prompt for this caller and cause.
    fn notice(&self, client: Option<&str>, cause: Cause, offer: &[u8]) -> Option<Arc<Prompt>> {
        let snap = self.snapshot.load();
        let c = snap.client(client?)?;
        if !c.voice_notifications || offer.is_empty() {
            return None;
        }
        self.media.prompts.get(&c.language, cause)
    }

    /// Answers a failed INVITE with `code`, after the spoken notification when it applies.
    /// `session`: the call's relay session, if it has one (else one is opened for the
    /// notification).
    pub(super) fn refuse(
        self: &Arc<Self>,
        f: Failed,
        code: u16,
        reason: &str,
        cause: Option<Cause>,
        session: Option<MediaSession>,
    ) {
        let plain = |f: &Failed| {
            let r = response(&f.invite, code, reason, &f.tag);
            self.out.send(&f.via, &f.flow, r, f.key.as_deref());
        };
        let Some(prompt) = cause.and_then(|c| self.notice(f.client.as_deref(), c, &f.invite.body))
        else {
            return plain(&f);
        };
        let session = match session {
            Some(s) => s,
            None => {
                let snap = self.snapshot.load();
                let set = f
                    .client
                    .as_deref()
                    .and_then(|c| snap.client(c))
                    .and_then(|c| c.media_relay_set.as_deref())
                    .and_then(|n| snap.model.media_relay_sets.iter().find(|s| s.name == n));
                match self.media.open(set) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::info!("voice notification not played: {}", e);
                        return plain(&f);
                    }
                }
            }
        };
        let Some((peer, pt, answer)) =
            sdp::prompt_answer(&f.invite.body, session.address(Facing::A))
        else {
            // no G.711 offered: nothing the caller could hear
            return plain(&f);
        };
        session.set_peer(Facing::A, peer);
        let dest = Dest::new(f.flow.clone(), f.flow.remote, &self.out.transports);
        let mut early = response(&f.invite, 183, "Session Progress", &f.tag);
        early.push_header("Contact", super::invite::contact_for(&dest));
        early.push_header("Content-Type", "application/sdp");
        early.body = answer;
        self.out.send(&f.via, &f.flow, early, None);
        let me = self.clone();
        let reason = reason.to_string();
        session.play(prompt, pt, move || {
            let r = response(&f.invite, code, &reason, &f.tag);
            me.out.send(&f.via, &f.flow, r, f.key.as_deref());
        });
    }
}

//! Voicemail calls, the B2BUA's side: a call to a mailbox (its route, a forward before or
//! after ringing) answered and a message taken; `*93` (one's own mailbox, from one's own
//! phone) and `*93<extension>` (another's, with its PIN) answered and the menu run. The
//! applications themselves are `crate::voicemail`.

use super::actions::Action;
use super::app::{AppFuture, AppStart};
use super::call::{Event, Info};
use super::driver::CallRef;
use super::record::Disposition;
use super::{B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::media::app::Channel;
use crate::media::{sdp, Facing};
use crate::model::{ExtensionRoute, Snapshot, Voicemail};
use crate::policy::calls::Permit;
use crate::sip::reply::response;
use crate::sip::respond::to_tag;
use crate::voicemail::deposit::{deposit, Deposit};
use crate::voicemail::retrieve::{listen, Listen};
use crate::voicemail::Caller;
use std::sync::Arc;

/// The caller's display name in its From header.
fn display_name(msg: &crate::sip::message::Message) -> String {
    msg.name_addr("From")
        .and_then(|n| n.display.map(String::from))
        .unwrap_or_default()
}

/// The mailbox `*93<extension>` names: the box of the extension's user, or the one its
/// voicemail route names.
fn mailbox_of_extension<'a>(snap: &'a Snapshot, client: &str, ext: &str) -> Option<&'a Voicemail> {
    match &snap.extension(client, ext)?.route {
        ExtensionRoute::User(u) => snap.voicemail_of(client, u, false),
        ExtensionRoute::Voicemail(name) => snap.voicemail(client, name),
        ExtensionRoute::Friend(f) => snap.voicemail_of(client, f, true),
        _ => None,
    }
}

impl B2bua {
    /// Whether mailbox `b` takes a message now (enabled, not full).
    fn open_box(&self, b: &Voicemail) -> bool {
        let full = self.voicemail.as_ref().is_some_and(|v| v.full(b));
        if full {
            tracing::info!("voicemail {}/{} is full: busy", b.client, b.name);
        }
        b.enabled && !full
    }

    fn refuse_now(&self, inc: &Incoming, info: Info, code: u16, reason: &str, disp: Disposition) {
        let r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
        self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
        self.record(
            inc.msg.call_id().unwrap_or(""),
            info,
            disp,
            code,
            now_secs(),
        );
    }

    /// The application that takes a message for `bx` from this call's caller.
    fn deposit_app(
        &self,
        bx: &Voicemail,
        info: &Info,
        msg: &crate::sip::message::Message,
    ) -> Option<Box<dyn FnOnce(Channel) -> AppFuture + Send>> {
        let svc = self.voicemail.clone()?;
        let d = Deposit {
            mailbox: bx.clone(),
            client: self.snapshot.load().client(&bx.client).cloned(),
            caller: Caller {
                number: info.caller.clone(),
                name: display_name(msg),
            },
        };
        Some(Box::new(move |ch| {
            Box::pin(deposit(svc, ch, d)) as AppFuture
        }))
    }

    /// A call to mailbox `mailbox` of `client`: answered, and a message taken. A disabled
    /// mailbox answers busy.
    pub(super) fn voicemail_call(
        self: &Arc<Self>,
        inc: Incoming,
        info: Info,
        (client, mailbox): (&str, &str),
        permit: Option<Permit>,
    ) {
        let snap = self.snapshot.load();
        let Some(bx) = snap.voicemail(client, mailbox).filter(|b| self.open_box(b)) else {
            return self.refuse_now(&inc, info, 486, "Busy Here", Disposition::Busy);
        };
        let Some(run) = self.deposit_app(bx, &info, &inc.msg) else {
            return self.refuse_now(
                &inc,
                info,
                503,
                "Service Unavailable",
                Disposition::Unsupported,
            );
        };
        self.app_call(inc, info, client, permit, run);
    }

    /// `*93…` from a user or friend `owner` of `client` (`friend` says which): `*93` its
    /// own mailbox, `*93<extension>` another's (PIN asked). Any other code comes back.
    pub(super) fn voicemail_service(
        self: &Arc<Self>,
        inc: Incoming,
        mut info: Info,
        (client, owner, friend): (&str, &str, bool),
        code: &str,
    ) -> Result<(), Box<(Incoming, Info)>> {
        let Some(rest) = code.strip_prefix("93") else {
            return Err(Box::new((inc, info)));
        };
        let snap = self.snapshot.load();
        let (bx, ask_pin) = if rest.is_empty() {
            (snap.voicemail_of(client, owner, friend), false)
        } else {
            let bx = mailbox_of_extension(&snap, client, rest);
            let own = bx.is_some_and(|b| {
                if friend {
                    b.friend.as_deref() == Some(owner)
                } else {
                    b.user.as_deref() == Some(owner)
                }
            });
            (bx, !own)
        };
        info.route = format!("service:{}", code);
        let (Some(bx), Some(svc)) = (bx.cloned(), self.voicemail.clone()) else {
            self.refuse_now(
                &inc,
                info,
                404,
                "Not Found",
                Disposition::Refused(crate::routing::Refusal::NotFound),
            );
            return Ok(());
        };
        let language = snap
            .client(client)
            .map(|c| c.language.clone())
            .unwrap_or_else(|| "en".into());
        let l = Listen {
            mailbox: bx,
            language,
            ask_pin,
            caller: format!("{} from {}", info.caller, inc.flow.remote),
        };
        let run: Box<dyn FnOnce(Channel) -> AppFuture + Send> =
            Box::new(move |ch| Box::pin(listen(svc, ch, l)) as AppFuture);
        self.app_call(inc, info, client, None, run);
        Ok(())
    }

    /// Answers the caller with the relay's SDP and runs `run` on the call's audio.
    fn app_call(
        self: &Arc<Self>,
        inc: Incoming,
        info: Info,
        client: &str,
        permit: Option<Permit>,
        run: Box<dyn FnOnce(Channel) -> AppFuture + Send>,
    ) {
        let session = match self.open_media(client) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("INVITE {}: {}", inc.msg.call_id().unwrap_or(""), e);
                return self.refuse_now(
                    &inc,
                    info,
                    503,
                    "Service Unavailable",
                    Disposition::NoMediaPorts,
                );
            }
        };
        let Some(answer) = sdp::app_answer(&inc.msg.body, session.address(Facing::A)) else {
            return self.refuse_now(
                &inc,
                info,
                488,
                "Not Acceptable Here",
                Disposition::NoCommonCodec,
            );
        };
        session.set_peer(Facing::A, answer.peer, inc.flow.remote.ip());
        let app = AppStart {
            pt: answer.pt,
            events: answer.events,
            run,
        };
        let a = self.caller_leg(&inc.msg, &inc.checked, &inc.flow);
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        let call = self.new_call(a, (msg, checked.via, flow, key), info);
        let body = answer.body;
        self.enter_with(
            call,
            Some(session),
            permit,
            Some(app),
            move |c, now, out| {
                c.answer_with(now, body, None, out);
                out.push(Action::App);
            },
        );
    }

    /// The busy or no-answer forward of a ringing call leads to mailbox `mailbox`: the
    /// caller is answered from the relay and a message taken.
    pub(super) fn forward_to_voicemail(
        self: &Arc<Self>,
        cell: &CallRef,
        (client, mailbox): (&str, &str),
        label: String,
    ) {
        let snap = self.snapshot.load();
        let failed = |code, reason, disposition| Event::ForwardFailed {
            code,
            reason,
            disposition,
        };
        let event = {
            let mut slot = cell.lock();
            let bx = snap.voicemail(client, mailbox).filter(|b| self.open_box(b));
            let relay = slot.media.as_ref().map(|m| m.address(Facing::A));
            let offer = slot.call.a_invite.body.clone();
            match (bx, relay.and_then(|r| sdp::app_answer(&offer, r))) {
                (None, _) => failed(486, "Busy Here", Disposition::Busy),
                (Some(bx), Some(answer)) => {
                    let info = slot.call.info.clone();
                    match self.deposit_app(bx, &info, &slot.call.a_invite) {
                        Some(run) => {
                            slot.app = Some(AppStart {
                                pt: answer.pt,
                                events: answer.events,
                                run,
                            });
                            Event::ForwardedHere {
                                answer: answer.body,
                                label,
                            }
                        }
                        None => failed(503, "Service Unavailable", Disposition::Unsupported),
                    }
                }
                // a late offer (no SDP in the INVITE) cannot be answered here
                (Some(_), None) => failed(488, "Not Acceptable Here", Disposition::NoCommonCodec),
            }
        };
        self.drive(cell, |c, now, out| c.handle(now, event, out));
    }
}

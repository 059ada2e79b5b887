//! Calls vozbox answers and talks in itself (voicemail), the driver's side: the
//! application is prepared with the call (`AppStart`, in its slot) and started when the
//! core answers (`Action::App`) with the relay session's side A as its `Channel`; keys of
//! INFO requests reach it (`Action::Key`); the call ending closes them (the application
//! sees the caller gone and finishes — a message being left is kept); its own end is
//! `Event::PlaybackDone`, which hangs up.

use super::call::Event;
use super::driver::{CallRef, Slot};
use super::B2bua;
use crate::media::app::Channel;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type AppFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An application waiting for its call to be answered.
pub struct AppStart {
    /// The caller's audio and event payload types (`sdp::app_answer`).
    pub pt: u8,
    pub events: Option<u8>,
    pub run: Box<dyn FnOnce(Channel) -> AppFuture + Send>,
}

impl B2bua {
    /// The call was answered: its recorder starts when its DDI records or its client
    /// records on demand (the relay session stays the call's).
    pub(super) fn start_recorder(self: &Arc<Self>, slot: &mut Slot) {
        let c = &slot.call;
        let (Some(svc), Some(session), true) = (
            self.recording.clone(),
            slot.media.as_ref(),
            c.info.record.any(),
        ) else {
            return;
        };
        if slot.recorder.is_some() {
            return;
        }
        let answer = c
            .a_final
            .as_ref()
            .map(|s| s.bytes.as_slice())
            .unwrap_or(&[]);
        let events = [
            crate::media::sdp::event_pt(&c.a_invite.body),
            crate::media::sdp::event_pt(answer),
        ];
        let meta = crate::recording::call::Meta {
            client: c.info.client.clone(),
            call: c.id,
            call_id: c.a.call_id.clone(),
            caller: c.info.caller.clone(),
            callee: c.info.callee.clone(),
            ddi: c.info.record.ddi,
            code: c.info.record.code.clone(),
        };
        slot.recorder = Some(crate::recording::call::start(
            svc, meta, session, events, &self.rt,
        ));
    }

    /// Starts the application of `slot` with its relay session (the core answered).
    pub(super) fn start_app(self: &Arc<Self>, cell: &CallRef, slot: &mut Slot) {
        let (Some(app), Some(session)) = (slot.app.take(), slot.media.take()) else {
            return;
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        slot.keys = Some(tx);
        let channel = Channel::new(session, app.pt, app.events, rx);
        let (me, weak) = (self.clone(), Arc::downgrade(cell));
        let run = (app.run)(channel);
        self.rt.spawn(async move {
            run.await;
            if let Some(cell) = weak.upgrade() {
                me.drive(&cell, |c, now, out| c.handle(now, Event::PlaybackDone, out));
            }
        });
    }
}

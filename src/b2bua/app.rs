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

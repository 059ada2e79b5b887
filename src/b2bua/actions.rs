//! What the call core asks its driver to do: the core (`call.rs`, `fork.rs`, `dialog.rs`,
//! `timers.rs`) never sends, never touches the relay or the store and never reads a clock;
//! it returns these, and the driver (`driver.rs`) performs them in order.

use super::leg::Dest;
use crate::media::prompts::Prompt;
use crate::media::sdp::Advertised;
use crate::media::Facing;
use crate::model::Cdr;
use crate::sip::respond::Sent;
use crate::sip::transaction::TxKey;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Clone)]
pub enum Action {
    /// Bytes of a request (or ACK, CANCEL) to a leg's destination.
    Send { dest: Dest, bytes: Arc<Vec<u8>> },
    /// A response, stamped for where it goes (`respond::prepare`), remembered under the
    /// server transaction `key` (retransmitted requests get it again).
    Reply { sent: Sent, key: Option<TxKey> },
    /// What a side's party advertised in its latest SDP, and the IP its SIP comes from.
    MediaPeer {
        facing: Facing,
        adv: Option<Advertised>,
        signalling: IpAddr,
    },
    /// The call was answered: the relay's idleness counts from now.
    MediaAnswered,
    /// Plays `prompt` (payload type `pt`) to the caller from the relay; the driver reports
    /// its end with `Event::PlaybackDone`. The relay session goes with the playback.
    Play { prompt: Arc<Prompt>, pt: u8 },
    /// The relay session and any playback stop (the call ended): its ports go back.
    MediaStop,
    /// The call's record, queued to the store; `then` is performed once it is durable
    /// (the 200 to the BYE that ended an answered call).
    Record {
        cdr: Box<Cdr>,
        then: Option<Box<Action>>,
    },
    /// The call ended (counted out of the calls in progress).
    Ended,
    /// The call lingered long enough: forget its Call-IDs.
    Forget,
    /// vozbox answered the caller itself for an application (voicemail): the driver
    /// starts the one prepared for the call with the relay session; its end is reported
    /// with `Event::PlaybackDone`.
    App,
    /// A key the caller sent in an INFO request, for the application.
    Key(char),
    /// An on-demand recording asked by INFO `Record: on|off` (by the caller or the callee).
    Recording { on: bool, caller: bool },
    /// A key of a bridged call's party (INFO), for the recording code.
    RecordKey { caller: bool, k: char },
    /// The called party's forward of this type applies: route it and answer with
    /// `Event::Forwarded` or `Event::ForwardFailed`.
    Forward { ty: crate::model::ForwardType },
    /// A REFER was accepted: route its target or fetch the other call's party, and answer
    /// with `Event::Transfer` (`transfer.rs`, `refer.rs`).
    Transfer(Box<super::transfer::Ask>),
    /// The record of the call as it was before a transfer, priced with `billing` (the
    /// call goes on with a record of its own).
    Segment {
        cdr: Box<Cdr>,
        billing: Option<Arc<super::info::Billing>>,
        /// The call now counts against the new party's user instead of the
        /// transferor's (`client/name`), for their own max calls.
        lines: (Option<String>, Option<String>),
    },
    /// An external call moves on to its next destination (`failover.rs`): resolve it and
    /// answer with `Event::FailedOver`.
    FailOver {
        next: super::failover::Next,
        round: u32,
    },
    /// The place in the client's max calls a failed transfer took is given back.
    Uncount,
}

/// The actions of one event, in order.
#[derive(Default)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    pub fn push(&mut self, a: Action) {
        self.0.push(a);
    }
    pub fn send(&mut self, dest: &Dest, bytes: Arc<Vec<u8>>) {
        self.0.push(Action::Send {
            dest: dest.clone(),
            bytes,
        });
    }
    pub fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.0)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.0.iter()
    }
}

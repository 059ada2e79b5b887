//! The SDP that crosses the call's relay: every body travelling from one side to the other
//! is read (what that side advertised, told to the relay with the IP its SIP comes from)
//! and rewritten to the relay's address facing the receiving side. Pure: the relay session
//! itself is the driver's.

use super::actions::{Action, Actions};
use super::call::{Call, Side};
use crate::media::sdp;
use crate::media::Facing;
use crate::sip::message::Message;

/// A body with SDP that the relay cannot read (`Call::carry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unrelayable;

impl Call {
    /// The IP the SIP of `side`'s party comes from: the caller's INVITE flow, or the
    /// address a branch is reached at (its registration's flow, a friend's or carrier's
    /// address). The relay accepts that party's media from this IP (strict source,
    /// `media/latch.rs`).
    fn signalling_ip(&self, side: Side) -> Option<std::net::IpAddr> {
        match side {
            Side::A => Some(self.a_flow.remote.ip()),
            Side::B(i) => self.forks.get(i).map(|f| f.leg.dest.to.ip()),
        }
    }

    /// The body of `msg` (from `side`) as the other side must get it (with its
    /// Content-Type): SDP rewritten to the relay, anything else unchanged. A SDP the relay
    /// cannot read is not passed on (`Unrelayable`): its media would bypass the relay,
    /// and show each party the other's address.
    pub(super) fn carry(
        &self,
        side: Side,
        msg: &Message,
        out: &mut Actions,
    ) -> Result<Option<(String, Vec<u8>)>, Unrelayable> {
        if msg.body.is_empty() {
            return Ok(None);
        }
        let ctype = msg.content_type().unwrap_or("application/sdp");
        let is_sdp = msg.is_sdp();
        let Some(relay) = self.relay.filter(|_| is_sdp) else {
            return Ok(Some((ctype.to_string(), msg.body.clone())));
        };
        let (from, to_addr) = match side {
            Side::A => (Facing::A, relay.b),
            Side::B(_) => (Facing::B, relay.a),
        };
        match sdp::rewrite(&msg.body, to_addr) {
            Ok((adv, body)) => {
                if let Some(signalling) = self.signalling_ip(side) {
                    out.push(Action::MediaPeer {
                        facing: from,
                        adv,
                        signalling,
                    });
                }
                Ok(Some((ctype.to_string(), body)))
            }
            Err(e) => {
                tracing::info!("call {}: {}; not relayed", self.id, e);
                Err(Unrelayable)
            }
        }
    }
}

/// Adds a carried body to a message.
pub fn add_body(r: &mut Message, body: Option<(String, Vec<u8>)>) {
    if let Some((ctype, body)) = body {
        r.push_header("Content-Type", ctype);
        r.body = body;
    }
}

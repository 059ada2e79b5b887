//! The call's relay session and the SDP that crosses it: every body travelling from one
//! side to the other is read (what that side advertised) and rewritten to the relay's
//! address facing the receiving side.

use super::call::{Call, Side};
use crate::media::sdp;
use crate::media::Facing;
use crate::sip::message::Message;

impl super::B2bua {
    /// A relay session from the relay set of `client` (or the default of `[media]`).
    pub(super) fn open_media(
        &self,
        client: &str,
    ) -> Result<crate::media::MediaSession, crate::media::MediaError> {
        let snap = self.snapshot.load();
        let set = snap
            .client(client)
            .and_then(|c| c.media_relay_set.as_deref())
            .and_then(|n| snap.model.media_relay_sets.iter().find(|s| s.name == n));
        self.media.open(set)
    }
}

/// The IP the SIP of `side`'s party comes from: the caller's INVITE flow, or the address
/// a branch is reached at (its registration's flow, a friend's or carrier's address).
/// The relay accepts that party's media from this IP (strict source, `media/latch.rs`).
fn signalling_ip(call: &Call, side: Side) -> Option<std::net::IpAddr> {
    match side {
        Side::A => Some(call.a_flow.remote.ip()),
        Side::B(i) => call.forks.get(i).map(|f| f.leg.dest.to.ip()),
    }
}

/// The body of `msg` (from `side`) as the other side must get it (with its Content-Type):
/// SDP rewritten to the relay, anything else unchanged. A SDP the relay cannot read is
/// passed as it is (the call goes on; its audio may not).
pub fn carry(call: &Call, side: Side, msg: &Message) -> Option<(String, Vec<u8>)> {
    if msg.body.is_empty() {
        return None;
    }
    let ctype = msg.get("Content-Type").unwrap_or("application/sdp");
    let is_sdp = ctype
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp");
    let Some(session) = call.media.as_ref().filter(|_| is_sdp) else {
        return Some((ctype.to_string(), msg.body.clone()));
    };
    let (from, to) = match side {
        Side::A => (Facing::A, Facing::B),
        Side::B(_) => (Facing::B, Facing::A),
    };
    match sdp::rewrite(&msg.body, session.address(to)) {
        Ok((adv, body)) => {
            if let Some(ip) = signalling_ip(call, side) {
                session.set_peer(from, adv, ip);
            }
            Some((ctype.to_string(), body))
        }
        Err(e) => {
            tracing::info!("call {}: {}; passed unchanged", call.id, e);
            Some((ctype.to_string(), msg.body.clone()))
        }
    }
}

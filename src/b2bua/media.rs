//! The SDP that crosses the call's relay: every body travelling from one side to the other
//! is read (what that side advertised, told to the relay with the IP its SIP comes from)
//! and rewritten to the relay's address facing the receiving side. Pure: the relay session
//! itself is the driver's.

use super::actions::{Action, Actions};
use super::call::{Call, Side};
use crate::media::multipart::{self, Found};
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
    /// Content-Type): SDP rewritten to the relay (the SDP part of a multipart body passed
    /// on alone, as plain SDP), anything else unchanged. SDP the relay cannot read is not
    /// passed on (`Unrelayable`): its media would bypass the relay, and show each party
    /// the other's address.
    pub(super) fn carry(
        &self,
        side: Side,
        msg: &Message,
        out: &mut Actions,
    ) -> Result<Option<(String, Vec<u8>)>, Unrelayable> {
        let unchanged = || {
            let ctype = msg.content_type().unwrap_or("application/sdp");
            Ok(Some((ctype.to_string(), msg.body.clone())))
        };
        let found = body_of(msg);
        let Some(relay) = self.relay else {
            return match found {
                Body::None => Ok(None),
                _ => unchanged(),
            };
        };
        let sdp = match found {
            Body::None => return Ok(None),
            Body::Other => return unchanged(),
            Body::Unreadable(e) => {
                tracing::info!("call {}: {}; not relayed", self.id, e);
                return Err(Unrelayable);
            }
            Body::Sdp(sdp) => sdp,
        };
        let (from, to_addr) = match side {
            Side::A => (Facing::A, relay.b),
            Side::B(_) => (Facing::B, relay.a),
        };
        match sdp::rewrite(sdp, to_addr) {
            Ok((adv, body)) => {
                if let Some(signalling) = self.signalling_ip(side) {
                    out.push(Action::MediaPeer {
                        facing: from,
                        adv,
                        signalling,
                    });
                }
                Ok(Some(("application/sdp".to_string(), body)))
            }
            Err(e) => {
                tracing::info!("call {}: {}; not relayed", self.id, e);
                Err(Unrelayable)
            }
        }
    }
}

/// What a message's body is to the relay.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body<'a> {
    /// Empty, or nothing but white space (a UDP datagram without Content-Length ends with
    /// its line ends), or a multipart body without SDP.
    None,
    /// SDP: the whole body (typed `application/sdp`, or untyped), or the SDP part of a
    /// multipart one.
    Sdp(&'a [u8]),
    /// Anything else (DTMF in an INFO, text …).
    Other,
    /// A multipart body that cannot be framed: whether it holds SDP is unknown.
    Unreadable(multipart::Malformed),
}

/// What `msg`'s body is to the relay. The parts of a multipart body other than its SDP
/// are not for the other side (ISUP, a location): one without SDP is none.
pub(super) fn body_of(msg: &Message) -> Body<'_> {
    let blank = |b: &[u8]| b.iter().all(u8::is_ascii_whitespace);
    if blank(&msg.body) {
        return Body::None;
    }
    if msg.is_sdp() {
        return Body::Sdp(&msg.body);
    }
    match multipart::sdp_part(msg.content_type().unwrap_or_default(), &msg.body) {
        Ok(Found::Sdp(sdp)) if blank(sdp) => Body::None,
        Ok(Found::Sdp(sdp)) => Body::Sdp(sdp),
        Ok(Found::NoSdp) => Body::None,
        Ok(Found::NotMultipart) => Body::Other,
        Err(e) => Body::Unreadable(e),
    }
}

/// Whether `msg` offers or answers: SDP is in its body (an INVITE without is a late
/// offer).
pub(super) fn has_sdp(msg: &Message) -> bool {
    matches!(body_of(msg), Body::Sdp(_))
}

/// A multipart body with SDP becomes that SDP alone, typed `application/sdp` (a caller's
/// INVITE, before the call is made of it: the offer, a prompt's or an application's
/// answer read it). Err when the body is multipart and cannot be framed.
pub(super) fn sdp_only(msg: &mut Message) -> Result<(), multipart::Malformed> {
    let sdp = match body_of(msg) {
        Body::Sdp(sdp) if !msg.is_sdp() => sdp.to_vec(),
        Body::Unreadable(e) => return Err(e),
        _ => return Ok(()),
    };
    msg.headers
        .retain(|h| h.kind != crate::sip::message::H::ContentType);
    msg.push_header("Content-Type", "application/sdp");
    msg.body = sdp;
    Ok(())
}

/// The body of a message that neither offers nor answers (INFO, MESSAGE, a refusal, the
/// 2xx of an OPTIONS) as the other side gets it: as it is, but SDP is left out — it would
/// show one party the other's address and has nothing for the relay to carry.
pub(super) fn carry_plain(msg: &Message) -> Option<(String, Vec<u8>)> {
    match body_of(msg) {
        Body::Other => {
            let ctype = msg.content_type().unwrap_or_default();
            Some((ctype.to_string(), msg.body.clone()))
        }
        _ => None,
    }
}

/// Adds a carried body to a message.
pub fn add_body(r: &mut Message, body: Option<(String, Vec<u8>)>) {
    if let Some((ctype, body)) = body {
        r.push_header("Content-Type", ctype);
        r.body = body;
    }
}

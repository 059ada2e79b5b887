//! Packets sent into a session from its relay ports by vozbox itself (a recording's
//! beeps): `MediaSession::injector`.

use super::forward::Shared;
use std::sync::Arc;

/// Sends packets into a session from its relay ports (see `MediaSession::injector`).
#[derive(Clone)]
pub struct Injector {
    pub(super) shared: Arc<Shared>,
}

impl Injector {
    /// Sends `packet` to the caller (or the callee) from the port facing it.
    pub fn send(&self, caller: bool, packet: &[u8]) {
        let side = if caller {
            &self.shared.a
        } else {
            &self.shared.b
        };
        if let (Some(d), Some((rtp, _))) = (side.rtp_peer.current(), side.sockets.as_ref()) {
            let _ = rtp.send_to(packet, d);
        }
    }

    /// Milliseconds since the session opened (the clock of `Tapped::at_ms`).
    pub fn now_ms(&self) -> u64 {
        self.shared.now_ms()
    }
}

//! Session timers a peer sets (RFC 4028, call core; `session_timer.rs` is the rest): the
//! interval and refresher of a callee's 2xx. Every interval a peer gives is held to
//! [`min_se`, `MAX`]: a `Session-Expires: 1` does not make vozbox refresh twice a second,
//! a huge one does not switch the timer off.

use super::call::Call;
use super::session_timer::{allows_update, parse, LegTimer, Refresher};
use crate::sip::message::Message;
use std::time::Instant;

/// The longest interval vozbox takes from a peer (a day, as `retry_422` asks at most).
pub const MAX: u32 = 86_400;

/// A peer's interval held to [`min_se`, `MAX`].
pub fn bound(secs: u32, min_se: u32) -> u32 {
    secs.clamp(min_se.min(MAX), MAX)
}

impl Call {
    /// The timer a 2xx from branch `i` (to our INVITE) sets, if it has a Session-Expires:
    /// its refresher as it names it (RFC 4028 §7.2: `uac` is vozbox).
    pub(super) fn timer_of_answer(&self, now: Instant, i: usize, ok: &Message) -> Option<LegTimer> {
        let (secs, r) = parse(ok)?;
        if secs == 0 {
            return None;
        }
        let refresher = match r.as_deref() {
            Some("uas") => Refresher::Peer,
            _ => Refresher::Vozbox,
        };
        Some(LegTimer {
            interval: bound(secs, self.sessions.settings.min_se),
            refresher,
            since: now,
            sent: None,
            retry: None,
            update: allows_update(ok),
            sdp: self.forks.get(i).and_then(|f| f.offer.clone()),
        })
    }

    /// Branch `i` answered with `ok`: a Session-Expires in it starts the B leg's timer.
    pub(super) fn session_answer_b(&mut self, now: Instant, i: usize, ok: &Message) {
        if let Some(t) = self.timer_of_answer(now, i, ok) {
            self.sessions.b = Some(t);
        }
    }

}


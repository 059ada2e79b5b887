//! Session timers a peer sets (RFC 4028, call core; `session_timer.rs` is the rest): the
//! interval and refresher of a callee's 2xx — the branch that answered, or a transfer's new
//! party, whose timer waits in the transfer until it takes its place (`join.rs`). Every
//! interval a peer gives is held to [`min_se`, `MAX`]: a `Session-Expires: 1` does not
//! make vozbox refresh twice a second, a huge one does not switch the timer off.

use super::call::{Call, Side};
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

    /// A transfer's new party (fork `i`) offered in `ok` (its 2xx to our INVITE or
    /// re-INVITE): the timer it set waits for the transfer to complete.
    pub(super) fn session_offered(&mut self, now: Instant, i: usize, ok: &Message) {
        if let Some(mut t) = self.timer_of_answer(now, i, ok) {
            // (what vozbox offers there next is the answer our ACK carries: `joined`)
            t.sdp = None;
            self.transfer.timer = Some(t);
        }
    }

    /// The transfer is made: the new party's timer becomes the timer of the side it takes
    /// (`by`, the transferor's; none when it set none, RFC 4028 is per dialog).
    pub(super) fn session_handed(&mut self, by: Side) {
        *self.sessions.leg_mut(by) = self.transfer.timer.take();
    }
}

/// The header fields of a re-INVITE asking a transfer's joined party for an offer: our
/// interval, vozbox refreshing (its 2xx says what the party takes: `session_offered`).
pub fn asked(s: super::session_timer::Settings) -> Vec<crate::sip::message::HeaderField> {
    use crate::sip::message::HeaderField;
    vec![
        HeaderField::new(
            "Session-Expires",
            format!("{};refresher=uac", s.session_expires),
        ),
        HeaderField::new("Supported", "timer"),
    ]
}

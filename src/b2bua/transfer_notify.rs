//! What the transferor of a call is told (call core; `transfer.rs` is the transfer): the
//! refer subscription's NOTIFYs (RFC 3515, `message/sipfrag`), none when the REFER said
//! `Refer-Sub: false` (RFC 4488) or the transferor has hung up: `100 Trying` when the
//! transfer starts, the target's first ringing (`180`–`198`, once), then the final status
//! with `Subscription-State: terminated`. The ringing waits for the NOTIFY before it to be
//! answered (no two in flight in the dialog: a lost one resent after the next would reach
//! the transferor out of order); the final status does not wait, and one still owed is
//! dropped by it.

use super::actions::Actions;
use super::call::{Call, ForkState, Method};
use super::fork::status;
use crate::sip::message::{HeaderField, Message};
use std::time::Instant;

/// A sipfrag's status line: the reason phrase as a peer wrote it, without control
/// characters and at most 100 characters long.
pub(super) fn status_line(code: u16, reason: &str) -> String {
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    format!("SIP/2.0 {} {}", code, reason)
}

impl Call {
    /// Branch `i` of the target rings (or shows session progress): the transferor hears
    /// it once, as RFC 3515 §2.4.5's NOTIFYs of provisional responses; a branch that is
    /// being given up does not count.
    pub(super) fn notify_ringing(
        &mut self,
        now: Instant,
        i: usize,
        msg: &Message,
        out: &mut Actions,
    ) {
        let live = matches!(
            self.forks.get(i).map(|f| &f.state),
            Some(ForkState::Calling { cancel_owed: false } | ForkState::Proceeding)
        );
        let (code, reason) = status(msg);
        // (199 Early Dialog Terminated is not ringing)
        if !live || !(180..199).contains(&code) {
            return;
        }
        let in_flight = self.notify_in_flight();
        let Some(t) = self.transfer.on.as_mut() else {
            return;
        };
        if t.rang {
            return;
        }
        t.rang = true;
        let line = status_line(code, reason);
        if in_flight {
            t.ringing_owed = Some(line);
        } else {
            self.notify_transferor(now, &line, false, out);
        }
    }

    /// A NOTIFY to the transferor was answered or given up: the ringing owed goes now.
    pub(super) fn notify_answered(&mut self, now: Instant, method: &Method, out: &mut Actions) {
        if method.as_str() != "NOTIFY" || self.notify_in_flight() {
            return;
        }
        let owed = self
            .transfer
            .on
            .as_mut()
            .and_then(|t| t.ringing_owed.take());
        if let Some(line) = owed {
            self.notify_transferor(now, &line, false, out);
        }
    }

    /// Whether a NOTIFY to the transferor awaits its answer.
    fn notify_in_flight(&self) -> bool {
        let Some(t) = &self.transfer.on else {
            return false;
        };
        self.pending
            .iter()
            .any(|p| !p.done && p.target == t.by && p.method.as_str() == "NOTIFY")
    }

    /// A NOTIFY of the refer subscription to the transferor, when one is owed.
    pub(super) fn notify_transferor(
        &mut self,
        now: Instant,
        line: &str,
        last: bool,
        out: &mut Actions,
    ) {
        let Some(t) = &self.transfer.on else { return };
        if !t.notify || t.gone {
            return;
        }
        let side = t.by;
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        let state = if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let extra = vec![
            HeaderField::new("Event", "refer"),
            HeaderField::new("Subscription-State", state),
            HeaderField::new("Contact", leg.contact.clone()),
        ];
        let body = format!("{}\r\n", line);
        let sipfrag = Some(("message/sipfrag;version=2.0", body.as_bytes()));
        let notify = Method::Other("NOTIFY".into());
        self.send_own(now, side, notify, sipfrag, extra, out);
    }
}

#[cfg(test)]
mod tests {
    use super::status_line;

    #[test]
    fn a_peers_reason_phrase_is_kept_to_one_short_line() {
        assert_eq!(status_line(180, "Ringing"), "SIP/2.0 180 Ringing");
        assert_eq!(status_line(486, "Busy\rHere\u{0}"), "SIP/2.0 486 BusyHere");
        assert_eq!(
            status_line(183, &"x".repeat(500)).len(),
            "SIP/2.0 183 ".len() + 100
        );
    }
}

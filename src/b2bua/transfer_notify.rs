//! What the transferor of a call is told (call core; `transfer.rs` is the transfer): the
//! refer subscription's NOTIFYs (RFC 3515, `message/sipfrag`), none when the REFER said
//! `Refer-Sub: false` (RFC 4488) or the transferor has hung up: `100 Trying` when the
//! transfer starts, the target's first ringing (`180`–`199`, once), then the final status
//! with `Subscription-State: terminated`.

use super::actions::Actions;
use super::call::{Call, Method, Pending};
use super::fork::status;
use super::timers::Wait;
use crate::sip::message::{HeaderField, Message};
use std::sync::Arc;
use std::time::Instant;

impl Call {
    /// The target rings (or shows session progress): the transferor hears it once, as
    /// RFC 3515 §2.4.5's NOTIFYs of provisional responses.
    pub(super) fn notify_ringing(&mut self, now: Instant, msg: &Message, out: &mut Actions) {
        let Some(t) = self.transfer.on.as_mut() else {
            return;
        };
        if t.rang {
            return;
        }
        t.rang = true;
        let (code, reason) = status(msg);
        let line = format!("SIP/2.0 {} {}", code, reason);
        self.notify_transferor(now, &line, false, out);
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
        let (req, branch) = leg.in_dialog(
            "NOTIFY",
            Some(("message/sipfrag;version=2.0", body.as_bytes())),
            extra,
        );
        let (cseq, dest) = (leg.local_cseq, leg.dest.clone());
        let bytes = Arc::new(req.to_bytes());
        out.send(&dest, bytes.clone());
        self.pending.retain(|p| !p.done);
        self.pending.push(Pending {
            branch: branch.clone(),
            cseq,
            method: Method::Other("NOTIFY".into()),
            origin: None,
            target: side,
            provisional: false,
            done: false,
        });
        self.retransmit(now, bytes, dest, Wait::Pending { branch });
    }
}

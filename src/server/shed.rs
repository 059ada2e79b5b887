//! New work refused when the box is behind (`overload.rs`, issue 22): a new INVITE or
//! REGISTER is answered `503` + `Retry-After` before its checks, a digest, routing or media
//! are spent on it, and admitted work — a call's INVITE, a transaction in progress — is
//! never refused.
//!
//! Over UDP, where refusals come by the thousand past capacity, it costs as little as it
//! can (`shed_glanced`): the datagram is glanced at (`sip/glance.rs`) rather than parsed,
//! the 503 printed straight from its lines, and the refusal remembered in a memory of fixed
//! size (`sip/refused.rs`) rather than the transaction memory, so that a retransmission
//! gets the same 503 (an INVITE admitted by a later copy would ring a callee for a caller
//! that has given up) and is counted once; meanwhile an ACK for no call (the 503's) is
//! dropped unparsed, as the parsed path would drop it. What the
//! glance cannot read, and TCP and TLS, take the full parse (`shed`), the refusal then
//! kept in the transaction memory.
//!
//! A new request refused from a glance is not checked further: one the parsed path would
//! answer `400` (a To that does not parse, say) gets the 503 instead. Either way it is
//! refused and costs nothing more.
//!
//! One race is left open, narrow: the glance asks the transaction memory whether a request
//! is known without reserving it (`Transactions::contains`), so a copy read by the other
//! receive thread while the first copy, admitted a moment before, is between its glance
//! and its transaction can still be refused; the caller then gets a 503 for a call that
//! goes on. (One receive thread, the default, has no such window.)

use super::Server;
use crate::overload::{decide, Unparsed};
use crate::sip::glance::Glance;
use crate::sip::headers::{NameAddr, Via};
use crate::sip::message::Message;
use crate::sip::reply::{glanced_response, response};
use crate::sip::respond::{stamp_via, to_tag, to_tag_of};
use crate::sip::transaction::Begin;
use crate::sip::transport::{Flow, Proto};
use crate::sip::validate;
use std::time::Duration;

/// Whether a To header value may carry a tag: "tag" anywhere in it (`triage::has_tag`
/// looks only after the last `>`, which a quoted parameter can fool).
fn may_have_tag(to: &str) -> bool {
    to.as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"tag"))
}

impl Server {
    /// The refusal of a UDP datagram from a glance: a new INVITE or REGISTER when the box
    /// is behind, a copy of one refused before, or an ACK for no call (that of a 503) while
    /// refusals go on. True when the datagram was dealt with here; false: it goes on to the
    /// full parse (anything else, anything the glance cannot read, admitted work).
    pub(super) fn shed_glanced(&self, data: &[u8], flow: &Flow, waited: Duration) -> bool {
        if flow.proto != Proto::Udp {
            return false;
        }
        let method = if data.starts_with(b"INVITE ") {
            "INVITE"
        } else if data.starts_with(b"REGISTER ") {
            "REGISTER"
        } else if data.starts_with(b"ACK ") {
            "ACK"
        } else {
            return false;
        };
        let refused = &self.out.refused;
        let now = refused.now();
        let overload = &self.b2bua.overload;
        let setting_up = (method == "INVITE").then(|| self.b2bua.setting_up.count());
        let over = method != "ACK" && decide(&overload.limits, waited, setting_up).is_some();
        // nothing to refuse, nothing refused lately: the usual path, at no cost
        if !over && !refused.active(now) {
            return false;
        }
        let Some(g) = Glance::of(data) else {
            return false;
        };
        // a re-INVITE continues a call; and a new request whose To may hold a tag is the
        // parsed path's to answer (the glanced 503 adds one). (An ACK has the tag of the
        // answer it acknowledges.)
        if g.method != method || (method != "ACK" && may_have_tag(g.to)) {
            return false;
        }
        if method == "ACK" {
            // An ACK for no call is dropped by the parsed path too (nothing answers an ACK):
            // here that is the ACK of a 503 (whatever its branch: SIPp gives an ACK a new
            // one), dropped unparsed.
            if self.b2bua.has_call(g.call_id) {
                return false;
            }
            self.out.transports.stats.request(method);
            overload.note_unparsed(Unparsed::Ack);
            return true;
        }
        // the transaction by its Via as written (no parse: most of what comes here while
        // refusals are remembered is admitted work on its way to the parsed path)
        let Some((sent_by, branch)) = g.sent_by_and_branch() else {
            return false;
        };
        if !branch.starts_with("z9hG4bK") {
            return false;
        }
        let key = refused.key(sent_by, branch, method);
        let again = refused.contains(key, now);
        if !again && !over {
            return false;
        }
        // one value on the top Via line (the glance sees to it)
        let Ok(via) = Via::parse_lenient(g.top_via()) else {
            return false;
        };
        if !again {
            // admitted work is not refused: a call's INVITE (the transaction memory may be
            // full), a copy of a request in progress or answered
            if method == "INVITE" && self.b2bua.has_call(g.call_id) {
                return false;
            }
            if self
                .out
                .txns
                .branch_key(&via, method)
                .is_some_and(|k| self.out.txns.contains(k))
            {
                return false;
            }
        }
        self.out.transports.stats.request(method);
        if !again {
            // counted, and logged once a second (the same decision as above)
            overload.check(method, waited, setting_up);
            overload.note_unparsed(Unparsed::Refused);
            refused.insert(key, now);
        } else {
            overload.note_unparsed(Unparsed::Again);
        }
        let (top, to) = stamp_via(&via, flow);
        let retry = overload.limits.retry_after.to_string();
        let bytes = glanced_response(
            &g,
            &top,
            503,
            "Service Unavailable",
            &to_tag_of(g.call_id, g.top_via()),
            &[("Retry-After", &retry)],
        );
        self.out.transports.stats.response_sent(&bytes);
        if let Err(e) = self.out.transports.send_to(flow, to, &bytes) {
            tracing::debug!("503 to {}: {}", to, e);
        }
        true
    }

    /// The refusal from the full parse, for what `shed_glanced` leaves: a new INVITE or
    /// REGISTER is answered `503` + `Retry-After` before its full checks, a digest, routing
    /// or media are spent on it. Over UDP the refusal is kept in the transaction memory, so
    /// that its retransmissions get the same 503 (an INVITE admitted by a later copy would
    /// ring a callee for a caller that has given up) and are counted once; a copy of a
    /// request already admitted gets what its transaction has (nothing while in progress,
    /// else the stored answer), and an INVITE whose Call-ID is a call's is never refused.
    pub(super) fn shed(&self, msg: &Message, flow: &Flow, waited: Duration) -> bool {
        let method = match msg.method() {
            Some(m @ ("INVITE" | "REGISTER")) => m,
            _ => return false,
        };
        let new_call = method == "INVITE";
        let overload = &self.b2bua.overload;
        let setting_up = new_call.then(|| self.b2bua.setting_up.count());
        if decide(&overload.limits, waited, setting_up).is_none() {
            return false;
        }
        if new_call {
            // a re-INVITE (To-tag) continues a call; a To that does not parse is left to
            // the checks, which refuse it
            match msg.get("To").map(NameAddr::parse) {
                Some(Ok(to)) if to.tag().is_none() => {}
                _ => return false,
            }
        }
        let Some(via) = msg.get("Via").and_then(|v| validate::first_via(v).ok()) else {
            return false;
        };
        // the transaction memory may be full: a call in progress is known by its Call-ID
        if new_call
            && msg
                .get("Call-ID")
                .is_some_and(|c| self.b2bua.has_call(c.trim()))
        {
            return false;
        }
        let key = if flow.proto == Proto::Udp {
            self.out.txns.key(msg, &via)
        } else {
            None
        };
        if let Some(k) = key {
            // a copy of a request seen before, refused or admitted, is answered as its
            // transaction was (as the normal path below would)
            match self.out.txns.begin(k) {
                Begin::New => {}
                Begin::InProgress => return true,
                Begin::Completed { response, flow, to } => {
                    self.out.transports.stats.response_sent(&response);
                    let _ = self.out.transports.send_to(&flow, to, &response);
                    return true;
                }
            }
        }
        // counted, and logged once a second (the same decision as above)
        overload.check(method, waited, setting_up);
        let mut r = response(msg, 503, "Service Unavailable", &to_tag(msg));
        r.push_header("Retry-After", overload.limits.retry_after.to_string());
        self.out.send(&via, flow, r, key);
        true
    }
}

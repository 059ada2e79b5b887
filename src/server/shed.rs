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
//! that has given up) and is counted once, and the 503's ACK is dropped unparsed. What the
//! glance cannot read, and TCP and TLS, take the full parse (`shed`), the refusal then
//! kept in the transaction memory.

use super::Server;
use crate::overload::decide;
use crate::sip::glance::Glance;
use crate::sip::headers::{NameAddr, Via};
use crate::sip::message::Message;
use crate::sip::reply::{glanced_response, response};
use crate::sip::respond::{branch_key, stamp_via, to_tag, to_tag_of, transaction_key};
use crate::sip::transaction::Begin;
use crate::sip::transport::{Flow, Proto};
use crate::sip::triage::has_tag;
use crate::sip::validate;
use std::time::Duration;

impl Server {
    /// The refusal of a UDP datagram from a glance: a new INVITE or REGISTER when the box
    /// is behind, a copy of one refused before, or the ACK of such a refusal. True when the
    /// datagram was dealt with here; false: it goes on to the full parse (anything else,
    /// anything the glance cannot read, admitted work).
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
        // a re-INVITE continues a call
        if g.method != method || (method == "INVITE" && has_tag(g.to.as_bytes())) {
            return false;
        }
        // one value on the top Via line (the glance sees to it)
        let Ok(via) = Via::parse_lenient(g.top_via()) else {
            return false;
        };
        let Some(branch) = via.branch().filter(|b| b.starts_with("z9hG4bK")) else {
            return false;
        };
        let txn = if method == "ACK" { "INVITE" } else { method };
        let key = refused.key(branch, &via.host, via.port.unwrap_or(0), txn);
        let again = refused.contains(key, now);
        if !again {
            if !over {
                return false;
            }
            // admitted work is never refused: a call's INVITE (the transaction memory
            // may be full), a copy of a request in progress or answered
            if method == "INVITE" && self.b2bua.has_call(g.call_id) {
                return false;
            }
            if branch_key(&via, method).is_some_and(|k| self.out.txns.contains(&k)) {
                return false;
            }
        }
        self.out.transports.stats.request(method);
        if method == "ACK" {
            return true; // the ACK of a 503: its transaction is over
        }
        if !again {
            // counted, and logged once a second (the same decision as above)
            overload.check(method, waited, setting_up);
            refused.insert(key, now);
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
        if new_call {
            // a re-INVITE (To-tag) continues a call; a To that does not parse is left to
            // the checks, which refuse it
            match msg.get("To").map(NameAddr::parse) {
                Some(Ok(to)) if to.tag().is_none() => {}
                _ => return false,
            }
        }
        let overload = &self.b2bua.overload;
        let setting_up = new_call.then(|| self.b2bua.setting_up.count());
        if decide(&overload.limits, waited, setting_up).is_none() {
            return false;
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
            transaction_key(msg, &via)
        } else {
            None
        };
        if let Some(k) = &key {
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
        self.out.send(&via, flow, r, key.as_deref());
        true
    }
}

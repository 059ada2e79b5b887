//! The running server: receives every message from the transports, answers what the stack
//! owes (400/416/420/501/505, retransmissions), and hands requests to the services —
//! the registrar for REGISTER, OPTIONS answered here. New work past capacity is refused
//! in `shed.rs`.

mod shed;

use crate::auth::ban::Bans;
use crate::b2bua::{B2bua, Incoming};
use crate::model::trust::{classify, Source};
use crate::registrar::register::Reply;
use crate::registrar::Registrar;
use crate::sip::answer::Answer;
use crate::sip::headers::uri_host;
use crate::sip::message::{Message, StartLine};
use crate::sip::reply::{self, response};
use crate::sip::respond::{to_tag, Responder, Sent, Stamp};
use crate::sip::transaction::Begin;
use crate::sip::transaction::TxKey;
use crate::sip::transport::{Flow, Proto, Sink};
use crate::sip::validate::{self, check_request};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct Server {
    pub out: Arc<Responder>,
    pub b2bua: Arc<B2bua>,
    pub registrar: Arc<Registrar>,
    pub bans: Arc<Bans>,
    pub pike: Arc<crate::auth::pike::Pike>,
    pub inflight: Arc<Semaphore>,
}

impl Server {
    fn options(&self, req: &Message, tag: &str) -> Message {
        let mut r = response(req, 200, "OK", tag);
        r.push_header("Allow", reply::ALLOW);
        r.push_header("Accept", reply::ACCEPT);
        r.push_header("Supported", validate::SUPPORTED_HEADER);
        r
    }

    /// Whether a request passes the IP filter of the client it comes from: the client of
    /// its From domain, else of its Request-URI's. Carriers and DDI providers are no
    /// client's: they always pass.
    fn screened(&self, msg: &Message, checked: &validate::Checked, flow: &Flow) -> bool {
        let snap = self.b2bua.snapshot.load();
        if matches!(
            classify(&snap, &self.b2bua.names.load(), flow.remote),
            Source::Carrier { .. } | Source::DdiProvider { .. }
        ) {
            return true;
        }
        let from = checked.from.uri().ok().map(|u| uri_host(&u));
        let client = from.and_then(|h| snap.client_by_domain(&h)).or_else(|| {
            msg.request_uri_host()
                .and_then(|h| snap.client_by_domain(&h))
        });
        match client {
            Some(c) => {
                let method = msg.method().unwrap_or("");
                self.b2bua.policy.screen(c, flow.remote.ip(), method)
            }
            None => true,
        }
    }

    /// Answers a request refused before any service ran, if a response can be addressed.
    fn reject(&self, msg: &Message, flow: &Flow, rej: validate::Reject) {
        tracing::debug!(
            "{} from {}: {} {}",
            msg.method().unwrap_or("?"),
            flow.remote,
            rej.code,
            rej.detail
        );
        if msg.method() == Some("ACK") {
            return;
        }
        let Some(via) = msg.get("Via").and_then(|v| validate::first_via(v).ok()) else {
            return;
        };
        let mut r = response(msg, rej.code, rej.reason, &to_tag(msg));
        for (k, v) in &rej.headers {
            r.push_header(k, v.clone());
        }
        self.out.send(&via, flow, r, None);
    }

    fn handle_request(self: Arc<Self>, msg: Message, flow: Flow, waited: Duration) {
        if self.shed(&msg, &flow, waited) {
            return;
        }
        let checked = match check_request(&msg) {
            Ok(c) => c,
            Err(rej) => return self.reject(&msg, &flow, rej),
        };
        if let Err(rej) = validate::check_secure(&msg, flow.proto == Proto::Tls) {
            return self.reject(&msg, &flow, rej);
        }
        let method = msg.method().unwrap_or("").to_string();
        if method == "ACK" {
            // ACKs have no transaction of their own: the call they belong to takes them.
            return self.b2bua.on_request(Incoming {
                msg,
                checked,
                flow,
                key: None,
            });
        }
        let key = if flow.proto == Proto::Udp && !stateless(&method, &msg) {
            self.out.txns.key(&msg, &checked.via)
        } else {
            None
        };
        if let Some(k) = key {
            match self.out.txns.begin(k) {
                Begin::New => {}
                Begin::InProgress => return,
                Begin::Completed { response, flow, to } => {
                    self.out.transports.stats.response_sent(&response);
                    let _ = self.out.transports.send_to(&flow, to, &response);
                    return;
                }
            }
        }
        let tag = to_tag(&msg);
        let via = &checked.via;
        match method.as_str() {
            "OPTIONS" | "SUBSCRIBE"
                if checked.to.tag().is_none() && !self.screened(&msg, &checked, &flow) =>
            {
                let r = response(&msg, 403, "Forbidden (invalid IP)", &tag);
                self.out.send(via, &flow, r, key);
            }
            "OPTIONS" => {
                let r = self.options(&msg, &tag);
                self.out.send(via, &flow, r, key);
            }
            "REGISTER" => {
                let Ok(permit) = self.inflight.clone().try_acquire_owned() else {
                    self.registrar
                        .stats
                        .refused(crate::registrar::stats::Refused::Overloaded);
                    let mut r = response(&msg, 503, "Service Unavailable", &tag);
                    r.push_header("Retry-After", "5");
                    self.out.send(via, &flow, r, key);
                    return;
                };
                let reply = RegisterReply {
                    stamp: Stamp::new(via, &flow),
                    key,
                    out: self.out.clone(),
                    _permit: permit,
                };
                self.registrar
                    .handle(&msg, &checked, &flow, &tag, Box::new(reply));
            }
            _ if method == "INVITE"
                || method == "CANCEL"
                || method == "SUBSCRIBE"
                || checked.to.tag().is_some() =>
            {
                self.b2bua.on_request(Incoming {
                    msg,
                    checked,
                    flow,
                    key,
                });
            }
            // a method vozbox allows only in a dialog (BYE, UPDATE, INFO, REFER), outside one
            _ if reply::ALLOW.split(", ").any(|m| m == method) => {
                let r = response(&msg, 481, "Call/Transaction Does Not Exist", &tag);
                self.out.send(via, &flow, r, key);
            }
            _ => {
                let mut r = response(&msg, 405, "Method Not Allowed", &tag);
                r.push_header("Allow", reply::ALLOW);
                self.out.send(via, &flow, r, key);
            }
        }
    }

    /// A message the parser refused: answer 400 if the fields a response needs can still
    /// be found line by line.
    fn salvage_400(&self, data: &[u8], flow: &Flow, why: &str) {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let first = lines.next().unwrap_or("");
        if first.starts_with("SIP/") || first.split(' ').next().unwrap_or("") == "ACK" {
            return;
        }
        let mut headers = Vec::new();
        for l in lines {
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                let n = n.trim();
                if ["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq"]
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(n))
                {
                    headers.push(crate::sip::message::HeaderField::new(n, v.trim()));
                }
            }
        }
        let msg = Message {
            start: StartLine::Request {
                method: crate::sip::text::Text::from_static("UNKNOWN"),
                uri: Default::default(),
                version: crate::sip::text::Text::from_static("SIP/2.0"),
            },
            headers,
            body: Vec::new(),
            framing_error: None,
        };
        let Some(via) = msg.get("Via").and_then(|v| validate::first_via(v).ok()) else {
            tracing::debug!("dropping unparseable message from {}: {}", flow.remote, why);
            return;
        };
        tracing::debug!("400 to {}: {}", flow.remote, why);
        let r = response(&msg, 400, "Bad Request", &to_tag(&msg));
        self.out.send(&via, flow, r, None);
    }
}

/// A REGISTER without credentials is answered statelessly (RFC 3261 §8.2.7: the common
/// use of a stateless UAS is the challenge of an unauthenticated request): its answer —
/// the 401, or a 400, 403 or 503 — leaves no transaction behind, and a retransmission is
/// answered again, with a fresh nonce. Processing it twice changes nothing (no binding, no
/// ban), and under load the transaction memory keeps its room for the REGISTERs with
/// credentials, whose retransmissions it answers with their first answer.
fn stateless(method: &str, msg: &Message) -> bool {
    method == "REGISTER"
        && msg
            .get(crate::sip::headers::Challenge::Server.credentials_header())
            .is_none()
}

/// A REGISTER's way back: its stamp, its transaction, and its place among the
/// registrations in flight (given back when the answer has gone).
struct RegisterReply {
    stamp: Stamp,
    key: Option<TxKey>,
    out: Arc<Responder>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Reply for RegisterReply {
    fn print(&self, req: &Message, to_tag: &str, answer: &Answer) -> Sent {
        self.stamp.answer(req, to_tag, answer)
    }

    fn send(self: Box<Self>, sent: Sent) {
        self.out.transmit(&sent, self.key);
    }
}

impl Sink for Server {
    fn is_blocked(&self, ip: IpAddr) -> bool {
        self.bans.is_banned(ip)
            || (self.pike.enabled()
                && !self.b2bua.snapshot.load().is_trusted_address(ip)
                && !self.b2bua.names.load().contains_ip(ip)
                && !self.pike.allow(ip))
    }

    fn on_close(&self, flow: &Flow) {
        self.b2bua.on_connection_closed(flow);
    }

    fn keeps(&self, flow: &Flow) -> bool {
        self.b2bua.uses_connection(flow)
            || self
                .registrar
                .location
                .uses_connection(flow, crate::auth::nonce::now_secs())
    }

    fn on_message(self: Arc<Self>, data: &[u8], flow: Flow, waited: Duration) {
        if self.shed_glanced(data, &flow, waited) {
            return;
        }
        match Message::parse(data) {
            Ok(msg) => {
                if msg.is_request() {
                    self.out
                        .transports
                        .stats
                        .request(msg.method().unwrap_or(""));
                    self.handle_request(msg, flow, waited);
                } else if !self.b2bua.qualify.on_response(&msg, &flow) {
                    // Responses to the B2BUA's requests (those to keep-alive OPTIONS
                    // belong to no call and end there; those to a peer's qualify OPTIONS
                    // are taken just above).
                    self.b2bua.on_response(msg);
                }
            }
            Err(e) => self.salvage_400(data, &flow, &e.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::respond::stamp_via;

    #[test]
    fn stamps_via_and_routes_responses() {
        let raw = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rfc4475/insuf.dat"
        ))
        .unwrap();
        let msg = Message::parse(&raw).unwrap();
        let flow = Flow {
            proto: Proto::Udp,
            local: "127.0.0.1:5060".parse().unwrap(),
            remote: "127.0.0.9:5060".parse().unwrap(),
            conn: None,
        };
        let via = validate::first_via(msg.get("Via").unwrap()).unwrap();
        let (via, to) = stamp_via(&via, &flow);
        assert_eq!(to, "127.0.0.9:5060".parse().unwrap());
        assert!(via.ends_with(";received=127.0.0.9"), "{}", via);
    }
}

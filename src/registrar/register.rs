//! REGISTER (RFC 3261 §10.3) for terminals and register-mode friends: digest, bindings,
//! expiry bounds, and the flow each binding came over.

use super::changes;
use super::location::Location;
use super::stats::{Refused, RegistrarStats};
use crate::auth::ban::Bans;
use crate::auth::digest::Algorithm;
use crate::auth::nonce::{now_secs, Nonces};
use crate::auth::verify::{Verdict, Verifier};
use crate::config;
use crate::model::{Binding, Snapshot};
use crate::sip::answer::Answer;
use crate::sip::headers::{param, uri_equal, uri_host, uri_socket, uri_user, Challenge};
use crate::sip::message::Message;
use crate::sip::reply::restatus;
use crate::sip::respond::Sent;
use crate::sip::transport::{Flow, Proto};
use crate::sip::validate::Checked;
use crate::store::writer::{Done, Op, Writer, Written};
use arc_swap::ArcSwap;
use std::sync::Arc;

pub struct Registrar {
    pub cfg: config::Registrar,
    pub algorithms: Vec<Algorithm>,
    pub nonces: Nonces,
    pub bans: Arc<Bans>,
    pub location: Arc<Location>,
    pub writer: Writer,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// REGISTERs accepted and refused by cause (for `GET /metrics`).
    pub stats: Arc<RegistrarStats>,
    /// The clients' IP filter (and the other client policies).
    pub policy: Arc<crate::policy::Policy>,
}

/// The authenticated registrant of a REGISTER.
struct Who {
    aor: String,
    client: String,
    owner: crate::model::BindingOwner,
}

/// What the REGISTER comes to, before durability.
enum Outcome {
    Reply(Answer),
    /// An authenticated, well-formed REGISTER: apply it to the location service.
    Bind(Box<Plan>),
}

/// What an authenticated REGISTER asks for, checked, before the location is touched.
struct Plan {
    aor: String,
    client: String,
    owner: crate::model::BindingOwner,
    /// Contacts with their granted expiry, q and socket address.
    contacts: Vec<(String, u32, Option<f32>, Option<std::net::SocketAddr>)>,
    star: bool,
    call_id: String,
    cseq: u32,
    path: Vec<String>,
    user_agent: Option<String>,
    now: u64,
}

/// Where a REGISTER's answer goes. Responses are printed on the receive thread (`print`);
/// `send` runs there, or on the store's thread once the change is durable, so the request
/// itself never leaves the receive thread.
pub trait Reply: Send {
    /// Prints `answer` to the REGISTER `req`, stamped (nothing is sent).
    fn print(&self, req: &Message, to_tag: &str, answer: &Answer) -> Sent;
    /// Sends a printed response; the last use of the reply.
    fn send(self: Box<Self>, sent: Sent);
}

/// The answer's way, possibly to the store's thread.
pub type Respond = Box<dyn Reply>;

/// The printed 200 turned into a refusal for the store's failure (`Retry-After: 5`).
fn refusal(ok: &Sent, code: u16, reason: &str) -> Sent {
    Sent {
        bytes: Arc::new(restatus(&ok.bytes, code, reason, &[("Retry-After", "5")])),
        flow: ok.flow.clone(),
        to: ok.to,
    }
}

/// A refusal to retry later (`Retry-After: 5`), printed from the request like every answer.
fn retry_later(code: u16, reason: &'static str) -> Answer {
    Answer::new(code, reason).with("Retry-After", "5")
}

impl Registrar {
    /// Answers a REGISTER through `reply`: at once for challenges and refusals, after the
    /// store has made the change durable for a 200.
    pub fn handle(
        &self,
        req: &Message,
        checked: &Checked,
        flow: &Flow,
        to_tag: &str,
        reply: Respond,
    ) {
        match self.decide(req, checked, flow) {
            Outcome::Reply(a) => {
                let sent = reply.print(req, to_tag, &a);
                reply.send(sent);
            }
            Outcome::Bind(plan) => self.apply(*plan, req, flow, to_tag, reply),
        }
    }

    pub fn verifier(&self) -> Verifier<'_> {
        Verifier {
            nonces: &self.nonces,
            bans: &self.bans,
            algorithms: &self.algorithms,
        }
    }

    fn challenge(&self, realm: &str, stale: bool) -> Answer {
        let mut r = Answer::new(401, "Unauthorized");
        for v in self.verifier().challenge(realm, stale) {
            r.push(Challenge::Server.header(), v);
        }
        r
    }

    fn decide(&self, req: &Message, checked: &Checked, flow: &Flow) -> Outcome {
        let to = &checked.to;
        let bad = |why: &str| {
            tracing::debug!("REGISTER from {}: {}", flow.remote, why);
            self.stats.refused(Refused::BadRequest);
            Outcome::Reply(Answer::new(400, "Bad Request"))
        };
        let Ok(to_uri) = to.uri() else {
            return bad("unreadable To URI");
        };
        let domain = uri_host(&to_uri);
        let Some(to_user) = uri_user(&to_uri).filter(|u| !u.is_empty()) else {
            return bad("To without user");
        };
        let snap = self.snapshot.load();
        let client = snap.client_by_domain(&domain);
        // The client's IP filter first: a refused source learns nothing of its users, not
        // even whether a password is right.
        if let Some(c) = client {
            if !self.policy.screen(c, flow.remote.ip(), "REGISTER") {
                return Outcome::Reply(Answer::new(403, "Forbidden (invalid IP)"));
            }
        }
        // The realm is the requested domain even when no client has it: an unknown domain
        // gets the same challenge as a known one.
        let realm = client
            .map(|c| c.domain.clone())
            .unwrap_or_else(|| domain.clone());

        // the registrant the credentials name, found once for the digest and the binding
        let mut named = None;
        let verdict = self.verifier().verify(
            req,
            Challenge::Server.credentials_header(),
            &realm,
            flow,
            |name| {
                named = client.and_then(|c| snap.registrant(&c.name, name));
                named.as_ref().map(|r| r.password().to_string())
            },
        );
        let username = match verdict {
            Verdict::Authenticated(u) => u,
            Verdict::Challenge { stale } => {
                let why = if stale {
                    Refused::StaleNonce
                } else if req.get(Challenge::Server.credentials_header()).is_some() {
                    Refused::AuthFailed
                } else {
                    Refused::Challenge
                };
                self.stats.refused(why);
                return Outcome::Reply(self.challenge(&realm, stale));
            }
            Verdict::Bad(why) => return bad(why),
        };
        // `named` is the user name of the credentials, which authenticated as `username`
        let (Some(client), Some(registrant)) = (client, named) else {
            self.stats.refused(Refused::AuthFailed);
            return Outcome::Reply(self.challenge(&realm, false));
        };
        if to_user != username {
            self.stats.refused(Refused::Forbidden);
            return Outcome::Reply(Answer::new(403, "Forbidden"));
        }
        let who = Who {
            aor: format!("sip:{}@{}", to_user, domain),
            client: client.name.clone(),
            owner: registrant.owner(),
        };
        self.bind(req, checked, flow, who)
    }

    fn bind(&self, req: &Message, checked: &Checked, flow: &Flow, who: Who) -> Outcome {
        let Who { aor, client, owner } = who;
        let now = now_secs();
        let bad = |why: &str| {
            tracing::debug!("REGISTER {} from {}: {}", aor, flow.remote, why);
            self.stats.refused(Refused::BadRequest);
            Outcome::Reply(Answer::new(400, "Bad Request"))
        };
        let header_expires = match req.get("Expires") {
            Some(v) => match delta_seconds(v) {
                Some(n) => Some(n),
                None => return bad("bad Expires"),
            },
            None => None,
        };
        let call_id = req.call_id().unwrap_or("").to_string();
        let cseq = req.cseq().map(|c| c.0).unwrap_or(0);
        let star = checked.star;
        if star && (!checked.contacts.is_empty() || header_expires != Some(0)) {
            return bad("Contact: * needs Expires: 0 and no other contact");
        }
        let mut parsed = Vec::new();
        if !star {
            for na in &checked.contacts {
                let socket = match na.uri() {
                    Ok(u) => uri_socket(&u, 5060),
                    Err(e) => return bad(&format!("Contact: {}", e)),
                };
                let requested = match param(&na.params, "expires") {
                    Some(Some(v)) => match delta_seconds(v) {
                        Some(n) => n,
                        None => return bad("bad expires parameter"),
                    },
                    _ => header_expires.unwrap_or(self.cfg.default_expires),
                };
                if requested != 0 && requested < self.cfg.min_expires {
                    self.stats.refused(Refused::IntervalTooBrief);
                    let r = Answer::new(423, "Interval Too Brief")
                        .with("Min-Expires", self.cfg.min_expires.to_string());
                    return Outcome::Reply(r);
                }
                let q = match param(&na.params, "q") {
                    Some(Some(v)) => match v.parse::<f32>() {
                        Ok(q) if (0.0..=1.0).contains(&q) => Some(q),
                        _ => return bad("bad q"),
                    },
                    _ => None,
                };
                parsed.push((na, requested.min(self.cfg.max_expires), q, socket));
            }
        }
        let path: Vec<String> = req
            .list("Path")
            .into_iter()
            .map(|p| p.into_owned())
            .collect();
        let user_agent = req.get("User-Agent").map(|s| s.chars().take(128).collect());

        Outcome::Bind(Box::new(Plan {
            aor,
            client,
            owner,
            contacts: parsed
                .into_iter()
                .map(|(na, e, q, sock)| (na.uri_text.to_string(), e, q, sock))
                .collect(),
            star,
            call_id,
            cseq,
            path,
            user_agent,
            now,
        }))
    }

    /// Applies a REGISTER to its AoR under the AoR's lock, and queues the change to the
    /// store in the same critical section, so memory and disk see changes in one order. The
    /// memory changes only if the store took the change; the 200 goes out once it is durable.
    fn apply(&self, plan: Plan, req: &Message, flow: &Flow, to_tag: &str, respond: Respond) {
        let Plan {
            aor,
            client,
            owner,
            contacts,
            star,
            call_id,
            cseq,
            path,
            user_agent,
            now,
        } = plan;
        let max_contacts = self.cfg.max_contacts;
        let mut respond = Some(respond);
        let mut answer: Option<Answer> = None;
        // a request older than a binding it would change: 500, built once the lock is gone
        let mut out_of_order = false;
        let mut refused: Option<Done> = None;
        // The log's lines: what expired (gone whatever happens), what this REGISTER changed
        // (said once the change is taken).
        let (mut gone, mut notes, mut taken) = (Vec::new(), Vec::new(), false);
        self.location.update(&aor, |list| {
            // Bindings that expired since the last sweep leave the store too.
            let mut expired = Vec::new();
            list.retain(|b| {
                let keep = b.expires_at > now;
                if !keep {
                    expired.push(Op::Delete(b.key()));
                    gone.push(changes::expired(b));
                }
                keep
            });
            let mut next: Vec<Arc<Binding>> = list.clone();
            // RFC 3261 §10.3 steps 6-7: a request older than the binding it would change
            // fails (the same CSeq counts as older unless it is the same request again from
            // the same flow, a retransmission).
            let older = |b: &Binding| {
                b.call_id == call_id && (cseq < b.cseq || (cseq == b.cseq && b.flow != *flow))
            };
            let mut ops = Vec::new();
            if star {
                if next.iter().any(|b| older(b)) {
                    out_of_order = true;
                } else {
                    for b in next.drain(..) {
                        notes.push(changes::unregistered(&b, flow));
                        ops.push(Op::Delete(b.key()));
                    }
                }
            }
            for (contact, expires, q, socket) in &contacts {
                if out_of_order {
                    break;
                }
                // The same contact may be written differently (RFC 3261 §19.1.4).
                let existing = next.iter().position(|b| uri_equal(&b.contact, contact));
                if existing.is_some_and(|i| older(&next[i])) {
                    out_of_order = true;
                    break;
                }
                if *expires == 0 {
                    if let Some(i) = existing {
                        let b = next.remove(i);
                        notes.push(changes::unregistered(&b, flow));
                        ops.push(Op::Delete(b.key()));
                    }
                    continue;
                }
                let natted = match flow.proto {
                    Proto::Udp => *socket != Some(flow.remote),
                    _ => true,
                };
                let b = Arc::new(Binding {
                    aor: aor.clone(),
                    client: client.clone(),
                    owner,
                    contact: contact.clone(),
                    q: *q,
                    expires_at: now + *expires as u64,
                    call_id: call_id.clone(),
                    cseq,
                    flow: flow.clone(),
                    natted,
                    user_agent: user_agent.clone(),
                    path: path.clone(),
                });
                ops.push(Op::Put(b.clone()));
                // a refresh over the same flow is no change worth a line
                match existing.map(|i| &next[i].flow) {
                    Some(before) if *before == *flow => {}
                    before => notes.push(changes::registered(&b, *expires, before)),
                }
                match existing {
                    Some(i) => {
                        if next[i].contact != b.contact {
                            // stored under its old spelling: that row goes
                            ops.push(Op::Delete(next[i].key()));
                        }
                        next[i] = b;
                    }
                    None => next.push(b),
                }
            }
            if out_of_order {
                self.stats.refused(Refused::OutOfOrder);
                self.writer.submit(expired, None);
                return;
            }
            // Over the limit: the bindings that expire first make room.
            while next.len() > max_contacts {
                let Some((i, _)) = next.iter().enumerate().min_by_key(|(_, b)| b.expires_at) else {
                    break;
                };
                let b = next.remove(i);
                notes.push(changes::replaced(&b, max_contacts));
                ops.push(Op::Delete(b.key()));
            }
            let mut ok = Answer::new(200, "OK");
            for b in &next {
                let mut v = format!(
                    "<{}>;expires={}",
                    b.contact,
                    b.expires_at.saturating_sub(now)
                );
                if let Some(q) = b.q {
                    v.push_str(&format!(";q={}", q));
                }
                ok.push("Contact", v);
            }
            for p in &path {
                ok.push("Path", p.clone());
            }
            ok.push("Date", httpdate(now));
            ok.push("Supported", crate::sip::validate::SUPPORTED_HEADER);
            if ops.is_empty() {
                self.stats.accepted();
                self.writer.submit(expired, None);
                *list = next;
                answer = Some(ok);
                return;
            }
            ops.extend(expired);
            let Some(r) = respond.take() else { return };
            // printed here: the store's thread only sends it
            let ok = r.print(req, to_tag, &ok);
            let stats = self.stats.clone();
            let done: Done = Box::new(move |w| {
                let sent = match w {
                    Written::Durable => {
                        stats.accepted();
                        ok
                    }
                    Written::Failed => {
                        stats.refused(Refused::StoreFailed);
                        refusal(&ok, 500, "Server Internal Error")
                    }
                    Written::Busy => {
                        stats.refused(Refused::StoreBusy);
                        refusal(&ok, 503, "Service Unavailable")
                    }
                };
                r.send(sent);
            });
            match self.writer.try_submit(ops, done) {
                Ok(()) => {
                    *list = next;
                    taken = true;
                }
                Err(done) => refused = Some(done),
            }
        });
        // Logged after the AoR's lock is released.
        for line in gone.iter().chain(notes.iter().filter(|_| taken)) {
            tracing::info!("{}", line);
        }
        // Answers go out after the AoR's lock is released.
        if let Some(done) = refused {
            done(Written::Busy);
        }
        if out_of_order {
            answer = Some(retry_later(500, "Server Internal Error"));
        }
        if let (Some(a), Some(r)) = (answer, respond.take()) {
            let sent = r.print(req, to_tag, &a);
            r.send(sent);
        }
    }
}

/// RFC 3261 delta-seconds: digits; a value too large for 32 bits counts as the largest
/// (RFC 3261 §20.19 treats it so), which the registrar then cuts to `max_expires`.
fn delta_seconds(v: &str) -> Option<u32> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u32>().unwrap_or(u32::MAX))
}

/// RFC 7231 IMF-fixdate, e.g. "Wed, 25 Nov 2026 08:26:28 GMT"; printed once a second per
/// thread (every 200 to a REGISTER carries one).
pub fn httpdate(secs: u64) -> String {
    type Last = std::cell::RefCell<Option<(u64, String)>>;
    thread_local! {
        static LAST: Last = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((at, text)) if *at == secs => text.clone(),
        _ => {
            let text = print_httpdate(secs);
            *last = Some((secs, text.clone()));
            text
        }
    })
}

fn print_httpdate(secs: u64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // civil-from-days (Howard Hinnant)
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    let mn = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        wd, d, mn, y, h, m, s
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn delta_seconds_saturates() {
        assert_eq!(super::delta_seconds(" 60 "), Some(60));
        assert_eq!(
            super::delta_seconds("100000000000000000000000"),
            Some(u32::MAX)
        );
        assert_eq!(super::delta_seconds("-1"), None);
        assert_eq!(super::delta_seconds(""), None);
    }

    #[test]
    fn httpdate_known_value() {
        assert_eq!(super::httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            super::httpdate(1_795_595_188),
            "Wed, 25 Nov 2026 08:26:28 GMT"
        );
        // the same second again (the kept text), then another one
        assert_eq!(
            super::httpdate(1_795_595_188),
            "Wed, 25 Nov 2026 08:26:28 GMT"
        );
        assert_eq!(super::httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}

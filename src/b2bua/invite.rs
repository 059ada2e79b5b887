//! Setting a call up: who calls (407 or trusted by address), where it goes (the routing
//! decision), the outbound INVITE to every branch, and the caller's answer from the
//! branches' responses (first 2xx wins, the rest are cancelled).

use super::authn::{self, Caller};
use super::call::{without_tag, Call, CallCell, Fork, ForkState, Info, Phase, Side};
use super::leg::{self, Dest, Leg};
use super::target::{Lookup, Nowhere, Presentation, Target};
use super::timers::Wait;
use super::{codecs, B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::media::prompts::Cause;
use crate::routing::Refusal;
use crate::routing::{self, CallerKind, Route};
use crate::sip::headers::{uri_user, NameAddr};
use crate::sip::message::{HeaderField, Message, StartLine, H};
use crate::sip::reply::{self, response};
use crate::sip::respond::to_tag;
use crate::sip::transport::{Flow, Proto};
use crate::sip::validate::Checked;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Our Contact on a flow.
pub fn contact_for(dest: &Dest) -> String {
    match dest.flow.proto {
        Proto::Udp => format!("<sip:vozbox@{}>", dest.local),
        p => format!("<sip:vozbox@{};transport={}>", dest.local, p.as_str()),
    }
}

/// The URI inside a Contact value.
pub fn contact_uri(m: &Message) -> Option<String> {
    NameAddr::parse(m.get("Contact")?).ok().map(|n| n.uri_text)
}

/// A status line's code and reason.
pub fn status(m: &Message) -> (u16, &str) {
    match &m.start {
        StartLine::Response { code, reason, .. } => (*code, reason.as_str()),
        _ => (0, ""),
    }
}

/// What a caller's failure is called in the call record.
pub fn disposition(code: u16) -> &'static str {
    match code {
        200..=299 => "answered",
        486 | 600 => "busy",
        487 => "cancelled",
        408 | 480 => "no_answer",
        404 | 484 | 604 => "not_found",
        403 | 603 => "rejected",
        _ => "failed",
    }
}

impl B2bua {
    pub(super) fn on_invite(self: &Arc<Self>, inc: Incoming) {
        if let Some(old) = self.find(inc.msg.call_id().unwrap_or("")) {
            if old.lock().phase != Phase::Ended {
                // The same Call-ID again without a To tag while that call is up: a loop
                // or a merged request.
                return self.reply(&inc, 482, "Loop Detected");
            }
            // A new call reusing the Call-ID of one that ended: forget the old one now.
            self.forget_now(&old);
        }
        let max_forwards = inc
            .msg
            .get("Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70);
        if max_forwards == 0 {
            return self.reply(&inc, 483, "Too Many Hops");
        }
        let snap = self.snapshot.load();
        let caller = match authn::identify(
            &self.registrar.verifier(),
            &snap,
            &inc.msg,
            &inc.checked.from,
            &inc.flow,
        ) {
            authn::Outcome::Known(c) => c,
            authn::Outcome::Challenge(values) => {
                let mut r = response(
                    &inc.msg,
                    407,
                    "Proxy Authentication Required",
                    &to_tag(&inc.msg),
                );
                for v in values {
                    r.push_header("Proxy-Authenticate", v);
                }
                self.out
                    .send(&inc.checked.via, &inc.flow, r, inc.key.as_deref());
                return;
            }
            authn::Outcome::Bad(why) => {
                tracing::debug!("INVITE from {}: {}", inc.flow.remote, why);
                return self.reply(&inc, 400, "Bad Request");
            }
        };
        if self.active.load(Ordering::Relaxed) >= self.cfg.max_calls {
            let mut r = response(&inc.msg, 503, "Service Unavailable", &to_tag(&inc.msg));
            r.push_header("Retry-After", "5");
            self.out
                .send(&inc.checked.via, &inc.flow, r, inc.key.as_deref());
            return;
        }

        let dialled = match &inc.msg.start {
            StartLine::Request { uri, .. } => NameAddr::parse(uri)
                .ok()
                .and_then(|n| n.uri().ok())
                .and_then(|u| uri_user(&u))
                .map(|u| crate::sip::headers::percent_decode(&u))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let from_user = inc
            .checked
            .from
            .uri()
            .ok()
            .and_then(|u| uri_user(&u))
            .unwrap_or_default();
        let now = now_secs();
        let (route, info, presentation) = match &caller {
            Caller::Trunk { brand, .. } => {
                let route = routing::inbound_at(brand, &dialled, &snap, now);
                let client = route_client(&route).unwrap_or_default();
                let domain = snap
                    .client(&client)
                    .map(|c| c.domain.clone())
                    .unwrap_or_default();
                let info = Info {
                    client,
                    caller: from_user.clone(),
                    callee: dialled.clone(),
                    direction: "inbound",
                    start: now,
                    ..Default::default()
                };
                (
                    route,
                    info,
                    Presentation {
                        number: from_user.clone(),
                        domain,
                    },
                )
            }
            Caller::User { client, name } | Caller::Friend { client, name } => {
                let kind = match &caller {
                    Caller::User { .. } => CallerKind::User(name),
                    _ => CallerKind::Friend(name),
                };
                let rc = routing::Caller {
                    client,
                    kind,
                    presented: Some(from_user.as_str()).filter(|s| !s.is_empty()),
                };
                let route = routing::route(&rc, &dialled, &snap, now);
                let domain = snap
                    .client(client)
                    .map(|c| c.domain.clone())
                    .unwrap_or_default();
                // Internal calls present the caller's extension (a user) or what the
                // friend sent; external ones the DDI the routing chose.
                let number = match &caller {
                    Caller::User { .. } => snap
                        .user(client, name)
                        .and_then(|u| u.extension.clone())
                        .unwrap_or_else(|| name.clone()),
                    _ => from_user.clone(),
                };
                let direction = match &route {
                    Route::External { .. } => "outbound",
                    _ => "internal",
                };
                let client = match &route {
                    Route::External { billed_client, .. } => billed_client.clone(),
                    _ => client.clone(),
                };
                let info = Info {
                    client,
                    caller: match &caller {
                        Caller::User { .. } => format!("{} ({})", number, name),
                        _ => format!("{} (friend {})", number, name),
                    },
                    callee: dialled.clone(),
                    direction,
                    start: now,
                    ..Default::default()
                };
                (route, info, Presentation { number, domain })
            }
        };
        let mut info = info;
        info.route = route_label(&route);
        tracing::debug!("INVITE {} → {:?}", dialled, route);
        let trunk = matches!(caller, Caller::Trunk { .. });
        let refuse = |code: u16, reason: &str, disp: &str, info: Info, cause: Option<Cause>| {
            // A caller of a client with voice notifications hears why, in a call of its own.
            if let Some(cause) = cause.filter(|_| !trunk) {
                if self.refuse_with_notice(&inc, &info, (code, reason, disp), cause) {
                    return;
                }
            }
            self.record(inc.msg.call_id().unwrap_or(""), info, disp, code, now);
            let mut r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
            if code == 501 {
                r.push_header("Allow", reply::ALLOW);
            }
            self.out
                .send(&inc.checked.via, &inc.flow, r, inc.key.as_deref());
        };
        let targets = match &route {
            Route::Refused(r) => {
                let cause = match r {
                    Refusal::AclDenied => Cause::NotAllowed,
                    Refusal::CannotBeBilled => Cause::CannotBeBilled,
                    Refusal::NotFound => Cause::NotInService,
                    Refusal::NoPresentedNumber | Refusal::NoCarrier => Cause::Failed,
                };
                return refuse(r.code(), r.reason(), r.cause(), info, Some(cause));
            }
            Route::Service { .. } | Route::Unsupported { .. } => {
                return refuse(501, "Not Implemented", "unsupported", info, None)
            }
            Route::Locution { client, name } => {
                let (client, name) = (client.clone(), name.clone());
                return self.play_locution(inc, info, &client, &name);
            }
            _ => {
                let lookup = Lookup {
                    snap: &snap,
                    location: &self.location,
                    transports: &self.out.transports,
                    now,
                };
                match lookup.resolve(&route, &presentation) {
                    Ok(t) => t,
                    Err(Nowhere::NotRegistered) => {
                        return refuse(
                            480,
                            "Temporarily Unavailable",
                            "not_registered",
                            info,
                            Some(Cause::NotAvailable),
                        )
                    }
                    Err(Nowhere::Unreachable) => {
                        return refuse(
                            503,
                            "Service Unavailable",
                            "unreachable",
                            info,
                            Some(Cause::Failed),
                        )
                    }
                }
            }
        };
        self.start_call(inc, info, targets, max_forwards - 1);
    }

    /// Creates the call and sends the outbound INVITE to every target.
    fn start_call(
        self: &Arc<Self>,
        inc: Incoming,
        info: Info,
        targets: Vec<Target>,
        max_forwards: u32,
    ) {
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        let call_id = msg.call_id().unwrap_or("").to_string();
        let a = self.caller_leg(&msg, &checked, &flow);
        let late_offer = msg.body.is_empty();
        // The relay: a port pair facing each side, from the client's relay set.
        let session = self.open_media(&info.client);
        let refuse = |code: u16, reason: &str, disp: &str, info: Info| {
            let r = response(&msg, code, reason, &to_tag(&msg));
            self.out.send(&checked.via, &flow, r, key.as_deref());
            self.record(&call_id, info, disp, code, now_secs());
        };
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("INVITE {}: {}", call_id, e);
                return refuse(503, "Service Unavailable", "no_media_ports", info);
            }
        };
        // The caller's offer, pointing at the relay's side facing the callee.
        let is_sdp = msg
            .get("Content-Type")
            .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
        let offer_body = if late_offer || !is_sdp {
            msg.body.clone()
        } else {
            match crate::media::sdp::rewrite(&msg.body, session.address(crate::media::Facing::B)) {
                Ok((adv, body)) => {
                    session.set_peer(crate::media::Facing::A, adv, flow.remote.ip());
                    body
                }
                Err(e) => {
                    tracing::info!("INVITE {}: {}", call_id, e);
                    return refuse(488, "Not Acceptable Here", "bad_sdp", info);
                }
            }
        };
        let mut forks = Vec::with_capacity(targets.len());
        let mut refused_by_codecs = 0;
        for t in targets {
            // The offer each branch gets: only the codecs its peer is allowed.
            let offer = match codecs::filter(&offer_body, &t.allowed_codecs) {
                _ if late_offer => None,
                Ok(Some(filtered)) => Some(filtered),
                Ok(None) => Some(offer_body.clone()),
                Err(codecs::NoCommonCodec) => {
                    refused_by_codecs += 1;
                    continue;
                }
            };
            let contact = contact_for(&t.dest);
            let mut leg = Leg {
                call_id: format!("{}{}@vozbox", leg::token(), leg::token()),
                local_uri: t.from_uri.clone(),
                local_tag: leg::token(),
                remote_uri: t.to_uri.clone(),
                remote_tag: None,
                remote_target: t.ruri.clone(),
                route_set: Vec::new(),
                local_cseq: 1,
                remote_cseq: 0,
                contact,
                dest: t.dest.clone(),
            };
            let branch = leg::branch();
            let invite = build_invite(
                &leg,
                &t,
                &branch,
                &msg,
                offer.as_deref(),
                max_forwards,
                None,
            );
            leg.local_cseq = 1;
            forks.push(Fork {
                leg,
                ruri: t.ruri.clone(),
                branch,
                cseq: 1,
                invite: Arc::new(invite.to_bytes()),
                state: ForkState::Calling,
                credentials: t.credentials.clone(),
                auth_tried: false,
                cancelled: false,
                cancel_pending: false,
                ack: None,
                pai: t.pai.clone(),
                max_forwards,
                offer,
            });
        }
        if forks.is_empty() {
            tracing::debug!(
                "INVITE {}: no codec in common with {} branch(es)",
                call_id,
                refused_by_codecs
            );
            return refuse(488, "Not Acceptable Here", "no_common_codec", info);
        }
        let mut call = Call::new(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            a,
            (msg, checked.via, flow, key),
            info,
        );
        call.forks = forks;
        call.media = Some(session);
        let a_id = call.a.call_id.clone();
        let b_ids: Vec<String> = call.forks.iter().map(|f| f.leg.call_id.clone()).collect();
        let cell = Arc::new(CallCell::new(call));
        // Into the map before the call is locked: a map shard lock is never taken while a
        // call lock is held (the listing takes them the other way round).
        match self.calls.entry(a_id) {
            dashmap::Entry::Occupied(_) => {
                // The same Call-ID set up twice at once: the first one wins.
                let c = cell.lock();
                let r = response(&c.a_invite, 482, "Loop Detected", &to_tag(&c.a_invite));
                self.out.send(&c.a_via, &c.a_flow, r, c.a_key.as_deref());
                return;
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(cell.clone());
            }
        }
        for id in b_ids {
            self.calls.insert(id, cell.clone());
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        // 100 Trying only now: a refusal above is a final response the caller's
        // retransmissions get again from the transaction memory.
        let c = cell.lock();
        let trying = response(&c.a_invite, 100, "Trying", "");
        self.out.send(&c.a_via, &c.a_flow, trying, None);
        for (i, f) in c.forks.iter().enumerate() {
            self.send(&f.leg.dest, f.invite.clone());
            self.retransmit(
                &cell,
                f.invite.clone(),
                f.leg.dest.clone(),
                Wait::Fork {
                    index: i,
                    branch: f.branch.clone(),
                },
            );
        }
    }

    /// The caller's dialog as vozbox's side of it (our To tag and Contact).
    pub(super) fn caller_leg(&self, msg: &Message, checked: &Checked, flow: &Flow) -> Leg {
        let a_dest = Dest::new(flow.clone(), flow.remote, &self.out.transports);
        Leg {
            call_id: msg.call_id().unwrap_or("").to_string(),
            local_uri: without_tag(msg.get("To").unwrap_or("")),
            local_tag: leg::token(),
            remote_uri: without_tag(msg.get("From").unwrap_or("")),
            remote_tag: checked.from.tag().map(str::to_string),
            remote_target: contact_uri(msg).unwrap_or_else(|| checked.from.uri_text.clone()),
            route_set: msg.all("Record-Route").map(str::to_string).collect(),
            local_cseq: 0,
            remote_cseq: msg.cseq().map(|c| c.0).unwrap_or(0),
            contact: contact_for(&a_dest),
            dest: a_dest,
        }
    }

    /// A response to a branch's INVITE.
    pub(super) fn fork_response(
        self: &Arc<Self>,
        cell: &super::call::CallRef,
        i: usize,
        msg: &Message,
    ) {
        let mut call = cell.lock();
        let (code, reason) = status(msg);
        let to_tag = NameAddr::parse(msg.get("To").unwrap_or(""))
            .ok()
            .and_then(|n| n.tag().map(str::to_string));
        if code < 200 {
            let phase = call.phase;
            let f = &mut call.forks[i];
            if f.state == ForkState::Calling {
                f.state = ForkState::Proceeding;
            }
            if f.cancel_pending && !f.cancelled {
                self.send_cancel(&mut call, cell, i);
                return;
            }
            if code == 100 || phase != Phase::Ringing || f.cancelled {
                return;
            }
            if to_tag.is_some() {
                f.leg.remote_tag = to_tag;
                if let Some(c) = contact_uri(msg) {
                    f.leg.remote_target = c;
                }
            }
            let body = super::media::carry(&call, Side::B(i), msg);
            let mut r = response(&call.a_invite, code, reason, &call.a.local_tag);
            r.push_header("Contact", call.a.contact.clone());
            add_body(&mut r, body);
            self.out.send(&call.a_via, &call.a_flow, r, None);
            return;
        }
        if (200..300).contains(&code) {
            let winner = call.winner;
            {
                let f = &mut call.forks[i];
                if let Some(ack) = &f.ack {
                    // A retransmitted 2xx: our ACK got lost.
                    let ack = ack.clone();
                    self.send(&f.leg.dest, ack);
                    return;
                }
                if winner == Some(i) {
                    // Retransmitted while the caller's ACK (with the late answer) is awaited.
                    return;
                }
                f.leg.remote_tag = to_tag;
                if let Some(c) = contact_uri(msg) {
                    f.leg.remote_target = c;
                }
                f.leg.route_set = msg.all("Record-Route").map(str::to_string).collect();
                f.leg.route_set.reverse();
            }
            if call.phase != Phase::Ringing || call.winner.is_some() {
                // Another branch won (or the caller is gone): ACK and hang this one up.
                let f = &mut call.forks[i];
                f.state = ForkState::Answered;
                let ack = Arc::new(f.leg.ack_2xx(f.cseq, None).to_bytes());
                f.ack = Some(ack.clone());
                self.send(&f.leg.dest, ack);
                self.hang_up(&mut call, Side::B(i), cell);
                return;
            }
            call.winner = Some(i);
            call.phase = Phase::Answered;
            call.info.answer = Some(now_secs());
            call.answered_at = Some(std::time::Instant::now());
            if let Some(m) = &call.media {
                m.answered();
            }
            let late = call.late_offer;
            {
                let f = &mut call.forks[i];
                f.state = ForkState::Answered;
                if !late {
                    let ack = Arc::new(f.leg.ack_2xx(f.cseq, None).to_bytes());
                    f.ack = Some(ack.clone());
                    self.send(&f.leg.dest, ack);
                }
            }
            self.cancel_forks(&mut call, cell, Some(i));
            let body = super::media::carry(&call, Side::B(i), msg);
            let mut r = response(&call.a_invite, code, reason, &call.a.local_tag);
            r.push_header("Contact", call.a.contact.clone());
            r.push_header("Allow", reply::ALLOW);
            add_body(&mut r, body);
            // Not kept in the transaction memory (RFC 3261 §17.2.1: a 2xx ends the INVITE
            // transaction): its retransmissions are the call's own until the ACK, and a
            // repeated INVITE meanwhile is absorbed by the transaction still marked in
            // progress.
            let sent = self.out.send(&call.a_via, &call.a_flow, r, None);
            call.a_final = Some(sent.clone());
            drop(call);
            self.retransmit_final(cell, sent);
            return;
        }
        // A final failure of this branch: ACK it (hop by hop), then maybe answer the caller.
        {
            let f = &mut call.forks[i];
            let to = msg.get("To").unwrap_or("").to_string();
            let ack = f.leg.ack_non_2xx(&f.ruri, &f.branch, f.cseq, &to);
            self.send(&f.leg.dest, Arc::new(ack.to_bytes()));
            if f.state == ForkState::Failed || f.state == ForkState::Answered {
                return;
            }
            if (code == 401 || code == 407) && !f.auth_tried {
                if let Some((user, pass)) = f.credentials.clone() {
                    let header = if code == 401 {
                        "WWW-Authenticate"
                    } else {
                        "Proxy-Authenticate"
                    };
                    let answer_to = if code == 401 {
                        "Authorization"
                    } else {
                        "Proxy-Authorization"
                    };
                    if let Some(v) = msg.get(header).and_then(|ch| {
                        super::challenge::answer(ch, &user, &pass, "INVITE", &f.ruri)
                    }) {
                        f.auth_tried = true;
                        f.cseq += 1;
                        f.leg.local_cseq = f.cseq;
                        f.branch = leg::branch();
                        f.state = ForkState::Calling;
                        let a_invite = call.a_invite.clone();
                        let f = &mut call.forks[i];
                        let t = Target {
                            dest: f.leg.dest.clone(),
                            ruri: f.ruri.clone(),
                            to_uri: f.leg.remote_uri.clone(),
                            from_uri: f.leg.local_uri.clone(),
                            pai: f.pai.clone(),
                            credentials: None,
                            allowed_codecs: Vec::new(),
                        };
                        let invite = build_invite(
                            &f.leg,
                            &t,
                            &f.branch,
                            &a_invite,
                            f.offer.as_deref(),
                            f.max_forwards,
                            Some((answer_to, v)),
                        );
                        f.invite = Arc::new(invite.to_bytes());
                        let (bytes, dest, branch) =
                            (f.invite.clone(), f.leg.dest.clone(), f.branch.clone());
                        self.send(&dest, bytes.clone());
                        drop(call);
                        self.retransmit(cell, bytes, dest, Wait::Fork { index: i, branch });
                        return;
                    }
                }
            }
            f.state = ForkState::Failed;
        }
        let (code, reason) = if code == 401 || code == 407 {
            // Friends and phones must not challenge vozbox: the call fails here.
            tracing::info!("call {}: branch {} challenged vozbox", call.id, i);
            (502, "Bad Gateway")
        } else {
            (code, reason)
        };
        call.note_failure(code, reason);
        if code >= 600 && call.phase == Phase::Ringing {
            // A global failure ends every branch (RFC 3261 §16.7).
            self.cancel_forks(&mut call, cell, None);
        }
        if call.all_failed() && call.phase == Phase::Ringing {
            let (code, reason) = call
                .best
                .clone()
                .unwrap_or((500, "Server Internal Error".into()));
            self.fail_call(&mut call, cell, code, &reason, disposition(code));
        }
    }

    /// Answers the caller with a final failure and ends the call.
    pub(super) fn fail_call(
        self: &Arc<Self>,
        call: &mut Call,
        cell: &super::call::CallRef,
        code: u16,
        reason: &str,
        disp: &str,
    ) {
        if call.phase != Phase::Ringing {
            return;
        }
        // A caller of a client with voice notifications hears why first; the final
        // response comes when the locution ends (this function again, `notifying` set).
        if !call.notifying {
            let cause =
                super::notify::cause_of_code(code).filter(|_| call.info.direction != "inbound");
            let prompt = cause
                .and_then(|c| self.notice(Some(call.info.client.as_str()), c, &call.a_invite.body));
            if let Some(prompt) = prompt {
                if self.notify(call, cell, prompt, (code, reason, disp)) {
                    return;
                }
            }
        }
        // A CANCEL (or a timer) during a notification stops it.
        if let Some(p) = call.playback.take() {
            p.abort();
        }
        let r = response(&call.a_invite, code, reason, &call.a.local_tag);
        let sent = self
            .out
            .send(&call.a_via, &call.a_flow, r, call.a_key.as_deref());
        call.a_final = Some(sent.clone());
        self.retransmit_final(cell, sent);
        self.end(call, disp, code);
    }

    /// Cancels every branch still ringing but `keep`.
    pub(super) fn cancel_forks(
        self: &Arc<Self>,
        call: &mut Call,
        cell: &super::call::CallRef,
        keep: Option<usize>,
    ) {
        for i in 0..call.forks.len() {
            let f = &mut call.forks[i];
            if Some(i) == keep || f.cancelled {
                continue;
            }
            match f.state {
                ForkState::Proceeding => self.send_cancel(call, cell, i),
                // RFC 3261 §9.1: no CANCEL before a provisional response; send it then.
                ForkState::Calling => f.cancel_pending = true,
                _ => {}
            }
        }
    }

    /// CANCELs branch `i`, retransmitted over UDP until the branch's INVITE gets its
    /// final response (or the call is forgotten).
    fn send_cancel(self: &Arc<Self>, call: &mut Call, cell: &super::call::CallRef, i: usize) {
        let f = &mut call.forks[i];
        f.cancelled = true;
        let bytes = Arc::new(f.leg.cancel(&f.ruri, &f.branch, f.cseq).to_bytes());
        self.send(&f.leg.dest, bytes.clone());
        let wait = Wait::Cancel {
            index: i,
            branch: f.branch.clone(),
        };
        self.retransmit(cell, bytes, f.leg.dest.clone(), wait);
    }
}

fn add_body(r: &mut Message, body: Option<(String, Vec<u8>)>) {
    if let Some((ctype, body)) = body {
        r.push_header("Content-Type", ctype);
        r.body = body;
    }
}

/// The INVITE of a branch, carrying the caller's offer (as filtered for that branch).
fn build_invite(
    leg: &Leg,
    t: &Target,
    branch: &str,
    a_invite: &Message,
    offer: Option<&[u8]>,
    max_forwards: u32,
    auth: Option<(&str, String)>,
) -> Message {
    let mut extra = vec![
        HeaderField::new("Contact", leg.contact.clone()),
        HeaderField::new("Allow", reply::ALLOW),
    ];
    if let Some(p) = &t.pai {
        extra.push(HeaderField::new("P-Asserted-Identity", p.clone()));
    }
    if let Some((name, v)) = auth {
        extra.push(HeaderField::new(name, v));
    }
    let mut m = leg::request(
        "INVITE",
        &t.ruri,
        leg.via(branch),
        leg.from_value(),
        leg.to_value(),
        &leg.call_id,
        leg.local_cseq,
        extra,
        offer.map(|b| (a_invite.get("Content-Type").unwrap_or("application/sdp"), b)),
    );
    if let Some(h) = m.headers.iter_mut().find(|h| h.kind == H::MaxForwards) {
        h.value = max_forwards.to_string();
    }
    m
}

/// The client a route belongs to (for inbound calls and records).
fn route_client(route: &Route) -> Option<String> {
    match route {
        Route::Service { client, .. }
        | Route::User { client, .. }
        | Route::Friend { client, .. }
        | Route::Locution { client, .. }
        | Route::Unsupported { client, .. } => Some(client.clone()),
        Route::External { billed_client, .. } => Some(billed_client.clone()),
        Route::Refused(_) => None,
    }
}

/// How the call record names the route taken.
fn route_label(route: &Route) -> String {
    match route {
        Route::Service { code, .. } => format!("service:{}", code),
        Route::User { user, .. } => format!("user:{}", user),
        Route::Friend { friend, .. } => format!("friend:{}", friend),
        Route::External {
            carrier, number, ..
        } => format!("carrier:{}:{}", carrier, number),
        Route::Locution { name, .. } => format!("locution:{}", name),
        Route::Unsupported { what, .. } => format!("unsupported:{}", what),
        Route::Refused(r) => format!("refused:{}", r.cause()),
    }
}

//! Setting a call up: who calls (407 or trusted by address), where it goes (the routing
//! decision), the outbound INVITE to every branch, and the caller's answer from the
//! branches' responses (first 2xx wins, the rest are cancelled).

use super::admit::{self, Admission};
use super::authn::{self, Caller};
use super::call::{Call, Fork, Info, Limits, Notices, Relay};
use super::driver::CallCell;
use super::leg::{Dest, Leg};
use super::record::Disposition;
use super::target::Target;
use super::{codecs, B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::policy::calls::{Over, Permit};
use crate::policy::Block;
use crate::sip::headers::uri_user;
use crate::sip::message::Message;
use crate::sip::reply::{self, response};
use crate::sip::respond::to_tag;
use crate::sip::transaction::TxKey;
use crate::sip::transport::Flow;
use crate::sip::validate::Checked;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A call about to be made: its destinations and what its forwards need.
struct Setup {
    targets: Vec<Target>,
    max_forwards: u32,
    /// The presentation towards callees (number, domain).
    from: super::target::Presentation,
    /// The forwards taken before it rang.
    hops: Vec<super::divert::Hop>,
    divert: Option<super::divert::Divert>,
    /// Its places in its brand's and client's max calls.
    permit: Option<Permit>,
    /// The user or friend that calls (who may transfer it).
    caller: Option<Caller>,
    /// An external call's next carriers.
    failover: Option<super::failover::Failover>,
}

impl B2bua {
    /// A relay session from the relay set of `client` (or the default of `[media]`).
    pub(super) fn open_media(
        &self,
        client: &str,
    ) -> Result<crate::media::MediaSession, crate::media::MediaError> {
        let snap = self.snapshot.load();
        let set = snap
            .client(client)
            .and_then(|c| c.media_relay_set.as_deref())
            .and_then(|n| snap.model.media_relay_sets.iter().find(|s| s.name == n));
        self.media.open(set)
    }

    pub(super) fn on_invite(self: &Arc<Self>, mut inc: Incoming) {
        if let Some(old) = self.find(inc.msg.call_id().unwrap_or("")) {
            if !old.lock().call.is_ended() {
                // The same Call-ID again without a To tag while that call is up: a loop
                // or a merged request.
                return self.reply(&inc, 482, "Loop Detected");
            }
            // A new call reusing the Call-ID of one that ended: forget the old one now.
            self.forget_now(&old);
        }
        let max_forwards = inc.msg.max_forwards().unwrap_or(70);
        if max_forwards == 0 {
            return self.reply(&inc, 483, "Too Many Hops");
        }
        if let Some(min) = super::session_timer::too_small(&inc.msg, self.cfg.min_se) {
            let mut r = response(
                &inc.msg,
                422,
                "Session Interval Too Small",
                &to_tag(&inc.msg),
            );
            r.push_header("Min-SE", min.to_string());
            self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
            return;
        }
        let snap = self.snapshot.load();
        let caller = match authn::identify(
            &self.registrar.verifier(),
            &snap,
            &self.names.load(),
            &inc.msg,
            &inc.checked.from,
            &inc.flow,
        ) {
            authn::Outcome::Known(c) => c,
            authn::Outcome::Challenge(values) => return self.challenge(&inc, values),
            authn::Outcome::Bad(why) => {
                tracing::debug!("INVITE from {}: {}", inc.flow.remote, why);
                return self.reply(&inc, 400, "Bad Request");
            }
        };
        // SDP with ISUP or a location: the call is made of the SDP alone
        if let Err(e) = super::media::sdp_only(&mut inc.msg) {
            tracing::info!("INVITE from {}: {}", inc.flow.remote, e);
            return self.reply(&inc, 400, "Bad Request");
        }
        if self.active.load(Ordering::Relaxed) >= self.cfg.max_calls {
            let mut r = response(&inc.msg, 503, "Service Unavailable", &to_tag(&inc.msg));
            r.push_header("Retry-After", "5");
            self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
            return;
        }

        // Decoded a second time, as it always was (a `%25` in the number goes further).
        let dialled = inc
            .msg
            .request_uri_user()
            .map(|u| crate::sip::headers::percent_decode(&u))
            .unwrap_or_default();
        let from_user = inc
            .checked
            .from
            .uri()
            .ok()
            .and_then(|u| uri_user(&u))
            .unwrap_or_default();
        let now = now_secs();
        let ip = inc.flow.remote.ip();
        // The country of the source, when the caller's client filters by country.
        let country = match &caller {
            Caller::User { client, .. } | Caller::Friend { client, .. } => snap
                .client(client)
                .and_then(|c| self.policy.country_for(c, ip)),
            Caller::Trunk { .. } => None,
        };
        let source = admit::Source {
            ip,
            country: country.as_deref(),
            ledger: Some(&self.policy.ledger),
            choice: Default::default(),
        };
        let decision = self.with_choice(|choice| {
            let source = admit::Source { choice, ..source };
            admit::admit(&caller, &dialled, &from_user, &snap, now, source)
        });
        match decision.admission {
            Admission::Refuse {
                disposition: Disposition::Policy(Block::IpNotAllowed),
                ..
            } => {
                if let Some(c) = snap.client(&decision.info.client) {
                    self.policy.refused_ip(c, ip, country.as_deref(), "INVITE");
                }
            }
            Admission::Refuse {
                disposition: Disposition::Policy(b),
                ..
            } => {
                tracing::info!(
                    "INVITE {} → {} of client {} refused: {}",
                    decision.info.caller,
                    dialled,
                    decision.info.client,
                    b.as_str()
                );
                self.policy.stats.refused(b, "INVITE");
            }
            _ => {}
        }
        let (mut info, presentation) = (decision.info, decision.presentation);
        if let Caller::User { client, name } = &caller {
            info.lines.push(format!("{}/{}", client, name));
        }
        // A user's forward code (`*80…`): carried out, and confirmed in a call of its own.
        let mut inc = inc;
        if let (Admission::Service { client, code }, Caller::User { name, .. }) =
            (&decision.admission, &caller)
        {
            match self.service(inc, info, (client, name), code) {
                Ok(()) => return,
                Err(back) => (inc, info) = *back,
            }
        }
        // `*93…`: a user's or friend's voicemail, answered and its menu run.
        if let Admission::Service { client, code } = &decision.admission {
            let owner = match &caller {
                Caller::User { name, .. } => Some((name.as_str(), false)),
                Caller::Friend { name, .. } => Some((name.as_str(), true)),
                _ => None,
            };
            if let Some((name, friend)) = owner {
                match self.voicemail_service(inc, info, (client, name, friend), code) {
                    Ok(()) => return,
                    Err(back) => (inc, info) = *back,
                }
            }
        }
        tracing::debug!("INVITE {} → {:?}", dialled, decision.admission);
        let trunk = matches!(caller, Caller::Trunk { .. });
        let refuse = |admission: Admission, info: Info| {
            let Admission::Refuse {
                code,
                reason,
                disposition,
                cause,
            } = admission
            else {
                return;
            };
            // A caller of a client with voice notifications hears why, in a call of its own.
            if let Some(cause) = cause {
                if self.refuse_with_notice(&inc, &info, (code, reason, disposition), cause) {
                    return;
                }
            }
            self.record(
                inc.msg.call_id().unwrap_or(""),
                info,
                disposition,
                code,
                now,
            );
            let mut r = response(&inc.msg, code, reason, &to_tag(&inc.msg));
            if code == 501 {
                r.push_header("Allow", reply::ALLOW);
            }
            self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
        };
        // An external call takes its places in its brand's and client's max calls now
        // (atomically: two calls racing for the last place never both get it).
        let permit = match &decision.counted {
            Some(counted) => match self.policy.calls.acquire(counted) {
                Ok(p) => Some(p),
                Err(over) => {
                    self.policy.stats.refused(Block::MaxCalls, "INVITE");
                    tracing::info!(
                        "INVITE {} → {}: over the {} max calls",
                        info.caller,
                        dialled,
                        match over {
                            Over::Brand => "brand's",
                            Over::Client => "client's",
                        }
                    );
                    return refuse(admit::over_limit(over, trunk), info);
                }
            },
            None => None,
        };
        let targets = match decision.admission {
            refusal @ Admission::Refuse { .. } => return refuse(refusal, info),
            Admission::Locution { client, name } => {
                return self.play_locution(inc, info, &client, Some(&name), permit);
            }
            Admission::Echo { client } => {
                return self.play_locution(inc, info, &client, None, permit);
            }
            Admission::Voicemail { client, mailbox } => {
                return self.voicemail_call(inc, info, (&client, &mailbox), permit);
            }
            // (a user's forward code was carried out above)
            Admission::Service { .. } => return refuse(admit::not_implemented(), info),
            Admission::Route(route) => {
                let mut hops = Vec::new();
                let prior = super::forward::diversions_of(&inc.msg);
                match self.follow(&snap, route, &presentation, trunk, &mut hops, &prior) {
                    Ok((route, t)) => (route, t, hops),
                    Err(refused) => {
                        let mut info = info;
                        if let Some(h) = hops.last() {
                            info.route = format!("{} >forwarded by {}", info.route, h.party);
                        }
                        return refuse(refused, info);
                    }
                }
            }
        };
        let (route, mut targets, hops) = targets;
        // a sips: call goes on over TLS only (RFC 5630 §3.1.3): 480 when no target is secure
        if secure_only(&inc.msg) && !targets.is_empty() {
            targets.retain(|t| t.dest.flow.proto == crate::sip::transport::Proto::Tls);
            if targets.is_empty() {
                return refuse(admit::insecure_only(), info);
            }
        }
        // an unconditional or not-registered forward to voicemail
        if let crate::routing::Route::Voicemail { client, mailbox } = &route {
            info.route = super::divert::label_with(&info.route, &hops);
            return self.voicemail_call(inc, info, (client, mailbox), permit);
        }
        let mut permit = permit;
        if !hops.is_empty() {
            // the record says where the forwards led, and why
            info.route = super::divert::label_with(&info.route, &hops);
            match self.forwarded_external(&snap, &route, trunk, permit.is_some()) {
                Ok((p, b)) => {
                    permit = permit.or(p);
                    if b.is_some() {
                        info.billing = b;
                    }
                }
                Err(refused) => return refuse(refused, info),
            }
        }
        let divert = super::forward::divert_for(&snap, &route, trunk);
        if let crate::routing::Route::User { client, user } = &route {
            info.lines.push(format!("{}/{}", client, user));
        }
        let carrier_timeout = Duration::from_secs(self.cfg.carrier_timeout.max(1));
        let failover = super::reroute::failover_for(&route, &targets, carrier_timeout);
        if let Some(f) = failover.as_ref().filter(|f| !f.carrier.is_empty()) {
            info.carriers = vec![f.carrier.clone()];
        }
        let call = Setup {
            failover,
            targets,
            max_forwards: max_forwards - 1,
            from: presentation.clone(),
            hops,
            divert,
            permit,
            caller: Some(caller).filter(|c| !matches!(c, Caller::Trunk { .. })),
        };
        self.start_call(inc, info, call);
    }

    /// Creates the call and sends the outbound INVITE to every target.
    fn start_call(self: &Arc<Self>, inc: Incoming, info: Info, setup: Setup) {
        let Setup {
            targets,
            max_forwards,
            from,
            hops,
            divert,
            permit,
            caller,
            failover,
        } = setup;
        let Incoming {
            msg,
            checked,
            flow,
            key,
        } = inc;
        let call_id = msg.call_id().unwrap_or("").to_string();
        let a = self.caller_leg(&msg, &checked, &flow);
        // (no SDP in the INVITE: the callee offers in its 2xx, the caller answers in its ACK)
        let late_offer = !super::media::has_sdp(&msg);
        // The relay: a port pair facing each side, from the client's relay set.
        let session = self.open_media(&info.client);
        let refuse = |code: u16, reason: &str, disp: Disposition, info: Info| {
            let r = response(&msg, code, reason, &to_tag(&msg));
            self.out.send(&checked.via, &flow, r, key);
            self.record(&call_id, info, disp, code, now_secs());
        };
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("INVITE {}: {}", call_id, e);
                return refuse(503, "Service Unavailable", Disposition::NoMediaPorts, info);
            }
        };
        // The caller's offer, pointing at the relay's side facing the callee.
        let offer_body = if late_offer {
            Vec::new()
        } else {
            match crate::media::sdp::rewrite(&msg.body, session.address(crate::media::Facing::B)) {
                Ok((adv, body)) => {
                    session.set_peer(crate::media::Facing::A, adv, flow.remote.ip());
                    body
                }
                Err(e) => {
                    tracing::info!("INVITE {}: {}", call_id, e);
                    return refuse(488, "Not Acceptable Here", Disposition::BadSdp, info);
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
            let mut t = t;
            t.headers
                .extend(super::session_timer::invite_headers(self.sessions()));
            forks.push(Fork::new(&t, &msg, offer, max_forwards));
        }
        // (a carrier reached by name has its branch once resolved)
        if forks.is_empty() && (failover.is_none() || refused_by_codecs > 0) {
            tracing::debug!(
                "INVITE {}: no codec in common with {} branch(es)",
                call_id,
                refused_by_codecs
            );
            return refuse(488, "Not Acceptable Here", Disposition::NoCommonCodec, info);
        }
        let mut call = self.new_call(a, (msg, checked.via, flow, key), info);
        call.forks = forks;
        call.b_offer = (!late_offer).then_some(offer_body);
        call.from = from;
        call.hops = hops;
        call.divert = divert;
        call.transfer.caller = caller;
        call.failover = failover;
        call.relay = Some(Relay {
            a: session.address(crate::media::Facing::A),
            b: session.address(crate::media::Facing::B),
        });
        // 100 Trying only now: a refusal above is a final response the caller's
        // retransmissions get again from the transaction memory.
        self.enter(call, Some(session), permit, |c, now, out| c.start(now, out));
    }

    /// A new call core for the caller's INVITE, with the limits of `[calls]` and the
    /// voice notifications its client wants.
    pub(super) fn new_call(
        &self,
        a: Leg,
        a_invite: (Message, crate::sip::headers::Via, Flow, Option<TxKey>),
        info: Info,
    ) -> Call {
        let notices = self.notices_for(&info.client);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut call = Call::new(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            a,
            a_invite,
            info,
            Limits {
                no_answer: Duration::from_secs(self.cfg.no_answer_timeout),
                max_duration: Duration::from_secs(self.cfg.max_duration),
            },
            (Instant::now(), now_ms),
        );
        call.notices = notices;
        call.sessions.settings = self.sessions();
        call
    }

    /// The session timers of `[calls]`.
    pub(super) fn sessions(&self) -> super::session_timer::Settings {
        super::session_timer::Settings {
            session_expires: self.cfg.session_expires,
            min_se: self.cfg.min_se,
        }
    }

    /// The voice notifications of a client that wants them.
    pub(super) fn notices_for(&self, client: &str) -> Option<Notices> {
        let snap = self.snapshot.load();
        snap.client(client)
            .filter(|c| c.voice_notifications)
            .map(|c| Notices {
                prompts: self.media.prompts.clone(),
                language: c.language.clone(),
            })
    }

    /// Enters a new call in the map under every leg's Call-ID and hands it to `first` (the
    /// core). False when a call with the caller's Call-ID is there already (set up twice at
    /// once: the first one wins, the second gets 482).
    pub(super) fn enter(
        self: &Arc<Self>,
        call: Call,
        media: Option<crate::media::MediaSession>,
        permit: Option<Permit>,
        first: impl FnOnce(&mut Call, Instant, &mut super::actions::Actions),
    ) -> bool {
        self.enter_with(call, media, permit, None, first)
    }

    /// `enter` with an application prepared for the call (`Action::App` starts it).
    pub(super) fn enter_with(
        self: &Arc<Self>,
        call: Call,
        media: Option<crate::media::MediaSession>,
        permit: Option<Permit>,
        app: Option<super::app::AppStart>,
        first: impl FnOnce(&mut Call, Instant, &mut super::actions::Actions),
    ) -> bool {
        let a_id = call.a.call_id.clone();
        let direction = call.info.direction;
        let b_ids: Vec<String> = call.forks.iter().map(|f| f.leg.call_id.clone()).collect();
        // being set up: it has branches, or asks its failover for its first (a carrier by
        // host name)
        let setting_up = !b_ids.is_empty() || call.failover.is_some();
        let keys = call.info.lines.clone();
        let cell = Arc::new(CallCell::new(call, media, permit));
        cell.lock().app = app;
        // Into the map before the call is locked: a map shard lock is never taken while a
        // call lock is held (the listing takes them the other way round).
        let entered = match self.calls.entry(a_id) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(cell.clone());
                true
            }
        };
        if !entered {
            let slot = cell.lock();
            let c = &slot.call;
            let r = response(&c.a_invite, 482, "Loop Detected", &to_tag(&c.a_invite));
            self.out.send(&c.a_via, &c.a_flow, r, c.a_key);
            return false;
        }
        // counted against its users only once it is in (a duplicate Call-ID is not)
        {
            let mut slot = cell.lock();
            slot.lines = Some(self.lines.hold(&keys));
            if setting_up {
                slot.setting_up = Some(self.setting_up.hold());
            }
        }
        for id in b_ids {
            self.calls.insert(id, cell.clone());
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        self.stats.started(direction.as_str(), true);
        self.drive(&cell, first);
        true
    }

    /// The caller's dialog as vozbox's side of it (our To tag and Contact).
    pub(super) fn caller_leg(&self, msg: &Message, checked: &Checked, flow: &Flow) -> Leg {
        let a_dest = Dest::new(flow.clone(), flow.remote, &self.out.transports);
        Leg::caller(msg, checked, a_dest)
    }
}

/// The caller asked for TLS on every hop (a `sips:` Request-URI).
pub(super) fn secure_only(msg: &Message) -> bool {
    msg.request_uri()
        .is_some_and(|u| u.scheme == crate::sip::uri::Scheme::Sips)
}

//! Message waiting indication, the SIP side: a phone subscribes (`SUBSCRIBE`, `Event:
//! message-summary`) to its own mailbox — authenticated like a call (digest, `407`) — and
//! gets a `NOTIFY` at once and after every change of the mailbox (`Voice-Message: 1/0`),
//! on the dialog its SUBSCRIBE made, over the flow it came by (behind NAT too). A refresh
//! extends it, `Expires: 0` or its expiry ends it (a last NOTIFY says `terminated`). Over
//! UDP a NOTIFY is sent again (0.5, 1, 2, 4 s) until it is answered.

use super::authn::{self, Caller};
use super::leg::{Dest, Leg};
use super::{B2bua, Incoming};
use crate::sip::message::HeaderField;
use crate::sip::reply::response;
use crate::sip::respond::to_tag;
use crate::sip::transport::Proto;
use crate::voicemail::mwi;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Subscription {
    client: String,
    mailbox: String,
    /// The user or friend that subscribed (`friend` says which).
    owner: (String, bool),
    /// The URI the phone subscribed to (`Message-Account`).
    account: String,
    leg: Leg,
    until: Instant,
    /// The latest NOTIFY was answered (its retransmissions stop).
    answered: Arc<AtomicBool>,
    /// The CSeq of the latest NOTIFY.
    cseq: u32,
}

/// Subscriptions one user or friend may hold (more replace its oldest), and in all.
const PER_OWNER: usize = 8;
const IN_ALL: usize = 10_000;

/// The subscriptions by Call-ID. Not on a call's path: a lock of its own.
#[derive(Default)]
pub struct Subscriptions(Mutex<HashMap<String, Subscription>>);

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Subscription>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl B2bua {
    /// A SUBSCRIBE, new or a refresh of one of ours.
    pub(super) fn on_subscribe(self: &Arc<Self>, inc: Incoming) {
        let event = inc.msg.get("Event").unwrap_or("");
        let package = event.split(';').next().unwrap_or("").trim();
        if !package.eq_ignore_ascii_case("message-summary") {
            let mut r = response(&inc.msg, 489, "Bad Event", &to_tag(&inc.msg));
            r.push_header("Allow-Events", "message-summary");
            self.out.send(&inc.checked.via, &inc.flow, r, inc.key);
            return;
        }
        let asked = inc
            .msg
            .get("Expires")
            .and_then(|e| e.trim().parse::<u32>().ok());
        let expires = mwi::granted(asked);
        let call_id = inc.msg.call_id().unwrap_or("").to_string();
        if let Some(tag) = inc.checked.to.tag() {
            return self.refresh(&inc, &call_id, tag, expires);
        }
        let snap = self.snapshot.load();
        let owner = match authn::identify(
            &self.registrar.verifier(),
            &snap,
            &self.names.load(),
            &inc.msg,
            &inc.checked.from,
            &inc.flow,
        ) {
            authn::Outcome::Known(Caller::User { client, name }) => (client, name, false),
            authn::Outcome::Known(Caller::Friend { client, name }) => (client, name, true),
            authn::Outcome::Known(Caller::Trunk { .. }) | authn::Outcome::Bad(_) => {
                return self.reply(&inc, 403, "Forbidden");
            }
            authn::Outcome::Challenge(values) => return self.challenge(&inc, values),
        };
        let (client, name, friend) = owner;
        // One's own mailbox only (the one the phone's own address names).
        let asked_for = inc.msg.request_uri_user().unwrap_or_default();
        let own_ext = snap.user(&client, &name).and_then(|u| u.extension.clone());
        if asked_for != name && Some(&asked_for) != own_ext.as_ref() {
            return self.reply(&inc, 403, "Forbidden");
        }
        let Some(bx) = snap.voicemail_of(&client, &name, friend) else {
            return self.reply(&inc, 404, "Not Found");
        };
        let dest = Dest::new(inc.flow.clone(), inc.flow.remote, &self.out.transports);
        let leg = Leg::caller(&inc.msg, &inc.checked, dest);
        let mut ok = response(&inc.msg, 200, "OK", &leg.local_tag);
        ok.push_header("Expires", expires.to_string());
        ok.push_header("Contact", leg.contact.clone());
        self.out.send(&inc.checked.via, &inc.flow, ok, inc.key);
        let account = match &inc.msg.start {
            crate::sip::message::StartLine::Request { uri, .. } => uri.to_string(),
            _ => String::new(),
        };
        let mut sub = Subscription {
            client: client.clone(),
            mailbox: bx.name.clone(),
            owner: (name.clone(), friend),
            account,
            leg,
            until: Instant::now() + Duration::from_secs(u64::from(expires)),
            answered: Arc::new(AtomicBool::new(true)),
            cseq: 0,
        };
        let counts = self.box_counts(&client, &bx.name);
        let mut subs = self.subscriptions.lock();
        if expires == 0 {
            self.notify(&mut sub, 0, counts);
            return;
        }
        // its oldest goes when the owner holds too many; none past the total
        let owned: Vec<(String, Instant)> = subs
            .iter()
            .filter(|(_, s)| s.client == client && s.owner == (name.clone(), friend))
            .map(|(k, s)| (k.clone(), s.until))
            .collect();
        if owned.len() >= PER_OWNER {
            if let Some((k, _)) = owned.iter().min_by_key(|(_, u)| *u) {
                subs.remove(k);
            }
        }
        if subs.len() >= IN_ALL {
            tracing::warn!("MWI: {} subscriptions: {}@{} refused", IN_ALL, name, client);
            return;
        }
        tracing::info!("MWI: {}@{} subscribed to {}", name, client, bx.name);
        let sub = subs.entry(call_id).insert_entry(sub).into_mut();
        self.notify(sub, expires, counts);
    }

    /// (new, old) messages of a mailbox.
    fn box_counts(&self, client: &str, mailbox: &str) -> (usize, usize) {
        match &self.voicemail {
            Some(v) => v.counts(client, mailbox),
            None => (0, 0),
        }
    }

    /// A refresh (or end) of subscription `call_id`: its dialog's tags, a higher CSeq, and
    /// an owner that still has that mailbox; it goes on over the flow the refresh came by.
    fn refresh(&self, inc: &Incoming, call_id: &str, tag: &str, expires: u32) {
        let snap = self.snapshot.load();
        let of = {
            let subs = self.subscriptions.lock();
            subs.get(call_id)
                .map(|s| (s.client.clone(), s.mailbox.clone()))
        };
        let counts = of.map(|(c, m)| self.box_counts(&c, &m)).unwrap_or((0, 0));
        let mut subs = self.subscriptions.lock();
        let cseq = inc.msg.cseq().map(|c| c.0).unwrap_or(0);
        let Some(sub) = subs.get_mut(call_id).filter(|s| {
            s.leg.local_tag == tag
                && s.leg.remote_tag.as_deref() == inc.checked.from.tag()
                && cseq > s.leg.remote_cseq
        }) else {
            drop(subs);
            return self.reply(inc, 481, "Subscription Does Not Exist");
        };
        let (owner, friend) = &sub.owner;
        let still = snap
            .voicemail_of(&sub.client, owner, *friend)
            .is_some_and(|b| b.name == sub.mailbox);
        let expires = if still { expires } else { 0 };
        sub.leg.remote_cseq = cseq;
        sub.leg.dest = Dest::new(inc.flow.clone(), inc.flow.remote, &self.out.transports);
        let mut ok = response(&inc.msg, 200, "OK", tag);
        ok.push_header("Expires", expires.to_string());
        ok.push_header("Contact", sub.leg.contact.clone());
        self.out.send(&inc.checked.via, &inc.flow, ok, inc.key);
        sub.until = Instant::now() + Duration::from_secs(u64::from(expires));
        self.notify(sub, expires, counts);
        if expires == 0 {
            subs.remove(call_id);
        }
    }

    /// Sends the mailbox's state (`new`, `old` messages) on `sub`'s dialog, `expires`
    /// seconds left (0: ended).
    fn notify(&self, sub: &mut Subscription, expires: u32, (new, old): (usize, usize)) {
        let state = if expires == 0 {
            "terminated".to_string()
        } else {
            format!("active;expires={}", expires)
        };
        let body = mwi::body(&sub.account, new, old);
        let (req, _) = sub.leg.in_dialog(
            "NOTIFY",
            Some(("application/simple-message-summary", body.as_bytes())),
            vec![
                HeaderField::new("Event", "message-summary"),
                HeaderField::new("Subscription-State", state),
                HeaderField::new("Contact", sub.leg.contact.clone()),
            ],
        );
        sub.cseq = sub.leg.local_cseq;
        let bytes = Arc::new(req.to_bytes());
        let dest = sub.leg.dest.clone();
        self.send(&dest, bytes.clone());
        if dest.flow.proto != Proto::Udp {
            return;
        }
        let answered = Arc::new(AtomicBool::new(false));
        sub.answered = answered.clone();
        let me = self.out.clone();
        self.rt.spawn(async move {
            for wait in [500u64, 1000, 2000, 4000] {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                if answered.load(Ordering::Relaxed) {
                    return;
                }
                let _ = me.transports.send_to(&dest.flow, dest.to, &bytes);
            }
        });
    }

    /// A response to one of our NOTIFYs (by its Call-ID); whether it was one.
    pub(super) fn mwi_response(&self, call_id: &str, code: u16, cseq: u32) -> bool {
        let mut subs = self.subscriptions.lock();
        let Some(sub) = subs.get_mut(call_id) else {
            return false;
        };
        if sub.cseq == cseq {
            sub.answered.store(true, Ordering::Relaxed);
        }
        // the phone forgot the subscription
        if matches!(code, 481 | 408) || code >= 500 {
            subs.remove(call_id);
        }
        true
    }

    /// The messages of a mailbox changed: its subscribers are told (counted once).
    pub fn mwi_changed(&self, client: &str, mailbox: &str) {
        let counts = self.box_counts(client, mailbox);
        let now = Instant::now();
        let mut subs = self.subscriptions.lock();
        for sub in subs.values_mut() {
            if sub.client == client && sub.mailbox == mailbox {
                let left = sub.until.saturating_duration_since(now).as_secs() as u32;
                self.notify(sub, left.max(1), counts);
            }
        }
    }

    /// Ends the subscriptions that were not refreshed in time (a last NOTIFY each).
    pub(super) fn mwi_sweep(&self) {
        let now = Instant::now();
        let mut subs = self.subscriptions.lock();
        let expired: Vec<String> = subs
            .iter()
            .filter(|(_, s)| s.until <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for id in expired {
            if let Some(mut s) = subs.remove(&id) {
                self.notify(&mut s, 0, (0, 0));
            }
        }
    }
}

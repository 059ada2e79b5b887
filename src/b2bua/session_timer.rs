//! Session timers (RFC 4028) in the call core, one per leg: the caller's leg (A) and the
//! answering branch's (B) each negotiate their own interval and refresher. Where vozbox
//! refreshes, it sends UPDATE (re-INVITE with the last SDP it sent there when the peer's
//! `Allow` has no UPDATE) at half the interval; where the peer refreshes, a re-INVITE or
//! UPDATE must arrive before the interval minus min(32 s, interval/3) (§10). A leg that
//! expires, or whose refresh fails (408, 481, no answer), ends the call: BYE both ways,
//! the record says `session_expired`. A request relayed from one leg to the other is a
//! refresh of the leg it came on; its 2xx refreshes the leg it was relayed to.

use super::actions::Actions;
use super::call::{Call, ForkState, Method, Phase, Side};
use super::fork::status;
use super::record::Disposition;
use super::Incoming;
use crate::sip::message::{HeaderField, Message};
use crate::sip::reply::response;
use crate::sip::respond::prepare;
use std::time::{Duration, Instant};

/// The `[calls]` settings: the interval vozbox asks for and the smallest it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub session_expires: u32,
    pub min_se: u32,
}

impl Default for Settings {
    /// RFC 4028's recommended interval (30 min) and its floor (90 s).
    fn default() -> Self {
        Settings {
            session_expires: 1800,
            min_se: 90,
        }
    }
}

/// Who refreshes a leg's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Vozbox,
    Peer,
}

/// One leg's session timer.
#[derive(Debug, Clone)]
pub struct LegTimer {
    /// Seconds.
    pub interval: u32,
    pub refresher: Refresher,
    /// The last refresh (or the answer).
    pub since: Instant,
    /// The branch of vozbox's refresh still unanswered (empty: none will be sent again).
    pub sent: Option<String>,
    /// vozbox's refresh is sent again then (it was refused).
    pub retry: Option<Instant>,
    /// The peer's `Allow` lists UPDATE.
    pub update: bool,
    /// The last SDP vozbox sent on this leg (a re-INVITE refresh offers it again).
    pub sdp: Option<Vec<u8>>,
}

impl LegTimer {
    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval))
    }

    /// When vozbox sends its refresh (it is the refresher and none is in flight).
    fn refresh_at(&self) -> Option<Instant> {
        (self.refresher == Refresher::Vozbox && self.sent.is_none())
            .then(|| self.retry.unwrap_or(self.since + self.interval() / 2))
    }

    /// When the session is over without a refresh: the peer refreshes → the interval less
    /// min(32 s, a third) (RFC 4028 §10); vozbox refreshes → the interval itself.
    pub fn expires_at(&self) -> Instant {
        match self.refresher {
            Refresher::Peer => {
                let i = self.interval();
                self.since + i - (i / 3).min(Duration::from_secs(32))
            }
            Refresher::Vozbox => self.since + self.interval(),
        }
    }
}

/// The session timers of a call.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub settings: Settings,
    /// The caller supports `timer` (Supported or Require).
    pub a_supports: bool,
    /// The caller's Session-Expires (seconds) and refresher parameter.
    pub a_asked: Option<(u32, Option<String>)>,
    pub a: Option<LegTimer>,
    pub b: Option<LegTimer>,
}

/// Whether a message lists `tag` in Supported or Require.
pub fn supports(msg: &Message, tag: &str) -> bool {
    ["Supported", "Require"].iter().any(|h| {
        msg.list(h)
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case(tag))
    })
}

/// A Session-Expires value: seconds and the refresher parameter (`uac`, `uas`).
pub fn parse(msg: &Message) -> Option<(u32, Option<String>)> {
    let v = msg.get("Session-Expires")?;
    let mut parts = v.split(';');
    let secs = parts.next()?.trim().parse::<u32>().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((secs, refresher))
}

/// A new INVITE asking for less than `min_se`: the `Min-SE` to answer with `422`
/// (RFC 4028 §9; only a caller that supports `timer` understands it — for another the
/// interval is raised instead).
pub fn too_small(msg: &Message, min_se: u32) -> Option<u32> {
    let (secs, _) = parse(msg)?;
    (secs < min_se && supports(msg, "timer")).then_some(min_se)
}

/// The header fields of vozbox's outbound INVITEs (besides `Supported`).
pub fn invite_headers(s: Settings) -> Vec<(String, String)> {
    vec![
        ("Session-Expires".into(), s.session_expires.to_string()),
        ("Min-SE".into(), s.min_se.to_string()),
    ]
}

/// The refresher parameter of a message on a leg whose UAC (of that message) is
/// vozbox (`ours`) or the peer.
fn param(refresher: Refresher, uac_is_vozbox: bool) -> &'static str {
    match (refresher == Refresher::Vozbox) == uac_is_vozbox {
        true => "uac",
        false => "uas",
    }
}

impl Sessions {
    pub fn new(settings: Settings, a_invite: &Message) -> Sessions {
        Sessions {
            settings,
            a_supports: supports(a_invite, "timer"),
            a_asked: parse(a_invite),
            a: None,
            b: None,
        }
    }

    pub fn leg(&self, side: Side) -> Option<&LegTimer> {
        match side {
            Side::A => self.a.as_ref(),
            Side::B(_) => self.b.as_ref(),
        }
    }

    pub(super) fn leg_mut(&mut self, side: Side) -> &mut Option<LegTimer> {
        match side {
            Side::A => &mut self.a,
            Side::B(_) => &mut self.b,
        }
    }

    /// The earliest refresh or expiry of either leg.
    pub fn deadline(&self) -> Option<Instant> {
        [&self.a, &self.b]
            .into_iter()
            .flatten()
            .flat_map(|t| [t.refresh_at(), Some(t.expires_at())])
            .flatten()
            .min()
    }
}

impl Call {
    /// The leg of the side a timer belongs to (B: the branch that answered).
    /// (Only a bridged call has timers: one vozbox answered itself has no branch to end.)
    fn timed_side(&self, side: Side) -> bool {
        match (side, self.winner()) {
            (_, None) => false,
            (Side::A, Some(_)) => true,
            (Side::B(i), Some(w)) => w == i,
        }
    }

    /// The caller is answered with `ok` (a 2xx carrying the callee's answer): its leg's
    /// timer starts, and the 2xx says its interval and refresher (`Require: timer` when the
    /// caller supports it).
    pub(super) fn session_answer_a(&mut self, now: Instant, ok: &mut Message) {
        let s = &mut self.sessions;
        let min = s.settings.min_se;
        let (interval, refresher) = match (&s.a_asked, s.a_supports) {
            (Some((secs, r)), supports) => {
                let interval = (*secs).min(s.settings.session_expires).max(min);
                let refresher = match r.as_deref() {
                    Some("uac") if supports => Refresher::Peer,
                    Some("uas") => Refresher::Vozbox,
                    _ if supports => Refresher::Peer,
                    _ => Refresher::Vozbox,
                };
                (interval, refresher)
            }
            // It supports timers but asked none: vozbox's own interval, the caller refreshes.
            (None, true) => (s.settings.session_expires, Refresher::Peer),
            (None, false) => return,
        };
        ok.push_header(
            "Session-Expires",
            format!("{};refresher={}", interval, param(refresher, false)),
        );
        if s.a_supports {
            ok.push_header("Require", "timer");
        }
        s.a = Some(LegTimer {
            interval,
            refresher,
            since: now,
            sent: None,
            retry: None,
            update: allows_update(&self.a_invite),
            sdp: (!ok.body.is_empty() && ok.is_sdp()).then(|| ok.body.clone()),
        });
    }

    /// A re-INVITE or UPDATE from `side` inside the answered call: a refresh of that leg.
    /// It may set a new interval and refresher; one below `min_se` is answered `422` here
    /// (true: nothing more to do). Without Session-Expires it turns the leg's timer off
    /// (RFC 4028 §9).
    pub(super) fn session_refresh(
        &mut self,
        now: Instant,
        side: Side,
        inc: &Incoming,
        out: &mut Actions,
    ) -> bool {
        if !matches!(self.phase, Phase::Answered { .. }) || !self.timed_side(side) {
            return false;
        }
        let min = self.sessions.settings.min_se;
        let asked = parse(&inc.msg);
        if let Some((secs, _)) = &asked {
            if *secs < min && supports(&inc.msg, "timer") {
                let mut r = response(&inc.msg, 422, "Session Interval Too Small", "");
                r.push_header("Min-SE", min.to_string());
                out.push(super::actions::Action::Reply {
                    sent: prepare(&inc.checked.via, &inc.flow, r),
                    key: inc.key,
                });
                return true;
            }
        }
        let max = self.sessions.settings.session_expires;
        let slot = self.sessions.leg_mut(side);
        match asked {
            None => *slot = None,
            Some((secs, r)) => {
                let t = slot.get_or_insert(LegTimer {
                    interval: secs,
                    refresher: Refresher::Peer,
                    since: now,
                    sent: None,
                    retry: None,
                    update: allows_update(&inc.msg),
                    sdp: None,
                });
                t.interval = secs.min(max).max(min);
                t.refresher = match r.as_deref() {
                    Some("uas") => Refresher::Vozbox,
                    _ => Refresher::Peer,
                };
                t.since = now;
                t.retry = None;
            }
        }
        false
    }

    /// The header fields of a re-INVITE or UPDATE relayed onto `target`'s leg, which keep
    /// its timer on (the peer answers with them); `body` is the SDP it carries.
    pub(super) fn session_relayed(
        &mut self,
        target: Side,
        body: Option<&[u8]>,
    ) -> Vec<HeaderField> {
        if !self.timed_side(target) {
            return Vec::new();
        }
        let Some(t) = self.sessions.leg_mut(target).as_mut() else {
            return Vec::new();
        };
        if let Some(b) = body {
            t.sdp = Some(b.to_vec());
        }
        vec![
            HeaderField::new(
                "Session-Expires",
                format!("{};refresher={}", t.interval, param(t.refresher, true)),
            ),
            HeaderField::new("Supported", "timer"),
        ]
    }

    /// The 2xx of a relayed re-INVITE or UPDATE goes back to `origin` (`ok`, built for
    /// it): it tells the originator its leg's interval (`Require: timer`).
    pub(super) fn session_relayed_answer(&mut self, origin: Side, req: &Message, ok: &mut Message) {
        if !(200..300).contains(&status(ok).0) || !matches!(self.phase, Phase::Answered { .. }) {
            return;
        }
        if let Some(t) = self.sessions.leg_mut(origin).as_mut() {
            if !ok.body.is_empty() && ok.is_sdp() {
                t.sdp = Some(ok.body.clone());
            }
            ok.push_header(
                "Session-Expires",
                format!("{};refresher={}", t.interval, param(t.refresher, false)),
            );
            if supports(req, "timer") {
                ok.push_header("Require", "timer");
            }
        }
    }

    /// A response to a request vozbox sent on `side`: the answer to its refresh? A 2xx
    /// refreshes the leg; 408 or 481 end the call (RFC 4028 §10); 405/501 to an UPDATE
    /// turn to re-INVITE, 422 raises the interval to the peer's `Min-SE`, another failure
    /// is tried again in 2 s — the leg still expires when it must.
    pub(super) fn session_response(
        &mut self,
        now: Instant,
        side: Side,
        branch: &str,
        msg: &Message,
        out: &mut Actions,
    ) {
        let code = status(msg).0;
        if !matches!(self.phase, Phase::Answered { .. }) || !self.timed_side(side) {
            return;
        }
        let min = self.sessions.settings.min_se;
        let Some(t) = self.sessions.leg_mut(side).as_mut() else {
            return;
        };
        let refresh = matches!(msg.cseq(), Some((_, "INVITE" | "UPDATE")));
        if refresh && (200..300).contains(&code) {
            // any re-INVITE or UPDATE answered 2xx on a leg refreshes it (§10)
            t.since = now;
        }
        if t.sent.as_deref() != Some(branch) || code < 200 {
            return;
        }
        t.sent = None;
        match code {
            200..=299 => {
                t.since = now;
                t.retry = None;
                if let Some((secs, r)) = parse(msg) {
                    t.interval = super::session_peer::bound(secs, min);
                    // (in our request, `uac` is vozbox)
                    if r.as_deref() == Some("uas") {
                        t.refresher = Refresher::Peer;
                    }
                }
            }
            408 | 481 => self.session_over(now, side, out),
            // UPDATE not known there after all: a re-INVITE next, at once
            405 | 501 if t.update && t.sdp.is_some() => {
                t.update = false;
                t.retry = Some(now);
            }
            // RFC 4028 §7.4: again with the peer's minimum, at once
            422 => match msg.get("Min-SE").and_then(|v| v.trim().parse::<u32>().ok()) {
                Some(min) if min > t.interval && min <= super::session_peer::MAX => {
                    t.interval = min;
                    t.retry = Some(now);
                }
                _ => t.sent = Some(String::new()),
            },
            _ => {
                // (491 and the like) again in 2 s; the leg still expires when it must
                tracing::info!("call {}: session refresh refused ({})", self.id, code);
                t.retry = Some(now + Duration::from_secs(2));
            }
        }
    }

    /// vozbox's refresh with this branch got no answer at all (Timer F): true when it was
    /// one (the call is ended here).
    pub(super) fn session_refresh_lost(
        &mut self,
        now: Instant,
        branch: &str,
        out: &mut Actions,
    ) -> bool {
        let side = if self.sessions.a.as_ref().and_then(|t| t.sent.as_deref()) == Some(branch) {
            Side::A
        } else if self.sessions.b.as_ref().and_then(|t| t.sent.as_deref()) == Some(branch) {
            match self.winner() {
                Some(w) => Side::B(w),
                None => return false,
            }
        } else {
            return false;
        };
        if let Some(i) = self.pending.iter().position(|p| p.branch == branch) {
            self.pending.remove(i);
        }
        self.session_over(now, side, out);
        true
    }

    /// Branch `i` refused its INVITE with 422: the INVITE again (next CSeq, new branch)
    /// asking the peer's `Min-SE` (RFC 4028 §7.4), once. False when that cannot help.
    pub(super) fn retry_422(
        &mut self,
        now: Instant,
        i: usize,
        msg: &Message,
        out: &mut Actions,
    ) -> bool {
        let min = msg
            .get("Min-SE")
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let (Some(min), true) = (min, self.phase == Phase::Ringing) else {
            return false;
        };
        let Some(f) = self.forks.get_mut(i) else {
            return false;
        };
        let asked = f
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Session-Expires"))
            .and_then(|(_, v)| v.trim().parse::<u32>().ok());
        if asked.is_some_and(|a| a >= min)
            || min > 86_400
            || !matches!(
                f.state,
                ForkState::Calling { cancel_owed: false } | ForkState::Proceeding
            )
        {
            return false;
        }
        f.headers.retain(|(k, _)| {
            !k.eq_ignore_ascii_case("Session-Expires") && !k.eq_ignore_ascii_case("Min-SE")
        });
        f.headers.push(("Session-Expires".into(), min.to_string()));
        f.headers.push(("Min-SE".into(), min.to_string()));
        self.resend_invite(now, i, None, out);
        true
    }

    /// The earliest refresh or expiry of the answered call's legs.
    pub(super) fn session_deadline(&self) -> Option<Instant> {
        // (`session_due` acts on every deadline of a bridged call: none is left in the past)
        matches!(
            self.phase,
            Phase::Answered {
                winner: Some(_),
                ..
            }
        )
        .then(|| self.sessions.deadline())
        .flatten()
    }

    /// A deadline passed: refreshes due are sent, an expired leg ends the call.
    pub(super) fn session_due(&mut self, now: Instant, out: &mut Actions) {
        if !matches!(self.phase, Phase::Answered { .. }) {
            return;
        }
        let Some(w) = self.winner() else { return };
        for side in [Side::A, Side::B(w)] {
            let Some(t) = self.sessions.leg(side) else {
                continue;
            };
            if now >= t.expires_at() {
                return self.session_over(now, side, out);
            }
            if t.refresh_at().is_some_and(|at| now >= at) {
                self.send_refresh(now, side, out);
            }
        }
    }

    /// vozbox's refresh on `side`: UPDATE, or a re-INVITE offering the leg's last SDP
    /// when the peer does not allow UPDATE.
    fn send_refresh(&mut self, now: Instant, side: Side, out: &mut Actions) {
        let Some(t) = self.sessions.leg(side).cloned() else {
            return;
        };
        let method = if t.update || t.sdp.is_none() {
            Method::Update
        } else {
            Method::Invite
        };
        let mut extra = vec![
            HeaderField::new("Session-Expires", format!("{};refresher=uac", t.interval)),
            HeaderField::new("Supported", "timer"),
        ];
        if method == Method::Invite {
            extra.push(HeaderField::new("Allow", crate::sip::reply::ALLOW));
        }
        let body = match method {
            Method::Invite => t.sdp.as_deref().map(|b| ("application/sdp", b)),
            _ => None,
        };
        let Some(branch) = self.send_own(now, side, method, body, extra, out) else {
            return;
        };
        if let Some(t) = self.sessions.leg_mut(side).as_mut() {
            t.sent = Some(branch);
        }
    }

    /// The session of `side` is over: BYE both ways, the record says so.
    fn session_over(&mut self, now: Instant, side: Side, out: &mut Actions) {
        let leg = match side {
            Side::A => "caller's",
            Side::B(_) => "callee's",
        };
        tracing::info!("call {}: the {} session expired; hanging up", self.id, leg);
        self.sessions.a = None;
        self.sessions.b = None;
        self.hang_up_both(now, out);
        self.end(now, Disposition::SessionExpired, 408, None, out);
    }
}

/// Whether a message's `Allow` lists UPDATE.
pub(super) fn allows_update(msg: &Message) -> bool {
    msg.list("Allow")
        .iter()
        .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
}

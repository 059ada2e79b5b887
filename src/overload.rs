//! Overload control (issue 22): past capacity vozbox refuses new work early and cheaply
//! instead of drowning. A new INVITE or REGISTER is answered `503` + `Retry-After` before
//! its full checks and any digest, routing or media work are spent on it
//! (`server/shed.rs`: over UDP from a glance at the datagram, no parse, the refusal
//! remembered so that a retransmission gets the same 503) when the work already admitted
//! says the box is full:
//! - it waited in the UDP socket longer than `[overload] queue_delay_ms` (the kernel's
//!   receive timestamp against the clock when it is read: the receive threads are behind);
//! - `[overload] max_setup` calls are being set up (a new INVITE only).
//!
//! What continues admitted work — responses, ACK, CANCEL, BYE, in-dialog requests — is
//! never refused here; responses, ACK and in-dialog requests are read before the new
//! requests of the same batch (`sip::triage`, `sip/transport/udp.rs`): admitted calls
//! complete.
//! Each refusal is counted by reason (`/metrics`), and logged at most once a second.

use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `[overload]` (embedded in `config::Config`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A new INVITE or REGISTER that waited longer than this in the UDP socket (ms, the
    /// kernel's receive timestamp) is answered `503` + `Retry-After`: the box is behind.
    /// 0 turns the check off.
    pub queue_delay_ms: u64,
    /// Calls being set up (sent on, not yet answered or ended) at once; a new INVITE past
    /// it is answered `503` + `Retry-After`. 0 turns the check off.
    pub max_setup: usize,
    /// The `Retry-After` of those `503`s, in seconds.
    pub retry_after: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            queue_delay_ms: 200,
            max_setup: 4_000,
            retry_after: 5,
        }
    }
}

impl Settings {
    /// Its values checked (the key at fault and why).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.queue_delay_ms > 10_000 {
            return Err(("queue_delay_ms", "expected at most 10000 (10 s)".into()));
        }
        if self.max_setup > 10_000_000 {
            return Err(("max_setup", "expected at most 10000000".into()));
        }
        if !(1..=3_600).contains(&self.retry_after) {
            return Err(("retry_after", "expected 1 to 3600 seconds".into()));
        }
        Ok(())
    }
}

/// Why new work was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// It waited too long in the socket.
    QueueDelay,
    /// Too many calls are being set up.
    Setup,
}

impl Shed {
    pub const ALL: [Shed; 2] = [Shed::QueueDelay, Shed::Setup];
    pub fn as_str(self) -> &'static str {
        match self {
            Shed::QueueDelay => "queue_delay",
            Shed::Setup => "max_setup",
        }
    }
}

/// What the refusal from a glance (UDP, no parse) did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparsed {
    /// A new request refused (also counted as a refusal by its reason).
    Refused,
    /// A copy of one refused before, answered with the same 503 (not counted again).
    Again,
    /// An ACK for no call (a 503's, or any other) dropped while refusals are remembered.
    Ack,
}

impl Unparsed {
    pub const ALL: [Unparsed; 3] = [Unparsed::Refused, Unparsed::Again, Unparsed::Ack];
    pub fn as_str(self) -> &'static str {
        match self {
            Unparsed::Refused => "refused",
            Unparsed::Again => "again",
            Unparsed::Ack => "ack",
        }
    }
}

/// The decision, pure: whether a new request that waited `waited` is refused, with
/// `setting_up` calls being set up (None: not an INVITE).
pub fn decide(limits: &Settings, waited: Duration, setting_up: Option<usize>) -> Option<Shed> {
    if limits.queue_delay_ms > 0 && waited > Duration::from_millis(limits.queue_delay_ms) {
        return Some(Shed::QueueDelay);
    }
    match setting_up {
        Some(n) if limits.max_setup > 0 && n >= limits.max_setup => Some(Shed::Setup),
        _ => None,
    }
}

/// The server's overload state: its settings and what it refused.
pub struct Overload {
    pub limits: Settings,
    shed: [AtomicU64; 2],
    /// What the refusal from a glance (no parse) took, by `Unparsed`.
    unparsed: [AtomicU64; 3],
    /// Refusals not yet logged, and the second of the last log line.
    unlogged: AtomicU64,
    logged_at: AtomicU64,
}

impl Overload {
    pub fn new(limits: Settings) -> Overload {
        Overload {
            limits,
            shed: Default::default(),
            unparsed: Default::default(),
            unlogged: AtomicU64::new(0),
            logged_at: AtomicU64::new(0),
        }
    }

    /// Whether a new request is refused; a refusal is counted (and logged, once a second).
    pub fn check(&self, method: &str, waited: Duration, setting_up: Option<usize>) -> bool {
        let Some(why) = decide(&self.limits, waited, setting_up) else {
            return false;
        };
        self.shed[why as usize].fetch_add(1, Ordering::Relaxed);
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.logged_at.load(Ordering::Relaxed);
        if now > last
            && self
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let n = self.unlogged.swap(0, Ordering::Relaxed);
            tracing::warn!(
                "overload: {} new request(s) refused with 503 since the last report \
                 (this {}: {}, waited {} ms, {} call(s) being set up)",
                n,
                method,
                why.as_str(),
                waited.as_millis(),
                setting_up.map_or("-".to_string(), |n| n.to_string())
            );
        }
        true
    }

    /// One datagram dealt with from a glance, without a parse (`server/shed.rs`).
    pub fn note_unparsed(&self, what: Unparsed) {
        self.unparsed[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Datagrams so far dealt with from a glance, as `what`.
    pub fn unparsed(&self, what: Unparsed) -> u64 {
        self.unparsed[what as usize].load(Ordering::Relaxed)
    }

    /// Requests refused so far for `why`.
    pub fn shed(&self, why: Shed) -> u64 {
        self.shed[why as usize].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(delay: u64, setup: usize) -> Settings {
        Settings {
            queue_delay_ms: delay,
            max_setup: setup,
            retry_after: 5,
        }
    }

    #[test]
    fn new_work_is_refused_by_queue_delay_or_calls_being_set_up() {
        let l = limits(200, 3);
        let ms = Duration::from_millis;
        assert_eq!(decide(&l, ms(0), Some(0)), None);
        assert_eq!(decide(&l, ms(200), Some(2)), None);
        assert_eq!(decide(&l, ms(201), None), Some(Shed::QueueDelay));
        assert_eq!(decide(&l, ms(201), Some(0)), Some(Shed::QueueDelay));
        assert_eq!(decide(&l, ms(10), Some(3)), Some(Shed::Setup));
        // a REGISTER is not counted against calls being set up
        assert_eq!(decide(&l, ms(10), None), None);
        // 0 turns a check off
        assert_eq!(decide(&limits(0, 0), ms(60_000), Some(1 << 20)), None);
    }

    #[test]
    fn refusals_are_counted_by_reason() {
        let o = Overload::new(limits(100, 1));
        assert!(!o.check("INVITE", Duration::ZERO, Some(0)));
        assert!(o.check("INVITE", Duration::ZERO, Some(1)));
        assert!(o.check("REGISTER", Duration::from_secs(1), None));
        assert!(o.check("REGISTER", Duration::from_secs(1), None));
        assert_eq!(o.shed(Shed::Setup), 1);
        assert_eq!(o.shed(Shed::QueueDelay), 2);
    }
}

//! One peer's health as a state machine without I/O: given `now`, when the next OPTIONS
//! is due, which probe an answer must match, how many probes went unanswered, and the
//! transitions up and down. The driver (`driver.rs`) sends what `due` asks for and feeds
//! the answers to `answered`.
//!
//! One probe per interval (no retransmission over UDP: a lost OPTIONS is one missed
//! interval). A probe still unanswered when the next is due is a miss; `DOWN_AFTER` misses
//! in a row and the peer is down. Any answer to the outstanding probe (any status, even
//! `404` or `405`) and it is up. Until the first answer or the third miss its state is
//! unknown, which routing treats as up.

use std::time::{Duration, Instant};

/// Unanswered probes in a row that make a peer down.
pub const DOWN_AFTER: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not answered yet, not missed `DOWN_AFTER` times yet (routing treats it as up).
    Unknown,
    Up,
    Down,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// A change of state, for the log and the routing's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Answered for the first time.
    Up,
    /// Answered again after being down for this long.
    UpAfter(Duration),
    /// `DOWN_AFTER` probes unanswered.
    Down,
}

/// The probe sent and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outstanding {
    branch: String,
    sent: Instant,
}

#[derive(Debug, Clone)]
pub struct Peer {
    interval: Duration,
    status: Status,
    /// Probes in a row that were not answered.
    missed: u32,
    outstanding: Option<Outstanding>,
    next: Instant,
    /// Our CSeq number of the last probe.
    cseq: u32,
    rtt: Option<Duration>,
    last_seen: Option<Instant>,
    /// When the status last changed (to say how long a peer was down).
    since: Instant,
}

/// What `due` asks the driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub branch: String,
    pub cseq: u32,
}

impl Peer {
    /// A peer probed every `interval` (at least a second), the first probe at `first`.
    pub fn new(interval: Duration, first: Instant) -> Peer {
        Peer {
            interval: interval.max(Duration::from_secs(1)),
            status: Status::Unknown,
            missed: 0,
            outstanding: None,
            next: first,
            cseq: 0,
            rtt: None,
            last_seen: None,
            since: first,
        }
    }

    /// When `due` must run next.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The last answer's round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// When it last answered.
    pub fn last_seen(&self) -> Option<Instant> {
        self.last_seen
    }

    pub fn missed(&self) -> u32 {
        self.missed
    }

    /// At or after `poll_timeout`: the last probe, unanswered, counts as missed (and may
    /// make the peer down), and a new one is sent with `branch`. Before it: nothing.
    pub fn due(&mut self, now: Instant, branch: String) -> (Option<Send>, Option<Change>) {
        if now < self.next {
            return (None, None);
        }
        let mut change = None;
        if self.outstanding.take().is_some() {
            self.missed = self.missed.saturating_add(1);
            if self.missed >= DOWN_AFTER && self.status != Status::Down {
                self.status = Status::Down;
                self.since = now;
                change = Some(Change::Down);
            }
        }
        self.cseq = self.cseq.wrapping_add(1);
        self.outstanding = Some(Outstanding {
            branch: branch.clone(),
            sent: now,
        });
        // the next deadline keeps its pace even when the driver woke late
        self.next += self.interval;
        if self.next <= now {
            self.next = now + self.interval;
        }
        (
            Some(Send {
                branch,
                cseq: self.cseq,
            }),
            change,
        )
    }

    /// An answer (any status) carrying `branch` in its Via: up, when it answers the
    /// outstanding probe; anything else (an old probe's, a forged one) changes nothing.
    /// The first value: whether it answered the outstanding probe.
    pub fn answered(&mut self, now: Instant, branch: &str) -> (bool, Option<Change>) {
        match &self.outstanding {
            Some(o) if o.branch == branch => {}
            _ => return (false, None),
        }
        let Some(o) = self.outstanding.take() else {
            return (false, None);
        };
        self.rtt = Some(now.saturating_duration_since(o.sent));
        self.last_seen = Some(now);
        self.missed = 0;
        let change = match self.status {
            Status::Up => None,
            Status::Unknown => Some(Change::Up),
            Status::Down => Some(Change::UpAfter(now.saturating_duration_since(self.since))),
        };
        if self.status != Status::Up {
            self.status = Status::Up;
            self.since = now;
        }
        (true, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_secs(10);

    fn at(t0: Instant, secs: f64) -> Instant {
        t0 + Duration::from_secs_f64(secs)
    }

    /// Runs `due` at `now` with a branch named after the time.
    fn tick(p: &mut Peer, now: Instant, name: &str) -> (Option<Send>, Option<Change>) {
        p.due(now, name.to_string())
    }

    #[test]
    fn first_probe_at_start_then_one_per_interval() {
        let t0 = Instant::now();
        let mut p = Peer::new(I, t0);
        assert_eq!(p.poll_timeout(), t0);
        let (send, change) = tick(&mut p, t0, "b0");
        assert_eq!(send.map(|s| (s.branch, s.cseq)), Some(("b0".into(), 1)));
        assert_eq!(change, None);
        assert_eq!(p.poll_timeout(), at(t0, 10.0));
        // not due yet: nothing sent
        assert_eq!(tick(&mut p, at(t0, 9.9), "early"), (None, None));
        let (send, _) = tick(&mut p, at(t0, 10.0), "b1");
        assert_eq!(send.map(|s| s.cseq), Some(2));
        assert_eq!(p.status(), Status::Unknown);
        assert_eq!(p.missed(), 1);
    }

    #[test]
    fn any_answer_to_the_probe_makes_it_up_with_its_round_trip() {
        let t0 = Instant::now();
        let mut p = Peer::new(I, t0);
        tick(&mut p, t0, "b0");
        assert_eq!(p.answered(at(t0, 0.025), "b0"), (true, Some(Change::Up)));
        assert_eq!(p.status(), Status::Up);
        assert_eq!(p.rtt(), Some(Duration::from_millis(25)));
        assert_eq!(p.last_seen(), Some(at(t0, 0.025)));
        // a second answer to the same probe (a retransmitted response) changes nothing
        assert_eq!(p.answered(at(t0, 0.5), "b0"), (false, None));
        assert_eq!(p.rtt(), Some(Duration::from_millis(25)));
    }

    #[test]
    fn three_unanswered_intervals_make_it_down_and_the_next_answer_up() {
        let t0 = Instant::now();
        let mut p = Peer::new(I, t0);
        tick(&mut p, t0, "b0");
        p.answered(at(t0, 0.01), "b0");
        // from t=10 on the peer is silent
        assert_eq!(tick(&mut p, at(t0, 10.0), "b1").1, None);
        assert_eq!(tick(&mut p, at(t0, 20.0), "b2").1, None);
        assert_eq!(p.status(), Status::Up);
        assert_eq!(tick(&mut p, at(t0, 30.0), "b3").1, None);
        assert_eq!(p.missed(), 2);
        // the third probe (sent at 30) unanswered when the fourth is due: down
        let (send, change) = tick(&mut p, at(t0, 40.0), "b4");
        assert_eq!(change, Some(Change::Down));
        assert!(send.is_some(), "a down peer is still probed");
        assert_eq!(p.status(), Status::Down);
        // staying down says nothing more
        assert_eq!(tick(&mut p, at(t0, 50.0), "b5").1, None);
        assert_eq!(p.missed(), 4);
        // the next answer: up, after the time it was down
        assert_eq!(
            p.answered(at(t0, 50.2), "b5"),
            (true, Some(Change::UpAfter(Duration::from_secs_f64(10.2))))
        );
        assert_eq!(p.status(), Status::Up);
        assert_eq!(p.missed(), 0);
    }

    #[test]
    fn a_peer_never_answering_goes_from_unknown_to_down() {
        let t0 = Instant::now();
        let mut p = Peer::new(Duration::from_secs(1), t0);
        let mut changes = Vec::new();
        for i in 0..=3 {
            let (_, c) = tick(&mut p, at(t0, i as f64), &format!("b{}", i));
            changes.extend(c);
        }
        assert_eq!(changes, vec![Change::Down]);
        assert_eq!(p.status(), Status::Down);
        assert_eq!(p.rtt(), None);
    }

    #[test]
    fn only_the_outstanding_probe_is_answered() {
        let t0 = Instant::now();
        let mut p = Peer::new(Duration::from_secs(1), t0);
        for i in 0..=3 {
            tick(&mut p, at(t0, i as f64), &format!("b{}", i));
        }
        assert_eq!(p.status(), Status::Down);
        // an answer carrying an old probe's branch, or one never sent: still down
        assert_eq!(p.answered(at(t0, 3.1), "b2"), (false, None));
        assert_eq!(p.answered(at(t0, 3.1), "forged"), (false, None));
        assert_eq!(p.status(), Status::Down);
        assert!(p.answered(at(t0, 3.1), "b3").0);
        assert_eq!(p.status(), Status::Up);
    }

    #[test]
    fn a_late_driver_keeps_the_pace_without_bursts() {
        let t0 = Instant::now();
        let mut p = Peer::new(I, t0);
        tick(&mut p, t0, "b0");
        // woke 25 s late: one probe, the next an interval later (no catching up)
        assert!(tick(&mut p, at(t0, 35.0), "b1").0.is_some());
        assert_eq!(p.poll_timeout(), at(t0, 45.0));
        assert_eq!(tick(&mut p, at(t0, 35.5), "b2"), (None, None));
    }

    #[test]
    fn an_interval_under_a_second_is_a_second() {
        let t0 = Instant::now();
        let mut p = Peer::new(Duration::ZERO, t0);
        tick(&mut p, t0, "b0");
        assert_eq!(p.poll_timeout(), at(t0, 1.0));
    }
}

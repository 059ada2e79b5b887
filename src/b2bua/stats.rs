//! The B2BUA's counters, read by the metrics exporter: calls started, in progress and ended
//! (by direction and disposition), and the setup time of answered calls. Relaxed atomic
//! additions, a few per call: no lock.
//!
//! Labels come from fixed tables (a disposition not in the table counts as `other`), so
//! the exposition cannot grow with what peers send.

use crate::stats::{Histogram, SETUP_BUCKETS};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The `direction` label, as `call::Direction::as_str` and the call record say it.
pub const DIRECTIONS: [&str; 3] = ["inbound", "outbound", "internal"];

/// Every disposition a call record can carry (`record::Disposition::as_str`, with the
/// routing refusals' causes).
pub const DISPOSITIONS: [&str; 31] = [
    "answered",
    "busy",
    "cancelled",
    "no_answer",
    "not_found",
    "rejected",
    "failed",
    "not_registered",
    "unreachable",
    "unsupported",
    "no_common_codec",
    "bad_sdp",
    "no_media_ports",
    "locution_missing",
    "max_duration",
    "media_timeout",
    "peer_vanished",
    "no_ack",
    "session_expired",
    "hung_up",
    "forward_loop",
    "transferred",
    "acl_denied",
    "no_presented_number",
    "no_carrier",
    "cannot_be_billed",
    "max_calls",
    "ip_not_allowed",
    "no_credit",
    "daily_limit",
    "other",
];

fn direction(d: &str) -> usize {
    DIRECTIONS
        .iter()
        .position(|x| *x == d)
        .unwrap_or(DIRECTIONS.len() - 1)
}

fn disposition(d: &str) -> usize {
    DISPOSITIONS
        .iter()
        .position(|x| *x == d)
        .unwrap_or(DISPOSITIONS.len() - 1)
}

pub struct CallStats {
    started: [AtomicU64; 3],
    in_progress: [AtomicI64; 3],
    /// By direction, then disposition.
    ended: [[AtomicU64; DISPOSITIONS.len()]; 3],
    /// INVITE (the call set up) to the callee's answer.
    pub setup_seconds: Histogram,
}

impl Default for CallStats {
    fn default() -> Self {
        CallStats {
            started: Default::default(),
            in_progress: Default::default(),
            ended: Default::default(),
            setup_seconds: Histogram::new(SETUP_BUCKETS),
        }
    }
}

impl CallStats {
    /// A call that will have a record: set up (`in_call`: in progress until `ended`), or
    /// refused before any branch.
    pub fn started(&self, dir: &str, in_call: bool) {
        let d = direction(dir);
        self.started[d].fetch_add(1, Ordering::Relaxed);
        if in_call {
            self.in_progress[d].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A call set up with `started(_, true)` ended.
    pub fn left(&self, dir: &str) {
        self.in_progress[direction(dir)].fetch_sub(1, Ordering::Relaxed);
    }

    /// A call record was made (queued to the store).
    pub fn recorded(&self, dir: &str, disp: &str) {
        self.ended[direction(dir)][disposition(disp)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn answered_after(&self, setup: Duration) {
        self.setup_seconds.observe(setup);
    }

    /// (direction, calls started, calls in progress).
    pub fn by_direction(&self) -> Vec<(&'static str, u64, i64)> {
        DIRECTIONS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    *d,
                    self.started[i].load(Ordering::Relaxed),
                    self.in_progress[i].load(Ordering::Relaxed).max(0),
                )
            })
            .collect()
    }

    /// (direction, disposition, calls ended) for every pair seen at least once.
    pub fn ended(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (i, d) in DIRECTIONS.iter().enumerate() {
            for (j, disp) in DISPOSITIONS.iter().enumerate() {
                let n = self.ended[i][j].load(Ordering::Relaxed);
                if n > 0 {
                    out.push((*d, *disp, n));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::Direction;
    use super::super::record::Disposition;
    use super::*;
    use crate::routing::Refusal;

    /// Every word a record can carry has its own label (not `other`).
    #[test]
    fn every_disposition_and_direction_is_a_label() {
        use Disposition::*;
        let all = [
            Answered,
            Busy,
            Cancelled,
            NoAnswer,
            NotFound,
            Rejected,
            Failed,
            NotRegistered,
            Unreachable,
            Unsupported,
            NoCommonCodec,
            BadSdp,
            NoMediaPorts,
            LocutionMissing,
            MaxDuration,
            MediaTimeout,
            PeerVanished,
            NoAck,
            SessionExpired,
            HungUp,
            ForwardLoop,
            Transferred,
            Refused(Refusal::NotFound),
            Refused(Refusal::AclDenied),
            Refused(Refusal::NoPresentedNumber),
            Refused(Refusal::NoCarrier),
            Refused(Refusal::CannotBeBilled),
        ];
        for d in all {
            assert_ne!(disposition(d.as_str()), DISPOSITIONS.len() - 1, "{:?}", d);
        }
        for d in [Direction::Inbound, Direction::Outbound, Direction::Internal] {
            assert_eq!(DIRECTIONS[direction(d.as_str())], d.as_str());
        }
        let s = CallStats::default();
        s.started("internal", true);
        s.recorded("internal", "answered");
        s.recorded("internal", "made_up");
        s.left("internal");
        assert_eq!(
            s.ended(),
            vec![("internal", "answered", 1), ("internal", "other", 1)]
        );
        assert!(s.by_direction().contains(&("internal", 1, 0)));
    }
}

//! The registrar's counters, read by the metrics exporter: REGISTERs answered 200, and
//! those refused by cause. Relaxed atomic additions: no lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a REGISTER was not answered 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No credentials yet: the first 401 of every registration (not a failure).
    Challenge,
    /// Wrong or unknown credentials, or a nonce count replayed: 401 again.
    AuthFailed,
    /// The right credentials with a nonce no longer ours: 401 `stale=true`.
    StaleNonce,
    /// Authenticated as another user than the To: 403.
    Forbidden,
    /// A malformed REGISTER or credential: 400.
    BadRequest,
    /// An expiry below `min_expires`: 423.
    IntervalTooBrief,
    /// Older than the binding it would change (RFC 3261 §10.3 steps 6-7): 500.
    OutOfOrder,
    /// The store's queue was full: 503.
    StoreBusy,
    /// The store's commit failed: 500.
    StoreFailed,
    /// Too many REGISTERs in progress (`[sip] max_transactions`): 503.
    Overloaded,
}

impl Refused {
    pub const ALL: [Refused; 10] = [
        Refused::Challenge,
        Refused::AuthFailed,
        Refused::StaleNonce,
        Refused::Forbidden,
        Refused::BadRequest,
        Refused::IntervalTooBrief,
        Refused::OutOfOrder,
        Refused::StoreBusy,
        Refused::StoreFailed,
        Refused::Overloaded,
    ];

    /// The `cause` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Challenge => "challenge",
            Refused::AuthFailed => "auth_failed",
            Refused::StaleNonce => "stale_nonce",
            Refused::Forbidden => "forbidden",
            Refused::BadRequest => "bad_request",
            Refused::IntervalTooBrief => "interval_too_brief",
            Refused::OutOfOrder => "out_of_order",
            Refused::StoreBusy => "store_busy",
            Refused::StoreFailed => "store_failed",
            Refused::Overloaded => "overloaded",
        }
    }
}

#[derive(Default)]
pub struct RegistrarStats {
    accepted: AtomicU64,
    refused: [AtomicU64; Refused::ALL.len()],
}

impl RegistrarStats {
    /// A REGISTER answered 200 (bindings changed and durable, or a query).
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, why: Refused) {
        let i = Refused::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn accepted_total(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// (cause, REGISTERs refused for it), every cause.
    pub fn refused_totals(&self) -> Vec<(&'static str, u64)> {
        Refused::ALL
            .iter()
            .zip(&self.refused)
            .map(|(r, n)| (r.as_str(), n.load(Ordering::Relaxed)))
            .collect()
    }
}

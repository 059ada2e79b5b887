//! `[calls]`: the B2BUA's limits and timers.

use serde::Deserialize;

/// The B2BUA's timers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Calls {
    /// Seconds a call may ring unanswered before the caller gets `480`.
    pub no_answer_timeout: u64,
    /// Seconds an answered call may last before both legs get BYE (a backstop for a
    /// vanished peer; the media timeout is the finer one).
    pub max_duration: u64,
    /// Calls being set up or in progress at once; more are refused with `503`.
    pub max_calls: usize,
    /// Seconds the calls in progress may go on after SIGTERM or ctrl-c (new calls are
    /// refused with `503` meanwhile); then both sides of each get BYE and the server exits.
    pub shutdown_grace: u64,
    /// Forwards one call may take (a user's forward to another user who forwards …); one
    /// more, or a forward back to a party the call already passed, ends it with `482`.
    pub max_forwards: u32,
    /// Session timers (RFC 4028): the interval in seconds vozbox asks for on its outbound
    /// INVITEs and grants at most to callers; each leg is refreshed (or must be) within it.
    pub session_expires: u32,
    /// The smallest session interval accepted; a caller asking less gets `422` with
    /// `Min-SE`. RFC 4028's floor is 90 s (the default); less is for tests.
    pub min_se: u32,
    /// Seconds a carrier's branch waits for its first response (Timer B, at most 32)
    /// before the call moves on to its next carrier (`[[outgoing_route]]`).
    pub carrier_timeout: u64,
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            no_answer_timeout: 60,
            max_duration: 14_400,
            max_calls: 100_000,
            shutdown_grace: 30,
            max_forwards: 5,
            session_expires: 1800,
            min_se: 90,
            carrier_timeout: 32,
        }
    }
}

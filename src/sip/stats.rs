//! The SIP stack's own counters, read by the metrics exporter (the stack imports nothing
//! else of the crate, so it owns them): requests received by method, responses sent by
//! status code, TLS handshakes by direction and outcome. Relaxed atomic additions, one per
//! message: no lock.
//!
//! Labels come from fixed tables, never from what a peer sent: an unknown method counts
//! as `other`, so a flood of invented methods cannot grow the exposition.

use std::sync::atomic::{AtomicU64, Ordering};

/// The methods counted by name; any other is `other`.
pub const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

/// Status codes 100 to 699, each its own counter.
const CODES: std::ops::RangeInclusive<u16> = 100..=699;

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Ok,
    Failed,
    TimedOut,
}

impl Handshake {
    pub const ALL: [Handshake; 3] = [Handshake::Ok, Handshake::Failed, Handshake::TimedOut];

    pub fn as_str(self) -> &'static str {
        match self {
            Handshake::Ok => "ok",
            Handshake::Failed => "failed",
            Handshake::TimedOut => "timeout",
        }
    }
}

pub struct SipStats {
    /// By `METHODS` index; the last one is `other`.
    requests: [AtomicU64; METHODS.len() + 1],
    /// By status code - 100.
    responses: Box<[AtomicU64]>,
    /// [inbound, outbound] × `Handshake` order.
    tls: [[AtomicU64; 3]; 2],
}

impl Default for SipStats {
    fn default() -> Self {
        SipStats {
            requests: Default::default(),
            responses: CODES.map(|_| AtomicU64::new(0)).collect(),
            tls: Default::default(),
        }
    }
}

impl SipStats {
    /// A request received (parsed), whatever became of it.
    pub fn request(&self, method: &str) {
        let i = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len());
        self.requests[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A response sent, given as the bytes that went out ("SIP/2.0 NNN …").
    pub fn response_sent(&self, bytes: &[u8]) {
        let code = bytes
            .get(8..11)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse::<u16>().ok());
        if let Some(i) = code.and_then(|c| c.checked_sub(*CODES.start())) {
            if let Some(n) = self.responses.get(usize::from(i)) {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A TLS handshake that ended: on a connection accepted (`inbound`) or opened by us.
    pub fn handshake(&self, inbound: bool, how: Handshake) {
        let i = Handshake::ALL.iter().position(|h| *h == how).unwrap_or(0);
        self.tls[usize::from(!inbound)][i].fetch_add(1, Ordering::Relaxed);
    }

    /// (method, requests received), every method of `METHODS` and `other`.
    pub fn requests(&self) -> Vec<(&'static str, u64)> {
        METHODS
            .iter()
            .copied()
            .chain(std::iter::once("other"))
            .zip(self.requests.iter().map(|n| n.load(Ordering::Relaxed)))
            .collect()
    }

    /// (status code, responses sent) for every code sent at least once.
    pub fn responses(&self) -> Vec<(u16, u64)> {
        CODES
            .zip(self.responses.iter().map(|n| n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// (direction, outcome, handshakes).
    pub fn handshakes(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (d, dir) in ["inbound", "outbound"].iter().enumerate() {
            for (i, h) in Handshake::ALL.iter().enumerate() {
                out.push((*dir, h.as_str(), self.tls[d][i].load(Ordering::Relaxed)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_fixed_labels_only() {
        let s = SipStats::default();
        s.request("REGISTER");
        s.request("INVITE");
        s.request("BOGUS-METHOD");
        s.response_sent(b"SIP/2.0 401 Unauthorized\r\n");
        s.response_sent(b"SIP/2.0 200 OK\r\n");
        s.response_sent(b"SIP/2.0 200 OK\r\n");
        s.response_sent(b"SIP/2.0 99 Nonsense\r\n");
        s.response_sent(b"SIP/2.0 7");
        s.handshake(true, Handshake::Failed);
        let r = s.requests();
        assert!(r.contains(&("REGISTER", 1)) && r.contains(&("other", 1)));
        assert_eq!(s.responses(), vec![(200, 2), (401, 1)]);
        assert!(s.handshakes().contains(&("inbound", "failed", 1)));
    }
}

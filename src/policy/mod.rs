//! The client policies that protect an operator (the seed's Virtual PBX settings): max
//! calls, the IP and GeoIP filter, rating and priced records, the daily usage limit and
//! prepaid balances. Every decision is a pure function over counters and the model, unit
//! tested here; the B2BUA's admission (`b2bua/admit.rs`) and the registrar ask them, the
//! driver keeps the counters.
//!
//! - `calls.rs`: external calls in progress per brand and client, and the permit a call
//!   holds while it runs.
//! - `stats.rs`: requests and calls refused by each policy (`GET /metrics`).

pub mod calls;
pub mod stats;

/// Why a policy refused a request or ended a call: the word in the call record, the log and
/// the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Block {
    /// The brand's or client's max calls.
    MaxCalls,
    /// The source address is outside the client's IP / GeoIP filter.
    IpNotAllowed,
    /// A prepaid client's balance is spent.
    NoCredit,
    /// The client's max daily usage is reached.
    DailyLimit,
}

impl Block {
    pub const ALL: [Block; 4] = [
        Block::MaxCalls,
        Block::IpNotAllowed,
        Block::NoCredit,
        Block::DailyLimit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Block::MaxCalls => "max_calls",
            Block::IpNotAllowed => "ip_not_allowed",
            Block::NoCredit => "no_credit",
            Block::DailyLimit => "daily_limit",
        }
    }
}

/// The policies' live state, shared by the registrar, the B2BUA and the admin API.
#[derive(Default)]
pub struct Policy {
    pub calls: calls::Counters,
    pub stats: stats::PolicyStats,
}

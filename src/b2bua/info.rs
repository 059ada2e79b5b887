//! What a call record will say of a call (`Info`), which way it goes, and how it is
//! priced: plain data the call core carries.

use std::sync::Arc;

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// From a carrier or DDI provider to a client.
    Inbound,
    /// From a user or friend to a carrier.
    Outbound,
    /// Between users, friends and clients of the platform.
    #[default]
    Internal,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }
}

/// How an external call of a client that bills is priced (`policy::rating`).
#[derive(Debug, Clone)]
pub struct Billing {
    /// The rates of the client's active profile for the number, with its time zone.
    pub tariff: crate::policy::rating::Tariff,
    /// The rate in force when the call was set up (the one used if no rate is in force at
    /// the answer: a band gap).
    pub at_setup: crate::policy::rating::Price,
    pub currency: String,
    /// What the call may spend (a prepaid balance, what is left of the daily usage) and
    /// which limit that is; its duration is capped by what that pays at its rate.
    pub budget: Option<(crate::policy::money::Money, crate::policy::Block)>,
    /// The client's account is debited (prepaid) or only its daily spend counted.
    pub prepaid: bool,
    /// The client's provisioned balance (for an account not kept yet).
    pub provisioned: String,
}

/// What the call record will say.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub client: String,
    pub caller: String,
    pub callee: String,
    pub direction: Direction,
    pub route: String,
    pub start: u64,
    pub answer: Option<u64>,
    pub end: Option<u64>,
    pub disposition: String,
    pub code: u16,
    /// Milliseconds since the epoch at the answer (the duration billed is counted from it).
    pub answered_ms: Option<u64>,
    /// An external call that is billed; its rate at the answer.
    pub billing: Option<Arc<Billing>>,
    pub rate: Option<crate::policy::rating::Price>,
    /// The users (`client/name`) this call counts against for their own `max_calls`: its
    /// calling user and the user it rings (counted from entry to end).
    pub lines: Vec<String>,
    /// What of the call may be recorded.
    pub record: Record,
    /// The party that transferred it (`user:alice`): the call before the transfer, or
    /// the one that followed it.
    pub transferred_by: Option<String>,
    /// An external call: the carriers its branches went to, in order (the last one
    /// carried it or was the last tried).
    pub carriers: Vec<String>,
}

/// A call's recording: the whole call (its DDI records), on demand by INFO, by a code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub ddi: bool,
    /// `Record: on|off` INFO requests are obeyed (else `403`).
    pub info: bool,
    /// `*` + this code pressed during the call toggles a recording.
    pub code: Option<String>,
}

impl Record {
    /// Whether the call needs a recorder at its answer.
    pub fn any(&self) -> bool {
        self.ddi || self.info
    }
}

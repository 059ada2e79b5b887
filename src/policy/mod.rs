//! The client policies that protect an operator (the seed's Virtual PBX settings): max
//! calls, the IP and GeoIP filter, rating and priced records, the daily usage limit and
//! prepaid balances. Every decision is a pure function over counters and the model, unit
//! tested here; the B2BUA's admission (`b2bua/admit.rs`) and the registrar ask them, the
//! driver keeps the counters.
//!
//! - `calls.rs`: external calls in progress per brand and client, and the permit a call
//!   holds while it runs.
//! - `ipfilter.rs`: the client's filter by IP address and country (pure);
//!   `geoip.rs`: the country of an address from a MaxMind database.
//! - `rating.rs`: the active rating profile, the rate of a number at a moment (longest
//!   prefix, time bands), the exact price of a call (`money.rs`: ten-thousandths, no
//!   float; `clock.rs`: a client's local time).
//! - `credit.rs`: prepaid balances and the max daily usage — accounts, charges, what a
//!   call may spend, and the ledger that keeps them in memory.
//! - `usage.rs`: what `vozbox usage` and `GET /api/usage` show of a client.
//! - `stats.rs`: requests and calls refused by each policy (`GET /metrics`).

pub mod calls;
pub mod clock;
pub mod credit;
pub mod geoip;
pub mod ipfilter;
pub mod money;
pub mod rating;
pub mod stats;
pub mod usage;

use crate::model::Client;
use std::net::IpAddr;

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
    /// `[policy] geoip_database`, opened at start.
    pub geoip: Option<geoip::GeoIp>,
    /// Every client's balance and today's spend.
    pub ledger: credit::Ledger,
    /// `[smtp]`, when a server is set: the max daily usage e-mail goes out.
    pub mail: Option<crate::config::Smtp>,
}

impl Policy {
    pub fn new(geoip: Option<geoip::GeoIp>, smtp: &crate::config::Smtp) -> Policy {
        Policy {
            geoip,
            mail: (!smtp.server.is_empty()).then(|| smtp.clone()),
            ..Default::default()
        }
    }

    /// The country of `ip` when `client`'s filter lists countries and a database is open.
    pub fn country_for(&self, client: &Client, ip: IpAddr) -> Option<String> {
        if !ipfilter::wants_country(client) {
            return None;
        }
        self.geoip
            .as_ref()
            .and_then(|g| g.country(ipfilter::canonical(ip)))
    }

    /// The IP filter of `client` for a `method` request from `ip` (not a new INVITE: the
    /// call admission decides those): whether it passes; a refusal is logged with the
    /// address and counted.
    pub fn screen(&self, client: &Client, ip: IpAddr, method: &str) -> bool {
        if !client.ip_filter {
            return true;
        }
        let country = self.country_for(client, ip);
        if ipfilter::allows(client, ip, country.as_deref()) {
            return true;
        }
        self.refused_ip(client, ip, country.as_deref(), method);
        false
    }

    /// The usage of `client` now (`snap`: for its brand's limit and time zone).
    pub fn usage(&self, snap: &crate::model::Snapshot, client: &Client, now: u64) -> usage::Usage {
        let today = clock::local(now, &snap.timezone(&client.name)).day;
        let account = self.ledger.account(&client.name, &client.balance);
        let brand_max = snap
            .model
            .brands
            .iter()
            .find(|b| b.name == client.brand)
            .map(|b| b.max_calls)
            .unwrap_or(0);
        let calls = usage::InProgress {
            client: self.calls.client(&client.name),
            brand: self.calls.brand(&client.brand),
            brand_max,
        };
        usage::of(client, &account, calls, &today)
    }

    /// Logs and counts a request of `client` refused by its IP filter.
    pub fn refused_ip(&self, client: &Client, ip: IpAddr, country: Option<&str>, method: &str) {
        tracing::info!(
            "{} from {} ({}) refused: not an authorized source of client {}",
            method,
            ip,
            country.unwrap_or("no country"),
            client.name
        );
        self.stats.refused(Block::IpNotAllowed, method);
    }
}

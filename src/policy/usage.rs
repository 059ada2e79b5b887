//! What `vozbox usage` and `GET /api/usage` show of a client: its external calls in
//! progress against max calls (its own and its brand's), today's spend against its max
//! daily usage, its balance, and whether it is blocked and why.

use super::credit::{self, Account};
use super::money::Money;
use super::Block;
use crate::model::{BillingMethod, Client};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub client: String,
    pub brand: String,
    /// External calls in progress, and the client's max calls (0: unlimited).
    pub calls: u32,
    pub max_calls: u32,
    pub brand_calls: u32,
    pub brand_max_calls: u32,
    pub billing_method: BillingMethod,
    pub currency: String,
    /// The client's local day "today" is, and what its priced calls cost that day.
    pub today: String,
    pub spent_today: String,
    pub max_daily_usage: Option<String>,
    /// The live balance (debited by each call of a prepaid client).
    pub balance: String,
    /// Why a new external call would be refused now: `max_calls`, `no_credit`,
    /// `daily_limit` (None: it would not).
    pub blocked: Option<String>,
}

/// The calls in progress of a client and of its brand, with the brand's max calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProgress {
    pub client: u32,
    pub brand: u32,
    pub brand_max: u32,
}

/// The usage of `client` with account `acct` on local day `today`.
pub fn of(client: &Client, acct: &Account, calls: InProgress, today: &str) -> Usage {
    let full = |n: u32, max: u32| !super::calls::admits(n, max);
    let blocked = credit::blocked(client, acct, today)
        .or_else(|| {
            (full(calls.brand, calls.brand_max) || full(calls.client, client.max_calls))
                .then_some(Block::MaxCalls)
        })
        .map(|b| b.as_str().to_string());
    Usage {
        client: client.name.clone(),
        brand: client.brand.clone(),
        calls: calls.client,
        max_calls: client.max_calls,
        brand_calls: calls.brand,
        brand_max_calls: calls.brand_max,
        billing_method: client.billing_method,
        currency: client.currency.clone(),
        today: today.to_string(),
        spent_today: acct.spent_on(today).to_string(),
        max_daily_usage: credit::daily_limit(client).map(|m| m.to_string()),
        balance: Money(acct.balance).to_string(),
        blocked,
    }
}

/// Every client's usage from the model and the accounts kept (no server: no call in
/// progress), at `now`.
pub fn offline(
    model: &crate::model::Model,
    accounts: Vec<(String, Account)>,
    now: u64,
) -> Vec<Usage> {
    let kept: std::collections::HashMap<String, Account> = accounts.into_iter().collect();
    model
        .clients
        .iter()
        .map(|c| {
            let tz = super::clock::zone(&c.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
            let today = super::clock::local(now, &tz).day;
            let acct = kept
                .get(&c.name)
                .cloned()
                .unwrap_or_else(|| Account::opening(&c.balance))
                .reprovisioned(&c.balance);
            let brand_max = model
                .brands
                .iter()
                .find(|b| b.name == c.brand)
                .map(|b| b.max_calls)
                .unwrap_or(0);
            let calls = InProgress {
                brand_max,
                ..Default::default()
            };
            of(c, &acct, calls, &today)
        })
        .collect()
}

/// The usages as the CLI prints them.
pub fn table(list: &[Usage]) -> String {
    let mut out = format!(
        "{:<16} {:<9} {:>11} {:>11} {:>24} {:>16}  {}\n",
        "CLIENT", "BILLING", "CALLS", "BRAND", "TODAY (SPENT/LIMIT)", "BALANCE", "BLOCKED"
    );
    let limit = |n: u32, max: u32| {
        if max == 0 {
            format!("{}/-", n)
        } else {
            format!("{}/{}", n, max)
        }
    };
    for u in list {
        let method = match u.billing_method {
            BillingMethod::None => "none",
            BillingMethod::Postpaid => "postpaid",
            BillingMethod::Prepaid => "prepaid",
        };
        let today = format!(
            "{}/{} {}",
            u.spent_today,
            u.max_daily_usage.as_deref().unwrap_or("-"),
            u.currency
        );
        out.push_str(&format!(
            "{:<16} {:<9} {:>11} {:>11} {:>24} {:>16}  {}\n",
            u.client,
            method,
            limit(u.calls, u.max_calls),
            limit(u.brand_calls, u.brand_max_calls),
            today,
            format!("{} {}", u.balance, u.currency),
            u.blocked.as_deref().unwrap_or("no")
        ));
    }
    out.push_str(&format!("{} client(s)\n", list.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_and_why() {
        let mut c = crate::policy::ipfilter::tests_client();
        c.billing_method = BillingMethod::Prepaid;
        c.max_calls = 2;
        c.max_daily_usage = Some("5".into());
        let acct = |balance: i64, spent: i64| Account {
            balance,
            day: "2026-01-01".into(),
            spent,
            ..Default::default()
        };
        let calls = |n| InProgress {
            client: n,
            brand: n,
            brand_max: 0,
        };
        let u = of(&c, &acct(10_000, 20_000), calls(1), "2026-01-01");
        assert_eq!(u.blocked, None);
        assert_eq!(
            (u.balance.as_str(), u.spent_today.as_str()),
            ("1.0000", "2.0000")
        );
        assert_eq!(u.max_daily_usage.as_deref(), Some("5.0000"));
        assert_eq!(
            of(&c, &acct(0, 0), calls(0), "2026-01-01")
                .blocked
                .as_deref(),
            Some("no_credit")
        );
        assert_eq!(
            of(&c, &acct(1, 50_000), calls(0), "2026-01-01")
                .blocked
                .as_deref(),
            Some("daily_limit")
        );
        // yesterday's spend is not today's
        assert_eq!(
            of(&c, &acct(1, 50_000), calls(0), "2026-01-02").blocked,
            None
        );
        assert_eq!(
            of(&c, &acct(1, 0), calls(2), "2026-01-01")
                .blocked
                .as_deref(),
            Some("max_calls")
        );
        let t = table(&[u]);
        assert!(
            t.contains("1/2") && t.contains("2.0000/5.0000 EUR") && t.contains("1.0000 EUR"),
            "{}",
            t
        );
    }
}

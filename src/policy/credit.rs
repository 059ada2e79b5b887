//! What a client may still spend: a prepaid client's balance and a client's max daily
//! usage (today's spend, "today" in its time zone). The decisions are pure functions over
//! an account; the `Ledger` keeps every client's account in memory — loaded from the
//! store's accounts table at start, changed by each priced call the moment its record is
//! queued (the store applies the same charge in the record's own transaction), and by a
//! provisioning change of a balance.

use super::money::Money;
use super::Block;
use crate::model::{BillingMethod, Client, Model};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

/// A client's money as the store keeps it (table `accounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The balance as last provisioned (text): a provisioning file that states another one
    /// sets the live balance to it; the same one changes nothing.
    pub provisioned: String,
    /// The live balance, in ten-thousandths.
    pub balance: i64,
    /// The local day `spent` belongs to ("YYYY-MM-DD").
    pub day: String,
    /// The priced calls of `day`, in ten-thousandths.
    pub spent: i64,
    /// The last day the daily-usage e-mail went out for.
    #[serde(default)]
    pub notified: Option<String>,
}

/// One priced call's effect on its client's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub client: String,
    /// Ten-thousandths.
    pub amount: i64,
    /// The local day of the call's start.
    pub day: String,
    /// Whether the balance is debited (a prepaid client).
    pub prepaid: bool,
    /// The client's provisioned balance (the opening balance of an account not yet kept).
    pub provisioned: String,
}

impl Account {
    /// A new account for `client` (its provisioned balance, nothing spent).
    pub fn opening(provisioned: &str) -> Account {
        Account {
            provisioned: provisioned.to_string(),
            balance: Money::parse(provisioned).map(|m| m.0).unwrap_or(0),
            ..Default::default()
        }
    }

    /// The account once the client's balance is provisioned as `provisioned`: set to it
    /// when it differs from the one provisioned before, else kept.
    pub fn reprovisioned(mut self, provisioned: &str) -> Account {
        if self.provisioned != provisioned {
            self.balance = Money::parse(provisioned).map(|m| m.0).unwrap_or(0);
            self.provisioned = provisioned.to_string();
        }
        self
    }

    /// The account after `c`.
    pub fn charged(mut self, c: &Charge) -> Account {
        if self.day != c.day {
            if c.day < self.day {
                // a call of an earlier day (it crossed midnight): today's spend is not its
                if c.prepaid {
                    self.balance = self.balance.saturating_sub(c.amount);
                }
                return self;
            }
            self.day = c.day.clone();
            self.spent = 0;
        }
        self.spent = self.spent.saturating_add(c.amount);
        if c.prepaid {
            self.balance = self.balance.saturating_sub(c.amount);
        }
        self
    }

    /// What was spent on local day `today`.
    pub fn spent_on(&self, today: &str) -> Money {
        Money(if self.day == today { self.spent } else { 0 })
    }
}

/// What a new external call of `client` may spend (`Ok(None)`: no limit), or why it may
/// not be made: a prepaid balance at zero or below, or today's spend at the daily limit.
/// The limit that binds first is named with the amount.
pub fn budget(
    client: &Client,
    acct: &Account,
    today: &str,
) -> Result<Option<(Money, Block)>, Block> {
    if client.billing_method == BillingMethod::None {
        return Ok(None);
    }
    let mut budget: Option<(Money, Block)> = None;
    if client.billing_method == BillingMethod::Prepaid {
        let balance = Money(acct.balance);
        if !balance.is_positive() {
            return Err(Block::NoCredit);
        }
        budget = Some((balance, Block::NoCredit));
    }
    if let Some(limit) = daily_limit(client) {
        let left = limit.saturating_sub(acct.spent_on(today));
        if !left.is_positive() {
            return Err(Block::DailyLimit);
        }
        if budget.is_none_or(|(b, _)| left < b) {
            budget = Some((left, Block::DailyLimit));
        }
    }
    Ok(budget)
}

/// The client's max daily usage, if it has one.
pub fn daily_limit(client: &Client) -> Option<Money> {
    client
        .max_daily_usage
        .as_deref()
        .and_then(|l| Money::parse(l).ok())
}

/// Why `client` is blocked now, if it is (the same rule as [`budget`]).
pub fn blocked(client: &Client, acct: &Account, today: &str) -> Option<Block> {
    budget(client, acct, today).err()
}

/// Every client's account, in memory.
#[derive(Default, Debug)]
pub struct Ledger {
    accounts: DashMap<String, Account>,
}

impl Ledger {
    /// The accounts the store keeps, with an opening account for each client of `model`
    /// that has none yet, each as `model` provisions its balance.
    pub fn load(&self, kept: Vec<(String, Account)>, model: &Model) {
        self.accounts.clear();
        for (k, a) in kept {
            self.accounts.insert(k, a);
        }
        self.provisioned(model);
    }

    /// A provisioning change: each client's balance set to the provisioned one where that
    /// changed (the store does the same in the model's transaction).
    pub fn provisioned(&self, model: &Model) {
        for c in &model.clients {
            // in place, under the entry's lock: a charge made meanwhile is not lost
            let mut a = self
                .accounts
                .entry(c.name.clone())
                .or_insert_with(|| Account::opening(&c.balance));
            let next = a.clone().reprovisioned(&c.balance);
            *a = next;
        }
    }

    /// The account of `client` (an opening one with `provisioned` if none is kept).
    pub fn account(&self, client: &str, provisioned: &str) -> Account {
        self.accounts
            .get(client)
            .map(|a| a.clone())
            .unwrap_or_else(|| Account::opening(provisioned))
    }

    /// Applies a priced call; the account after it.
    pub fn charge(&self, c: &Charge) -> Account {
        let mut entry = self
            .accounts
            .entry(c.client.clone())
            .or_insert_with(|| Account::opening(&c.provisioned));
        let after = entry.clone().charged(c);
        *entry = after.clone();
        after
    }

    /// Marks the daily-usage e-mail of `client` as sent for `day`; false when it was
    /// already (one a day).
    pub fn notify_once(&self, client: &str, day: &str) -> bool {
        match self.accounts.get_mut(client) {
            Some(mut a) if a.notified.as_deref() != Some(day) => {
                a.notified = Some(day.to_string());
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(method: BillingMethod, limit: Option<&str>) -> Client {
        let mut c = crate::policy::ipfilter::tests_client();
        c.billing_method = method;
        c.max_daily_usage = limit.map(str::to_string);
        c
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn acct(balance: &str, day: &str, spent: &str) -> Account {
        Account {
            provisioned: balance.into(),
            balance: m(balance).0,
            day: day.into(),
            spent: m(spent).0,
            notified: None,
        }
    }

    #[test]
    fn prepaid_needs_a_balance_above_zero_and_spends_at_most_it() {
        let c = client(BillingMethod::Prepaid, None);
        assert_eq!(
            budget(&c, &acct("0", "", "0"), "2026-01-01"),
            Err(Block::NoCredit)
        );
        assert_eq!(
            budget(&c, &acct("-0.01", "", "0"), "2026-01-01"),
            Err(Block::NoCredit)
        );
        assert_eq!(
            budget(&c, &acct("2.50", "", "0"), "2026-01-01"),
            Ok(Some((m("2.50"), Block::NoCredit)))
        );
        let none = client(BillingMethod::None, Some("1"));
        assert_eq!(budget(&none, &acct("0", "", "0"), "d"), Ok(None));
    }

    #[test]
    fn the_daily_limit_counts_today_only_and_the_smaller_budget_binds() {
        let c = client(BillingMethod::Postpaid, Some("5.00"));
        let today = "2026-01-02";
        assert_eq!(
            budget(&c, &acct("0", today, "4.00"), today),
            Ok(Some((m("1.00"), Block::DailyLimit)))
        );
        assert_eq!(
            budget(&c, &acct("0", today, "5.00"), today),
            Err(Block::DailyLimit)
        );
        // yesterday's spend does not count
        assert_eq!(
            budget(&c, &acct("0", "2026-01-01", "9.00"), today),
            Ok(Some((m("5.00"), Block::DailyLimit)))
        );
        let p = client(BillingMethod::Prepaid, Some("5.00"));
        assert_eq!(
            budget(&p, &acct("0.40", today, "1.00"), today),
            Ok(Some((m("0.40"), Block::NoCredit)))
        );
        assert_eq!(
            blocked(&c, &acct("0", today, "6"), today),
            Some(Block::DailyLimit)
        );
    }

    #[test]
    fn charges_and_provisioning() {
        let a = Account::opening("10.00");
        let charge = |amount: &str, day: &str, prepaid| Charge {
            client: "c".into(),
            amount: m(amount).0,
            day: day.into(),
            prepaid,
            provisioned: "10.00".into(),
        };
        let a = a.charged(&charge("1.25", "2026-01-01", true));
        assert_eq!((a.balance, a.spent), (m("8.75").0, m("1.25").0));
        let a = a.charged(&charge("0.75", "2026-01-02", true));
        assert_eq!(
            (a.balance, a.spent, a.day.as_str()),
            (m("8.00").0, m("0.75").0, "2026-01-02")
        );
        // a late call of the day before: the balance, not today's spend
        let a = a.charged(&charge("1", "2026-01-01", true));
        assert_eq!((a.balance, a.spent), (m("7.00").0, m("0.75").0));
        // the same provisioned balance again changes nothing; another one sets it
        let a = a.reprovisioned("10.00");
        assert_eq!(a.balance, m("7.00").0);
        let a = a.reprovisioned("20");
        assert_eq!((a.balance, a.provisioned.as_str()), (m("20").0, "20"));
        // postpaid: spend counted, balance untouched
        let a = a.charged(&charge("3", "2026-01-02", false));
        assert_eq!((a.balance, a.spent), (m("20").0, m("3.75").0));
    }

    #[test]
    fn one_notification_a_day() {
        let l = Ledger::default();
        l.charge(&Charge {
            client: "c".into(),
            amount: 1,
            day: "d1".into(),
            prepaid: false,
            provisioned: "0".into(),
        });
        assert!(l.notify_once("c", "d1"));
        assert!(!l.notify_once("c", "d1"));
        assert!(l.notify_once("c", "d2"));
    }
}

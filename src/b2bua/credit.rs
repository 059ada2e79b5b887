//! The driver's side of prepaid balances and the max daily usage (`policy::credit`): a
//! priced call's charge (queued with its record: one transaction), the calls of a client
//! whose money is spent ended at once (BYE both legs, the record says why), and a check
//! each second that the calls talking together do not spend more than is left.

use super::call::{Event, Phase};
use super::driver::CallRef;
use super::B2bua;
use crate::model::Cdr;
use crate::policy::credit::{self, Charge};
use crate::policy::money::Money;
use crate::policy::{clock, Block};
use crate::store::writer::Op;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

impl B2bua {
    /// What a finished call with `billing` and record `cdr` changes besides its record
    /// (queued with it: one transaction): the charge of its price, and — the first time a
    /// day its client reaches the max daily usage — the e-mail to `notify_email`. The
    /// ledger is charged at once; a client left blocked has its other calls ended.
    pub(super) fn charge(
        self: &Arc<Self>,
        billing: Option<&super::call::Billing>,
        cdr: &Cdr,
    ) -> Vec<Op> {
        let Some(b) = billing else {
            return Vec::new();
        };
        let Some(amount) = cdr.price.as_deref().and_then(|p| Money::parse(p).ok()) else {
            return Vec::new();
        };
        if !amount.is_positive() {
            return Vec::new();
        }
        let charge = Charge {
            client: cdr.client.clone(),
            amount: amount.0,
            day: clock::local(cdr.start, &b.tariff.tz).day,
            prepaid: b.prepaid,
            provisioned: b.provisioned.clone(),
        };
        let after = self.policy.ledger.charge(&charge);
        let mut ops = vec![Op::Charge(Box::new(charge))];
        let snap = self.snapshot.load();
        let Some(c) = snap.client(&cdr.client) else {
            return ops;
        };
        let today = clock::local(crate::auth::nonce::now_secs(), &b.tariff.tz).day;
        let Some(why) = credit::blocked(c, &after, &today) else {
            return ops;
        };
        // never under this call's lock: the others are ended from a task
        let (me, client) = (self.clone(), c.name.clone());
        self.rt.spawn(async move { me.cut_client(&client, why) });
        let reached = credit::daily_limit(c).is_some_and(|l| after.spent_on(&today) >= l);
        if let (true, Some(to), Some(smtp)) = (reached, &c.notify_email, &self.policy.mail) {
            if self.policy.ledger.notify_once(&c.name, &today) {
                let amount = format!(
                    "{} {}",
                    c.max_daily_usage.as_deref().unwrap_or(""),
                    c.currency
                );
                tracing::info!(
                    "client {} reached its max daily usage ({}): e-mail to {}",
                    c.name,
                    amount,
                    to
                );
                ops.push(Op::Notified {
                    client: c.name.clone(),
                    day: today,
                });
                ops.push(Op::Mail(Box::new(crate::mail::max_daily_usage(
                    smtp, to, &c.name, &amount,
                ))));
            }
        }
        ops
    }

    /// Ends every billed call of `client` in progress (`why`: its balance or daily usage
    /// is spent); how many.
    pub fn cut_client(self: &Arc<Self>, client: &str, why: Block) -> usize {
        let cells: Vec<(String, CallRef)> = self
            .calls
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        let mut n = 0;
        for (id, cell) in cells {
            let live = {
                let slot = cell.lock();
                let c = &slot.call;
                c.a.call_id == id
                    && !c.is_ended()
                    && c.info.client == client
                    && c.info.billing.is_some()
            };
            if live {
                tracing::info!("a call of client {} ended: {}", client, why.as_str());
                self.policy.stats.cut(why);
                self.drive(&cell, |c, now, out| c.handle(now, Event::Cut(why), out));
                n += 1;
            }
        }
        n
    }

    /// Once a second: the answered billed calls of each client together may not cost more
    /// than its balance or what is left of its daily usage; when they do, they all end.
    /// `answered`: the answered calls, each once (`B2bua::answered`).
    pub(super) fn sweep_credit(self: &Arc<Self>, answered: &[CallRef]) {
        let now = Instant::now();
        let mut spending: HashMap<String, Money> = HashMap::new();
        for cell in answered {
            let slot = cell.lock();
            let c = &slot.call;
            let Phase::Answered { at, .. } = c.phase else {
                continue;
            };
            if c.credit.is_none() {
                continue;
            }
            if let Some(rate) = c.info.rate {
                let so_far = rate.of(now.saturating_duration_since(at).as_secs());
                let e = spending.entry(c.info.client.clone()).or_default();
                *e = e.saturating_add(so_far);
            }
        }
        if spending.is_empty() {
            return;
        }
        let snap = self.snapshot.load();
        let secs = crate::auth::nonce::now_secs();
        for (client, spent) in spending {
            let Some(c) = snap.client(&client) else {
                continue;
            };
            let today = clock::local(secs, &snap.timezone(&client)).day;
            let account = self.policy.ledger.account(&c.name, &c.balance);
            let over = match credit::budget(c, &account, &today) {
                Err(why) => Some(why),
                Ok(Some((left, why))) if spent > left => Some(why),
                Ok(_) => None,
            };
            if let Some(why) = over {
                self.cut_client(&client, why);
            }
        }
    }
}

//! Rating (the seed: "no outgoing call will be allowed for this client unless an active
//! rating profile can bill the specific call") and the price of a call.
//!
//! - The **active profile** of a client at a moment is the one with the latest
//!   `active_from` at or before it whose `active_to`, if set, is after it (ties: by name).
//! - Its **rates for a number** are those whose E.164 prefix is the longest one that starts
//!   the number ([`tariff`]); among them, at a moment ([`rate_at`]), a rate with a time band
//!   (weekdays, from, to, in the client's time zone) that contains the moment wins over one
//!   without a band; no applicable rate: the call cannot be billed.
//! - The **price** of a call of `d` seconds ([`Price::of`]):
//!   `connection_fee + ceil(max(d, minimum) / increment) · increment · per_minute / 60`,
//!   in exact ten-thousandths (rounded half up once, at the end); an unanswered call costs
//!   nothing.

use super::clock::{self, minutes, WEEKDAYS};
use super::money::Money;
use crate::model::{Rate, RatingProfile, Snapshot};
use jiff::tz::TimeZone;

/// The amounts of a rate, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub connection_fee: Money,
    pub per_minute: Money,
    /// Seconds, at least 1.
    pub increment: u32,
    pub minimum: u32,
}

/// What a client's active profile offers for one number: its rates with the longest
/// matching prefix, and the client's time zone to read their bands in.
#[derive(Debug, Clone)]
pub struct Tariff {
    pub profile: String,
    pub prefix: String,
    pub rates: Vec<Rate>,
    pub tz: TimeZone,
}

impl Price {
    /// A rate's amounts (None: not decimal amounts of at most 4 places — provisioning
    /// refuses those, so a call that meets one is not billable: fail closed).
    pub fn parse(r: &Rate) -> Option<Price> {
        Some(Price {
            connection_fee: Money::parse(&r.connection_fee).ok()?,
            per_minute: Money::parse(&r.per_minute).ok()?,
            increment: r.increment.max(1),
            minimum: r.minimum,
        })
    }

    /// The seconds billed for a call of `secs` answered seconds.
    pub fn billed(&self, secs: u64) -> u64 {
        let d = secs.max(u64::from(self.minimum));
        let inc = u64::from(self.increment);
        d.div_ceil(inc) * inc
    }

    /// The price of an answered call of `secs` seconds.
    pub fn of(&self, secs: u64) -> Money {
        let units = i128::from(self.billed(secs)) * i128::from(self.per_minute.0);
        // rounded half up to the ten-thousandth (amounts are not negative)
        let per_second = (units * 2 + 60) / 120;
        let v = i128::from(self.connection_fee.0) + per_second;
        Money(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// The longest call that `budget` pays: None when not even a call of no seconds (its
    /// connection fee and minimum) is paid.
    pub fn affordable(&self, budget: Money) -> Option<u64> {
        if self.of(0) > budget {
            return None;
        }
        // price is non-decreasing in the duration: the last duration still paid
        let (mut lo, mut hi) = (0u64, 1u64 << 32);
        if self.of(hi) <= budget {
            return Some(hi);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.of(mid) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

/// The active rating profile among `profiles` at `now`.
pub fn active<'a>(
    profiles: impl Iterator<Item = &'a RatingProfile>,
    now: u64,
) -> Option<&'a RatingProfile> {
    profiles
        .filter(|p| p.active_from <= now && p.active_to.is_none_or(|to| now < to))
        .max_by(|a, b| {
            (a.active_from, std::cmp::Reverse(&a.name))
                .cmp(&(b.active_from, std::cmp::Reverse(&b.name)))
        })
}

/// The rates of `client`'s active profile at `now` for the E.164 `number` (longest
/// prefix); None when there is no active profile or no rate for the number.
pub fn tariff(snap: &Snapshot, client: &str, number: &str, now: u64) -> Option<Tariff> {
    let profile = active(snap.rating_profiles(client), now)?;
    let best = profile
        .rates
        .iter()
        .filter(|r| number.starts_with(&r.prefix))
        .map(|r| r.prefix.len())
        .max()?;
    let rates: Vec<Rate> = profile
        .rates
        .iter()
        .filter(|r| r.prefix.len() == best && number.starts_with(&r.prefix))
        .cloned()
        .collect();
    Some(Tariff {
        profile: profile.name.clone(),
        prefix: rates[0].prefix.clone(),
        rates,
        tz: snap.timezone(client),
    })
}

/// Whether the time band of `r` contains the local moment `l` (a rate without a band
/// contains every moment).
fn in_band(r: &Rate, l: &clock::Local) -> bool {
    let day_ok = r.weekdays.is_empty()
        || r.weekdays
            .iter()
            .any(|d| WEEKDAYS.get(l.weekday as usize) == Some(&d.as_str()));
    let from = r.from.as_deref().and_then(minutes).unwrap_or(0);
    let to = r.to.as_deref().and_then(minutes).unwrap_or(24 * 60);
    let time_ok = if from <= to {
        from <= l.minute && l.minute < to
    } else {
        l.minute >= from || l.minute < to
    };
    day_ok && time_ok
}

/// The rate of `t` in force at `at` (seconds since the epoch), parsed: a banded rate whose
/// band contains the moment, else the rate without a band.
pub fn rate_at(t: &Tariff, at: u64) -> Option<Price> {
    let l = clock::local(at, &t.tz);
    let banded = t.rates.iter().find(|r| r.is_banded() && in_band(r, &l));
    let rate = banded.or_else(|| t.rates.iter().find(|r| !r.is_banded()))?;
    Price::parse(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(prefix: &str, fee: &str, per_minute: &str, increment: u32, minimum: u32) -> Rate {
        Rate {
            prefix: prefix.into(),
            connection_fee: fee.into(),
            per_minute: per_minute.into(),
            increment,
            minimum,
            ..Rate::default()
        }
    }

    fn price(r: &Rate) -> Price {
        Price::parse(r).unwrap()
    }

    #[test]
    fn a_62_second_call_at_increments_of_60_and_1_with_a_fee_and_a_minimum() {
        // 0.0500 + 120 s · 0.0123/60 = 0.0500 + 0.0246
        assert_eq!(
            price(&rate("+34", "0.05", "0.0123", 60, 0))
                .of(62)
                .to_string(),
            "0.0746"
        );
        // 0.0500 + 62 s · 0.0123/60 = 0.0500 + 0.01271 → 0.0627
        assert_eq!(
            price(&rate("+34", "0.05", "0.0123", 1, 0))
                .of(62)
                .to_string(),
            "0.0627"
        );
        // a minimum of 90 s: 90 · 0.0123/60 = 0.01845 → half up 0.0185
        assert_eq!(
            price(&rate("+34", "0.05", "0.0123", 1, 90))
                .of(62)
                .to_string(),
            "0.0685"
        );
        // the minimum rounds up to the increment: 90 → 120 s
        assert_eq!(
            price(&rate("+34", "0", "0.0123", 60, 90))
                .of(62)
                .to_string(),
            "0.0246"
        );
        // past the minimum the duration counts
        assert_eq!(
            price(&rate("+34", "0", "0.60", 1, 30)).of(62).to_string(),
            "0.6200"
        );
        // no seconds and no minimum: the fee alone
        assert_eq!(
            price(&rate("+34", "0.05", "0.0123", 60, 0))
                .of(0)
                .to_string(),
            "0.0500"
        );
    }

    #[test]
    fn what_a_budget_pays() {
        let p = price(&rate("+34", "0.10", "6.00", 1, 0)); // 0.10 a second
        assert_eq!(p.affordable(Money::parse("0.50").unwrap()), Some(4));
        assert_eq!(p.affordable(Money::parse("0.10").unwrap()), Some(0));
        assert_eq!(p.affordable(Money::parse("0.09").unwrap()), None);
        let p = price(&rate("+34", "0", "0.60", 60, 0)); // 0.60 a started minute
        assert_eq!(p.affordable(Money::parse("1.20").unwrap()), Some(120));
        assert_eq!(p.affordable(Money::parse("1.19").unwrap()), Some(60));
        assert_eq!(p.affordable(Money::ZERO), Some(0));
        let free = price(&rate("+34", "0", "0", 60, 0));
        assert_eq!(free.affordable(Money::ZERO), Some(1 << 32));
    }

    fn profile(name: &str, from: u64, to: Option<u64>, rates: Vec<Rate>) -> RatingProfile {
        RatingProfile {
            client: "c".into(),
            name: name.into(),
            active_from: from,
            active_to: to,
            rates,
        }
    }

    #[test]
    fn the_active_profile_is_the_latest_started_one_not_yet_ended() {
        let ps = [
            profile("old", 100, None, vec![]),
            profile("newer", 500, None, vec![]),
            profile("ended", 600, Some(700), vec![]),
            profile("future", 10_000, None, vec![]),
        ];
        let at = |now| active(ps.iter(), now).map(|p| p.name.as_str());
        assert_eq!(at(50), None);
        assert_eq!(at(200), Some("old"));
        assert_eq!(at(550), Some("newer"));
        assert_eq!(at(650), Some("ended"));
        assert_eq!(at(700), Some("newer"));
        assert_eq!(at(20_000), Some("future"));
    }

    fn tariff_of(rates: Vec<Rate>, number: &str, tz: &str) -> Option<Tariff> {
        let best = rates
            .iter()
            .filter(|r| number.starts_with(&r.prefix))
            .map(|r| r.prefix.len())
            .max()?;
        let rates: Vec<Rate> = rates
            .into_iter()
            .filter(|r| r.prefix.len() == best && number.starts_with(&r.prefix))
            .collect();
        Some(Tariff {
            profile: "p".into(),
            prefix: rates[0].prefix.clone(),
            rates,
            tz: clock::zone(tz).unwrap(),
        })
    }

    #[test]
    fn the_longest_prefix_wins_and_a_time_band_switches_the_rate() {
        let mut peak = rate("+346", "0", "0.10", 60, 0);
        peak.weekdays = vec![
            "mon".into(),
            "tue".into(),
            "wed".into(),
            "thu".into(),
            "fri".into(),
        ];
        peak.from = Some("08:00".into());
        peak.to = Some("20:00".into());
        let rates = vec![
            rate("+34", "0", "0.02", 60, 0),
            rate("+346", "0", "0.05", 60, 0),
            peak,
        ];
        // +3460… : the longer prefix, +346
        let t = tariff_of(rates.clone(), "+34600111222", "Europe/Madrid").unwrap();
        assert_eq!(t.prefix, "+346");
        // Monday 2026-03-02 10:00 in Madrid (09:00 UTC): the peak band
        let monday_10 = 1_772_442_000;
        assert_eq!(rate_at(&t, monday_10).unwrap().per_minute, Money(1000));
        // the same Monday 21:00 Madrid: off-peak
        assert_eq!(
            rate_at(&t, monday_10 + 11 * 3600).unwrap().per_minute,
            Money(500)
        );
        // Saturday 10:00: off-peak
        assert_eq!(
            rate_at(&t, monday_10 + 5 * 86_400).unwrap().per_minute,
            Money(500)
        );
        // +3493… : only +34 applies
        let t = tariff_of(rates.clone(), "+34930000000", "UTC").unwrap();
        assert_eq!(rate_at(&t, monday_10).unwrap().per_minute, Money(200));
        assert!(tariff_of(rates, "+44207000000", "UTC").is_none());
    }

    #[test]
    fn a_band_past_midnight_and_only_banded_rates() {
        let mut night = rate("+34", "0", "0.01", 60, 0);
        night.from = Some("22:00".into());
        night.to = Some("06:00".into());
        let t = tariff_of(vec![night], "+34600", "UTC").unwrap();
        let monday = 1_772_409_600; // 2026-03-02T00:00:00Z
        assert!(rate_at(&t, monday + 23 * 3600).is_some());
        assert!(rate_at(&t, monday + 5 * 3600).is_some());
        assert!(rate_at(&t, monday + 12 * 3600).is_none(), "no rate at noon");
    }
}

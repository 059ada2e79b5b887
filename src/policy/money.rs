//! Amounts of money, exact: an integer count of ten-thousandths of the currency unit (4
//! decimal places), never a float. Provisioned as decimal text ("0.0123"); shown the same.

use std::fmt;

/// Ten-thousandths of a currency unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Money(pub i64);

/// Decimal places kept.
pub const PLACES: u32 = 4;
const SCALE: i64 = 10_i64.pow(PLACES);

impl Money {
    pub const ZERO: Money = Money(0);

    /// Parses "12", "12.5", "-0.0123"; more than 4 decimal places is an error (it could not
    /// be kept exactly), and so is anything that is not a plain decimal number.
    pub fn parse(s: &str) -> Result<Money, String> {
        let t = s.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        let plain = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || !plain(int)
            || !plain(frac)
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(format!("{:?} is not a decimal amount like \"10.50\"", s));
        }
        if frac.len() > PLACES as usize {
            return Err(format!("{:?} has more than {} decimal places", s, PLACES));
        }
        let whole: i64 = int
            .parse()
            .ok()
            .filter(|w: &i64| *w <= i64::MAX / SCALE / 1000)
            .ok_or_else(|| format!("{:?} is too large", s))?;
        let mut f: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().unwrap_or(0)
        };
        for _ in frac.len()..PLACES as usize {
            f *= 10;
        }
        let v = whole * SCALE + f;
        Ok(Money(if neg { -v } else { v }))
    }

    pub fn saturating_add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }

    pub fn saturating_sub(self, o: Money) -> Money {
        Money(self.0.saturating_sub(o.0))
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let s = SCALE as u64;
        write!(f, "{}{}.{:04}", sign, a / s, a % s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_four_places_exactly() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(m("0.02"), Money(200));
        assert_eq!(m("12"), Money(120_000));
        assert_eq!(m("-0.0001"), Money(-1));
        assert_eq!(m("0.0123").to_string(), "0.0123");
        assert_eq!(m("-3.5").to_string(), "-3.5000");
        assert_eq!(Money(0).to_string(), "0.0000");
        for bad in [
            "",
            ".5",
            "1.",
            "1.00001",
            "1e3",
            "0x10",
            "1,5",
            "--1",
            "99999999999999999",
        ] {
            assert!(Money::parse(bad).is_err(), "{:?}", bad);
        }
    }
}

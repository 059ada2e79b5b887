//! Local time in a client's time zone: "today" of the daily usage, and the weekday and time
//! of day the rates' time bands are read at. Pure: the zone comes from the snapshot.

use jiff::tz::TimeZone;

/// A moment as a client's wall clock shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub minute: u32,
    /// The local date, "YYYY-MM-DD": the day a daily usage belongs to.
    pub day: String,
}

/// `at` (seconds since the epoch) in `tz`.
pub fn local(at: u64, tz: &TimeZone) -> Local {
    let ts = jiff::Timestamp::from_second(i64::try_from(at).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    let z = tz.to_datetime(ts);
    Local {
        weekday: z.weekday().to_monday_zero_offset() as u8,
        minute: z.hour() as u32 * 60 + z.minute() as u32,
        day: z.date().to_string(),
    }
}

/// The time zone called `name` (IANA, e.g. "Europe/Madrid"), if there is one.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// The weekday names bands are written with, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// "HH:MM" (00:00 to 24:00) as minutes since midnight.
pub fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_day_weekday_and_time_in_a_zone() {
        // 2026-03-02T23:30:00Z is a Monday; in Madrid (UTC+1) it is Tuesday 00:30.
        let at = 1_772_494_200;
        let utc = local(at, &TimeZone::UTC);
        assert_eq!(
            (utc.weekday, utc.minute, utc.day.as_str()),
            (0, 23 * 60 + 30, "2026-03-02")
        );
        let madrid = local(at, &zone("Europe/Madrid").unwrap());
        assert_eq!(
            (madrid.weekday, madrid.minute, madrid.day.as_str()),
            (1, 30, "2026-03-03")
        );
        assert!(zone("Mars/Olympus").is_none());
    }

    #[test]
    fn band_times() {
        assert_eq!(minutes("08:30"), Some(510));
        assert_eq!(minutes("24:00"), Some(1440));
        for bad in ["8:30", "24:01", "12:60", "ab:cd", "1200"] {
            assert_eq!(minutes(bad), None, "{}", bad);
        }
    }
}

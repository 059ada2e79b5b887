//! Text tables the CLI prints (`vozbox cdrs`).

use crate::model::Cdr;

/// Seconds since the epoch as `2026-12-05 10:12:27Z` (UTC: the records are the server's,
/// not one client's).
pub fn utc(secs: u64) -> String {
    // humantime stops at the year 9999: a later one (a damaged record) shows as it is
    if secs >= 253_402_300_800 {
        return secs.to_string();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replacen('T', " ", 1)
}

/// The call records, one a line, with their price and currency.
pub fn cdrs(list: &[Cdr]) -> String {
    let mut out = format!(
        "{:<20} {:<12} {:<24} {:<20} {:<9} {:<28} {:<15} {:>4} {:>6} {:>14}\n",
        "START (UTC)",
        "CLIENT",
        "CALLER",
        "CALLEE",
        "DIRECTION",
        "ROUTE",
        "DISPOSITION",
        "CODE",
        "SECS",
        "PRICE"
    );
    for c in list {
        let price = match (&c.price, &c.currency) {
            (Some(p), Some(cur)) => format!("{} {}", p, cur),
            (Some(p), None) => p.clone(),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<20} {:<12} {:<24} {:<20} {:<9} {:<28} {:<15} {:>4} {:>6} {:>14}\n",
            utc(c.start),
            c.client,
            c.caller,
            c.callee,
            c.direction,
            c.route,
            c.disposition,
            c.sip_code,
            c.duration,
            price
        ));
    }
    out.push_str(&format!("{} record(s)\n", list.len()));
    out
}

//! Text tables the CLI prints (`vozbox cdrs`).

use crate::model::Cdr;

/// Seconds since the epoch in the machine's local time, with its offset
/// (`2026-12-05 11:12:27+01:00`).
pub fn local(secs: u64) -> String {
    match i64::try_from(secs).map(jiff::Timestamp::from_second) {
        Ok(Ok(t)) => t
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S%:z")
            .to_string(),
        // a damaged record shows as it is
        _ => secs.to_string(),
    }
}

/// The call records, one a line, with their price and currency.
pub fn cdrs(list: &[Cdr]) -> String {
    let mut out = format!(
        "{:<25} {:<12} {:<24} {:<20} {:<9} {:<28} {:<15} {:>4} {:>6} {:>14}\n",
        "START",
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
            "{:<25} {:<12} {:<24} {:<20} {:<9} {:<28} {:<15} {:>4} {:>6} {:>14}\n",
            local(c.start),
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

/// Voicemail messages, one a line, with their file.
pub fn voicemail(list: &[crate::model::VoicemailMessage], dir: &std::path::Path) -> String {
    let mut out = format!(
        "{:<6} {:<24} {:<16} {:<26} {:>7} {:<4} file\n",
        "id", "mailbox", "caller", "received", "seconds", "new"
    );
    for m in list {
        out.push_str(&format!(
            "{:<6} {:<24} {:<16} {:<26} {:>7.1} {:<4} {}\n",
            m.id,
            format!("{}/{}", m.client, m.mailbox),
            m.caller,
            local(m.received / 1000),
            m.duration_ms as f64 / 1000.0,
            if m.new { "yes" } else { "no" },
            crate::voicemail::file(dir, m.id).display()
        ));
    }
    out.push_str(&format!("{} message(s)\n", list.len()));
    out
}

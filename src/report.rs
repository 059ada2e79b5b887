//! Text tables the CLI prints (`vozbox cdrs`, `calls`, `peers`, …).

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

/// The calls in progress as `GET /api/calls` lists them, at `now`.
pub fn calls(list: &[serde_json::Value], now: u64) -> String {
    let mut out = format!(
        "{:>6} {:<12} {:<24} {:<20} {:<9} {:<28} {:<9} {:>6}  MEDIA (relay port: packets from that side; kernel: of those, forwarded by the kernel fast path; dropped: not RTP or from a stranger)\n",
        "ID", "CLIENT", "CALLER", "CALLEE", "DIRECTION", "ROUTE", "STATE", "AGE"
    );
    for c in list {
        let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
        let m = &c["media"];
        let media = if m.is_object() {
            format!(
                "A {}: {}  B {}: {}  kernel {}  dropped {}",
                m["a_port"],
                m["from_a"],
                m["b_port"],
                m["from_b"],
                m.get("kernel").and_then(|k| k.as_u64()).unwrap_or(0),
                m["dropped"]
            )
        } else {
            "-".to_string()
        };
        out.push_str(&format!(
            "{:>6} {:<12} {:<24} {:<20} {:<9} {:<28} {:<9} {:>5}s  {}\n",
            c["id"].as_u64().unwrap_or(0),
            s("client"),
            s("caller"),
            s("callee"),
            s("direction"),
            s("route"),
            s("state"),
            now.saturating_sub(c["start"].as_u64().unwrap_or(now)),
            media
        ));
    }
    out
}

/// The probed peers as `GET /api/peers` lists them, at `now`.
pub fn peers(list: &[serde_json::Value], now: u64) -> String {
    let mut out = format!(
        "{:<8} {:<32} {:<28} {:<8} {:>9} {:>10} {:>6}\n",
        "KIND", "PEER", "ADDRESS", "STATE", "RTT", "LAST SEEN", "MISSED"
    );
    for p in list {
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        let owner = p["brand"].as_str().or(p["client"].as_str()).unwrap_or("");
        let rtt = match p["rtt_ms"].as_f64() {
            Some(ms) => format!("{:.1} ms", ms),
            None => "-".into(),
        };
        let seen = match p["last_seen"].as_u64() {
            Some(t) => format!("{}s ago", now.saturating_sub(t)),
            None => "never".into(),
        };
        out.push_str(&format!(
            "{:<8} {:<32} {:<28} {:<8} {:>9} {:>10} {:>6}\n",
            s("kind"),
            format!("{}/{}", owner, s("name")),
            s("address"),
            s("state"),
            rtt,
            seen,
            p["missed"].as_u64().unwrap_or(0)
        ));
    }
    out
}

/// The API's administrators as `GET /api/admins` lists them.
pub fn admins(list: &[serde_json::Value]) -> String {
    let mut out = format!("{:<24} {:<9} {:<16} RIGHTS\n", "NAME", "ROLE", "CLIENT");
    for a in list {
        let rights = match a["rights"].as_object() {
            Some(r) => r
                .iter()
                .map(|(k, v)| format!("{}:{}", k, v.as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(","),
            None if a["client"].is_string() => "all of a client administrator".into(),
            None => "everything".into(),
        };
        out.push_str(&format!(
            "{:<24} {:<9} {:<16} {}\n",
            a["name"].as_str().unwrap_or(""),
            a["role"].as_str().unwrap_or(""),
            a["client"].as_str().unwrap_or("-"),
            rights
        ));
    }
    out
}

/// Call recordings, one a line, with their file.
pub fn recordings(list: &[crate::model::Recording], dir: &std::path::Path) -> String {
    let mut out = format!(
        "{:<6} {:<12} {:<24} {:<20} {:<26} {:>8} {:<8} file\n",
        "id", "client", "caller", "callee", "start", "seconds", "kind"
    );
    for r in list {
        out.push_str(&format!(
            "{:<6} {:<12} {:<24} {:<20} {:<26} {:>8.1} {:<8} {}{}\n",
            r.id,
            r.client,
            r.caller,
            r.callee,
            local(r.start / 1000),
            r.duration_ms as f64 / 1000.0,
            r.kind,
            crate::files::file(dir, r.id).display(),
            r.incomplete
                .as_ref()
                .map(|i| format!("  (incomplete: {})", i))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!("{} recording(s)\n", list.len()));
    out
}

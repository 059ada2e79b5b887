//! The dashboard's chart: calls per hour, answered and failed stacked, as inline SVG
//! rendered here (no script, no inline style: colours come from the style sheet's classes).
//! Built from numbers only, so its text needs no escaping.

use std::fmt::Write;

/// One hour's calls: answered, and failed (not answered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hour {
    pub answered: u32,
    pub failed: u32,
}

const W: u32 = 640;
const H: u32 = 220;
const LEFT: u32 = 36;
const BOTTOM: u32 = 24;
const TOP: u32 = 10;

/// The smallest of 1, 2, 5 × 10ⁿ at least `n` (the axis's top).
fn nice(n: u32) -> u32 {
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= n {
                return v.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The chart of `hours` (oldest first), the first starting at `first` (seconds since the
/// epoch, on the hour).
pub fn hourly(hours: &[Hour], first: u64) -> String {
    let total: u32 = hours.iter().map(|h| h.answered + h.failed).sum();
    let failed: u32 = hours.iter().map(|h| h.failed).sum();
    let top = nice(
        hours
            .iter()
            .map(|h| h.answered + h.failed)
            .max()
            .unwrap_or(0),
    );
    let n = hours.len().max(1) as u32;
    let plot_w = W - LEFT - 4;
    let plot_h = H - BOTTOM - TOP;
    let slot = plot_w / n;
    let bar = (slot * 7 / 10).max(1);
    let y = |v: u32| TOP + plot_h - (u64::from(v) * u64::from(plot_h) / u64::from(top)) as u32;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="Calls per hour over the last {n} hours: {total} calls, {failed} failed">"#
    );
    // grid and its labels: 0, half, top
    let mut marks = vec![0, top / 2, top];
    marks.dedup();
    for v in marks {
        let yy = y(v);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{yy}" x2="{x2}" y2="{yy}"/><text x="{tx}" y="{ty}" text-anchor="end">{v}</text>"#,
            x2 = W - 4,
            tx = LEFT - 6,
            ty = yy + 3
        );
    }
    for (i, h) in hours.iter().enumerate() {
        let x = LEFT + i as u32 * slot + (slot - bar) / 2;
        let hour = (first / 3600 + i as u64) % 24;
        let ok_top = y(h.answered);
        let all_top = y(h.answered + h.failed);
        let _ = write!(
            s,
            r#"<g><title>{hour:02}:00 UTC: {a} answered, {f} failed</title>"#,
            a = h.answered,
            f = h.failed
        );
        if h.answered > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-ok" x="{x}" y="{ok_top}" width="{bar}" height="{hh}"/>"#,
                hh = y(0) - ok_top
            );
        }
        if h.failed > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-bad" x="{x}" y="{all_top}" width="{bar}" height="{hh}"/>"#,
                hh = ok_top - all_top
            );
        }
        s.push_str("</g>");
        if i % 3 == 0 {
            let _ = write!(
                s,
                r#"<text x="{tx}" y="{ty}" text-anchor="middle">{hour:02}h</text>"#,
                tx = x + bar / 2,
                ty = H - 8
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{b}" x2="{x2}" y2="{b}"/></svg>"#,
        b = y(0),
        x2 = W - 4
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_a_round_top() {
        assert_eq!(nice(0), 1);
        assert_eq!(nice(3), 5);
        assert_eq!(nice(11), 20);
        assert_eq!(nice(50), 50);
        let mut hours = vec![Hour::default(); 24];
        hours[23] = Hour {
            answered: 3,
            failed: 1,
        };
        let svg = hourly(&hours, 7 * 3600);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2, "{}", svg);
        assert!(svg.contains("06:00 UTC: 3 answered, 1 failed"), "{}", svg);
        assert!(svg.contains("4 calls, 1 failed"));
        assert!(!svg.contains("style="));
    }
}

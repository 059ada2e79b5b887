//! The log's line per registration change: a contact registered (new, or moved to another
//! flow), unregistered, replaced (`max_contacts`) or expired, with where it came from. A
//! refresh over the same flow changes nothing and says nothing, so phones re-registering
//! every few minutes do not fill the log.

use crate::model::Binding;
use crate::sip::transport::Flow;
use std::sync::Arc;

/// Expiries of one sweep logged one by one; the rest are counted in one more line.
const EXPIRED_LINES: usize = 20;

/// Where a REGISTER came from: `udp:203.0.113.5:5060`.
pub fn from(flow: &Flow) -> String {
    format!("{}:{}", flow.proto.as_str(), flow.remote)
}

/// A contact registered for `expires` s; `before`: the flow it had registered over.
pub fn registered(b: &Binding, expires: u32, before: Option<&Flow>) -> String {
    let moved = before
        .map(|f| format!(" (before: {})", from(f)))
        .unwrap_or_default();
    format!(
        "registered {} contact {} from {}{}, {} s",
        b.aor,
        b.contact,
        from(&b.flow),
        moved,
        expires
    )
}

/// A contact removed by a REGISTER from `flow` (Expires 0 or `Contact: *`).
pub fn unregistered(b: &Binding, flow: &Flow) -> String {
    format!(
        "unregistered {} contact {} from {}",
        b.aor,
        b.contact,
        from(flow)
    )
}

/// A contact dropped to make room for a newer one.
pub fn replaced(b: &Binding, max: usize) -> String {
    format!(
        "registration replaced: {} contact {} (registered from {}; max_contacts {})",
        b.aor,
        b.contact,
        from(&b.flow),
        max
    )
}

pub fn expired(b: &Binding) -> String {
    format!(
        "registration expired: {} contact {} (registered from {})",
        b.aor,
        b.contact,
        from(&b.flow)
    )
}

/// The bindings one sweep expired: a line each, at most `EXPIRED_LINES`.
pub fn log_expired(gone: &[Arc<Binding>]) {
    for b in gone.iter().take(EXPIRED_LINES) {
        tracing::info!("{}", expired(b));
    }
    if gone.len() > EXPIRED_LINES {
        tracing::info!(
            "registration expired: {} more binding(s)",
            gone.len() - EXPIRED_LINES
        );
    }
}

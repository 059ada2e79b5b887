//! The SIP stack: URI grammar (`uri.rs`), framing, validation, transports and the server
//! transaction memory, all vozbox's own (docs/sip-stack.md); `stats.rs`: its counters for
//! the metrics exporter.

pub mod answer;
pub mod challenge;
pub mod commas;
pub mod framing;
pub mod glance;
pub mod headers;
pub mod hex;
pub mod message;
pub mod refused;
pub mod reply;
pub mod respond;
pub mod stats;
pub mod text;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod triage;
pub mod uri;
pub mod uri_equal;
pub mod validate;

//! The registrar: REGISTER handling, the location service, NAT keep-alives, and its
//! counters for the metrics exporter.

pub mod changes;
pub mod keepalive;
pub mod location;
pub mod register;
pub mod stats;

pub use location::Location;
pub use register::Registrar;

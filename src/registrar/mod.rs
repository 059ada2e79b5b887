//! The registrar: REGISTER handling, the location service, and NAT keep-alives.

pub mod changes;
pub mod keepalive;
pub mod location;
pub mod register;

pub use location::Location;
pub use register::Registrar;

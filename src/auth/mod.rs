//! Server-side authentication: digest, nonces, bans, and who is trusted by address.

pub mod ban;
pub mod digest;
pub mod nonce;
pub mod pike;
pub mod trust;
pub mod verify;

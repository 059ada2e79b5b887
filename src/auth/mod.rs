//! Server-side authentication: digest, nonces, bans. Who is trusted by address (never
//! challenged) is the model's rule: `model/trust.rs`.

pub mod ban;
pub mod digest;
pub mod nonce;
pub mod pike;
pub mod verify;

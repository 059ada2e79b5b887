//! The SIP stack: URI grammar (`uri.rs`), framing, validation, transports and the server
//! transaction memory, all vozbox's own (docs/sip-stack.md).

pub mod framing;
pub mod headers;
pub mod message;
pub mod reply;
pub mod respond;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod validate;

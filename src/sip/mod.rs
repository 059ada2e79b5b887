//! The SIP stack seam. Message grammar (URIs) comes from rsipstack; framing, validation,
//! transports and the server transaction memory are ours (docs/sip-stack.md says why).

pub mod framing;
pub mod headers;
pub mod message;
pub mod reply;
pub mod respond;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod validate;

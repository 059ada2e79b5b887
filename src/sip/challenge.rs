//! Who asks for credentials, and in which header fields (RFC 3261 §22).

/// Who asks for credentials (RFC 3261 §22): a server (`401`, `WWW-Authenticate`, answered
/// with `Authorization`) or a proxy (`407`, `Proxy-Authenticate`, `Proxy-Authorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    Server,
    Proxy,
}

impl Challenge {
    /// The challenge a response with this status carries: `401` or `407`, else None.
    pub fn of_status(code: u16) -> Option<Challenge> {
        match code {
            401 => Some(Challenge::Server),
            407 => Some(Challenge::Proxy),
            _ => None,
        }
    }

    /// The header field carrying the challenge.
    pub fn header(self) -> &'static str {
        match self {
            Challenge::Server => "WWW-Authenticate",
            Challenge::Proxy => "Proxy-Authenticate",
        }
    }

    /// The header field carrying the credentials that answer it.
    pub fn credentials_header(self) -> &'static str {
        match self {
            Challenge::Server => "Authorization",
            Challenge::Proxy => "Proxy-Authorization",
        }
    }
}

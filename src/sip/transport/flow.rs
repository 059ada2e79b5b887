//! What the rest of the crate knows of the transports: the protocols, the `Flow` naming
//! where a message came from (and how to answer it), the `Sink` messages are handed up
//! to, send errors, and a listening socket of `[sip] listen`.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
        }
    }
    pub fn via_name(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }
}

/// Where a message came from (and where a request to that peer must go back to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The connection id for TCP/TLS flows; meaningful only while the process that
    /// accepted it runs.
    #[serde(default)]
    pub conn: Option<u64>,
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}->{}", self.proto.as_str(), self.remote, self.local)?;
        if let Some(c) = self.conn {
            write!(f, "#{}", c)?;
        }
        Ok(())
    }
}

/// What the transport hands up: one framed message and the flow it arrived on.
pub trait Sink: Send + Sync + 'static {
    /// Whether anything from this address is to be ignored (banned, rate limited).
    fn is_blocked(&self, ip: IpAddr) -> bool;
    /// One message; `waited`: how long it lay in the socket before it was read (a UDP
    /// datagram's kernel timestamp; zero over TCP and TLS).
    fn on_message(self: Arc<Self>, data: &[u8], flow: Flow, waited: std::time::Duration);
    /// A connection closed (or an outbound one never opened). Not called for an inbound
    /// connection that handed up no message.
    fn on_close(&self, _flow: &Flow) {}
    /// Whether an idle connection must stay open (a registration is reached over it).
    fn keeps(&self, _flow: &Flow) -> bool {
        false
    }
}

#[derive(Debug)]
pub enum SendError {
    NoSocket,
    ConnectionGone,
    QueueFull,
    Io(std::io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NoSocket => write!(f, "no socket for that flow"),
            SendError::ConnectionGone => write!(f, "connection closed"),
            SendError::QueueFull => write!(f, "send queue full"),
            SendError::Io(e) => write!(f, "{}", e),
        }
    }
}

/// One listening socket from `[sip] listen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub proto: Proto,
    pub addr: SocketAddr,
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (p, a) = s
            .split_once(':')
            .ok_or_else(|| format!("expected \"udp|tcp|tls:ADDRESS:PORT\", found {:?}", s))?;
        let proto = match p {
            "udp" => Proto::Udp,
            "tcp" => Proto::Tcp,
            "tls" => Proto::Tls,
            _ => {
                return Err(format!(
                    "unknown transport {:?} in {:?} (udp, tcp or tls)",
                    p, s
                ))
            }
        };
        let addr = a
            .parse::<SocketAddr>()
            .map_err(|_| match a.rsplit_once(':') {
                Some((host, _)) if host.bytes().any(|b| b.is_ascii_alphabetic()) && !host.contains('[') => format!(
                    "{:?}: {:?} is a host name; listening needs an IP address (e.g. 0.0.0.0:5060 for every interface)",
                    a, host
                ),
                _ => format!("{:?} is not ADDRESS:PORT (IPv6 as [::1]:5060)", a),
            })?;
        Ok(Listen { proto, addr })
    }
}

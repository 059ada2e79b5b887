//! Sockets: UDP receive loops, TCP and TLS listeners with a capped Content-Length framer
//! and a bounded send queue per connection, outbound TCP/TLS connections, and the `Flow`
//! that names where a message came from so that later requests can go back the same way.
//!
//! `flow.rs`: the shared types (`Proto`, `Flow`, `Sink`, `SendError`, `Listen`); `udp.rs`:
//! the UDP sockets and receive loops; `stream.rs`: TCP and TLS connections, accepted and
//! served; `outbound.rs`: flows to a peer, over a connection opened by vozbox if need be.
//! This file: the `Transports` that own them all (binding, serving, sending).

mod flow;
mod outbound;
mod stream;
mod udp;

pub use flow::{Flow, Listen, Proto, SendError, Sink};
pub use stream::StreamListener;

use super::tls::Tls;
use dashmap::DashMap;
use std::net::UdpSocket;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stream::Conn;
use tokio::net::TcpListener;
use udp::{bind_udp, udp_loop};

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Silence after which a connection no binding uses is closed.
    pub tcp_idle_timeout: Duration,
    /// Messages queued for one connection before further sends fail.
    pub send_queue: usize,
}

pub struct Transports {
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    tcp_local: Vec<SocketAddr>,
    tls_local: Vec<SocketAddr>,
    tls: Option<Arc<Tls>>,
    /// Remote address → our address on the route to it (for wildcard listeners).
    routes: DashMap<IpAddr, IpAddr>,
    /// Set by `serve`: where messages of outbound connections go, and the runtime.
    outbound: std::sync::OnceLock<(Arc<dyn Sink>, tokio::runtime::Handle)>,
    conns: DashMap<u64, Conn>,
    per_ip: DashMap<IpAddr, usize>,
    /// Accepted and opened connections, each capped at `max_connections`: a flood of
    /// inbound connections never keeps vozbox from reaching a carrier.
    inbound_conns: AtomicUsize,
    outbound_conns: AtomicUsize,
    next_conn: AtomicU64,
    limits: Limits,
    /// Requests received, responses sent, TLS handshakes (for `GET /metrics`).
    pub stats: super::stats::SipStats,
}

impl Transports {
    /// Binds every listener; returns the transports and the bound TCP/TLS listeners
    /// (started by `serve`). Addresses with port 0 are bound to a free port. `tls` is the
    /// server certificate, needed when a `tls:` listener is configured.
    pub async fn bind(
        listen: &[Listen],
        limits: Limits,
        tls: Option<Arc<Tls>>,
    ) -> std::io::Result<(Arc<Transports>, Vec<StreamListener>)> {
        let mut udp = Vec::new();
        let mut streams = Vec::new();
        for l in listen {
            let named = |e: std::io::Error| {
                std::io::Error::new(e.kind(), format!("{}:{}: {}", l.proto.as_str(), l.addr, e))
            };
            match l.proto {
                Proto::Udp => {
                    let s = bind_udp(l.addr).map_err(named)?;
                    udp.push((s.local_addr()?, Arc::new(s)));
                }
                Proto::Tcp | Proto::Tls => {
                    if l.proto == Proto::Tls && tls.is_none() {
                        return Err(named(std::io::Error::other("no TLS certificate")));
                    }
                    let s = TcpListener::bind(l.addr).await.map_err(named)?;
                    streams.push(StreamListener {
                        proto: l.proto,
                        local: s.local_addr()?,
                        listener: s,
                    });
                }
            }
        }
        let locals = |p: Proto| {
            streams
                .iter()
                .filter(|s| s.proto == p)
                .map(|s| s.local)
                .collect()
        };
        let t = Arc::new(Transports {
            udp,
            tcp_local: locals(Proto::Tcp),
            tls_local: locals(Proto::Tls),
            tls,
            routes: DashMap::new(),
            outbound: std::sync::OnceLock::new(),
            conns: DashMap::new(),
            per_ip: DashMap::new(),
            inbound_conns: AtomicUsize::new(0),
            outbound_conns: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            limits,
            stats: Default::default(),
        });
        Ok((t, streams))
    }

    pub fn tls(&self) -> Option<&Arc<Tls>> {
        self.tls.as_ref()
    }

    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|(a, _)| *a).collect()
    }

    pub fn udp_socket(&self, local: SocketAddr) -> Option<&Arc<UdpSocket>> {
        self.udp
            .iter()
            .find(|(a, _)| *a == local)
            .or_else(|| self.udp.first())
            .map(|(_, s)| s)
    }

    pub fn connection_count(&self) -> usize {
        self.inbound_conns.load(Ordering::Relaxed) + self.outbound_conns.load(Ordering::Relaxed)
    }

    /// Starts the receive loops. `workers` UDP loops share each socket.
    pub fn serve<S: Sink>(
        self: &Arc<Self>,
        streams: Vec<StreamListener>,
        sink: Arc<S>,
        workers: usize,
    ) {
        let dynsink: Arc<dyn Sink> = sink.clone();
        let _ = self
            .outbound
            .set((dynsink, tokio::runtime::Handle::current()));
        // UDP: blocking receive threads, no reactor in the way (one recvfrom per message).
        for (local, sock) in &self.udp {
            for n in 0..workers.max(1) {
                let (sock, sink, local) = (sock.clone(), sink.clone(), *local);
                let max = self.limits.max_message_size;
                let spawned = std::thread::Builder::new()
                    .name(format!("vozbox-udp{}", n))
                    .spawn(move || udp_loop(sock, local, sink, max));
                if let Err(e) = spawned {
                    tracing::error!("udp:{}: cannot start a receive thread: {}", local, e);
                }
            }
        }
        for l in streams {
            let (me, sink) = (self.clone(), sink.clone());
            tokio::spawn(async move { me.accept_loop(l, sink).await });
        }
    }

    /// Our address as the peer of `flow` must see it in Via and Contact: the socket's own
    /// address, or — for a listener on a wildcard address (0.0.0.0, ::) — the address the
    /// kernel routes to that peer from (asked once per peer address, then cached).
    pub fn advertised(&self, flow: &Flow) -> SocketAddr {
        let local = flow.local;
        if !local.ip().is_unspecified() {
            return local;
        }
        let remote = flow.remote.ip();
        if let Some(ip) = self.routes.get(&remote) {
            return SocketAddr::new(*ip, local.port());
        }
        let probe = || -> std::io::Result<IpAddr> {
            let any: SocketAddr = if remote.is_ipv6() {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let s = UdpSocket::bind(any)?;
            s.connect(flow.remote)?;
            Ok(s.local_addr()?.ip())
        };
        match probe() {
            Ok(ip) => {
                // Bounded: a table of many thousand peers is simply started again.
                if self.routes.len() > 10_000 {
                    self.routes.clear();
                }
                self.routes.insert(remote, ip);
                SocketAddr::new(ip, local.port())
            }
            Err(_) => local,
        }
    }

    /// The local address requests on `proto` are sent from (for Via and Contact).
    pub fn local_addr(&self, proto: Proto) -> Option<SocketAddr> {
        match proto {
            Proto::Udp => self.udp.first().map(|(a, _)| *a),
            Proto::Tcp => self.tcp_local.first().copied(),
            Proto::Tls => self.tls_local.first().copied(),
        }
    }

    /// Whether a TCP/TLS flow's connection is still open.
    pub fn is_open(&self, flow: &Flow) -> bool {
        match flow.conn {
            Some(id) => self
                .conns
                .get(&id)
                .map(|c| c.remote == flow.remote && c.proto == flow.proto)
                .unwrap_or(false),
            None => flow.proto == Proto::Udp,
        }
    }

    /// Sends bytes on a flow: UDP from the local socket the flow names, TCP on its
    /// connection. Never blocks.
    pub fn send(&self, flow: &Flow, data: &[u8]) -> Result<(), SendError> {
        self.send_to(flow, flow.remote, data)
    }

    /// Like `send`, to another address for UDP (responses without `rport`).
    /// (A connection's queue gets its own copy; a datagram is sent from the slice.)
    pub fn send_to(&self, flow: &Flow, to: SocketAddr, data: &[u8]) -> Result<(), SendError> {
        match flow.proto {
            Proto::Udp => {
                let sock = self.udp_socket(flow.local).ok_or(SendError::NoSocket)?;
                match sock.send_to(data, to) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(SendError::Io(e)),
                }
            }
            Proto::Tcp | Proto::Tls => match flow.conn {
                Some(id) => self.send_conn(id, data.to_vec()),
                None => Err(SendError::ConnectionGone),
            },
        }
    }
}

/// Takes one of `max` connection slots; false when none is left.
fn take_slot(count: &AtomicUsize, max: usize) -> bool {
    count
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

//! Sockets: UDP receive loops, TCP and TLS listeners with a capped Content-Length framer
//! and a bounded send queue per connection, outbound TCP/TLS connections, and the `Flow`
//! that names where a message came from so that later requests can go back the same way.

use super::framing::{Frame, Framer};
use super::tls::{Tls, TlsPeer};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::net::UdpSocket;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

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
    fn on_message(self: Arc<Self>, data: &[u8], flow: Flow);
    /// A connection closed (or an outbound one never opened). Not called for an inbound
    /// connection that handed up no message.
    fn on_close(&self, _flow: &Flow) {}
    /// Whether an idle connection must stay open (a registration is reached over it).
    fn keeps(&self, _flow: &Flow) -> bool {
        false
    }
}

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

struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    remote: SocketAddr,
    proto: Proto,
    /// How the peer's certificate was checked (TLS connections we opened); a connection
    /// is reused only for the same check, never one accepted or checked otherwise.
    peer: Option<TlsPeer>,
}

/// A bound TCP or TLS listener, started by `serve`.
pub struct StreamListener {
    pub proto: Proto,
    pub local: SocketAddr,
    listener: TcpListener,
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
            .map_err(|_| format!("{:?} is not ADDRESS:PORT (IPv6 as [::1]:5060)", a))?;
        Ok(Listen { proto, addr })
    }
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

    /// A flow to `remote` over `proto`: UDP from our first socket; TCP or TLS over an open
    /// connection to that address, else a new one (messages queue until it is up; a
    /// failed connect or handshake closes the flow, and later sends fail). A new TLS
    /// connection checks the peer's certificate as `peer` says.
    pub fn flow_to(
        self: &Arc<Self>,
        proto: Proto,
        remote: SocketAddr,
        peer: Option<&TlsPeer>,
    ) -> Option<Flow> {
        let local = self.local_addr(proto)?;
        if proto == Proto::Udp {
            return Some(Flow {
                proto,
                local,
                remote,
                conn: None,
            });
        }
        let peer = match proto {
            Proto::Tls => Some(peer.cloned().unwrap_or_else(|| TlsPeer {
                name: remote.ip().to_string(),
                fingerprint: None,
            })),
            _ => None,
        };
        if let Some(id) = self
            .conns
            .iter()
            .find(|c| c.remote == remote && c.proto == proto && c.peer == peer)
            .map(|c| *c.key())
        {
            return Some(Flow {
                proto,
                local,
                remote,
                conn: Some(id),
            });
        }
        let (sink, rt) = self.outbound.get()?.clone();
        let tls = match &peer {
            Some(p) => match Tls::connector(p) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("tls to {}: {}", remote, e);
                    return None;
                }
            },
            None => None,
        };
        if !take_slot(&self.outbound_conns, self.limits.max_connections) {
            return None;
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.limits.send_queue);
        self.conns.insert(
            id,
            Conn {
                tx,
                remote,
                proto,
                peer,
            },
        );
        let me = self.clone();
        let flow = Flow {
            proto,
            local,
            remote,
            conn: Some(id),
        };
        let out = flow.clone();
        let guard = Closing {
            me: me.clone(),
            flow: flow.clone(),
            sink: sink.clone(),
            notify: true,
            inbound: false,
        };
        rt.spawn(async move {
            let _guard = guard;
            let connect = tokio::time::timeout(Duration::from_secs(5), async {
                let tcp = TcpStream::connect(remote)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = tcp.set_nodelay(true);
                Ok::<_, String>(tcp)
            });
            match (connect.await, tls) {
                (Ok(Ok(stream)), None) => {
                    me.run_conn(stream, flow, rx, sink).await;
                }
                (Ok(Ok(stream)), Some((connector, name))) => {
                    let hs = tokio::time::timeout(
                        Duration::from_secs(5),
                        connector.connect(name, stream),
                    );
                    match hs.await {
                        Ok(Ok(s)) => {
                            me.run_conn(s, flow, rx, sink).await;
                        }
                        Ok(Err(e)) => tracing::warn!("tls to {}: {}", remote, e),
                        Err(_) => tracing::warn!("tls to {}: handshake timed out", remote),
                    }
                }
                (Ok(Err(e)), _) => {
                    tracing::info!("{} connect to {}: {}", proto.as_str(), remote, e)
                }
                (Err(_), _) => {
                    tracing::info!("{} connect to {}: timed out", proto.as_str(), remote)
                }
            }
        });
        Some(out)
    }

    async fn accept_loop<S: Sink>(self: Arc<Self>, l: StreamListener, sink: Arc<S>) {
        let (proto, local) = (l.proto, l.local);
        loop {
            let (stream, remote) = match l.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("{}:{} accept: {}", proto.as_str(), local, e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if sink.is_blocked(remote.ip()) {
                continue;
            }
            let _ = stream.set_nodelay(true);
            if !take_slot(&self.inbound_conns, self.limits.max_connections) {
                tracing::warn!(
                    "{}:{} connection limit reached; refusing {}",
                    proto.as_str(),
                    local,
                    remote
                );
                continue;
            }
            {
                let mut n = self.per_ip.entry(remote.ip()).or_insert(0);
                if *n >= self.limits.max_connections_per_ip {
                    tracing::warn!(
                        "{}:{} per-address connection limit reached for {}",
                        proto.as_str(),
                        local,
                        remote.ip()
                    );
                    drop(n);
                    self.inbound_conns.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
                *n += 1;
            }
            let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
            let (me, sink) = (self.clone(), sink.clone());
            let flow = Flow {
                proto,
                local,
                remote,
                conn: Some(id),
            };
            let dynsink: Arc<dyn Sink> = sink.clone();
            let guard = Closing {
                me: self.clone(),
                flow: flow.clone(),
                sink: dynsink,
                notify: false,
                inbound: true,
            };
            // Each connection is its own task: a slow handshake or an idle peer holds
            // only itself up.
            tokio::spawn(async move {
                // The whole guard moves into the task (not only the field set below).
                let mut guard = guard;
                let (tx, rx) = mpsc::channel(me.limits.send_queue);
                let conn = Conn {
                    tx,
                    remote,
                    proto,
                    peer: None,
                };
                guard.notify = match (proto, &me.tls) {
                    (Proto::Tls, Some(tls)) => {
                        let hs = tokio::time::timeout(
                            tls.handshake_timeout,
                            tls.acceptor().accept(stream),
                        );
                        match hs.await {
                            Ok(Ok(s)) => {
                                me.conns.insert(id, conn);
                                me.run_conn(s, flow, rx, sink).await
                            }
                            Ok(Err(e)) => {
                                tracing::info!("tls:{} from {}: {}", local, remote, e);
                                false
                            }
                            Err(_) => {
                                tracing::info!(
                                    "tls:{} from {}: handshake timed out",
                                    local,
                                    remote
                                );
                                false
                            }
                        }
                    }
                    (Proto::Tls, None) => false, // `bind` refuses a tls: listener without one
                    _ => {
                        me.conns.insert(id, conn);
                        me.run_conn(stream, flow, rx, sink).await
                    }
                };
            });
        }
    }

    /// Reads and writes one connection until it closes; returns whether any message was
    /// handed up.
    async fn run_conn<S, IO>(
        &self,
        stream: IO,
        flow: Flow,
        mut rx: mpsc::Receiver<Vec<u8>>,
        sink: Arc<S>,
    ) -> bool
    where
        S: Sink + ?Sized,
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (remote, id) = (flow.remote, flow.conn.unwrap_or(0));
        let (mut rd, mut wr) = tokio::io::split(stream);
        let writer = tokio::spawn(async move {
            while let Some(buf) = rx.recv().await {
                if wr.write_all(&buf).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let mut framer = Framer::new(self.limits.max_message_size);
        let mut buf = vec![0u8; 16 * 1024];
        let mut used = false;
        // A bug while handling one message costs that message, not the connection.
        let hand_up = |m: &[u8]| {
            let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sink.clone().on_message(m, flow.clone())
            }));
            if handled.is_err() {
                tracing::error!("{}: a message hit a bug; dropped", flow);
            }
        };
        'read: loop {
            let n =
                match tokio::time::timeout(self.limits.tcp_idle_timeout, rd.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => n,
                    Err(_) if sink.keeps(&flow) => continue,
                    Err(_) => {
                        tracing::debug!("{} idle and unused, closing", flow);
                        break;
                    }
                };
            framer.push(&buf[..n]);
            loop {
                match framer.next_frame() {
                    Frame::Incomplete => break,
                    Frame::Ping => {
                        // RFC 5626 §3.5.1: a double CRLF is answered with a single CRLF.
                        let _ = self.send_conn(id, b"\r\n".to_vec());
                    }
                    // Counted per message (bans, rate limit): pipelining does not
                    // get more through than datagrams would.
                    Frame::Message(_) if sink.is_blocked(remote.ip()) => break 'read,
                    Frame::Message(m) => {
                        used = true;
                        hand_up(&m);
                    }
                    Frame::Fatal { why, head } => {
                        tracing::info!("{}: {}; closing", flow, why);
                        if let Some(head) = head {
                            used = true;
                            hand_up(&head);
                        }
                        break 'read;
                    }
                }
            }
        }
        self.conns.remove(&id);
        // The writer ends when every sender is dropped; one stuck on a peer that does not
        // read is stopped (it holds the socket).
        let writer_abort = writer.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), writer)
            .await
            .is_err()
        {
            writer_abort.abort();
        }
        used
    }

    fn send_conn(&self, id: u64, data: Vec<u8>) -> Result<(), SendError> {
        let c = self.conns.get(&id).ok_or(SendError::ConnectionGone)?;
        c.tx.try_send(data).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => SendError::ConnectionGone,
        })
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

/// Everything owed when a connection's task ends, however it ends (also by a panic):
/// the entry and the counters back, and the sink told.
struct Closing {
    me: Arc<Transports>,
    flow: Flow,
    sink: Arc<dyn Sink>,
    /// Whether the sink hears of it (outbound connections, and inbound ones that carried
    /// a message: a connect-and-close flood costs the B2BUA nothing).
    notify: bool,
    /// Accepted (counted per address) or opened by us.
    inbound: bool,
}

impl Drop for Closing {
    fn drop(&mut self) {
        let me = &self.me;
        if let Some(id) = self.flow.conn {
            me.conns.remove(&id);
        }
        if self.inbound {
            me.inbound_conns.fetch_sub(1, Ordering::Relaxed);
            let ip = self.flow.remote.ip();
            if let Some(mut n) = me.per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
            }
            me.per_ip.remove_if(&ip, |_, n| *n == 0);
        } else {
            me.outbound_conns.fetch_sub(1, Ordering::Relaxed);
        }
        if self.notify {
            self.sink.on_close(&self.flow);
        }
    }
}

/// A UDP socket with large kernel buffers, so bursts queue in the kernel rather than drop.
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn udp_loop<S: Sink>(sock: Arc<UdpSocket>, local: SocketAddr, sink: Arc<S>, max: usize) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, remote) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on Linux (ECONNREFUSED): not fatal.
                tracing::trace!("udp:{} recv: {}", local, e);
                continue;
            }
        };
        if sink.is_blocked(remote.ip()) {
            continue;
        }
        let data = &buf[..n];
        // Keep-alives: CRLF pings and empty datagrams.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        if n > max {
            tracing::debug!("udp:{} dropping {}-byte message from {}", local, n, remote);
            continue;
        }
        let flow = Flow {
            proto: Proto::Udp,
            local,
            remote,
            conn: None,
        };
        // A bug must cost one message, never the receive loop (and with it all of UDP).
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sink.clone().on_message(data, flow)
        }));
        if handled.is_err() {
            tracing::error!(
                "udp:{}: a message from {} hit a bug; dropped",
                local,
                remote
            );
        }
    }
}

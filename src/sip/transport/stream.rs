//! TCP and TLS connections: the accept loop (connection limits, the TLS handshake with its
//! timeout), one task per connection reading through the capped Content-Length framer and
//! writing from a bounded send queue, idle close of connections no binding uses, and what
//! is owed when a connection ends.

use super::{take_slot, Flow, Proto, SendError, Sink, Transports};
use crate::sip::framing::{Frame, Framer};
use crate::sip::stats::Handshake;
use crate::sip::tls::TlsPeer;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub(super) struct Conn {
    pub(super) tx: mpsc::Sender<Vec<u8>>,
    pub(super) remote: SocketAddr,
    pub(super) proto: Proto,
    /// How the peer's certificate was checked (TLS connections we opened); a connection
    /// is reused only for the same check, never one accepted or checked otherwise.
    pub(super) peer: Option<TlsPeer>,
}

/// A bound TCP or TLS listener, started by `serve`.
pub struct StreamListener {
    pub proto: Proto,
    pub local: SocketAddr,
    pub(super) listener: TcpListener,
}

impl Transports {
    pub(super) async fn accept_loop<S: Sink>(self: Arc<Self>, l: StreamListener, sink: Arc<S>) {
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
                                me.stats.handshake(true, Handshake::Ok);
                                me.conns.insert(id, conn);
                                me.run_conn(s, flow, rx, sink).await
                            }
                            Ok(Err(e)) => {
                                me.stats.handshake(true, Handshake::Failed);
                                tracing::info!("tls:{} from {}: {}", local, remote, e);
                                false
                            }
                            Err(_) => {
                                me.stats.handshake(true, Handshake::TimedOut);
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
    pub(super) async fn run_conn<S, IO>(
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
                sink.clone()
                    .on_message(m, flow.clone(), std::time::Duration::ZERO)
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

    pub(super) fn send_conn(&self, id: u64, data: Vec<u8>) -> Result<(), SendError> {
        let c = self.conns.get(&id).ok_or(SendError::ConnectionGone)?;
        c.tx.try_send(data).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => SendError::ConnectionGone,
        })
    }
}

/// Everything owed when a connection's task ends, however it ends (also by a panic):
/// the entry and the counters back, and the sink told.
pub(super) struct Closing {
    pub(super) me: Arc<Transports>,
    pub(super) flow: Flow,
    pub(super) sink: Arc<dyn Sink>,
    /// Whether the sink hears of it (outbound connections, and inbound ones that carried
    /// a message: a connect-and-close flood costs the B2BUA nothing).
    pub(super) notify: bool,
    /// Accepted (counted per address) or opened by us.
    pub(super) inbound: bool,
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

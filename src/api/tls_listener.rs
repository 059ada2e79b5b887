//! The admin API over TLS (`[api] tls = true`, the SIP certificate of `[tls]`): a listener
//! for axum whose connections are already through their handshake. Handshakes run in
//! tasks of their own with the `[tls]` handshake timeout, so a slow or silent client holds
//! up no one; at most `MAX_HANDSHAKES` at a time.

use super::guard::Peer;
use crate::sip::tls::Tls;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;

/// Handshakes in progress at most; connections past it wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 64;
/// Handshakes in progress from one address at most; more are closed at once (one host
/// holding silent connections cannot take every slot).
const MAX_PER_IP: usize = 4;

pub struct TlsListener {
    done: mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
    local: std::net::SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, tls: Arc<Tls>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, done) = mpsc::channel(MAX_HANDSHAKES);
        let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let per_ip: Arc<dashmap::DashMap<std::net::IpAddr, usize>> = Arc::default();
        tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (stream, remote) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("admin API: accept: {}", e);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let ip = remote.ip();
                {
                    let mut n = per_ip.entry(ip).or_insert(0);
                    if *n >= MAX_PER_IP {
                        tracing::debug!("admin API: too many TLS handshakes from {}", ip);
                        continue;
                    }
                    *n += 1;
                }
                let (tls, sender, per_ip) = (tls.clone(), tx.clone(), per_ip.clone());
                tokio::spawn(async move {
                    // the address's count goes down however the handshake ends
                    struct Done(
                        Arc<dashmap::DashMap<std::net::IpAddr, usize>>,
                        std::net::IpAddr,
                    );
                    impl Drop for Done {
                        fn drop(&mut self) {
                            self.0.remove_if_mut(&self.1, |_, n| {
                                *n -= 1;
                                *n == 0
                            });
                        }
                    }
                    let _done = Done(per_ip, ip);
                    let local = stream.local_addr().unwrap_or(local);
                    let hs = tls.acceptor().accept(stream);
                    match tokio::time::timeout(tls.handshake_timeout, hs).await {
                        Ok(Ok(s)) => {
                            drop(permit);
                            let _ = sender.send((s, Peer { remote, local })).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("admin API: TLS handshake from {}: {}", remote, e)
                        }
                        Err(_) => {
                            tracing::debug!("admin API: TLS handshake from {} timed out", remote)
                        }
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { done, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.done.recv().await {
            Some(x) => x,
            // The accepting task ended (the runtime is stopping): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer {
            remote: self.local,
            local: self.local,
        })
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        *stream.remote_addr()
    }
}

//! Outbound flows: UDP from our first socket, or a TCP/TLS connection vozbox opens (or
//! reuses) to a friend or carrier, its peer certificate checked as configured.

use super::stream::{Closing, Conn};
use super::{take_slot, Flow, Proto, Transports};
use crate::sip::stats::Handshake;
use crate::sip::tls::{Tls, TlsPeer};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

impl Transports {
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
                            me.stats.handshake(false, Handshake::Ok);
                            me.run_conn(s, flow, rx, sink).await;
                        }
                        Ok(Err(e)) => {
                            me.stats.handshake(false, Handshake::Failed);
                            tracing::warn!("tls to {}: {}", remote, e)
                        }
                        Err(_) => {
                            me.stats.handshake(false, Handshake::TimedOut);
                            tracing::warn!("tls to {}: handshake timed out", remote)
                        }
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
}

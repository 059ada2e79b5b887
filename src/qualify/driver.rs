//! The task that sends the probes: takes the model's peers whenever the snapshot is
//! replaced, sends each probe when it is due over the peer's transport (UDP from our
//! socket, the TCP or TLS connection vozbox opens or reuses, as calls do), and sleeps until
//! the next one is due (at most a second, to see a new model soon). A peer by host name is
//! resolved first, in a task of its own (a slow DNS server holds up no other probe).

use super::{probe, Entry, Qualify};
use crate::dns::Dns;
use crate::model::Snapshot;
use crate::sip::transport::{Proto, Transports};
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts probing on `rt` (the B2BUA's runtime: a TCP or TLS connection is opened there),
/// resolving peers by name with `dns` (None: they are not probed). The current model's
/// peers are taken before it returns, so that they are listed as soon as the server says
/// it is ready.
pub fn spawn(
    qualify: Arc<Qualify>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    transports: Arc<Transports>,
    dns: Option<Arc<Dns>>,
    rt: &tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    let snap = snapshot.load_full();
    qualify.reconcile(probe::peers(&snap), Instant::now());
    rt.spawn(run(qualify, snapshot, transports, dns, snap))
}

async fn run(
    qualify: Arc<Qualify>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    transports: Arc<Transports>,
    dns: Option<Arc<Dns>>,
    first: Arc<Snapshot>,
) {
    let mut seen = first;
    loop {
        let snap = snapshot.load_full();
        if !Arc::ptr_eq(&seen, &snap) {
            qualify.reconcile(probe::peers(&snap), Instant::now());
            seen = snap;
        }
        let now = Instant::now();
        for (entry, send) in qualify.due(now) {
            if let Some(to) = entry.spec.to {
                send_probe(&transports, &entry, (entry.spec.proto, to), &send);
                continue;
            }
            let Some(dns) = dns.clone() else {
                tracing::debug!("qualify: {} by name, no resolver", entry.spec.label());
                continue;
            };
            // (a resolution still running: this probe is not sent, a miss like any other)
            if entry.resolving.swap(true, Ordering::AcqRel) {
                continue;
            }
            let transports = transports.clone();
            tokio::spawn(async move {
                let s = &entry.spec;
                let found = dns.resolve(&s.host, &s.transport, s.port).await;
                let addrs: Vec<(Proto, SocketAddr)> = found
                    .iter()
                    .map(|f| (probe::proto_of(f.transport), f.addr))
                    .collect();
                // the address that answered last, the next one after a miss
                match entry.choose(&addrs) {
                    Some(at) => {
                        entry.aim(at);
                        send_probe(&transports, &entry, at, &send);
                    }
                    None => tracing::debug!("qualify: {} does not resolve", s.label()),
                }
                entry.resolving.store(false, Ordering::Release);
            });
        }
        let later = now + Duration::from_secs(1);
        let wake = qualify.next_deadline().map_or(later, |d| d.min(later));
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
    }
}

/// Sends one probe of `entry` over `proto` to `to`.
fn send_probe(
    transports: &Arc<Transports>,
    entry: &Entry,
    (proto, to): (Proto, SocketAddr),
    send: &super::peer::Send,
) {
    let spec = &entry.spec;
    let tls = spec.tls.as_ref().filter(|_| proto == Proto::Tls);
    // A flow that cannot be had (no socket of that transport, no connection slot) is a
    // probe that will not be answered: a miss like any other.
    let Some(flow) = transports.flow_to(proto, to, tls) else {
        tracing::debug!("qualify: no flow to {}", spec.label());
        return;
    };
    let bytes = probe::options(
        spec,
        (proto, to),
        transports.advertised(&flow),
        &entry.call_id,
        &entry.tag,
        &send.branch,
        send.cseq,
    );
    if let Err(e) = transports.send(&flow, &bytes) {
        tracing::debug!("qualify: OPTIONS to {}: {}", spec.label(), e);
    }
}

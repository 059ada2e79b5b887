//! The task that sends the probes: takes the model's peers whenever the snapshot is
//! replaced, sends each probe when it is due over the peer's transport (UDP from our
//! socket, the TCP or TLS connection vozbox opens or reuses, as calls do), and sleeps until
//! the next one is due (at most a second, to see a new model soon).

use super::{probe, Qualify};
use crate::model::Snapshot;
use crate::sip::transport::Transports;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts probing on `rt` (the B2BUA's runtime: a TCP or TLS connection is opened there).
/// The current model's peers are taken before it returns, so that they are listed as soon
/// as the server says it is ready.
pub fn spawn(
    qualify: Arc<Qualify>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    transports: Arc<Transports>,
    rt: &tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    let snap = snapshot.load_full();
    qualify.reconcile(probe::peers(&snap), Instant::now());
    rt.spawn(run(qualify, snapshot, transports, snap))
}

async fn run(
    qualify: Arc<Qualify>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    transports: Arc<Transports>,
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
            let spec = &entry.spec;
            // A flow that cannot be had (no socket of that transport, no connection slot)
            // is a probe that will not be answered: a miss like any other.
            let Some(flow) = transports.flow_to(spec.proto, spec.to, spec.tls.as_ref()) else {
                tracing::debug!("qualify: no flow to {}", spec.label());
                continue;
            };
            let bytes = probe::options(
                spec,
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
        let later = now + Duration::from_secs(1);
        let wake = qualify.next_deadline().map_or(later, |d| d.min(later));
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
    }
}

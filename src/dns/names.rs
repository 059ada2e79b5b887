//! The task that keeps `model::trust::Resolved` current: what the host names of carriers
//! and password-less direct friends resolve to, so that their requests are recognised
//! (never challenged) as those of peers given by address are. It asks again every few
//! seconds (the resolver answers from its cache while the records' TTL lasts, so a change
//! is seen once the TTL has passed) and at once when the model changes. A name that stops
//! resolving keeps its last addresses until it resolves again: a DNS outage does not
//! start challenging a carrier that cannot answer challenges.

use super::Dns;
use crate::model::trust::{names_to_resolve, Resolved};
use crate::model::Snapshot;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the names are asked again (from the resolver's cache while their TTL lasts).
const EVERY: Duration = Duration::from_secs(5);

/// Starts keeping `names` current on `rt`, for the peers of whatever model `snapshot`
/// holds.
pub fn spawn(
    names: Arc<ArcSwap<Resolved>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    dns: Arc<Dns>,
    rt: &tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    rt.spawn(run(names, snapshot, dns))
}

async fn run(names: Arc<ArcSwap<Resolved>>, snapshot: Arc<ArcSwap<Snapshot>>, dns: Arc<Dns>) {
    let mut seen: Option<Arc<Snapshot>> = None;
    let mut asked = Instant::now();
    loop {
        let snap = snapshot.load_full();
        let changed = !seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, &snap));
        if changed || asked.elapsed() >= EVERY {
            asked = Instant::now();
            let wanted = names_to_resolve(&snap.model);
            let now = names.load_full();
            let mut next: HashMap<String, Vec<SocketAddr>> = HashMap::new();
            for (name, transport, port) in &wanted {
                let found = dns.resolve(name, transport, *port).await;
                let addrs: Vec<SocketAddr> = if found.is_empty() {
                    // (kept while it does not resolve; a name that never did has none)
                    now.of(name).to_vec()
                } else {
                    found.iter().map(|f| f.addr).collect()
                };
                let entry = next.entry(name.clone()).or_default();
                for a in addrs {
                    if !entry.contains(&a) {
                        entry.push(a);
                    }
                }
            }
            next.retain(|_, addrs| !addrs.is_empty());
            // (SRV targets come in a drawn order: compared and kept sorted)
            next.values_mut().for_each(|addrs| addrs.sort());
            let next = Resolved::new(next);
            if next != *now {
                for (name, _, _) in &wanted {
                    if next.of(name) != now.of(name) {
                        tracing::info!(
                            "DNS {}: its requests are recognised from {:?}",
                            name,
                            next.of(name)
                        );
                    }
                }
                names.store(Arc::new(next));
            }
            seen = Some(snap);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

//! The task that keeps `model::trust::Resolved` current: what the host names of carriers
//! and password-less direct friends resolve to, so that their requests are recognised
//! (never challenged) as those of peers given by address are. Every name is asked again
//! every few seconds, all at once (the resolver answers from its cache while the records'
//! TTL lasts, so a change is seen once the TTL has passed), and at once when the model
//! changes; what each answer gives is published at once. A name that stops resolving is
//! asked again after a minute and keeps its last addresses for at most ten minutes after
//! it last resolved: a short DNS outage does not start challenging a carrier that cannot
//! answer challenges, and a name that is gone stops being trusted. A name's addresses are
//! those of its A and its AAAA records (`Dns::resolve_every`: a dual-stack peer may send
//! from either). (A name whose SRV lookup fails falls back to its own A/AAAA records, as
//! for a call: those are then its addresses.)

use crate::dns::Dns;
use crate::model::trust::{names_to_resolve, Resolved};
use crate::model::Snapshot;
use arc_swap::ArcSwap;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the names are asked again (from the resolver's cache while their TTL lasts).
const EVERY: Duration = Duration::from_secs(5);
/// A name that did not resolve is asked again after this long (not every round: each
/// failed lookup is logged).
const RETRY: Duration = Duration::from_secs(60);
/// How long a name that stopped resolving keeps the addresses it last resolved to.
const KEEP: Duration = Duration::from_secs(600);

/// A name as asked for: (name in lower case, transport, explicit port).
type Key = (String, String, Option<u16>);

/// What one name gave last.
#[derive(Debug, Default)]
struct Known {
    addrs: Vec<SocketAddr>,
    /// When it last resolved.
    resolved: Option<Instant>,
    /// When it last failed to (cleared when it resolves).
    failed: Option<Instant>,
}

/// Starts keeping `names` current on `rt` for the peers of whatever model `snapshot`
/// holds. The receiver is told when the first round is done (the server waits for it,
/// briefly, before it serves).
pub fn spawn(
    names: Arc<ArcSwap<Resolved>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    dns: Arc<Dns>,
    rt: &tokio::runtime::Handle,
) -> tokio::sync::oneshot::Receiver<()> {
    let (first, done) = tokio::sync::oneshot::channel();
    rt.spawn(run(names, snapshot, dns, first));
    done
}

async fn run(
    names: Arc<ArcSwap<Resolved>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    dns: Arc<Dns>,
    first: tokio::sync::oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut known: HashMap<Key, Known> = HashMap::new();
    let mut seen: Option<Arc<Snapshot>> = None;
    let mut asked: Option<Instant> = None;
    loop {
        let snap = snapshot.load_full();
        let changed = !seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, &snap));
        if changed || asked.is_none_or(|a| a.elapsed() >= EVERY) {
            let now = Instant::now();
            asked = Some(now);
            round(
                &dns,
                &names_to_resolve(&snap.model),
                &mut known,
                &names,
                now,
            )
            .await;
            seen = Some(snap);
            if let Some(f) = first.take() {
                let _ = f.send(());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asks every name of `wanted` that is due, all at once, and updates `known`, publishing
/// into `names` as each answer comes (a slow name holds up no other).
async fn round(
    dns: &Arc<Dns>,
    wanted: &[Key],
    known: &mut HashMap<Key, Known>,
    names: &ArcSwap<Resolved>,
    now: Instant,
) {
    known.retain(|k, _| wanted.contains(k));
    forget_stale(known, now);
    publish(names, known);
    let mut asking = tokio::task::JoinSet::new();
    for key in wanted {
        let k = known.entry(key.clone()).or_default();
        if k.failed.is_some_and(|f| now.duration_since(f) < RETRY) {
            continue;
        }
        let (dns, key) = (dns.clone(), key.clone());
        asking.spawn(async move {
            let found = dns.resolve_every(&key.0, &key.1, key.2).await;
            (key, found)
        });
    }
    while let Some(done) = asking.join_next().await {
        let Ok((key, found)) = done else { continue };
        let k = known.entry(key).or_default();
        if found.is_empty() {
            k.failed = Some(now);
        } else {
            let mut addrs: Vec<SocketAddr> = found.iter().map(|f| f.addr).collect();
            // (SRV targets come in a drawn order: kept sorted, compared as sets)
            addrs.sort();
            addrs.dedup();
            *k = Known {
                addrs,
                resolved: Some(now),
                failed: None,
            };
        }
        forget_stale(known, now);
        publish(names, known);
    }
}

/// A name that does not resolve any more loses its addresses `KEEP` after it last did.
fn forget_stale(known: &mut HashMap<Key, Known>, now: Instant) {
    for k in known.values_mut() {
        if k.failed.is_some() && k.resolved.is_none_or(|r| now.duration_since(r) >= KEEP) {
            k.addrs.clear();
        }
    }
}

/// Makes `names` what `known` says, logging each name whose addresses changed.
fn publish(names: &ArcSwap<Resolved>, known: &HashMap<Key, Known>) {
    let mut by_name: HashMap<String, Vec<SocketAddr>> = HashMap::new();
    for ((name, _, _), k) in known {
        let addrs = by_name.entry(name.clone()).or_default();
        addrs.extend(&k.addrs);
        addrs.sort();
        addrs.dedup();
    }
    by_name.retain(|_, addrs| !addrs.is_empty());
    let next = Resolved::new(by_name);
    let now = names.load_full();
    if next == *now {
        return;
    }
    let next = Arc::new(next);
    names.store(next.clone());
    let every: BTreeSet<&str> = next.names().chain(now.names()).collect();
    for name in every {
        if next.of(name) == now.of(name) {
            continue;
        }
        if next.of(name).is_empty() {
            tracing::warn!("DNS {}: no address recognised any more", name);
        } else {
            tracing::info!(
                "DNS {}: its requests are recognised from {:?}",
                name,
                next.of(name)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, port: Option<u16>) -> Key {
        (name.into(), "udp".into(), port)
    }

    #[test]
    fn a_name_that_stopped_resolving_keeps_its_addresses_ten_minutes_and_names_merge() {
        let t0 = Instant::now();
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let mut known = HashMap::from([
            (
                key("pbx.test", None),
                Known {
                    addrs: vec![a("192.0.2.7:5060")],
                    resolved: Some(t0),
                    failed: None,
                },
            ),
            // the same name for another port: its addresses join the first's
            (
                key("pbx.test", Some(5080)),
                Known {
                    addrs: vec![a("192.0.2.7:5080")],
                    resolved: Some(t0),
                    failed: None,
                },
            ),
        ]);
        let names = ArcSwap::from_pointee(Resolved::default());
        publish(&names, &known);
        assert_eq!(
            names.load().of("PBX.test"),
            [a("192.0.2.7:5060"), a("192.0.2.7:5080")]
        );
        // it fails to resolve from then on: kept until ten minutes after it last did
        for k in known.values_mut() {
            k.failed = Some(t0 + Duration::from_secs(60));
        }
        forget_stale(&mut known, t0 + KEEP - Duration::from_secs(1));
        publish(&names, &known);
        assert_eq!(names.load().of("pbx.test").len(), 2);
        forget_stale(&mut known, t0 + KEEP);
        publish(&names, &known);
        assert!(names.load().of("pbx.test").is_empty());
        assert!(!names.load().contains_ip("192.0.2.7".parse().unwrap()));
    }
}

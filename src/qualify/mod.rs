//! Peer health ("qualify"): an OPTIONS every `qualify_interval` seconds to each direct
//! friend and carrier that has one; a peer that leaves `peer::DOWN_AFTER` of them in a row
//! unanswered is down, the next answer makes it up again. A peer by host name is probed
//! where its name resolves: at the address (SRV target) that answered its last probe, at
//! the next one in the order of that resolution after a probe missed, so that a miss
//! moves it on (an SRV draw that reorders the targets may bring it back to one tried).
//!
//! `peer.rs` is each peer's state machine (pure, given `now`); `probe.rs` says which peers
//! are probed and builds the OPTIONS; `driver.rs` is the task that sends them. This file
//! holds the shared state: the peers by key (what routing asks, `is_up`) and by the
//! Call-ID of their probes (what an answer is matched by), each peer behind its own lock —
//! a map shard is never locked while a peer is.

pub mod driver;
pub mod peer;
pub mod probe;

use crate::sip::message::{Message, StartLine};
use crate::sip::transport::{Flow, Proto};
use dashmap::DashMap;
use peer::{Change, Peer};
use probe::{PeerKind, Spec};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every probe's Call-ID starts so: a response to anything else is not looked up here.
const CALL_ID_PREFIX: &str = "qualify-";

/// One probed peer.
pub struct Entry {
    pub spec: Spec,
    /// The Call-ID of all its probes (a new CSeq and branch each).
    call_id: String,
    tag: String,
    /// False once down, true again at its next answer (read by routing without the lock).
    up: AtomicBool,
    state: Mutex<Peer>,
    /// Where its probes go: its address, or the one its name last resolved to (an answer
    /// counts only from there).
    at: Mutex<Option<(Proto, SocketAddr)>>,
    /// Its name is being resolved for a probe (one resolution at a time).
    pub(crate) resolving: AtomicBool,
}

impl Entry {
    fn lock(&self) -> MutexGuard<'_, Peer> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where its probes go (None: a name not resolved yet).
    pub fn at(&self) -> Option<(Proto, SocketAddr)> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A name resolved: its probes go to `at` from now on.
    pub fn aim(&self, at: (Proto, SocketAddr)) {
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// Which of the addresses its name resolved to (in any order: the SRV targets of one
    /// priority come in a new draw each time) the probe just due goes to: where the last
    /// one went if it was answered, else the one after it; the first when it was at none
    /// of them.
    pub fn choose(&self, addrs: &[(Proto, SocketAddr)]) -> Option<(Proto, SocketAddr)> {
        let missed = self.lock().missed() > 0;
        let last = self.at().and_then(|a| addrs.iter().position(|x| *x == a));
        let i = match (last, missed) {
            (Some(i), false) => i,
            (Some(i), true) => (i + 1) % addrs.len(),
            (None, _) => 0,
        };
        addrs.get(i).copied()
    }

    /// Applies a change to the routing's view and says it in the log.
    fn changed(&self, change: Change, rtt: Option<Duration>) {
        let label = self.spec.label();
        match change {
            Change::Down => {
                self.up.store(false, Ordering::Relaxed);
                tracing::info!(
                    "peer {} down ({} OPTIONS in a row unanswered)",
                    label,
                    peer::DOWN_AFTER
                );
            }
            Change::Up => {
                self.up.store(true, Ordering::Relaxed);
                tracing::info!(
                    "peer {} up (round trip {} ms)",
                    label,
                    rtt.map(|d| d.as_millis()).unwrap_or(0)
                );
            }
            Change::UpAfter(d) => {
                self.up.store(true, Ordering::Relaxed);
                tracing::info!("peer {} up after {} s", label, d.as_secs());
            }
        }
    }
}

/// One peer as `GET /api/peers` and `vozbox peers` show it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    pub kind: PeerKind,
    /// A carrier's brand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// A friend's client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub name: String,
    /// `udp:192.0.2.7:5060`
    pub address: String,
    /// Seconds between probes.
    pub interval: u32,
    /// `up`, `down`, or `unknown` (not answered yet, not down yet).
    pub state: &'static str,
    /// The last answer's round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// When it last answered, seconds since the epoch.
    pub last_seen: Option<u64>,
    /// Probes in a row it has not answered.
    pub missed: u32,
}

/// The peers' health, shared by the driver, the server's response dispatch, routing, the
/// API and the metrics.
#[derive(Default)]
pub struct Qualify {
    /// `probe::key` → peer.
    peers: DashMap<String, Arc<Entry>>,
    /// The Call-ID of a peer's probes → the peer.
    by_call_id: DashMap<String, Arc<Entry>>,
}

impl Qualify {
    /// Whether a peer may be sent calls: false only for a probed peer that is down (a
    /// peer not probed, or not answered yet, is up).
    pub fn is_up(&self, kind: PeerKind, owner: &str, name: &str) -> bool {
        self.peers
            .get(&probe::key(kind, owner, name))
            .is_none_or(|e| e.up.load(Ordering::Relaxed))
    }

    /// A response received: true when it is an answer to a probe's Call-ID (then it is
    /// nobody else's). It counts only when it carries the outstanding probe's branch and
    /// comes from the peer's own address over its transport.
    pub fn on_response(&self, msg: &Message, from: &Flow) -> bool {
        let Some(call_id) = msg.call_id() else {
            return false;
        };
        if !call_id.starts_with(CALL_ID_PREFIX) {
            return false;
        }
        let Some(entry) = self.by_call_id.get(call_id).map(|e| e.clone()) else {
            return true;
        };
        let is_options = matches!(msg.start, StartLine::Response { .. })
            && msg.cseq().is_some_and(|(_, m)| m == "OPTIONS");
        if !is_options || entry.at() != Some((from.proto, from.remote)) {
            tracing::debug!(
                "qualify: an answer for {} from {} ignored (not the peer's address)",
                entry.spec.label(),
                from
            );
            return true;
        }
        let Some(branch) = msg.top_via().and_then(|v| v.branch().map(str::to_string)) else {
            return true;
        };
        let now = Instant::now();
        let (rtt, change) = {
            let mut p = entry.lock();
            let (_, change) = p.answered(now, &branch);
            (p.rtt(), change)
        };
        if let Some(c) = change {
            entry.changed(c, rtt);
        }
        true
    }

    /// Takes the model's peers: new ones probed from `now` on (within a second, spread),
    /// changed ones started again, removed ones forgotten.
    pub fn reconcile(&self, specs: Vec<Spec>, now: Instant) {
        let wanted: std::collections::HashMap<String, Spec> =
            specs.into_iter().map(|s| (s.key(), s)).collect();
        let stale: Vec<Arc<Entry>> = self
            .peers
            .iter()
            .filter(|e| wanted.get(e.key()) != Some(&e.spec))
            .map(|e| e.value().clone())
            .collect();
        for e in stale {
            self.peers.remove(&e.spec.key());
            self.by_call_id.remove(&e.call_id);
        }
        for (key, spec) in wanted {
            if self.peers.contains_key(&key) {
                continue;
            }
            let jitter = Duration::from_millis(rand::random::<u64>() % 1000)
                .min(Duration::from_secs(u64::from(spec.interval)));
            let entry = Arc::new(Entry {
                call_id: format!("{}{:016x}@vozbox", CALL_ID_PREFIX, rand::random::<u64>()),
                tag: format!("{:016x}", rand::random::<u64>()),
                up: AtomicBool::new(true),
                state: Mutex::new(Peer::new(
                    Duration::from_secs(u64::from(spec.interval)),
                    now + jitter,
                )),
                at: Mutex::new(spec.to.map(|to| (spec.proto, to))),
                resolving: AtomicBool::new(false),
                spec,
            });
            self.by_call_id.insert(entry.call_id.clone(), entry.clone());
            self.peers.insert(key, entry);
        }
    }

    /// The probes due at `now`, with their CSeq and branch (changes they bring, a peer
    /// down, are applied and logged here).
    pub fn due(&self, now: Instant) -> Vec<(Arc<Entry>, peer::Send)> {
        let entries: Vec<Arc<Entry>> = self.peers.iter().map(|e| e.value().clone()).collect();
        let mut out = Vec::new();
        for e in entries {
            let (send, change) = {
                let mut p = e.lock();
                if p.poll_timeout() > now {
                    continue;
                }
                p.due(now, format!("z9hG4bKq{:016x}", rand::random::<u64>()))
            };
            if let Some(c) = change {
                e.changed(c, None);
            }
            if let Some(s) = send {
                out.push((e, s));
            }
        }
        out
    }

    /// When the next probe is due (none while no peer is probed).
    pub fn next_deadline(&self) -> Option<Instant> {
        let entries: Vec<Arc<Entry>> = self.peers.iter().map(|e| e.value().clone()).collect();
        entries.iter().map(|e| e.lock().poll_timeout()).min()
    }

    /// Every probed peer, by kind, owner and name.
    pub fn views(&self) -> Vec<PeerView> {
        let entries: Vec<Arc<Entry>> = self.peers.iter().map(|e| e.value().clone()).collect();
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut out: Vec<PeerView> = entries
            .iter()
            .map(|e| {
                let p = e.lock();
                let s = &e.spec;
                let last_seen = p.last_seen().and_then(|t| {
                    let at = wall.checked_sub(now.saturating_duration_since(t))?;
                    Some(at.duration_since(UNIX_EPOCH).ok()?.as_secs())
                });
                PeerView {
                    kind: s.kind,
                    brand: (s.kind == PeerKind::Carrier).then(|| s.owner.clone()),
                    client: (s.kind == PeerKind::Friend).then(|| s.owner.clone()),
                    name: s.name.clone(),
                    address: match (e.at(), s.to) {
                        (Some((proto, to)), Some(_)) => format!("{}:{}", proto.as_str(), to),
                        (Some((proto, to)), None) => {
                            format!("{}:{} ({})", proto.as_str(), to, s.host)
                        }
                        (None, _) => format!("{}:{}", s.transport, s.host),
                    },
                    interval: s.interval,
                    state: p.status().as_str(),
                    rtt_ms: p.rtt().map(|d| d.as_secs_f64() * 1000.0),
                    last_seen,
                    missed: p.missed(),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.kind.as_str(), &a.brand, &a.client, &a.name).cmp(&(
                b.kind.as_str(),
                &b.brand,
                &b.client,
                &b.name,
            ))
        });
        out
    }
}

#[cfg(test)]
mod tests;

//! The built-in RTP relay (DESIGN §6): every call's audio passes through a port pair per
//! side taken from the client's media relay set (or the default one of `[media]`), the SDP
//! on each leg is rewritten to point at it (`sdp.rs`, on the line reader `sdp_lines.rs`), and the relay latches onto the
//! addresses that really send — only its parties' own (`latch.rs`, `session.rs`).

pub mod app;
mod batch;
mod builtin;
pub mod dtmf;
pub mod fastpath;
#[cfg(test)]
mod fastpath_tests;
mod forward;
pub mod g711;
mod injector;
pub mod latch;
pub mod multipart;
mod offload;
mod pair_map;
pub mod ports;
pub mod prompts;
pub mod rectap;
pub mod relay;
#[cfg(test)]
mod relay_tests;
mod route_get;
pub mod sdp;
pub mod sdp_lines;
pub mod session;
pub mod stream;
#[cfg(test)]
mod test_netns;

use crate::config;
use crate::model::MediaRelaySet;
use dashmap::DashMap;
pub use injector::Injector;
use ports::{Kept, PortPool};
pub use session::{Counters, Facing, MediaSession, Sources};
use std::net::IpAddr;
use std::sync::Arc;

/// A relay set in use: where to bind, what to advertise, its ports.
struct RelaySet {
    bind: IpAddr,
    advertised: IpAddr,
    pool: Arc<PortPool>,
}

#[derive(Debug)]
pub enum MediaError {
    /// Every port pair of the set is in use.
    Exhausted(String),
    /// The set's addresses are wrong, or a socket could not be bound.
    Bind(String),
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::Exhausted(s) => write!(f, "media relay set {}: no free port pair", s),
            MediaError::Bind(e) => write!(f, "media relay: {}", e),
        }
    }
}

pub struct Media {
    default: config::Media,
    /// `[media] timeout`: seconds without RTP before an answered call is ended (0: off).
    pub timeout: u64,
    /// Voice notifications by language and cause.
    pub prompts: Arc<prompts::Prompts>,
    /// Relay sets by bind address, advertised address and port range, made on first use.
    sets: DashMap<(IpAddr, IpAddr, u16, u16), Arc<RelaySet>>,
    /// Port pools by bind address and port range: sets differing only in what they
    /// advertise share one. Looked at when a set is first used (and by the statistics),
    /// never per call: one lock, held while a pool is made and compared with the others.
    pools: std::sync::Mutex<std::collections::HashMap<(IpAddr, u16, u16), Arc<PortPool>>>,
    /// The forwarding threads every session's sockets are served by.
    relay: relay::Relay,
    /// How many free port pairs the relay sets keep bound between calls, all together.
    kept: Arc<Kept>,
    /// Strict sources or not, and the drops of every session.
    sources: Sources,
    rt: tokio::runtime::Handle,
}

/// Bind attempts per call before giving up (a port of the pool may be taken by another
/// program).
const TRIES: usize = 8;

impl Media {
    pub fn new(
        default: config::Media,
        prompts: prompts::Prompts,
        rt: tokio::runtime::Handle,
        open_files: u64,
    ) -> std::io::Result<Media> {
        let mut relay = relay::Relay::start(
            match default.threads {
                0 => relay::default_threads(),
                n => n,
            },
            std::time::Duration::from_micros(default.batch_us),
        )?;
        if default.kernel_forwarding {
            match fastpath::Fastpath::start() {
                Ok(f) => {
                    tracing::info!(
                        "[media] kernel_forwarding: settled streams are forwarded in the \
                         kernel (interfaces {})",
                        f.interfaces().join(", ")
                    );
                    relay = relay.with_fastpath(Arc::new(f));
                }
                Err(e) => tracing::warn!(
                    "[media] kernel_forwarding: {}; the relay forwards every packet itself",
                    e
                ),
            }
        }
        if !default.strict_source {
            tracing::warn!(
                "[media] strict_source = false: the relay learns media from any source; a \
                 stranger who sprays its ports can hear calls and cut their audio (RTP bleed)"
            );
        }
        Ok(Media {
            sources: Sources {
                strict: default.strict_source,
                ..Sources::default()
            },
            timeout: default.timeout,
            prompts: Arc::new(prompts),
            default,
            sets: DashMap::new(),
            pools: Default::default(),
            relay,
            kept: Kept::for_open_files(open_files),
            rt,
        })
    }

    fn set(&self, def: Option<&MediaRelaySet>) -> Result<Arc<RelaySet>, MediaError> {
        let (name, bind, adv, min, max) = match def {
            Some(d) => (
                d.name.as_str(),
                d.bind.as_str(),
                d.advertised.as_str(),
                d.port_min,
                d.port_max,
            ),
            None => (
                "",
                self.default.bind.as_str(),
                self.default.advertised.as_str(),
                self.default.port_min,
                self.default.port_max,
            ),
        };
        let parse = |s: &str| {
            s.parse::<IpAddr>()
                .map_err(|_| MediaError::Bind(format!("relay set {:?}: bad address {:?}", name, s)))
        };
        let (bind, advertised) = (parse(bind)?, parse(adv)?);
        if let Some(s) = self.sets.get(&(bind, advertised, min, max)) {
            return Ok(s.clone());
        }
        let set = Arc::new(RelaySet {
            bind,
            advertised,
            pool: self.pool(bind, min, max),
        });
        Ok(self
            .sets
            .entry((bind, advertised, min, max))
            .or_insert(set)
            .clone())
    }

    /// One pool per bind address and port range, whatever the sets using it are called or
    /// advertise. Two pools whose ports may clash (`clash`: a range provisioned again, or
    /// another set's on the same address or a wildcard of its family) both stop keeping
    /// pairs bound, for good: neither then holds a port the other needs between calls.
    fn pool(&self, bind: IpAddr, min: u16, max: u16) -> Arc<PortPool> {
        let key = (bind, min, max);
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(&key) {
            return p.clone();
        }
        let pool = Arc::new(PortPool::new(bind, min, max, self.kept.clone()));
        let clashing: Vec<&Arc<PortPool>> = pools
            .iter()
            .filter(|(other, _)| ports::clash(**other, key))
            .map(|(_, p)| p)
            .collect();
        if !clashing.is_empty() {
            tracing::warn!(
                "media relay: ports {}-{} on {} overlap another relay set's: neither keeps \
                 port pairs bound between calls",
                min,
                max,
                bind
            );
            pool.retire();
            for other in clashing {
                other.retire();
            }
        }
        pools.insert(key, pool.clone());
        pool
    }

    /// A relay session from the relay set `def` (None: the default of `[media]`).
    pub fn open(&self, def: Option<&MediaRelaySet>) -> Result<MediaSession, MediaError> {
        let set = self.set(def)?;
        let name = def.map(|d| d.name.as_str()).unwrap_or("default");
        let _rt = self.rt.enter();
        let mut last = String::new();
        for _ in 0..TRIES {
            // The thread first: it takes the pairs that thread watches.
            let turn = self.relay.next();
            let (Some(a), Some(b)) = (set.pool.take(turn.watch), set.pool.take(turn.watch)) else {
                return Err(MediaError::Exhausted(name.to_string()));
            };
            let leases = (a, b);
            match MediaSession::open(
                &self.relay,
                turn,
                set.bind,
                set.advertised,
                leases,
                &self.sources,
            ) {
                Ok(s) => return Ok(s),
                // The leases go back to the pool's end (once the forwarding thread let go
                // of the sockets); try the next pairs.
                Err(e) => last = e.to_string(),
            }
        }
        Err(MediaError::Bind(format!("relay set {}: {}", name, last)))
    }

    /// Packets every session dropped so far: not RTP, or not from the party of the side
    /// they arrived on.
    pub fn dropped(&self) -> u64 {
        self.sources
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Port pairs in use across every relay set.
    pub fn ports_in_use(&self) -> usize {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.values().map(|p| p.in_use()).sum()
    }

    /// Free port pairs kept bound between calls, across every relay set.
    pub fn ports_kept_bound(&self) -> usize {
        self.kept.len()
    }

    /// Relay sessions open (calls with media, and voice notifications playing).
    pub fn sessions(&self) -> usize {
        self.sources.open.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the forwarding threads relayed since the start, added up now.
    /// The relay's kernel fast path is on (`[media] kernel_forwarding`, and it started).
    pub fn kernel_forwarding(&self) -> bool {
        self.relay.fastpath.is_some()
    }

    pub fn traffic(&self) -> relay::RelayTraffic {
        self.relay.traffic()
    }
}

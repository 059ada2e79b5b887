//! The location service in memory: address-of-record → its bindings. Sharded (DashMap), so
//! registrations of different AoRs never wait for each other. The store holds the durable
//! copy; this map is loaded from it at start.

use crate::model::Binding;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Location {
    map: DashMap<String, Vec<Arc<Binding>>>,
    /// No binding expires before this (Unix seconds): the sweep walks the table only then.
    next_expiry: AtomicU64,
}

impl Default for Location {
    fn default() -> Location {
        Location {
            map: DashMap::new(),
            next_expiry: AtomicU64::new(u64::MAX),
        }
    }
}

impl Location {
    pub fn new() -> Location {
        Location::default()
    }

    fn note_expiries(&self, list: &[Arc<Binding>]) {
        if let Some(min) = list.iter().map(|b| b.expires_at).min() {
            self.next_expiry.fetch_min(min, Ordering::Relaxed);
        }
    }

    pub fn load(&self, bindings: Vec<Binding>, now: u64) -> Vec<String> {
        let mut expired = Vec::new();
        for b in bindings {
            if b.expires_at <= now {
                expired.push(b.key());
                continue;
            }
            self.next_expiry.fetch_min(b.expires_at, Ordering::Relaxed);
            self.map.entry(b.aor.clone()).or_default().push(Arc::new(b));
        }
        expired
    }

    /// The live bindings of an AoR (highest q first).
    pub fn lookup(&self, aor: &str, now: u64) -> Vec<Arc<Binding>> {
        let mut v: Vec<Arc<Binding>> = self
            .map
            .get(aor)
            .map(|e| e.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.q.unwrap_or(1.0).total_cmp(&a.q.unwrap_or(1.0)));
        v
    }

    /// Runs `f` on the bindings of one AoR under that AoR's lock; an emptied entry is removed.
    pub fn update<R>(&self, aor: &str, f: impl FnOnce(&mut Vec<Arc<Binding>>) -> R) -> R {
        // A known AoR (a refresh, the usual case) is found without allocating its key.
        let (r, empty) = match self.map.get_mut(aor) {
            Some(mut list) => {
                let r = f(list.value_mut());
                self.note_expiries(list.value());
                (r, list.is_empty())
            }
            None => {
                let mut entry = self.map.entry(aor.to_string()).or_default();
                let r = f(entry.value_mut());
                self.note_expiries(entry.value());
                (r, entry.is_empty())
            }
        };
        if empty {
            self.map.remove_if(aor, |_, v| v.is_empty());
        }
        r
    }

    /// Removes expired bindings and returns them.
    pub fn sweep(&self, now: u64) -> Vec<Arc<Binding>> {
        let mut gone = Vec::new();
        if now < self.next_expiry.load(Ordering::Relaxed) {
            return gone;
        }
        // Recomputed below; updates running meanwhile lower it themselves.
        self.next_expiry.store(u64::MAX, Ordering::Relaxed);
        let mut min = u64::MAX;
        self.map.retain(|_, v| {
            v.retain(|b| {
                let keep = b.expires_at > now;
                if keep {
                    min = min.min(b.expires_at);
                } else {
                    gone.push(b.clone());
                }
                keep
            });
            !v.is_empty()
        });
        self.next_expiry.fetch_min(min, Ordering::Relaxed);
        if self.map.capacity() > 4 * self.map.len() + 1024 {
            self.map.shrink_to_fit();
        }
        gone
    }

    /// Whether a live binding is reached over this connection (a scan: asked only when a
    /// connection has been idle for the idle timeout).
    pub fn uses_connection(&self, flow: &crate::sip::transport::Flow, now: u64) -> bool {
        self.map.iter().any(|e| {
            e.value()
                .iter()
                .any(|b| b.expires_at > now && b.flow == *flow)
        })
    }

    pub fn all(&self) -> Vec<Arc<Binding>> {
        self.map.iter().flat_map(|e| e.value().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.map.iter().map(|e| e.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BindingOwner;
    use crate::sip::transport::{Flow, Proto};

    fn binding(aor: &str, contact: &str, expires_at: u64) -> Binding {
        Binding {
            aor: aor.into(),
            client: "c".into(),
            owner: BindingOwner::Terminal,
            contact: contact.into(),
            q: None,
            expires_at,
            call_id: "x".into(),
            cseq: 1,
            flow: Flow {
                proto: Proto::Udp,
                local: "127.0.0.1:5060".parse().unwrap(),
                remote: "127.0.0.1:5062".parse().unwrap(),
                conn: None,
            },
            natted: false,
            user_agent: None,
            path: vec![],
        }
    }

    #[test]
    fn the_sweep_expires_on_time_and_only_walks_when_due() {
        let l = Location::new();
        l.load(vec![binding("sip:a@d", "sip:a@h", 100)], 50);
        l.update("sip:b@d", |v| {
            v.push(Arc::new(binding("sip:b@d", "sip:b@h", 80)))
        });
        assert!(l.sweep(79).is_empty());
        let keys = |v: Vec<Arc<Binding>>| v.iter().map(|b| b.key()).collect::<Vec<_>>();
        assert_eq!(keys(l.sweep(80)), vec!["sip:b@d\nsip:b@h".to_string()]);
        assert!(l.sweep(99).is_empty());
        assert_eq!(l.len(), 1);
        // a binding added after a sweep with an earlier expiry is still swept on time
        l.update("sip:c@d", |v| {
            v.push(Arc::new(binding("sip:c@d", "sip:c@h", 90)))
        });
        assert_eq!(l.sweep(90).len(), 1);
        assert_eq!(l.sweep(100).len(), 1);
        assert!(l.is_empty());
    }
}

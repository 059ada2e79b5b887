//! The location service in memory: address-of-record → its bindings. Sharded (DashMap), so
//! registrations of different AoRs never wait for each other. The store holds the durable
//! copy; this map is loaded from it at start.

use crate::model::Binding;
use dashmap::DashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct Location {
    map: DashMap<String, Vec<Arc<Binding>>>,
}

impl Location {
    pub fn new() -> Location {
        Location::default()
    }

    pub fn load(&self, bindings: Vec<Binding>, now: u64) -> Vec<String> {
        let mut expired = Vec::new();
        for b in bindings {
            if b.expires_at <= now {
                expired.push(b.key());
                continue;
            }
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
        let mut entry = self.map.entry(aor.to_string()).or_default();
        let r = f(entry.value_mut());
        let empty = entry.is_empty();
        drop(entry);
        if empty {
            self.map.remove_if(aor, |_, v| v.is_empty());
        }
        r
    }

    /// Removes expired bindings; returns their store keys.
    pub fn sweep(&self, now: u64) -> Vec<String> {
        let mut gone = Vec::new();
        self.map.retain(|_, v| {
            v.retain(|b| {
                let keep = b.expires_at > now;
                if !keep {
                    gone.push(b.key());
                }
                keep
            });
            !v.is_empty()
        });
        if self.map.capacity() > 4 * self.map.len() + 1024 {
            self.map.shrink_to_fit();
        }
        gone
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

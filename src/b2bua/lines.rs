//! A user's own `max_calls` ("call waiting"): the calls in progress of each user, in and
//! out. A call holds a `Held` for the users it counts against, from its entry to its end;
//! dropping it gives the places back, however the call ends (or is dropped).

use dashmap::DashMap;
use std::sync::Arc;

/// Calls in progress per user (`client/name`).
#[derive(Default, Clone)]
pub struct Lines(Arc<DashMap<String, usize>>);

/// The places one call holds.
pub struct Held {
    lines: Lines,
    keys: Vec<String>,
}

impl Lines {
    /// Whether `key` has `limit` calls or more (0: no limit).
    pub fn at(&self, key: &str, limit: u32) -> bool {
        limit > 0 && self.0.get(key).is_some_and(|n| *n >= limit as usize)
    }

    /// Counts a call against each of `keys`.
    pub fn hold(&self, keys: &[String]) -> Held {
        for k in keys {
            *self.0.entry(k.clone()).or_insert(0) += 1;
        }
        Held {
            lines: self.clone(),
            keys: keys.to_vec(),
        }
    }

    fn release(&self, key: &str) {
        self.0.remove_if_mut(key, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }

    pub fn count(&self, key: &str) -> usize {
        self.0.get(key).map(|n| *n).unwrap_or(0)
    }
}

impl Held {
    /// The call now counts against `to` instead of `from` (a forward took it to another
    /// user); `from` may be absent, `to` may be none.
    pub fn shift(&mut self, from: Option<&str>, to: Option<String>) {
        if let Some(i) = from.and_then(|f| self.keys.iter().position(|k| k == f)) {
            let k = self.keys.remove(i);
            self.lines.release(&k);
        }
        if let Some(t) = to {
            *self.lines.0.entry(t.clone()).or_insert(0) += 1;
            self.keys.push(t);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for k in &self.keys {
            self.lines.release(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_come_back_however_the_call_goes() {
        let lines = Lines::default();
        let keys = vec!["c/alice".to_string(), "c/bob".to_string()];
        let a = lines.hold(&keys);
        let mut b = lines.hold(&keys[1..]);
        assert!(lines.at("c/bob", 2) && !lines.at("c/bob", 3) && !lines.at("c/bob", 0));
        b.shift(Some("c/bob"), Some("c/carol".into()));
        assert_eq!((lines.count("c/bob"), lines.count("c/carol")), (1, 1));
        drop(a);
        drop(b);
        assert_eq!(
            (
                lines.count("c/alice"),
                lines.count("c/bob"),
                lines.count("c/carol")
            ),
            (0, 0, 0)
        );
    }
}

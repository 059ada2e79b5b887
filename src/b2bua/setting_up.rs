//! The calls being set up: sent on to their branches, not yet answered or ended. New
//! INVITEs are refused past `[overload] max_setup` of them (`crate::overload`). A call
//! holds its place from its branches' INVITEs to its answer or its end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
pub struct SettingUp(Arc<AtomicUsize>);

/// One call's place, given back when dropped.
pub struct Place(Arc<AtomicUsize>);

impl SettingUp {
    pub fn hold(&self) -> Place {
        self.0.fetch_add(1, Ordering::Relaxed);
        Place(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::SettingUp;

    #[test]
    fn places_are_given_back_when_dropped() {
        let s = SettingUp::default();
        let (a, b) = (s.hold(), s.hold());
        assert_eq!(s.count(), 2);
        drop(a);
        assert_eq!(s.count(), 1);
        drop(b);
        assert_eq!(s.count(), 0);
    }
}

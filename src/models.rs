//! Changes to the provisioned model while the server runs — through the admin API, or by a
//! phone's service code — happen one at a time: each holds this lock from reading the live
//! snapshot to swapping in the new one, so none is lost and the snapshot is always the
//! model of the last commit.

use crate::model::{Admin, AuditEntry, Model, Snapshot};
use crate::store::{canonical, Store, StoreError};
use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

pub struct Models {
    /// (Weak: at shutdown the database is closed once its last user lets go.)
    store: Weak<Store>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    lock: Mutex<()>,
}

/// Held while a change is made (`Models::begin`).
pub struct Change<'a> {
    _held: MutexGuard<'a, ()>,
}

impl Models {
    pub fn new(store: &Arc<Store>, snapshot: Arc<ArcSwap<Snapshot>>) -> Models {
        Models {
            store: Arc::downgrade(store),
            snapshot,
            lock: Mutex::new(()),
        }
    }

    /// Starts a change: later ones wait until it is committed or dropped.
    pub fn begin(&self) -> Change<'_> {
        Change {
            _held: self.lock.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Commits `model` (already checked) with the file's administrators and its audit
    /// entry, then swaps the live snapshot; whether anything changed.
    pub fn commit(
        &self,
        _change: &Change<'_>,
        model: &Model,
        admins: &[Admin],
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StoreError> {
        let store = self
            .store
            .upgrade()
            .ok_or_else(|| StoreError("the database is closed (shutting down)".into()))?;
        let changed = store.replace_model_audited(model, admins, audit)?;
        self.snapshot
            .store(Arc::new(Snapshot::new(canonical(model))));
        Ok(changed)
    }
}

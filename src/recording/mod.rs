//! Call recording: every call to a DDI with `record = true` from its answer, and on demand
//! (a client's `on_demand_record`: SIP INFO `Record: on|off`, and with `info_dtmf` also
//! `*` + its `recording_code` pressed during the call). The relay copies the call's packets
//! into a bounded queue (`media/rectap.rs`) — the forwarding threads never wait for a disk
//! —, a task per recorded call mixes them (`mixer.rs`: stereo, the caller left, aligned by
//! RTP timestamps) into a WAV beside the database, and the record follows the complete
//! file (`files.rs`). Old recordings go after `[storage] recordings_retention_days`.

pub mod call;
pub mod code;
pub mod mixer;

use crate::model::Recording;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Service {
    /// Weak: the database closes at shutdown whatever this holds.
    store: std::sync::Weak<Store>,
    dir: PathBuf,
    /// The highest id found at start: new ones come from the store's durable counter.
    floor: u64,
    /// Packets a recording's queue holds before copies are lost.
    pub queue: usize,
    retention_days: u32,
    /// The beep both parties hear when an on-demand recording starts and stops.
    pub beep: Option<Arc<crate::media::prompts::Prompt>>,
}

/// The folder of recordings: `[storage] recordings`, relative to the database's folder.
pub fn folder(db: &Path, setting: &Path) -> PathBuf {
    if setting.is_absolute() {
        return setting.to_path_buf();
    }
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(setting)
}

impl Service {
    fn db(&self) -> Result<Arc<Store>, String> {
        self.store
            .upgrade()
            .ok_or_else(|| "the database is closed".to_string())
    }

    pub fn new(
        store: Arc<Store>,
        dir: PathBuf,
        queue: usize,
        retention_days: u32,
        beep: Option<Arc<crate::media::prompts::Prompt>>,
    ) -> Result<Service, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
        let ids = store
            .recordings()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.id)
            .collect();
        let last = crate::files::reconcile(&dir, &ids, |id| {
            store
                .delete_recording(id)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
        let last = last.max(store.last_recording_id().map_err(|e| e.to_string())?);
        Ok(Service {
            store: Arc::downgrade(&store),
            dir,
            floor: last,
            queue,
            retention_days,
            beep,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A recording id never handed out before (blocking: one small commit).
    fn next_id(&self) -> Result<u64, String> {
        self.db()?
            .take_id("recording_id", self.floor)
            .map_err(|e| e.to_string())
    }

    /// Keeps a finished recording's record (its file complete already).
    fn keep(&self, r: &Recording) -> Result<(), String> {
        self.db()?.put_recording(r).map_err(|e| e.to_string())
    }

    pub fn all(&self) -> Result<Vec<Recording>, String> {
        self.db()?.recordings().map_err(|e| e.to_string())
    }

    /// Removes a recording: record, then file.
    pub fn delete(&self, id: u64) -> Result<bool, String> {
        let had = self.db()?.delete_recording(id).map_err(|e| e.to_string())?;
        if had {
            let _ = std::fs::remove_file(crate::files::file(&self.dir, id));
        }
        Ok(had)
    }

    /// Removes the recordings older than the retention (none when it is 0); how many.
    pub fn expire(&self, now_ms: u64) -> usize {
        if self.retention_days == 0 {
            return 0;
        }
        let limit = now_ms.saturating_sub(u64::from(self.retention_days) * 86_400_000);
        let old: Vec<u64> = match self.all() {
            Ok(all) => all
                .iter()
                .filter(|r| r.start < limit)
                .map(|r| r.id)
                .collect(),
            Err(e) => {
                tracing::error!("recordings: {}", e);
                return 0;
            }
        };
        let mut n = 0;
        for id in old {
            if let Ok(true) = self.delete(id) {
                n += 1;
            }
        }
        if n > 0 {
            tracing::info!(
                "recordings: {} older than {} days removed",
                n,
                self.retention_days
            );
        }
        n
    }
}

/// Removes recording `id` with no server running, when its client allows removal.
pub fn remove(store: &Store, dir: &Path, id: u64) -> Result<(), String> {
    match store.delete_recording(id) {
        Ok(true) => {
            let _ = std::fs::remove_file(crate::files::file(dir, id));
            Ok(())
        }
        Ok(false) => Err(format!("no recording {}", id)),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `client` of `model` lets its recordings be removed (an unknown client: yes).
pub fn removable(model: &crate::model::Model, client: &str) -> bool {
    model
        .clients
        .iter()
        .find(|c| c.name == client)
        .is_none_or(|c| c.allow_recording_removal)
}

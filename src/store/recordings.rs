//! Call recordings: one record per recording, the WAV file named by its id written whole
//! (renamed into place) before the record commits, the record removed before the file.

use super::schema::RECORDINGS;
use super::{Reader, Store, StoreError};
use crate::model::Recording;

impl Store {
    pub fn put_recording(&self, r: &Recording) -> Result<(), StoreError> {
        self.put_numbered(RECORDINGS, r.id, r, |_| Ok(()))
    }

    /// Removes the record of recording `id`; whether there was one.
    pub fn delete_recording(&self, id: u64) -> Result<bool, StoreError> {
        self.remove_numbered(RECORDINGS, id)
    }

    /// Every recording, oldest first.
    pub fn recordings(&self) -> Result<Vec<Recording>, StoreError> {
        self.all_numbered(RECORDINGS)
    }

    /// The highest recording id in the table (0: none).
    pub fn last_recording_id(&self) -> Result<u64, StoreError> {
        self.last_numbered(RECORDINGS)
    }
}

impl Reader {
    /// Every recording, oldest first (`vozbox recordings` without a server).
    pub fn recordings(&self) -> Result<Vec<Recording>, StoreError> {
        self.all_numbered(RECORDINGS)
    }
}

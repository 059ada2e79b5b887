//! Call recordings: one record per recording, the WAV file named by its id written whole
//! (renamed into place) before the record commits, the record removed before the file.

use super::schema::RECORDINGS;
use super::{put_u64, Reader, Store, StoreError};
use crate::model::Recording;
use redb::{ReadableDatabase, ReadableTable};

fn all(tx: &redb::ReadTransaction) -> Result<Vec<Recording>, StoreError> {
    let t = tx.open_table(RECORDINGS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(serde_json::from_slice(v.value())?);
    }
    Ok(out)
}

impl Store {
    pub fn put_recording(&self, r: &Recording) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        put_u64(&mut tx.open_table(RECORDINGS)?, r.id, r)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the record of recording `id`; whether there was one.
    pub fn delete_recording(&self, id: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let had = tx.open_table(RECORDINGS)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(had)
    }

    /// Every recording, oldest first.
    pub fn recordings(&self) -> Result<Vec<Recording>, StoreError> {
        all(&self.db.begin_read()?)
    }

    /// The highest recording id used so far (0: none).
    pub fn last_recording_id(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(RECORDINGS)?;
        let last = t.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        Ok(last)
    }
}

impl Reader {
    /// Every recording, oldest first (`vozbox recordings` without a server).
    pub fn recordings(&self) -> Result<Vec<Recording>, StoreError> {
        all(&self.db.begin_read()?)
    }
}

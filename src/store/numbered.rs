//! Tables of records numbered by a `u64` (voicemail messages, recordings), each a JSON
//! document: put, remove, read all, the highest number. The tables' own files say what
//! their records are.

use super::{Reader, Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(super) type Numbered = TableDefinition<'static, u64, &'static [u8]>;

fn all<T: DeserializeOwned>(
    tx: &redb::ReadTransaction,
    def: Numbered,
) -> Result<Vec<T>, StoreError> {
    let t = tx.open_table(def)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(serde_json::from_slice(v.value())?);
    }
    Ok(out)
}

impl Store {
    /// Writes record `id` of `def` (and whatever `more` adds) in one durable transaction.
    pub(super) fn put_numbered<T: Serialize>(
        &self,
        def: Numbered,
        id: u64,
        v: &T,
        more: impl FnOnce(&redb::WriteTransaction) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        super::put_u64(&mut tx.open_table(def)?, id, v)?;
        more(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes record `id` of `def`; whether there was one.
    pub(super) fn remove_numbered(&self, def: Numbered, id: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let had = tx.open_table(def)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(had)
    }

    /// Every record of `def`, in number order.
    pub(super) fn all_numbered<T: DeserializeOwned>(
        &self,
        def: Numbered,
    ) -> Result<Vec<T>, StoreError> {
        all(&self.db.begin_read()?, def)
    }

    /// The highest number used in `def` (0: none).
    pub(super) fn last_numbered(&self, def: Numbered) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(def)?;
        let last = t.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        Ok(last)
    }
}

impl Reader {
    /// Every record of `def`, in number order (also while a server runs).
    pub(super) fn all_numbered<T: DeserializeOwned>(
        &self,
        def: Numbered,
    ) -> Result<Vec<T>, StoreError> {
        all(&self.db.begin_read()?, def)
    }
}

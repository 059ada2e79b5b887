//! The audit trail: every change made through the API or the CLI, appended in the
//! transaction of the change itself when there is one.

use super::schema::AUDIT;
use super::{Store, StoreError};
use crate::model::AuditEntry;
use redb::{ReadableDatabase, ReadableTable};

/// Appends `e` to the audit table of an open write transaction.
pub(super) fn append(tx: &redb::WriteTransaction, e: &AuditEntry) -> Result<(), StoreError> {
    let mut t = tx.open_table(AUDIT)?;
    let next = t.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let bytes = serde_json::to_vec(e)?;
    t.insert(next, bytes.as_slice())?;
    Ok(())
}

impl Store {
    /// Records a change that has no model transaction of its own (a call hung up, a
    /// registration removed, an administrator added).
    pub fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        append(&tx, e)?;
        tx.commit()?;
        Ok(())
    }

    /// The trail, newest first: those `keep` accepts, `offset` of them skipped, at most
    /// `limit`; and how many `keep` accepts in all.
    pub fn audit_page(
        &self,
        keep: impl Fn(&AuditEntry) -> bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<AuditEntry>), StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(AUDIT)?;
        let (mut total, mut out) = (0, Vec::new());
        for row in t.iter()?.rev() {
            let (_, v) = row?;
            let e: AuditEntry = serde_json::from_slice(v.value())?;
            if !keep(&e) {
                continue;
            }
            if total >= offset && out.len() < limit {
                out.push(e);
            }
            total += 1;
        }
        Ok((total, out))
    }
}

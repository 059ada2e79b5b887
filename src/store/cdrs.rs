//! Reading call records back: the newest first, filtered (by the API and the CLI alike,
//! from the server's store or a read-only reader).

use super::schema::CDRS;
use super::{Reader, Store, StoreError};
use crate::model::Cdr;
use redb::{ReadableDatabase, ReadableTable};

/// Which records: every field that is set must match.
#[derive(Debug, Default, Clone)]
pub struct CdrFilter {
    pub client: Option<String>,
    /// Start time at or after (seconds since the epoch).
    pub from: Option<u64>,
    /// Start time before.
    pub to: Option<u64>,
    pub direction: Option<String>,
    pub disposition: Option<String>,
}

impl CdrFilter {
    pub fn accepts(&self, c: &Cdr) -> bool {
        self.client.as_ref().is_none_or(|x| *x == c.client)
            && self.from.is_none_or(|t| c.start >= t)
            && self.to.is_none_or(|t| c.start < t)
            && self.direction.as_ref().is_none_or(|x| *x == c.direction)
            && self
                .disposition
                .as_ref()
                .is_none_or(|x| *x == c.disposition)
    }
}

/// The matching records newest first, `offset` skipped, at most `limit`; and how many match.
fn page(
    tx: &redb::ReadTransaction,
    f: &CdrFilter,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Cdr>), StoreError> {
    let t = tx.open_table(CDRS)?;
    let (mut total, mut out) = (0, Vec::new());
    for row in t.iter()?.rev() {
        let (_, v) = row?;
        let c: Cdr = serde_json::from_slice(v.value())?;
        if !f.accepts(&c) {
            continue;
        }
        if total >= offset && out.len() < limit {
            out.push(c);
        }
        total += 1;
    }
    Ok((total, out))
}

impl Store {
    pub fn cdr_page(
        &self,
        f: &CdrFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Cdr>), StoreError> {
        page(&self.db.begin_read()?, f, offset, limit)
    }
}

impl Reader {
    pub fn cdr_page(
        &self,
        f: &CdrFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Cdr>), StoreError> {
        page(&self.db.begin_read()?, f, offset, limit)
    }
}

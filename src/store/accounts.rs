//! The clients' accounts (`policy::credit::Account`): read at start, charged in the
//! transaction of each priced call record, and set to a newly provisioned balance in the
//! transaction of the model that provisions it. And the e-mail outbox a notification is
//! queued to in the same transaction as the charge that caused it.

use super::schema::{ACCOUNTS, OUTBOX};
use super::{put, Reader, Store, StoreError};
use crate::model::{Mail, Model};
use crate::policy::credit::{Account, Charge};
use redb::{ReadableDatabase, ReadableTable};

fn get(t: &redb::Table<&str, &[u8]>, client: &str) -> Result<Option<Account>, StoreError> {
    match t.get(client)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
        None => Ok(None),
    }
}

/// Applies a priced call to its client's account.
pub(super) fn charge(tx: &redb::WriteTransaction, c: &Charge) -> Result<(), StoreError> {
    let mut t = tx.open_table(ACCOUNTS)?;
    let a = get(&t, &c.client)?.unwrap_or_else(|| Account::opening(&c.provisioned));
    put(&mut t, &c.client, &a.charged(c))
}

/// Notes that the daily-usage e-mail of `client` went out for `day`.
pub(super) fn notified(
    tx: &redb::WriteTransaction,
    client: &str,
    day: &str,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(ACCOUNTS)?;
    let mut a = get(&t, client)?.unwrap_or_default();
    a.notified = Some(day.to_string());
    put(&mut t, client, &a)
}

/// Each client's balance as `model` provisions it: set where it changed.
pub(super) fn reprovision(tx: &redb::WriteTransaction, model: &Model) -> Result<(), StoreError> {
    let mut t = tx.open_table(ACCOUNTS)?;
    for c in &model.clients {
        let a = get(&t, &c.name)?.unwrap_or_else(|| Account::opening(&c.balance));
        let b = a.clone().reprovisioned(&c.balance);
        if b != a || t.get(c.name.as_str())?.is_none() {
            put(&mut t, &c.name, &b)?;
        }
    }
    Ok(())
}

/// Puts `m` into the outbox.
pub(super) fn enqueue(tx: &redb::WriteTransaction, m: &Mail) -> Result<(), StoreError> {
    let mut t = tx.open_table(OUTBOX)?;
    let next = t.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let bytes = serde_json::to_vec(m)?;
    t.insert(next, bytes.as_slice())?;
    Ok(())
}

fn all(tx: &redb::ReadTransaction) -> Result<Vec<(String, Account)>, StoreError> {
    let t = tx.open_table(ACCOUNTS)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), serde_json::from_slice(v.value())?));
    }
    Ok(out)
}

impl Store {
    /// The e-mail waiting to be sent, oldest first.
    pub fn outbox(&self) -> Result<Vec<(u64, Mail)>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value(), serde_json::from_slice(v.value())?));
        }
        Ok(out)
    }

    /// Every account kept.
    pub fn accounts(&self) -> Result<Vec<(String, Account)>, StoreError> {
        all(&self.db.begin_read()?)
    }
}

impl Reader {
    /// Every account kept (`vozbox usage` without a server).
    pub fn accounts(&self) -> Result<Vec<(String, Account)>, StoreError> {
        all(&self.db.begin_read()?)
    }
}

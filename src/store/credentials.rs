//! The admin API's credentials in redb: administrators with the argon2 hash of their
//! password, and the SHA-256 of the API token. Neither a password nor a token is ever
//! stored.

use super::schema::{API_SECRETS, OPERATORS};
use super::{put, read_all, Store, StoreError};
use crate::model::Admin;
use redb::ReadableDatabase;

const TOKEN_KEY: &str = "token_sha256";

impl super::Reader {
    /// Every administrator, by name (`vozbox export`).
    pub fn admins(&self) -> Result<Vec<Admin>, StoreError> {
        let tx = self.db.begin_read()?;
        read_all(&tx.open_table(OPERATORS)?)
    }
}

impl Store {
    /// Every administrator, by name.
    pub fn admins(&self) -> Result<Vec<Admin>, StoreError> {
        let tx = self.db.begin_read()?;
        read_all(&tx.open_table(OPERATORS)?)
    }

    /// The SHA-256 of the API token, when one was issued.
    pub fn api_token_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(API_SECRETS)?;
        let v = t.get(TOKEN_KEY)?;
        Ok(v.and_then(|v| v.value().try_into().ok()))
    }

    /// Stores an administrator (replacing one of the same name) and, when given, the
    /// token's hash, in one durable transaction.
    pub fn put_api_credentials(
        &self,
        admin: Option<&Admin>,
        token_sha256: Option<&[u8; 32]>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            if let Some(a) = admin {
                put(&mut tx.open_table(OPERATORS)?, &a.name, a)?;
            }
            if let Some(h) = token_sha256 {
                tx.open_table(API_SECRETS)?
                    .insert(TOKEN_KEY, h.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds or replaces, or removes, an administrator, with its audit entry, in one durable
    /// transaction.
    pub fn write_admin(
        &self,
        put: Option<&Admin>,
        remove: Option<&str>,
        audit: &crate::model::AuditEntry,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(OPERATORS)?;
            if let Some(a) = put {
                super::put(&mut t, &a.name, a)?;
            }
            if let Some(n) = remove {
                t.remove(n)?;
            }
        }
        super::audit::append(&tx, audit)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes an administrator; whether there was one.
    pub fn remove_admin(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let gone = tx.open_table(OPERATORS)?.remove(name)?.is_some();
        tx.commit()?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip() {
        let dir = std::env::temp_dir().join(format!("vozbox-cred-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("db.redb")).unwrap();
        assert!(store.admins().unwrap().is_empty());
        assert_eq!(store.api_token_hash().unwrap(), None);
        let op = Admin {
            name: "admin".into(),
            password_hash: "$argon2id$x".into(),
            client: None,
            rights: None,
        };
        store
            .put_api_credentials(Some(&op), Some(&[7; 32]))
            .unwrap();
        assert_eq!(store.admins().unwrap(), vec![op]);
        assert_eq!(store.api_token_hash().unwrap(), Some([7; 32]));
        store.put_api_credentials(None, Some(&[8; 32])).unwrap();
        assert_eq!(store.api_token_hash().unwrap(), Some([8; 32]));
        assert!(store.remove_admin("admin").unwrap());
        assert!(!store.remove_admin("admin").unwrap());
        assert!(store.admins().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

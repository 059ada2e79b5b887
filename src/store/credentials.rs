//! The admin API's credentials in redb: operators with the argon2 hash of their password,
//! and the SHA-256 of the API token. Neither a password nor a token is ever stored.

use super::schema::{API_SECRETS, OPERATORS};
use super::{put, read_all, Store, StoreError};
use redb::ReadableDatabase;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    pub name: String,
    /// Argon2 in PHC string format (`$argon2id$v=19$…`).
    pub password_hash: String,
}

const TOKEN_KEY: &str = "token_sha256";

impl Store {
    pub fn operators(&self) -> Result<Vec<Operator>, StoreError> {
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

    /// Stores an operator (replacing one of the same name) and, when given, the token's
    /// hash, in one durable transaction.
    pub fn put_api_credentials(
        &self,
        operator: Option<&Operator>,
        token_sha256: Option<&[u8; 32]>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            if let Some(op) = operator {
                put(&mut tx.open_table(OPERATORS)?, &op.name, op)?;
            }
            if let Some(h) = token_sha256 {
                tx.open_table(API_SECRETS)?
                    .insert(TOKEN_KEY, h.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
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
        assert!(store.operators().unwrap().is_empty());
        assert_eq!(store.api_token_hash().unwrap(), None);
        let op = Operator {
            name: "admin".into(),
            password_hash: "$argon2id$x".into(),
        };
        store
            .put_api_credentials(Some(&op), Some(&[7; 32]))
            .unwrap();
        assert_eq!(store.operators().unwrap(), vec![op]);
        assert_eq!(store.api_token_hash().unwrap(), Some([7; 32]));
        store.put_api_credentials(None, Some(&[8; 32])).unwrap();
        assert_eq!(store.api_token_hash().unwrap(), Some([8; 32]));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

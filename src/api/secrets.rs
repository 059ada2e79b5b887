//! Making the admin API's credentials: the operator account and the API token of the first
//! start, the token file (`api-token`, mode 0600), a new token or password on request.
//! Only hashes reach the store: argon2 for passwords, SHA-256 for tokens (256 random bits
//! each, so a fast hash is enough for them).

use crate::model::Admin;
use crate::store::Store;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use rand::TryRng;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The operator account made on the first start.
pub const OPERATOR: &str = "admin";

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut b)
        .map_err(|e| format!("the system's random number generator failed: {}", e))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// 256 random bits as 64 hex digits: an API or session token.
pub fn new_token() -> Result<String, String> {
    Ok(hex(&random_bytes::<32>()?))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A password of 20 characters from an alphabet without look-alikes (about 115 bits).
pub fn new_password() -> Result<String, String> {
    const A: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<20>()?;
    // 256 is not a multiple of 56: the bias (a few characters 1/4 more likely) costs
    // under a bit of the ~115.
    Ok(bytes
        .iter()
        .map(|b| A[*b as usize % A.len()] as char)
        .collect())
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) with a random 128-bit salt, as a
/// PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = random_bytes::<16>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {}", e))
}

/// Whether `password` matches the PHC string (false for a malformed one).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// Writes the token file (one line).
pub fn write_token_file(path: &Path, token: &str) -> Result<(), String> {
    write_private(path, &format!("{}\n", token))
}

/// Writes a file holding secrets: created with mode 0600 under a temporary name, then
/// renamed over the old one, so it is never readable by others nor half written.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let err = |e: std::io::Error, p: &Path| format!("{}: {}", p.display(), e);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e, &tmp)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(e, &tmp))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e, path))
}

/// What the server's start found or made: the credentials to check against, and lines
/// to print (a new password, where the token is) or warn about.
pub struct Credentials {
    pub admins: Vec<Admin>,
    pub token_sha256: Option<[u8; 32]>,
    pub printed: Vec<String>,
    pub warnings: Vec<String>,
}

/// On the first start (nothing stored yet) makes the operator `admin` with a random
/// password and an API token, writes the token file, and stores both hashes; later starts
/// load what is stored and leave the file alone.
pub fn prepare(store: &Store, token_file: &Path) -> Result<Credentials, String> {
    let e = |e: crate::store::StoreError| e.to_string();
    let mut admins = store.admins().map_err(e)?;
    let mut token_sha256 = store.api_token_hash().map_err(e)?;
    let (mut printed, mut warnings) = (Vec::new(), Vec::new());
    let new_operator = if !admins.iter().any(|a| a.client.is_none()) {
        let password = new_password()?;
        // `admin`, unless a client administrator has that name
        let name = std::iter::once(OPERATOR.to_string())
            .chain((2..).map(|n| format!("{}{}", OPERATOR, n)))
            .find(|n| !admins.iter().any(|a| a.name == *n))
            .unwrap_or_else(|| OPERATOR.into());
        let op = Admin {
            name,
            password_hash: hash_password(&password)?,
            client: None,
            rights: None,
        };
        printed.push(format!(
            "Admin API operator {}  password {}  (shown once: only its hash is stored)",
            op.name, password
        ));
        admins.push(op.clone());
        Some(op)
    } else {
        None
    };
    let new_hash = if token_sha256.is_none() {
        let token = new_token()?;
        write_token_file(token_file, &token)?;
        printed.push(format!(
            "Admin API token written to {} (mode 0600; the CLI reads it from there)",
            token_file.display()
        ));
        token_sha256 = Some(token_hash(&token));
        token_sha256
    } else {
        if !token_file.exists() {
            warnings.push(format!(
                "{}: missing; only the admin API token's hash is stored, so it cannot be \
                 written again. Stop the server and run `vozbox admin token` (with the same \
                 --config) for a new one, or log in with POST /api/login",
                token_file.display()
            ));
        }
        None
    };
    if new_operator.is_some() || new_hash.is_some() {
        store
            .put_api_credentials(new_operator.as_ref(), new_hash.as_ref())
            .map_err(e)?;
    }
    Ok(Credentials {
        admins,
        token_sha256,
        printed,
        warnings,
    })
}

/// `vozbox admin token`: a new API token replaces the stored hash (the old token stops
/// working at the next start) and the file.
pub fn reissue_token(store: &Store, token_file: &Path) -> Result<(), String> {
    let token = new_token()?;
    write_token_file(token_file, &token)?;
    store
        .put_api_credentials(None, Some(&token_hash(&token)))
        .map_err(|e| e.to_string())
}

/// `vozbox admin passwd NAME`: a new random password for an administrator (its client and
/// rights kept); returns it. `None` when there is no such administrator.
pub fn reset_password(store: &Store, name: &str) -> Result<Option<String>, String> {
    let e = |e: crate::store::StoreError| e.to_string();
    let Some(mut admin) = store
        .admins()
        .map_err(e)?
        .into_iter()
        .find(|a| a.name == name)
    else {
        return Ok(None);
    };
    let password = new_password()?;
    admin.password_hash = hash_password(&password)?;
    store.put_api_credentials(Some(&admin), None).map_err(e)?;
    Ok(Some(password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("Secret-1").unwrap();
        assert!(h.starts_with("$argon2id$"), "{}", h);
        assert!(verify_password("Secret-1", &h));
        assert!(!verify_password("Secret-2", &h));
        assert!(!verify_password("Secret-1", "not a hash"));
        assert_eq!(new_password().unwrap().len(), 20);
    }

    #[test]
    fn first_start_makes_credentials_then_keeps_them() {
        let dir = std::env::temp_dir().join(format!("vozbox-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("db.redb")).unwrap();
        let file = dir.join("api-token");
        let c = prepare(&store, &file).unwrap();
        assert_eq!(c.printed.len(), 2);
        let token = std::fs::read_to_string(&file).unwrap();
        assert_eq!(token.trim().len(), 64);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(c.token_sha256, Some(token_hash(token.trim())));
        let again = prepare(&store, &file).unwrap();
        assert!(again.printed.is_empty() && again.warnings.is_empty());
        assert_eq!(again.token_sha256, c.token_sha256);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(prepare(&store, &file).unwrap().warnings.len(), 1);
        reissue_token(&store, &file).unwrap();
        let new = std::fs::read_to_string(&file).unwrap();
        assert_ne!(new, token);
        assert_eq!(
            store.api_token_hash().unwrap(),
            Some(token_hash(new.trim()))
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

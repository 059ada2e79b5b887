//! The only module that touches redb. Reads open their own read transaction; every write of
//! the running server goes through the single writer thread (`writer.rs`), which groups
//! many commands into one durable transaction.

pub mod accounts;
pub mod audit;
pub mod binding_value;
pub mod cdrs;
pub mod credentials;
mod numbered;
pub mod recordings;
pub mod schema;
pub mod voicemail;
pub mod writer;

use crate::model::*;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use schema::*;
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for StoreError {}

macro_rules! from_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError(e.to_string()) }
        }
    )*};
}
from_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    serde_json::Error
);

/// Page cache of a database opened without a configured size (the CLI's short uses).
const DEFAULT_CACHE: usize = 16 << 20;

pub struct Store {
    db: Database,
    path: PathBuf,
}

fn put<T: Serialize>(t: &mut redb::Table<&str, &[u8]>, key: &str, v: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(v)?;
    t.insert(key, bytes.as_slice())?;
    Ok(())
}

fn put_u64<T: Serialize>(
    t: &mut redb::Table<u64, &[u8]>,
    key: u64,
    v: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(v)?;
    t.insert(key, bytes.as_slice())?;
    Ok(())
}

fn read_all<T: DeserializeOwned, R: ReadableTable<&'static str, &'static [u8]>>(
    t: &R,
) -> Result<Vec<T>, StoreError> {
    read_rows(t, "row", |v| {
        serde_json::from_slice(v).map_err(|e| e.to_string())
    })
}

fn read_bindings<R: ReadableTable<&'static str, &'static [u8]>>(
    t: &R,
) -> Result<Vec<Binding>, StoreError> {
    read_rows(t, "binding", binding_value::decode)
}

/// Every row of `t` decoded; the first that does not decode is named by its key.
fn read_rows<T, R: ReadableTable<&'static str, &'static [u8]>>(
    t: &R,
    what: &str,
    decode: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let item = decode(v.value())
            .map_err(|e| StoreError(format!("{} {:?}: {}", what, k.value(), e)))?;
        out.push(item);
    }
    Ok(out)
}

/// Each entity's key in its table (call forwards: their position).
mod keys {
    use crate::model::*;
    pub fn name<T: Named>(x: &T) -> String {
        x.key()
    }
    pub trait Named {
        fn key(&self) -> String;
    }
    macro_rules! keyed {
        ($($t:ty => |$x:ident| $e:expr;)*) => {$(
            impl Named for $t {
                fn key(&self) -> String { let $x = self; $e }
            }
        )*};
    }
    keyed! {
        Brand => |x| x.name.clone();
        Corporation => |x| x.name.clone();
        Client => |x| x.name.clone();
        User => |x| format!("{}/{}", x.client, x.name);
        Extension => |x| format!("{}/{}", x.client, x.number);
        Friend => |x| format!("{}/{}", x.client, x.name);
        CallAcl => |x| format!("{}/{}", x.client, x.name);
        Ddi => |x| x.number.clone();
        Carrier => |x| format!("{}/{}", x.brand, x.name);
        DdiProvider => |x| format!("{}/{}", x.brand, x.name);
        MediaRelaySet => |x| x.name.clone();
        RatingProfile => |x| format!("{}/{}", x.client, x.name);
        Voicemail => |x| format!("{}/{}", x.client, x.name);
        OutgoingRoute => |x| format!("{}/{}", x.brand, x.name);
    }
}

/// `model` in the order the store reads it back.
pub fn canonical(model: &Model) -> Model {
    fn sorted<T: Clone + keys::Named>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort_by_cached_key(keys::name);
        v
    }
    Model {
        brands: sorted(&model.brands),
        corporations: sorted(&model.corporations),
        clients: sorted(&model.clients),
        users: sorted(&model.users),
        extensions: sorted(&model.extensions),
        friends: sorted(&model.friends),
        call_acls: sorted(&model.call_acls),
        call_forwards: model.call_forwards.clone(),
        ddis: sorted(&model.ddis),
        carriers: sorted(&model.carriers),
        ddi_providers: sorted(&model.ddi_providers),
        media_relay_sets: sorted(&model.media_relay_sets),
        rating_profiles: sorted(&model.rating_profiles),
        voicemails: sorted(&model.voicemails),
        outgoing_routes: sorted(&model.outgoing_routes),
    }
}

fn load(tx: &redb::ReadTransaction) -> Result<Model, StoreError> {
    Ok(Model {
        brands: read_all(&tx.open_table(BRANDS)?)?,
        corporations: read_all(&tx.open_table(CORPORATIONS)?)?,
        clients: read_all(&tx.open_table(CLIENTS)?)?,
        users: read_all(&tx.open_table(USERS)?)?,
        extensions: read_all(&tx.open_table(EXTENSIONS)?)?,
        friends: read_all(&tx.open_table(FRIENDS)?)?,
        call_acls: read_all(&tx.open_table(CALL_ACLS)?)?,
        call_forwards: read_all(&tx.open_table(CALL_FORWARDS)?)?,
        ddis: read_all(&tx.open_table(DDIS)?)?,
        carriers: read_all(&tx.open_table(CARRIERS)?)?,
        ddi_providers: read_all(&tx.open_table(DDI_PROVIDERS)?)?,
        media_relay_sets: read_all(&tx.open_table(MEDIA_RELAY_SETS)?)?,
        rating_profiles: read_all(&tx.open_table(RATING_PROFILES)?)?,
        voicemails: read_all(&tx.open_table(VOICEMAILS)?)?,
        outgoing_routes: read_all(&tx.open_table(OUTGOING_ROUTES)?)?,
    })
}

impl Store {
    /// Opens (creating if needed) the database with the default page cache.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE)
    }

    /// Opens (creating if needed) the database for the server, with its schema and a page
    /// cache of `cache_bytes` (redb's own default is 1 GiB).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError(format!("{}: {}", dir.display(), e)))?;
            }
        }
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError(format!(
                    "{}: the database is open in another process (is vozbox already running?)",
                    path.display()
                )),
                e => StoreError(format!("{}: {}", path.display(), e)),
            })?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        store.init_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the database cleanly (the next open needs no repair), reporting a failure
    /// that dropping it would only log.
    pub fn close(self) -> Result<(), StoreError> {
        self.db.close()?;
        Ok(())
    }

    fn init_schema(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let v = meta.get("schema_version")?.map(|v| v.value());
            match v {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                // schema 1 wrote bindings as JSON, which are still read: the file is
                // marked 2 so that a vozbox of schema 1 refuses it instead of failing on
                // the bindings written from now on
                Some(v) if v < SCHEMA_VERSION => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) => {
                    return Err(StoreError(format!(
                        "{}: schema version {} is not supported by this vozbox (expects {})",
                        self.path.display(),
                        v,
                        SCHEMA_VERSION
                    )))
                }
            }
            for t in MODEL_TABLES {
                tx.open_table(t)?;
            }
            tx.open_table(BINDINGS)?;
            tx.open_table(CDRS)?;
            tx.open_table(OPERATORS)?;
            tx.open_table(API_SECRETS)?;
            tx.open_table(AUDIT)?;
            tx.open_table(ACCOUNTS)?;
            tx.open_table(OUTBOX)?;
            tx.open_table(VOICEMAIL_MESSAGES)?;
            tx.open_table(RECORDINGS)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn load_model(&self) -> Result<Model, StoreError> {
        load(&self.db.begin_read()?)
    }

    pub fn is_model_empty(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        for t in MODEL_TABLES {
            if tx.open_table(t)?.len()? > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Replaces the whole model in one durable transaction (all or nothing). Returns
    /// whether anything changed.
    pub fn replace_model(&self, model: &Model) -> Result<bool, StoreError> {
        self.replace_model_audited(model, &[], None)
    }

    /// `replace_model`, with a provisioning file's administrators added or updated (never
    /// removed) and the change recorded in the audit trail, all in one transaction
    /// (nothing is recorded when nothing changed). Refused when no operator would remain.
    pub fn replace_model_audited(
        &self,
        model: &Model,
        admins: &[Admin],
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StoreError> {
        // The store keeps each table in key order: compared in that order, a file that
        // lists the same entities in another order changes nothing.
        let same_model = self.load_model()? == canonical(model);
        let stored = self.admins()?;
        let changed: Vec<&Admin> = admins.iter().filter(|a| !stored.contains(a)).collect();
        if same_model && changed.is_empty() {
            return Ok(false);
        }
        if crate::model::admin::leaves_no_operator(&stored, admins) {
            return Err(StoreError(crate::model::admin::NO_OPERATOR_LEFT.into()));
        }
        let tx = self.db.begin_write()?;
        {
            if let Some(e) = audit {
                audit::append(&tx, e)?;
            }
            {
                let mut t = tx.open_table(OPERATORS)?;
                for a in &changed {
                    put(&mut t, &a.name, *a)?;
                }
            }
        }
        if same_model {
            tx.commit()?;
            return Ok(true);
        }
        {
            for t in MODEL_TABLES {
                tx.delete_table(t)?;
            }
            fn fill<T: Serialize>(
                tx: &redb::WriteTransaction,
                def: TableDefinition<&str, &[u8]>,
                items: &[T],
                mut key: impl FnMut(&T) -> String,
            ) -> Result<(), StoreError> {
                let mut t = tx.open_table(def)?;
                for i in items {
                    put(&mut t, &key(i), i)?;
                }
                Ok(())
            }
            fill(&tx, BRANDS, &model.brands, keys::name)?;
            fill(&tx, CORPORATIONS, &model.corporations, keys::name)?;
            fill(&tx, CLIENTS, &model.clients, keys::name)?;
            fill(&tx, USERS, &model.users, keys::name)?;
            fill(&tx, EXTENSIONS, &model.extensions, keys::name)?;
            fill(&tx, FRIENDS, &model.friends, keys::name)?;
            fill(&tx, CALL_ACLS, &model.call_acls, keys::name)?;
            let mut i = 0usize;
            fill(&tx, CALL_FORWARDS, &model.call_forwards, |_| {
                i += 1;
                format!("{:08}", i)
            })?;
            fill(&tx, DDIS, &model.ddis, keys::name)?;
            fill(&tx, CARRIERS, &model.carriers, keys::name)?;
            fill(&tx, DDI_PROVIDERS, &model.ddi_providers, keys::name)?;
            fill(&tx, MEDIA_RELAY_SETS, &model.media_relay_sets, keys::name)?;
            fill(&tx, RATING_PROFILES, &model.rating_profiles, keys::name)?;
            fill(&tx, VOICEMAILS, &model.voicemails, keys::name)?;
            fill(&tx, OUTGOING_ROUTES, &model.outgoing_routes, keys::name)?;
            accounts::reprovision(&tx, model)?;
            let mut meta = tx.open_table(META)?;
            let g = meta
                .get("model_generation")?
                .map(|v| v.value())
                .unwrap_or(0);
            meta.insert("model_generation", g + 1)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The next number of the durable counter `name` (never one handed out before, even
    /// across restarts), at least `above + 1`.
    pub fn take_id(&self, name: &str, above: u64) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        let id = {
            let mut meta = tx.open_table(META)?;
            let last = meta.get(name)?.map(|v| v.value()).unwrap_or(0);
            let id = last.max(above) + 1;
            meta.insert(name, id)?;
            id
        };
        tx.commit()?;
        Ok(id)
    }

    pub fn load_bindings(&self) -> Result<Vec<Binding>, StoreError> {
        let tx = self.db.begin_read()?;
        read_bindings(&tx.open_table(BINDINGS)?)
    }

    /// Applies binding changes in one transaction (used by the writer thread).
    /// Commits binding changes and call records in one durable transaction.
    pub(crate) fn write_ops(&self, ops: &[writer::Op]) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        {
            let mut t = tx.open_table(BINDINGS)?;
            let mut cdrs = None;
            for op in ops {
                match op {
                    writer::Op::Put(b) => {
                        t.insert(b.key().as_str(), binding_value::encode(b).as_slice())?;
                    }
                    writer::Op::Delete(k) => {
                        t.remove(k.as_str())?;
                    }
                    writer::Op::Cdr(c) => {
                        let ct = match &mut cdrs {
                            Some(ct) => ct,
                            None => cdrs.insert(tx.open_table(CDRS)?),
                        };
                        let next = ct.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
                        let bytes = serde_json::to_vec(c.as_ref())?;
                        ct.insert(next, bytes.as_slice())?;
                    }
                    writer::Op::Charge(c) => accounts::charge(&tx, c)?,
                    writer::Op::Mail(m) => accounts::enqueue(&tx, m)?,
                    writer::Op::MailSent(n) => {
                        tx.open_table(OUTBOX)?.remove(n)?;
                    }
                    writer::Op::Notified { client, day } => accounts::notified(&tx, client, day)?,
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Read-only access for the listing commands, also while a server runs.
pub struct Reader {
    db: redb::ReadOnlyDatabase,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let ro = || {
            redb::Builder::new()
                .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
                .set_cache_size(DEFAULT_CACHE)
                .open_read_only(path)
        };
        let reader = match ro() {
            Ok(db) => Reader { db },
            // After a crash the file needs the repair a writer does on open; with no server
            // running, do it here, then read.
            Err(first) if path.exists() => {
                drop(Store::open(path).map_err(|e| {
                    StoreError(format!("{}: {} (repair: {})", path.display(), first, e))
                })?);
                let db = ro().map_err(|e| StoreError(format!("{}: {}", path.display(), e)))?;
                Reader { db }
            }
            Err(e) => return Err(StoreError(format!("{}: {}", path.display(), e))),
        };
        // a file of a newer vozbox is refused, as a writer refuses it (an older one reads:
        // a schema 1 file's bindings are JSON, still read)
        let tx = reader.db.begin_read()?;
        let version = match tx.open_table(META) {
            Ok(meta) => meta.get("schema_version")?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(v) = version.filter(|v| *v > SCHEMA_VERSION) {
            return Err(StoreError(format!(
                "{}: schema version {} is not supported by this vozbox (expects {})",
                path.display(),
                v,
                SCHEMA_VERSION
            )));
        }
        drop(tx);
        Ok(reader)
    }

    pub fn bindings(&self) -> Result<Vec<Binding>, StoreError> {
        let tx = self.db.begin_read()?;
        read_bindings(&tx.open_table(BINDINGS)?)
    }

    /// The provisioned model (`vozbox export`).
    pub fn model(&self) -> Result<Model, StoreError> {
        load(&self.db.begin_read()?)
    }

    /// The last `limit` call records, oldest first.
    pub fn cdrs(&self, limit: usize) -> Result<Vec<Cdr>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(CDRS)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev().take(limit) {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value())?);
        }
        out.reverse();
        Ok(out)
    }
}

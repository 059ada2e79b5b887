//! Voicemail: messages left in a mailbox (`deposit.rs`), listened to from a phone with
//! `*93` (`retrieve.rs`, its menu a pure state machine in `menu.rs`), announced by e-mail
//! (`mail.rs`) and to subscribed phones (the B2BUA's message-waiting NOTIFYs, told by
//! `on_change`). The recording rule is pure (`take.rs`).
//!
//! Files: `<storage dir>/voicemail/<id>.wav` per message (8 kHz mono 16-bit) and
//! `greetings/<client>/<mailbox>.wav`. A message's file is written whole under a temporary
//! name, synced and renamed before its record is committed; a deletion removes the record
//! first. `reconcile` clears at start what a crash left between the two steps.

pub mod deposit;
pub mod mail;
pub mod menu;
pub mod mwi;
pub mod retrieve;
pub mod take;

use crate::config;
use crate::media::prompts::{Prompt, Prompts};
use crate::model::{Client, Mail, Voicemail, VoicemailMessage};
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Who left a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub number: String,
    pub name: String,
}

type Changed = Box<dyn Fn(&str, &str) + Send + Sync>;

pub struct Service {
    /// Weak: the database closes at shutdown whatever this holds.
    store: std::sync::Weak<Store>,
    dir: PathBuf,
    /// The highest id found at start (records and files): new ones come from the store's
    /// durable counter above it.
    floor: u64,
    pub limits: take::Limits,
    smtp: config::Smtp,
    pub prompts: Arc<Prompts>,
    /// Told (client, mailbox) after each change of a mailbox's messages.
    changed: OnceLock<Changed>,
    /// Wrong PINs in a row per mailbox, and until when it refuses PINs.
    pins: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

/// Wrong PINs in a row that lock a mailbox's PIN entry (for 5 minutes, doubling each time
/// it happens again, at most a day).
const PIN_TRIES: u32 = 3;

/// The folder of messages beside the database `db`.
pub fn folder(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("voicemail")
}

pub use crate::files::file;

/// Writes `samples` as an 8 kHz mono WAV at `path`, whole and synced.
pub fn write_wav(path: &Path, samples: &[i16]) -> std::io::Result<()> {
    crate::files::write_wav(path, 1, samples)
}

/// The samples of an 8 kHz mono 16-bit WAV.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, String> {
    let mut r = hound::WavReader::open(path).map_err(|e| format!("{}: {}", path.display(), e))?;
    r.samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {}", path.display(), e))
}

/// `m:ss`.
fn minutes(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

impl Service {
    fn db(&self) -> Result<Arc<Store>, String> {
        self.store
            .upgrade()
            .ok_or_else(|| "the database is closed".to_string())
    }

    /// The voicemail of the database at `db`, its folder made and reconciled with the
    /// records.
    pub fn new(
        store: Arc<Store>,
        db: &Path,
        cfg: &config::Voicemail,
        smtp: config::Smtp,
        prompts: Arc<Prompts>,
    ) -> Result<Service, String> {
        let dir = folder(db);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
        let last = reconcile(&store, &dir)?;
        Ok(Service {
            store: Arc::downgrade(&store),
            dir,
            floor: last,
            limits: take::Limits {
                max_seconds: cfg.max_seconds,
                min_seconds: cfg.min_seconds,
                silence_seconds: cfg.silence_seconds,
            },
            smtp,
            prompts,
            changed: OnceLock::new(),
            pins: Default::default(),
        })
    }

    /// Who is told of each change of a mailbox (the MWI notifier).
    pub fn on_change(&self, f: impl Fn(&str, &str) + Send + Sync + 'static) {
        let _ = self.changed.set(Box::new(f));
    }

    fn tell(&self, client: &str, mailbox: &str) {
        if let Some(f) = self.changed.get() {
            f(client, mailbox);
        }
    }

    fn pins(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (u32, std::time::Instant)>>
    {
        self.pins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether mailbox `key` (`client/name`) refuses PINs now (too many wrong ones).
    pub fn pin_locked(&self, key: &str) -> bool {
        self.pins()
            .get(key)
            .is_some_and(|(_, until)| std::time::Instant::now() < *until)
    }

    /// A PIN typed for mailbox `key` by `caller` was right (or wrong: counted, logged, and
    /// the mailbox locked after `PIN_TRIES` in a row).
    pub fn pin_tried(&self, key: &str, caller: &str, right: bool) {
        let mut pins = self.pins();
        if right {
            pins.remove(key);
            return;
        }
        let e = pins
            .entry(key.to_string())
            .or_insert((0, std::time::Instant::now()));
        e.0 += 1;
        tracing::warn!(
            "voicemail {}: wrong PIN from {} ({} in a row)",
            key,
            caller,
            e.0
        );
        if e.0.is_multiple_of(PIN_TRIES) {
            let times = (e.0 / PIN_TRIES).min(10) - 1;
            let lock = std::time::Duration::from_secs((300u64 << times).min(86_400));
            e.1 = std::time::Instant::now() + lock;
            tracing::warn!(
                "voicemail {}: PIN entry locked for {} s",
                key,
                lock.as_secs()
            );
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A sound of the client's language (English when it has none).
    pub fn sound(&self, language: &str, name: &str) -> Option<Arc<Prompt>> {
        self.prompts.named(language, name)
    }

    /// The recorded greeting of a mailbox.
    pub fn greeting_file(&self, client: &str, mailbox: &str) -> PathBuf {
        self.dir
            .join("greetings")
            .join(client)
            .join(format!("{}.wav", mailbox))
    }

    /// Keeps a new message of `bx` (blocking: file, then record and e-mail in one commit).
    pub fn save(
        &self,
        bx: &Voicemail,
        client: Option<&Client>,
        caller: &Caller,
        samples: &[i16],
        now_ms: u64,
    ) -> Result<VoicemailMessage, String> {
        if self.full(bx) {
            return Err(format!("mailbox {}/{} is full", bx.client, bx.name));
        }
        let id = self
            .db()?
            .take_id("voicemail_id", self.floor)
            .map_err(|e| e.to_string())?;
        let path = file(&self.dir, id);
        write_wav(&path, samples).map_err(|e| format!("{}: {}", path.display(), e))?;
        let m = VoicemailMessage {
            id,
            client: bx.client.clone(),
            mailbox: bx.name.clone(),
            caller: caller.number.clone(),
            caller_name: caller.name.clone(),
            received: now_ms,
            duration_ms: samples.len() as u64 * 1000 / take::RATE as u64,
            new: true,
        };
        let number = self.messages(&bx.client, &bx.name).len() + 1;
        let mail = self.mail(bx, client, &m, number, &path);
        if let Err(e) = self.db()?.put_voicemail(&m, mail.as_ref()) {
            let _ = std::fs::remove_file(&path);
            return Err(e.to_string());
        }
        tracing::info!(
            "voicemail: message {} for {}/{} from {} ({} s)",
            id,
            bx.client,
            bx.name,
            caller.number,
            m.duration_ms / 1000
        );
        self.tell(&bx.client, &bx.name);
        Ok(m)
    }

    fn mail(
        &self,
        bx: &Voicemail,
        client: Option<&Client>,
        m: &VoicemailMessage,
        number: usize,
        path: &Path,
    ) -> Option<Mail> {
        // no mail server: nothing to queue (mail is not kept for a server set up later)
        if self.smtp.server.is_empty() {
            return None;
        }
        let to = bx.email.as_ref().filter(|_| bx.send_mail)?;
        let tz = client
            .and_then(|c| jiff::tz::TimeZone::get(&c.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        Some(mail::message(
            &self.smtp,
            client,
            to,
            &mail::Vars {
                name: &bx.name,
                date: &mail::date(m.received, &tz),
                duration: &minutes(m.duration_ms),
                caller_name: &m.caller_name,
                caller_number: &m.caller,
                number,
            },
            bx.attach_sound.then_some((path, number)),
        ))
    }

    /// The messages of a mailbox, oldest first.
    pub fn messages(&self, client: &str, mailbox: &str) -> Vec<VoicemailMessage> {
        match self
            .db()
            .and_then(|db| db.voicemails().map_err(|e| e.to_string()))
        {
            Ok(all) => all
                .into_iter()
                .filter(|m| m.client == client && m.mailbox == mailbox)
                .collect(),
            Err(e) => {
                tracing::error!("voicemail: reading messages: {}", e);
                Vec::new()
            }
        }
    }

    /// Every message.
    pub fn all(&self) -> Result<Vec<VoicemailMessage>, String> {
        self.db()?.voicemails().map_err(|e| e.to_string())
    }

    /// Marks a message heard (a message deleted meanwhile stays deleted).
    pub fn heard(&self, m: &VoicemailMessage) {
        if !m.new {
            return;
        }
        match self
            .db()
            .and_then(|db| db.voicemail_heard(m.id).map_err(|e| e.to_string()))
        {
            Ok(true) => self.tell(&m.client, &m.mailbox),
            Ok(false) => {}
            Err(e) => tracing::error!("voicemail: message {}: {}", m.id, e),
        }
    }

    /// Whether mailbox `bx` holds its `max_messages` already (0: no limit).
    pub fn full(&self, bx: &Voicemail) -> bool {
        bx.max_messages > 0 && self.messages(&bx.client, &bx.name).len() >= bx.max_messages as usize
    }

    /// Removes a message: record, then file.
    pub fn delete(&self, m: &VoicemailMessage) -> Result<(), String> {
        self.db()?
            .delete_voicemail(m.id)
            .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(file(&self.dir, m.id));
        tracing::info!(
            "voicemail: message {} of {}/{} deleted",
            m.id,
            m.client,
            m.mailbox
        );
        self.tell(&m.client, &m.mailbox);
        Ok(())
    }

    /// The samples of a message.
    pub fn samples(&self, id: u64) -> Result<Vec<i16>, String> {
        read_wav(&file(&self.dir, id))
    }

    /// (new, old) messages of a mailbox.
    pub fn counts(&self, client: &str, mailbox: &str) -> (usize, usize) {
        let m = self.messages(client, mailbox);
        let new = m.iter().filter(|m| m.new).count();
        (new, m.len() - new)
    }
}

/// Removes message `id` with no server running: its record, then its file.
pub fn remove(store: &Store, dir: &Path, id: u64) -> Result<(), String> {
    match store.delete_voicemail(id) {
        Ok(true) => {
            let _ = std::fs::remove_file(file(dir, id));
            Ok(())
        }
        Ok(false) => Err(format!("no voicemail message {}", id)),
        Err(e) => Err(e.to_string()),
    }
}

/// What a crash left between a file and its record (`files::reconcile`). Returns the
/// highest id in use.
pub fn reconcile(store: &Store, dir: &Path) -> Result<u64, String> {
    let ids = store
        .voicemails()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|m| m.id)
        .collect();
    let last = crate::files::reconcile(dir, &ids, |id| {
        store
            .delete_voicemail(id)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    Ok(last.max(store.last_voicemail_id().map_err(|e| e.to_string())?))
}

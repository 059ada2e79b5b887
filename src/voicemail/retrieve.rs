//! Listening to a mailbox (`*93`): the PIN when the caller is not the owner, then the menu
//! (`menu.rs`) played and obeyed. A key pressed while something plays stops it.

use super::menu::{Do, Menu, Say};
use super::take::{Limits, Take};
use super::Service;
use crate::media::app::{Channel, Heard};
use crate::media::prompts::Prompt;
use crate::model::Voicemail;
use std::sync::Arc;
use std::time::Duration;

/// How long the menu waits for a key.
const KEY_WAIT: Duration = Duration::from_secs(8);
/// PIN attempts before goodbye.
const PIN_TRIES: u32 = 3;
/// The pause after a wrong PIN (no key shortens it).
const WRONG_PIN_PAUSE: Duration = Duration::from_secs(2);

/// Whether two PINs are equal, in a time that does not tell how much of one matched.
fn same(a: &str, b: &str) -> bool {
    use sha2::Digest;
    let (x, y) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    x.iter().zip(y.iter()).fold(0u8, |d, (p, q)| d | (p ^ q)) == 0
}

pub struct Listen {
    pub mailbox: Voicemail,
    pub language: String,
    /// The caller must give the mailbox's PIN (it is not the owner's own phone).
    pub ask_pin: bool,
    /// Who calls (for the log).
    pub caller: String,
}

struct Session<'a> {
    svc: &'a Arc<Service>,
    ch: Channel,
    language: String,
}

impl Session<'_> {
    fn sound(&self, name: &str) -> Option<Arc<Prompt>> {
        self.svc.sound(&self.language, name)
    }

    /// Says `s`; a key pressed meanwhile.
    async fn say(&mut self, s: &Say) -> Option<char> {
        let names: Vec<String> = match s {
            Say::Sound(n) => vec![n.to_string()],
            Say::Number(n) => n
                .to_string()
                .chars()
                .map(|d| format!("digit_{}", d))
                .collect(),
        };
        for n in names {
            if let Some(p) = self.sound(&n) {
                if let Some(k) = self.ch.play(&p, true).await {
                    return Some(k);
                }
            }
        }
        None
    }

    /// Keys until `#` (or a pause): the PIN as typed.
    async fn digits(&mut self, first: Option<char>) -> String {
        let mut typed = String::new();
        let mut next = first;
        loop {
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            let k = match next.take() {
                Some(k) => k,
                None => match self.ch.key_until(until).await {
                    Heard::Key(k) => k,
                    _ => return typed,
                },
            };
            if k == '#' || typed.len() >= 16 {
                return typed;
            }
            typed.push(k);
        }
    }

    /// The PIN of mailbox `key` asked of `caller`: a wrong one costs a pause no key
    /// shortens, and too many in a row (over calls) lock the mailbox's PIN for a while.
    async fn pin_ok(&mut self, pin: &str, key: &str, caller: &str) -> bool {
        for _ in 0..PIN_TRIES {
            if self.svc.pin_locked(key) {
                tracing::warn!("voicemail {}: PIN from {} refused: locked", key, caller);
                return false;
            }
            let first = self.say(&Say::Sound("vm_pin")).await;
            if self.ch.is_gone() {
                return false;
            }
            let typed = self.digits(first).await;
            let right = same(&typed, pin);
            self.svc.pin_tried(key, caller, right);
            if right {
                return true;
            }
            tokio::time::sleep(WRONG_PIN_PAUSE).await;
            if let Some(p) = self.sound("vm_wrong_pin") {
                self.ch.play(&p, false).await;
            }
        }
        false
    }

    /// Records the mailbox's greeting (`#` ends it); whether one was kept.
    async fn record_greeting(&mut self, bx: &Voicemail) -> bool {
        self.say(&Say::Sound("vm_record_greeting")).await;
        if let Some(b) = self.sound("beep") {
            self.ch.play(&b, false).await;
        }
        let take = Take::new(Limits {
            max_seconds: 60,
            min_seconds: 1,
            silence_seconds: 5,
        });
        let Some(samples) = super::deposit::record(&mut self.ch, take).await else {
            return false;
        };
        let path = self.svc.greeting_file(&bx.client, &bx.name);
        let saved = tokio::task::spawn_blocking(move || {
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d)?;
            }
            super::write_wav(&path, &samples)
        })
        .await;
        match saved {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!("voicemail greeting of {}/{}: {}", bx.client, bx.name, e);
                false
            }
            Err(_) => false,
        }
    }
}

/// Runs the menu of one mailbox until goodbye or the caller hangs up.
pub async fn listen(svc: Arc<Service>, ch: Channel, l: Listen) {
    let mut s = Session {
        svc: &svc,
        ch,
        language: l.language.clone(),
    };
    let bx = l.mailbox;
    if l.ask_pin {
        let ok = match bx.pin.as_deref() {
            Some(pin) => {
                let key = format!("{}/{}", bx.client, bx.name);
                s.pin_ok(pin, &key, &l.caller).await
            }
            // a mailbox without a PIN is heard from its owner's phone only
            None => false,
        };
        if !ok {
            s.say(&Say::Sound("vm_goodbye")).await;
            return;
        }
    }
    let (client, name) = (bx.client.clone(), bx.name.clone());
    let me = svc.clone();
    let messages = tokio::task::spawn_blocking(move || me.messages(&client, &name))
        .await
        .unwrap_or_default();
    let index: Vec<(u64, bool, u64)> = messages.iter().map(|m| (m.id, m.new, m.received)).collect();
    let mut menu = Menu::new(&index);
    let mut todo: std::collections::VecDeque<Do> = menu.start().into();
    while !s.ch.is_gone() {
        let Some(step) = todo.pop_front() else {
            // everything said: wait for a key (the caller's audio meanwhile counts for nothing)
            let until = tokio::time::Instant::now() + KEY_WAIT;
            let next = match s.ch.key_until(until).await {
                Heard::Key(k) => menu.key(k),
                Heard::Gone => return,
                _ => menu.no_key(),
            };
            todo = next.into();
            continue;
        };
        let pressed = match step {
            Do::Say(what) => s.say(&what).await,
            Do::Play(id) => {
                let Some(m) = messages.iter().find(|m| m.id == id).cloned() else {
                    continue;
                };
                let me = svc.clone();
                let heard = tokio::task::spawn_blocking(move || {
                    let samples = me.samples(m.id);
                    me.heard(&m);
                    samples
                })
                .await;
                match heard {
                    Ok(Ok(samples)) => {
                        let p = Prompt::from_samples(&samples);
                        s.ch.play(&p, true).await
                    }
                    Ok(Err(e)) => {
                        tracing::error!("voicemail: {}", e);
                        None
                    }
                    Err(_) => None,
                }
            }
            Do::Delete(id) => {
                if let Some(m) = messages.iter().find(|m| m.id == id).cloned() {
                    let me = svc.clone();
                    let _ = tokio::task::spawn_blocking(move || me.delete(&m)).await;
                }
                None
            }
            Do::RecordGreeting => {
                todo.clear();
                if s.record_greeting(&bx).await {
                    todo = menu.greeting_done().into();
                } else {
                    todo.push_back(Do::Say(Say::Sound("vm_menu")));
                }
                None
            }
            Do::Bye => return,
        };
        if pressed == Some('\0') {
            return;
        }
        if let Some(k) = pressed {
            // a key stops what is being said and is obeyed at once
            todo = menu.key(k).into();
        }
    }
}

//! Leaving a message: the greeting (the mailbox's locution, else the owner's recorded
//! greeting, else the built-in one), a tone, then the caller's audio until it hangs up,
//! presses `#`, falls silent after speaking, or reaches the longest message (`take.rs`).

use super::take::{Stop, Take};
use super::{Caller, Service};
use crate::media::app::{Channel, Heard};
use crate::media::prompts::Prompt;
use crate::model::{Client, Voicemail};
use std::sync::Arc;
use std::time::Duration;

/// A message to take for a mailbox.
pub struct Deposit {
    pub mailbox: Voicemail,
    pub client: Option<Client>,
    pub caller: Caller,
}

/// How long one wait for the caller's audio lasts (a gap that long counts as silence).
const WAIT: Duration = Duration::from_millis(200);

/// The greeting a caller hears.
pub fn greeting(svc: &Service, bx: &Voicemail, language: &str) -> Option<Arc<Prompt>> {
    if let Some(p) = bx.greeting.as_deref().and_then(|g| svc.sound(language, g)) {
        return Some(p);
    }
    let own = svc.greeting_file(&bx.client, &bx.name);
    if own.exists() {
        match super::read_wav(&own) {
            Ok(s) if !s.is_empty() => return Some(Arc::new(Prompt::from_samples(&s))),
            Ok(_) => {}
            Err(e) => tracing::warn!("voicemail greeting {}", e),
        }
    }
    svc.sound(language, "vm_greeting")
}

/// Records what the caller says after the tone. Time is the clock's: audio beyond what
/// the time since the start can hold (a sender faster than real time) is dropped, and
/// time with no audio counts as silence, so the longest message and the silence that ends
/// one are real seconds whatever the caller sends.
pub async fn record(ch: &mut Channel, mut take: Take) -> Option<Vec<i16>> {
    let start = tokio::time::Instant::now();
    let slack = super::take::RATE / 2;
    let due = |t: tokio::time::Instant| {
        (t.saturating_duration_since(start).as_millis() as usize) * super::take::RATE / 1000
    };
    let why = loop {
        let step = match ch.hear(WAIT).await {
            Heard::Audio(frame)
                if take.len() + frame.len() <= due(tokio::time::Instant::now()) + slack =>
            {
                take.audio(&frame)
            }
            Heard::Audio(_) => None,
            Heard::Key(k) => take.key(k),
            Heard::Nothing => None,
            Heard::Gone => Some(Stop::HungUp),
        };
        if let Some(why) = step {
            break why;
        }
        // the time nothing (or too little) came is silence
        let behind = due(tokio::time::Instant::now()).saturating_sub(take.len() + slack);
        if behind > 0 {
            if let Some(why) = take.gap((behind * 1000 / super::take::RATE) as u32) {
                break why;
            }
        }
    };
    take.finish(why)
}

/// Takes one message; returns when it is kept (or dropped) and the call may end.
pub async fn deposit(svc: Arc<Service>, mut ch: Channel, d: Deposit) {
    let language = d
        .client
        .as_ref()
        .map(|c| c.language.clone())
        .unwrap_or_else(|| "en".into());
    let g = tokio::task::block_in_place(|| greeting(&svc, &d.mailbox, &language));
    if let Some(g) = g {
        // any key skips the greeting
        if ch.play(&g, true).await == Some('\0') {
            return;
        }
    }
    if let Some(beep) = svc.sound(&language, "beep") {
        ch.play(&beep, false).await;
    }
    if ch.is_gone() {
        return;
    }
    let kept = record(&mut ch, Take::new(svc.limits)).await;
    if ch.lost() > 0 {
        tracing::warn!(
            "voicemail: {} packets of the caller were lost while recording",
            ch.lost()
        );
    }
    let Some(samples) = kept else {
        tracing::info!(
            "voicemail: {} left {}/{} no message (too short)",
            d.caller.number,
            d.mailbox.client,
            d.mailbox.name
        );
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let me = svc.clone();
    let saved = tokio::task::spawn_blocking(move || {
        me.save(&d.mailbox, d.client.as_ref(), &d.caller, &samples, now)
    })
    .await;
    match saved {
        Ok(Ok(_)) => {
            if !ch.is_gone() {
                if let Some(bye) = svc.sound(&language, "vm_goodbye") {
                    ch.play(&bye, false).await;
                }
            }
        }
        Ok(Err(e)) => tracing::error!("voicemail: the message could not be kept: {}", e),
        Err(e) => tracing::error!("voicemail: saving: {}", e),
    }
}

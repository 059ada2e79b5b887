//! A call vozbox answers and talks with itself (voicemail): the relay session's side A is
//! the caller, and what it sends comes here (decoded G.711, keys of RFC 4733 events and
//! of SIP INFO) instead of going to a side B. Prompts go back paced at 20 ms a frame in one
//! continuous RTP stream. Asynchronous: a voicemail's steps read as a sequence.

use super::dtmf::{rtp_parts, Events};
use super::g711;
use super::prompts::{Prompt, FRAME};
use super::MediaSession;
use std::time::Duration;
use tokio::sync::mpsc;

/// Packets of side A waiting for the application (1 s of 20 ms audio and then some).
const QUEUE: usize = 64;

/// What the caller did.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// 20 ms (usually) of its audio, decoded.
    Audio(Vec<i16>),
    Key(char),
    /// Nothing for the time asked.
    Nothing,
    /// The call ended (the caller hung up, or the call was ended).
    Gone,
}

pub struct Channel {
    session: MediaSession,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Keys of SIP INFO requests (from the call); closed when the call ends.
    keys: mpsc::UnboundedReceiver<char>,
    pt: u8,
    events_pt: Option<u8>,
    events: Events,
    /// What vozbox sends the caller.
    stream: super::stream::Stream,
    /// The next frame's time (the stream stays paced across prompts).
    next: Option<tokio::time::Instant>,
    gone: bool,
}

impl Channel {
    /// Takes over side A of `session` (its party's audio in payload type `pt`, PCMU 0 or
    /// PCMA 8, and events in `events_pt`); `keys` brings the keys of INFO requests.
    pub fn new(
        session: MediaSession,
        pt: u8,
        events_pt: Option<u8>,
        keys: mpsc::UnboundedReceiver<char>,
    ) -> Channel {
        let rx = session.take_a(QUEUE);
        Channel {
            session,
            rx,
            keys,
            pt,
            events_pt,
            events: Events::default(),
            stream: super::stream::Stream::new(pt),
            next: None,
            gone: false,
        }
    }

    /// The caller's payload type (0 PCMU, 8 PCMA).
    pub fn pt(&self) -> u8 {
        self.pt
    }

    /// One packet from the caller, as what it means.
    fn interpret(&mut self, p: &[u8]) -> Option<Heard> {
        let pt = *p.get(1)? & 0x7f;
        let (_, payload) = rtp_parts(p)?;
        if Some(pt) == self.events_pt {
            return self.events.feed(p).map(Heard::Key);
        }
        if payload.is_empty() {
            return None;
        }
        let decode: fn(u8) -> i16 = match pt {
            0 => g711::ulaw_decode,
            8 => g711::alaw_decode,
            // comfort noise or a codec not agreed: nothing heard
            _ => return None,
        };
        Some(Heard::Audio(payload.iter().map(|&b| decode(b)).collect()))
    }

    /// The next thing the caller does, waiting at most `wait`.
    pub async fn hear(&mut self, wait: Duration) -> Heard {
        self.hear_until(tokio::time::Instant::now() + wait).await
    }

    /// The next key the caller presses before `until` (its audio dropped meanwhile):
    /// `Nothing` at `until` however much audio came.
    pub async fn key_until(&mut self, until: tokio::time::Instant) -> Heard {
        loop {
            match self.hear_until(until).await {
                Heard::Audio(_) => continue,
                other => return other,
            }
        }
    }

    /// The next thing the caller does before `until`.
    pub async fn hear_until(&mut self, until: tokio::time::Instant) -> Heard {
        if self.gone {
            return Heard::Gone;
        }
        loop {
            tokio::select! {
                p = self.rx.recv() => match p {
                    Some(p) => {
                        if let Some(h) = self.interpret(&p) {
                            return h;
                        }
                    }
                    None => {
                        self.gone = true;
                        return Heard::Gone;
                    }
                },
                k = self.keys.recv() => match k {
                    Some(k) => return Heard::Key(k),
                    None => {
                        self.gone = true;
                        return Heard::Gone;
                    }
                },
                _ = tokio::time::sleep_until(until) => return Heard::Nothing,
            }
        }
    }

    /// Sends one 20 ms frame (G.711 in the caller's payload type) at its time.
    async fn send_frame(&mut self, frame: &[u8; FRAME], first: bool) {
        let now = tokio::time::Instant::now();
        let at = match self.next {
            Some(t) if t + Duration::from_millis(60) > now => t,
            // a pause between prompts restarts the pacing from now; the timestamps count
            // the pause (the phone hears it as time passed)
            Some(t) => {
                let gap = now.saturating_duration_since(t).as_millis() / 20;
                self.stream.skip(gap as u32);
                now
            }
            None => now,
        };
        tokio::time::sleep_until(at).await;
        self.next = Some(at + Duration::from_millis(20));
        let pkt = self.stream.packet(frame, first);
        self.session.send_a(&pkt);
    }

    /// Plays `prompt`; a key pressed meanwhile stops it when `stop_on_key` (and is
    /// returned). `Some('\0')` when the call ended meanwhile.
    pub async fn play(&mut self, prompt: &Prompt, stop_on_key: bool) -> Option<char> {
        let frames = if self.pt == 0 {
            &prompt.pcmu
        } else {
            &prompt.pcma
        };
        for (i, f) in frames.iter().enumerate() {
            self.send_frame(f, i == 0).await;
            // what arrived meanwhile: keys count, audio is dropped
            loop {
                match self.rx.try_recv() {
                    Ok(p) => {
                        if let Some(Heard::Key(k)) = self.interpret(&p) {
                            if stop_on_key {
                                return Some(k);
                            }
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.gone = true;
                        return Some('\0');
                    }
                }
            }
            match self.keys.try_recv() {
                Ok(k) if stop_on_key => return Some(k),
                Ok(_) | Err(mpsc::error::TryRecvError::Empty) => {}
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.gone = true;
                    return Some('\0');
                }
            }
        }
        None
    }

    /// Plays prompts one after the other until a key stops them (returned).
    pub async fn play_all(&mut self, prompts: &[std::sync::Arc<Prompt>]) -> Option<char> {
        for p in prompts {
            if let Some(k) = self.play(p, true).await {
                return Some(k);
            }
        }
        None
    }

    /// Whether the call has ended.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// Packets of the caller lost because the application fell behind.
    pub fn lost(&self) -> u64 {
        self.session.tap_lost()
    }
}

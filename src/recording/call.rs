//! One call's recorder: a task from the call's answer to its end that takes the relay's
//! copies of its packets (`media/rectap.rs`), watches for the on-demand code, and while a
//! recording runs mixes both sides into its WAV (`mixer.rs`), flushed every 200 ms a
//! little behind the present (late packets still find their place). When the recording
//! stops — its command, the code again, the call's end — the file is completed and its
//! record kept. A codec that cannot be decoded gives the recording up (said in the log).

use super::code::CodeWatch;
use super::mixer::{Mixer, RATE};
use super::Service;
use crate::media::dtmf::Events;
use crate::media::prompts::Prompt;
use crate::media::rectap::{RecTap, Tapped};
use crate::media::{Injector, MediaSession};
use crate::model::Recording;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the call asks of its recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// Start an on-demand recording (`who` asked, and how).
    Start(String),
    Stop(String),
    /// A key of the caller (or the callee) sent in an INFO: maybe the code.
    Key {
        caller: bool,
        k: char,
    },
}

/// The call a recorder belongs to.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub client: String,
    pub call: u64,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// Record the whole call (its DDI says so).
    pub ddi: bool,
    /// The on-demand code pressed as keys (`info_dtmf`), without the `*`.
    pub code: Option<String>,
}

/// The call's side of its recorder: dropping it ends the recorder (the call ended).
pub struct Handle {
    tx: mpsc::UnboundedSender<Cmd>,
    note: Note,
}

/// What the recorder says of the call for its record (`recording 7, 8`, or why none).
type Note = Arc<std::sync::Mutex<Option<String>>>;

impl Handle {
    pub fn send(&self, c: Cmd) {
        let _ = self.tx.send(c);
    }

    /// For the call's record: the recordings made of it, or why it was not recorded.
    pub fn note(&self) -> Option<String> {
        self.note.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn say(note: &Note, what: impl FnOnce(Option<String>) -> String) {
    let mut n = note.lock().unwrap_or_else(|e| e.into_inner());
    *n = Some(what(n.take()));
}

/// Starts the recorder of a call whose relay session is `session`; `events` are the
/// telephone-event payload types of the caller's and the callee's side.
pub fn start(
    svc: Arc<Service>,
    meta: Meta,
    session: &MediaSession,
    events: [Option<u8>; 2],
    rt: &tokio::runtime::Handle,
) -> Handle {
    let (tap, rx) = RecTap::new(svc.queue);
    if meta.code.is_some() {
        for (slot, pt) in tap.events.iter().zip(events) {
            slot.store(pt.unwrap_or(0), Ordering::Relaxed);
        }
    }
    let tap = Arc::new(tap);
    session.set_rec_tap(Some(tap.clone()));
    let (tx, cmds) = mpsc::unbounded_channel();
    let note: Note = Default::default();
    let r = Recorder {
        note: note.clone(),
        svc,
        watch: meta.code.as_deref().map(CodeWatch::new),
        meta,
        tap,
        inj: session.injector(),
        events: Default::default(),
        pts: [None; 2],
        beep_owed: [false; 2],
        active: None,
        toggled: None,
    };
    rt.spawn(r.run(rx, cmds));
    Handle { tx, note }
}

struct Active {
    rec: Recording,
    path: PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    mixer: Mixer,
    /// The session's time at the start (ms).
    start_ms: u64,
}

struct Recorder {
    note: Note,
    svc: Arc<Service>,
    meta: Meta,
    tap: Arc<RecTap>,
    inj: Injector,
    watch: Option<CodeWatch>,
    events: [Events; 2],
    /// The audio payload type each side sends (for its beep).
    pts: [Option<u8>; 2],
    beep_owed: [bool; 2],
    active: Option<Active>,
    /// When the code last toggled a recording (session ms).
    toggled: Option<u64>,
}

/// Runs blocking file work on this worker thread (the runtime has others).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

impl Recorder {
    async fn run(mut self, mut rx: mpsc::Receiver<Tapped>, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        if self.meta.ddi {
            self.begin("ddi", String::new());
        }
        // The queue is read every 100 ms, never awaited: a forwarding thread that copies a
        // packet into it wakes nobody (no task wake-up per packet on the relay's path; the
        // queue holds seconds of a call's packets).
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                c = cmds.recv() => match c {
                    Some(Cmd::Start(who)) => self.begin("ondemand", who),
                    Some(Cmd::Stop(who)) => self.end(&who),
                    Some(Cmd::Key { caller, k }) => self.key(caller, k),
                    None => break,
                },
                _ = tick.tick() => {
                    while let Ok(t) = rx.try_recv() {
                        self.packet(t);
                    }
                    n += 1;
                    if n.is_multiple_of(2) {
                        self.flush();
                    }
                }
            }
        }
        // the call ended: what is still queued, then the file completed
        while let Ok(t) = rx.try_recv() {
            self.packet(t);
        }
        self.end("the end of the call");
    }

    fn packet(&mut self, t: Tapped) {
        let side = usize::from(!t.caller);
        let pt = t.data.get(1).map(|b| b & 0x7f).unwrap_or(0);
        if pt >= 96 && pt == self.tap.events[side].load(Ordering::Relaxed) {
            if let Some(k) = self.events[side].feed(&t.data) {
                self.key_at(t.caller, k, t.at_ms);
            }
            return;
        }
        if pt < 96 && pt != 13 {
            self.pts[side] = Some(pt);
        }
        if self.beep_owed[side] {
            self.beep_owed[side] = false;
            self.beep(side);
        }
        if let Some(a) = &mut self.active {
            let at = t.at_ms.saturating_sub(a.start_ms) * RATE / 1000;
            a.mixer.packet(side, at, &t.data);
        }
    }

    fn key(&mut self, caller: bool, k: char) {
        let now = self.inj.now_ms();
        self.key_at(caller, k, now);
    }

    fn key_at(&mut self, caller: bool, k: char, at_ms: u64) {
        let Some(w) = &mut self.watch else { return };
        if !w.key(caller, k, at_ms) {
            return;
        }
        // the same code heard again within a second is its echo (a peer that echoes or
        // relays the other's keys), not a new press
        if self.toggled.is_some_and(|t| at_ms.saturating_sub(t) < 1000) {
            return;
        }
        self.toggled = Some(at_ms);
        let who = format!("{} (code)", if caller { "caller" } else { "callee" });
        match &self.active {
            Some(a) if a.rec.kind == "ondemand" => self.end(&who),
            Some(_) => {}
            None => self.begin("ondemand", who),
        }
    }

    /// The beep of the start or the end, to both parties (each in its own codec; a side
    /// whose codec is not known yet gets it with its first packet).
    fn beep_both(&mut self) {
        for side in 0..2 {
            if self.pts[side].is_some() {
                self.beep(side);
            } else {
                self.beep_owed[side] = true;
            }
        }
    }

    fn beep(&self, side: usize) {
        let (Some(prompt), Some(pt)) = (self.svc.beep.clone(), self.pts[side]) else {
            return;
        };
        if pt != 0 && pt != 8 {
            return;
        }
        tokio::spawn(play(self.inj.clone(), side == 0, pt, prompt));
    }

    fn begin(&mut self, kind: &str, who: String) {
        if self.active.is_some() {
            return;
        }
        let svc = self.svc.clone();
        let made = blocking(|| {
            let id = svc.next_id()?;
            let path = crate::files::file(svc.dir(), id);
            let part = crate::files::partial(&path);
            let w = hound::WavWriter::create(&part, crate::files::spec(2))
                .map_err(|e| format!("{}: {}", part.display(), e))?;
            Ok::<_, String>((id, path, w))
        });
        let (id, path, writer) = match made {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("recording of call {}: {}", self.meta.call, e);
                return;
            }
        };
        self.tap.reset_lost();
        self.tap.all.store(true, Ordering::Relaxed);
        let now_wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        say(&self.note, |n| match n {
            Some(n) if n.starts_with("recording") => format!("{}, {}", n, id),
            _ => format!("recording {}", id),
        });
        tracing::info!(
            "recording {} of call {} ({} → {}) started: {}{}",
            id,
            self.meta.call,
            self.meta.caller,
            self.meta.callee,
            kind,
            if who.is_empty() {
                String::new()
            } else {
                format!(", by the {}", who)
            }
        );
        self.active = Some(Active {
            rec: Recording {
                id,
                client: self.meta.client.clone(),
                call: self.meta.call,
                call_id: self.meta.call_id.clone(),
                caller: self.meta.caller.clone(),
                callee: self.meta.callee.clone(),
                start: now_wall,
                duration_ms: 0,
                kind: kind.to_string(),
                who,
                incomplete: None,
            },
            path,
            writer,
            mixer: Mixer::default(),
            start_ms: self.inj.now_ms(),
        });
        if kind == "ondemand" {
            self.beep_both();
        }
    }

    /// Writes what is settled: up to 400 ms before now.
    fn flush(&mut self) {
        let now = self.inj.now_ms();
        if let Some(pt) = self.active.as_ref().and_then(|a| a.mixer.undecodable) {
            return self.give_up(pt);
        }
        let Some(a) = &mut self.active else { return };
        let upto = now.saturating_sub(a.start_ms).saturating_sub(400) * RATE / 1000;
        let frames = a.mixer.take(upto);
        let w = &mut a.writer;
        if let Err(e) = blocking(|| write_all(w, &frames)) {
            tracing::error!("recording {}: {}", a.rec.id, e);
        }
    }

    /// A codec that cannot be decoded: no recording (its partial file removed).
    fn give_up(&mut self, pt: u8) {
        let Some(a) = self.active.take() else { return };
        self.tap.all.store(false, Ordering::Relaxed);
        drop(a.writer);
        let _ = std::fs::remove_file(crate::files::partial(&a.path));
        say(&self.note, |_| {
            format!("not recorded: payload type {} cannot be decoded", pt)
        });
        tracing::warn!(
            "call {} not recorded: payload type {} cannot be decoded (PCMU, PCMA and G.722 can)",
            self.meta.call,
            pt
        );
    }

    /// Stops the recording (a DDI's runs to the end of the call): the file completed, then
    /// its record kept.
    fn end(&mut self, why: &str) {
        match &self.active {
            None => return,
            Some(a) if a.rec.kind == "ddi" && why != "the end of the call" => return,
            Some(_) => {}
        }
        let Some(mut a) = self.active.take() else {
            return;
        };
        self.tap.all.store(false, Ordering::Relaxed);
        if let Some(pt) = a.mixer.undecodable {
            self.active = Some(a);
            return self.give_up(pt);
        }
        if a.rec.kind == "ondemand" {
            self.beep_both();
        }
        let rest = a.mixer.finish();
        a.rec.duration_ms = a.mixer.written() * 1000 / RATE;
        a.rec.incomplete = self.tap.lost().map(|(n, first, last)| {
            format!(
                "{} packets lost by a slow writer between {:.1} s and {:.1} s",
                n,
                first.saturating_sub(a.start_ms) as f64 / 1000.0,
                last.saturating_sub(a.start_ms) as f64 / 1000.0
            )
        });
        let svc = self.svc.clone();
        let kept = blocking(move || {
            let mut w = a.writer;
            write_all(&mut w, &rest)
                .and_then(|_| w.finalize())
                .map_err(|e| e.to_string())?;
            crate::files::commit(&a.path).map_err(|e| e.to_string())?;
            svc.keep(&a.rec)?;
            Ok::<_, String>(a.rec)
        });
        match kept {
            Ok(r) => tracing::info!(
                "recording {} of call {} kept: {} s{} (stopped by {})",
                r.id,
                r.call,
                r.duration_ms / 1000,
                r.incomplete
                    .as_ref()
                    .map(|i| format!(", incomplete: {}", i))
                    .unwrap_or_default(),
                why
            ),
            Err(e) => tracing::error!("recording of call {}: {}", self.meta.call, e),
        }
    }
}

/// Appends `samples` to a recording's WAV (hound's 16-bit writer: no per-sample checks).
fn write_all(
    w: &mut hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    samples: &[i16],
) -> Result<(), hound::Error> {
    let mut s16 = w.get_i16_writer(samples.len() as u32);
    for &x in samples {
        s16.write_sample(x);
    }
    s16.flush()
}

/// Plays `prompt` to one party from the relay, in its own RTP stream.
async fn play(inj: Injector, caller: bool, pt: u8, prompt: Arc<Prompt>) {
    let frames = if pt == 0 { &prompt.pcmu } else { &prompt.pcma };
    let mut stream = crate::media::stream::Stream::new(pt);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for (i, f) in frames.iter().enumerate() {
        tick.tick().await;
        inj.send(caller, &stream.packet(f, i == 0));
    }
}

//! One recording as a pure rule over what the caller sends (20 ms frames, gaps with
//! nothing, keys): when it stops — `#`, the longest message, silence after speech — and
//! what is kept (the trailing silence trimmed, too short a message dropped). Time is the
//! samples themselves (8 per millisecond), so a test drives minutes of it at once.

/// Samples per second (G.711).
pub const RATE: usize = 8000;

/// A frame at or above this RMS is speech; below it, silence.
const SPEECH_RMS: f64 = 400.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_seconds: u32,
    pub min_seconds: u32,
    pub silence_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The caller pressed `#`.
    Key,
    /// `max_seconds` reached.
    MaxLength,
    /// `silence_seconds` of silence after speech.
    Silence,
    /// The caller hung up.
    HungUp,
}

#[derive(Debug)]
pub struct Take {
    limits: Limits,
    samples: Vec<i16>,
    /// Samples since the last speech (those since the start while none was heard).
    quiet: usize,
    spoke: bool,
}

fn rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|&s| (s as f64) * (s as f64)).sum();
    (sum / frame.len() as f64).sqrt()
}

impl Take {
    pub fn new(limits: Limits) -> Take {
        Take {
            limits,
            samples: Vec::with_capacity(RATE * 30),
            quiet: 0,
            spoke: false,
        }
    }

    fn max(&self) -> usize {
        self.limits.max_seconds as usize * RATE
    }

    /// After more samples: whether to stop.
    fn check(&self) -> Option<Stop> {
        if self.samples.len() >= self.max() {
            return Some(Stop::MaxLength);
        }
        if self.spoke && self.quiet >= self.limits.silence_seconds as usize * RATE {
            return Some(Stop::Silence);
        }
        None
    }

    /// A frame of the caller's audio.
    pub fn audio(&mut self, frame: &[i16]) -> Option<Stop> {
        let room = self.max().saturating_sub(self.samples.len());
        let frame = &frame[..frame.len().min(room)];
        self.samples.extend_from_slice(frame);
        if rms(frame) >= SPEECH_RMS {
            self.spoke = true;
            self.quiet = 0;
        } else {
            self.quiet += frame.len();
        }
        self.check()
    }

    /// `ms` milliseconds passed with nothing from the caller (silence suppression, a
    /// network gap): kept as silence, so the message keeps its timing.
    pub fn gap(&mut self, ms: u32) -> Option<Stop> {
        let n = (ms as usize * RATE / 1000).min(self.max().saturating_sub(self.samples.len()));
        self.samples.resize(self.samples.len() + n, 0);
        self.quiet += n;
        self.check()
    }

    /// Samples kept so far.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// A key: `#` stops.
    pub fn key(&mut self, k: char) -> Option<Stop> {
        (k == '#').then_some(Stop::Key)
    }

    /// The message as kept: the silence that ended it trimmed; `None` when it is shorter
    /// than `min_seconds` (or no one spoke at all).
    pub fn finish(mut self, why: Stop) -> Option<Vec<i16>> {
        if why == Stop::Silence {
            let keep = self.samples.len().saturating_sub(self.quiet) + RATE / 2;
            self.samples.truncate(keep);
        }
        if !self.spoke || self.samples.len() < self.limits.min_seconds as usize * RATE {
            return None;
        }
        Some(self.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_seconds: 300,
        min_seconds: 2,
        silence_seconds: 5,
    };

    fn tone() -> Vec<i16> {
        (0..160)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16
            })
            .collect()
    }

    /// `secs` seconds of 20 ms frames of `frame`; the first stop.
    fn feed(t: &mut Take, frame: &[i16], secs: u32) -> Option<Stop> {
        for _ in 0..secs * 50 {
            if let Some(s) = t.audio(frame) {
                return Some(s);
            }
        }
        None
    }

    #[test]
    fn silence_after_speech_stops_and_is_trimmed() {
        let mut t = Take::new(LIMITS);
        assert_eq!(
            feed(&mut t, &[0; 160], 3),
            None,
            "silence before speech waits"
        );
        assert_eq!(feed(&mut t, &tone(), 4), None);
        assert_eq!(feed(&mut t, &[3; 160], 10), Some(Stop::Silence));
        let kept = t.finish(Stop::Silence).unwrap();
        // 3 s before, 4 s of tone, half a second of the silence after it
        assert_eq!(kept.len(), 7 * RATE + RATE / 2);
    }

    #[test]
    fn gaps_count_as_silence() {
        let mut t = Take::new(LIMITS);
        feed(&mut t, &tone(), 1);
        assert_eq!(t.gap(4000), None);
        assert_eq!(t.gap(1000), Some(Stop::Silence));
    }

    #[test]
    fn the_longest_message_stops_at_its_length() {
        let mut t = Take::new(Limits {
            max_seconds: 60,
            ..LIMITS
        });
        assert_eq!(feed(&mut t, &tone(), 120), Some(Stop::MaxLength));
        assert_eq!(t.finish(Stop::MaxLength).unwrap().len(), 60 * RATE);
    }

    #[test]
    fn pound_stops_and_short_or_silent_messages_are_dropped() {
        let mut t = Take::new(LIMITS);
        assert_eq!(t.key('5'), None);
        assert_eq!(t.key('#'), Some(Stop::Key));
        feed(&mut t, &tone(), 1);
        assert_eq!(t.finish(Stop::HungUp), None, "1 s is below min_seconds");
        let mut t = Take::new(LIMITS);
        feed(&mut t, &[0; 160], 4);
        assert_eq!(t.finish(Stop::HungUp), None, "nobody spoke");
        let mut t = Take::new(LIMITS);
        feed(&mut t, &tone(), 3);
        assert_eq!(t.finish(Stop::HungUp).unwrap().len(), 3 * RATE);
    }
}

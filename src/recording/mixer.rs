//! A call's two directions into one stereo track (the caller left, the callee right), as
//! a pure rule over packets: each side's RTP placed by its timestamps from an anchor (its
//! first packet, or a new stream: another SSRC or a jump of more than a second) at the
//! time it arrived, decoded (PCMU, PCMA, G.722 brought to 8 kHz), silence where a side sent
//! nothing. Time is samples since the recording started (8 per millisecond): a test drives
//! an hour of it at once.

use crate::media::dtmf::rtp_parts;
use crate::media::g711;

/// Samples per second per channel.
pub const RATE: u64 = 8000;

/// A new anchor when a packet lands this far from where its arrival says it belongs.
const JUMP: i64 = RATE as i64;

#[derive(Default)]
struct Side {
    /// (RTP timestamp, position in samples, SSRC) of the stream's anchor.
    anchor: Option<(u32, u64, u32)>,
    g722: Option<Box<audio_codec::g722::G722Decoder>>,
    /// Samples from `Mixer::written` on (zeros where nothing came).
    pending: Vec<i16>,
}

#[derive(Default)]
pub struct Mixer {
    sides: [Side; 2],
    /// Samples per channel handed out so far.
    written: u64,
    /// A payload type that cannot be decoded (the recording is given up).
    pub undecodable: Option<u8>,
}

/// The 16 kHz G.722 output as 8 kHz (each pair averaged).
fn halve(s: &[i16]) -> Vec<i16> {
    s.chunks(2)
        .map(|c| ((c[0] as i32 + *c.get(1).unwrap_or(&c[0]) as i32) / 2) as i16)
        .collect()
}

impl Side {
    fn decode(&mut self, pt: u8, payload: &[u8]) -> Option<Vec<i16>> {
        match pt {
            0 => Some(payload.iter().map(|&b| g711::ulaw_decode(b)).collect()),
            8 => Some(payload.iter().map(|&b| g711::alaw_decode(b)).collect()),
            9 => {
                use audio_codec::Decoder;
                let d = self
                    .g722
                    .get_or_insert_with(|| Box::new(audio_codec::g722::G722Decoder::new()));
                Some(halve(&d.decode(payload)))
            }
            _ => None,
        }
    }
}

impl Mixer {
    /// A packet of side `s` (0 the caller, 1 the callee) that arrived `at` samples after
    /// the recording started.
    pub fn packet(&mut self, s: usize, at: u64, p: &[u8]) {
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        let (Some(&b1), Some((ts, payload))) = (p.get(1), rtp_parts(p)) else {
            return;
        };
        let pt = b1 & 0x7f;
        let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
        // comfort noise and telephone events carry no sound to keep
        if pt == 13 || (96..=127).contains(&pt) || payload.is_empty() {
            return;
        }
        let Some(samples) = side.decode(pt, payload) else {
            self.undecodable = Some(pt);
            return;
        };
        let pos = |a: (u32, u64, u32)| a.1 as i64 + ts.wrapping_sub(a.0) as i32 as i64;
        let anchor = match side.anchor {
            Some(a) if a.2 == ssrc && (pos(a) - at as i64).abs() <= JUMP => a,
            _ => (ts, at, ssrc),
        };
        side.anchor = Some(anchor);
        let start = pos(anchor);
        // what falls before what was handed out already is too late
        let skip = (self.written as i64 - start).max(0) as usize;
        if skip >= samples.len() {
            return;
        }
        let offset = (start + skip as i64 - self.written as i64) as usize;
        let end = offset + samples.len() - skip;
        if side.pending.len() < end {
            side.pending.resize(end, 0);
        }
        side.pending[offset..end].copy_from_slice(&samples[skip..]);
    }

    /// The frames before `upto` (samples since the start), interleaved left/right.
    pub fn take(&mut self, upto: u64) -> Vec<i16> {
        let n = upto.saturating_sub(self.written) as usize;
        let mut out = Vec::with_capacity(n * 2);
        for i in 0..n {
            for side in &self.sides {
                out.push(side.pending.get(i).copied().unwrap_or(0));
            }
        }
        for side in &mut self.sides {
            let k = n.min(side.pending.len());
            side.pending.drain(..k);
        }
        self.written += n as u64;
        out
    }

    /// Everything not handed out yet: to the end of the side that reaches furthest.
    pub fn finish(&mut self) -> Vec<i16> {
        let end = self
            .sides
            .iter()
            .map(|s| s.pending.len())
            .max()
            .unwrap_or(0) as u64;
        self.take(self.written + end)
    }

    /// Samples per channel handed out.
    pub fn written(&self) -> u64 {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PCMU packet of 160 samples of `level` (µ-law of a constant).
    fn pcmu(ssrc: u32, seq: u16, ts: u32, level: i16) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend(std::iter::repeat_n(g711::ulaw(level), 160));
        p
    }

    /// Left and right of interleaved frames.
    fn split(f: &[i16]) -> (Vec<i16>, Vec<i16>) {
        (
            f.iter().step_by(2).copied().collect(),
            f.iter().skip(1).step_by(2).copied().collect(),
        )
    }

    #[test]
    fn both_sides_land_where_their_timestamps_say() {
        let mut m = Mixer::default();
        // the caller from the start, the callee 1 s later; each 2 s of 20 ms packets,
        // arriving with some jitter
        for i in 0..100u32 {
            m.packet(
                0,
                i as u64 * 160 + (i % 3) as u64 * 40,
                &pcmu(1, i as u16, 5000 + i * 160, 1000),
            );
            m.packet(
                1,
                8000 + i as u64 * 160,
                &pcmu(2, i as u16, 90 + i * 160, -2000),
            );
        }
        let f = m.finish();
        let (l, r) = split(&f);
        assert_eq!(l.len(), 24000);
        let near = |x: i16, want: i16| (x - want).abs() < want.abs() / 10 + 8;
        assert!(l[..16000].iter().all(|&x| near(x, 1000)));
        assert!(l[16000..].iter().all(|&x| x == 0));
        assert!(r[..8000].iter().all(|&x| x == 0));
        assert!(r[8000..].iter().all(|&x| near(x, -2000)));
    }

    #[test]
    fn a_long_call_does_not_drift_and_gaps_are_silence() {
        let mut m = Mixer::default();
        let mut out = Vec::new();
        // an hour of packets whose arrival wanders by up to 60 ms; a 5 s hold in the middle
        let packets = 3600 * 50u64;
        for i in 0..packets {
            if (90_000..90_250).contains(&i) {
                continue;
            }
            let at = i * 160 + (i * 7919 % 480);
            m.packet(0, at, &pcmu(1, i as u16, (i * 160) as u32, 500));
            if i % 500 == 0 {
                out.extend(m.take(at.saturating_sub(3200)));
            }
        }
        out.extend(m.finish());
        let (l, _) = split(&out);
        assert_eq!(l.len() as u64, packets * 160);
        let silent = l.iter().filter(|&&x| x == 0).count();
        assert_eq!(silent, 250 * 160, "the hold is silence, nothing else");
    }

    #[test]
    fn a_new_stream_is_anchored_again_and_late_packets_are_dropped() {
        let mut m = Mixer::default();
        m.packet(0, 0, &pcmu(1, 0, 100, 800));
        assert_eq!(m.take(160).len(), 320);
        // the same packet again after its place was handed out: dropped
        m.packet(0, 200, &pcmu(1, 0, 100, 800));
        // a re-INVITE: another SSRC with unrelated timestamps, placed by its arrival
        m.packet(0, 800, &pcmu(9, 0, 4_000_000_000, 800));
        let (l, _) = split(&m.finish());
        assert_eq!(l.len(), 800);
        assert!(l[..640].iter().all(|&x| x == 0));
        assert!(l[640..].iter().all(|&x| x != 0));
    }

    #[test]
    fn g722_is_decoded_to_8khz() {
        use audio_codec::Encoder;
        let mut enc = audio_codec::g722::G722Encoder::new();
        let mut m = Mixer::default();
        // 1 s of a 1 kHz tone at 16 kHz, in 20 ms packets (160 bytes, 160 RTP ticks)
        let tone: Vec<i16> = (0..16000)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 16000.0).sin() * 8000.0) as i16
            })
            .collect();
        for (n, chunk) in tone.chunks(320).enumerate() {
            let payload = enc.encode(chunk);
            let mut p = vec![0x80, 9];
            p.extend_from_slice(&(n as u16).to_be_bytes());
            p.extend_from_slice(&((n * 160) as u32).to_be_bytes());
            p.extend_from_slice(&7u32.to_be_bytes());
            p.extend_from_slice(&payload);
            m.packet(0, n as u64 * 160, &p);
        }
        assert_eq!(m.undecodable, None);
        let (l, _) = split(&m.finish());
        assert_eq!(l.len(), 8000);
        // after the codec settles, the tone is there at 8 kHz
        let rms = (l[800..].iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / 7200.0).sqrt();
        assert!(rms > 2000.0, "rms {}", rms);
    }

    #[test]
    fn an_undecodable_codec_is_named() {
        let mut m = Mixer::default();
        let mut p = pcmu(1, 0, 0, 0);
        p[1] = 18; // G.729
        m.packet(1, 0, &p);
        assert_eq!(m.undecodable, Some(18));
        // events and comfort noise are not sound, and not a failure
        let mut m = Mixer::default();
        p[1] = 101;
        m.packet(1, 0, &p);
        p[1] = 13;
        m.packet(1, 0, &p);
        assert_eq!((m.undecodable, m.finish().len()), (None, 0));
    }
}

//! Comparing what a phone heard with the sounds it should have heard.

use super::*;

/// A WAV of `sounds/<lang>/`.
pub fn sound(lang: &str, cause: &str) -> Vec<i16> {
    wav_samples(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sounds")
            .join(lang)
            .join(format!("{}.wav", cause)),
    )
}

/// Energy per 20 ms frame.
pub fn envelope(s: &[i16]) -> Vec<f64> {
    s.chunks(160)
        .map(|c| (c.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// The best Pearson correlation of two envelopes over small shifts.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let mut best = -1.0f64;
    for lag in 0..25 {
        for (x, y) in [(a, b), (b, a)] {
            if lag >= x.len() {
                continue;
            }
            let x = &x[lag..];
            let n = x.len().min(y.len());
            if n < 20 {
                continue;
            }
            let (x, y) = (&x[..n], &y[..n]);
            let mx = x.iter().sum::<f64>() / n as f64;
            let my = y.iter().sum::<f64>() / n as f64;
            let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
            let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
            if vx > 0.0 && vy > 0.0 {
                best = best.max(cov / (vx * vy).sqrt());
            }
        }
    }
    best
}

/// The samples that carry sound (the recording has silence around the locution).
pub fn trimmed(s: &[i16]) -> &[i16] {
    let loud = |x: &i16| x.unsigned_abs() > 300;
    let a = s.iter().position(loud).unwrap_or(0);
    let b = s.iter().rposition(loud).map(|i| i + 1).unwrap_or(s.len());
    &s[a..b.max(a)]
}
/// Power of `freq` in 16-bit mono samples at `rate` (Goertzel).
pub fn tone_power(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2).max(0.0).sqrt()
}

/// The recording of what a baresip phone received (`dump-*-dec.wav` in its directory).
pub fn received(dir: &Path) -> Vec<i16> {
    let f = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("no recording in {}", dir.display()));
    wav_samples(&f)
}

/// Asserts that a phone's recording holds `theirs` Hz far louder than its own `mine` Hz.
pub fn assert_heard(dir: &Path, theirs: f64, mine: f64) {
    let s = received(dir);
    assert!(
        s.len() > 8000,
        "{}: only {} samples",
        dir.display(),
        s.len()
    );
    let heard = tone_power(&s, 8000.0, theirs);
    let own = tone_power(&s, 8000.0, mine);
    assert!(
        heard > 100.0 * own.max(1.0),
        "{}: {} Hz {:.0} vs {} Hz {:.0}",
        dir.display(),
        theirs,
        heard,
        mine,
        own
    );
}

/// The samples of a 16-bit PCM mono WAV (its "data" chunk).
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {}", path.display(), e));
    let i = bytes
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    bytes[i + 8..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

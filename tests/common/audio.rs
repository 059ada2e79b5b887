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

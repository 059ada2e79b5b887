//! Voice notifications: one 8 kHz mono WAV per failure cause and language under
//! `sounds/<language>/<cause>.wav`, read with `hound` and encoded once at start into
//! 20 ms G.711 frames (µ-law and A-law) kept in memory.

use super::g711;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// Why a call failed, as the caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The call ACL refuses the number.
    NotAllowed,
    /// IP / GeoIP filter.
    IpNotAllowed,
    /// No rating profile can bill it.
    CannotBeBilled,
    /// No credit left, or the daily limit reached.
    NoCredit,
    /// Too many calls at once.
    MaxCalls,
    /// Nothing routes the number, or an unknown DDI.
    NotInService,
    /// The user is not registered (or does not answer).
    NotAvailable,
    Busy,
    /// Anything else.
    Failed,
}

impl Cause {
    pub const ALL: [Cause; 9] = [
        Cause::NotAllowed,
        Cause::IpNotAllowed,
        Cause::CannotBeBilled,
        Cause::NoCredit,
        Cause::MaxCalls,
        Cause::NotInService,
        Cause::NotAvailable,
        Cause::Busy,
        Cause::Failed,
    ];

    /// The file name (without `.wav`).
    pub fn file(self) -> &'static str {
        match self {
            Cause::NotAllowed => "not_allowed",
            Cause::IpNotAllowed => "ip_not_allowed",
            Cause::CannotBeBilled => "cannot_be_billed",
            Cause::NoCredit => "no_credit",
            Cause::MaxCalls => "max_calls",
            Cause::NotInService => "not_in_service",
            Cause::NotAvailable => "not_available",
            Cause::Busy => "busy",
            Cause::Failed => "failed",
        }
    }
}

/// One notification encoded both ways, 160 bytes per 20 ms frame.
pub struct Prompt {
    pub pcmu: Vec<[u8; FRAME]>,
    pub pcma: Vec<[u8; FRAME]>,
}

#[derive(Default)]
pub struct Prompts {
    by: HashMap<(String, Cause), Arc<Prompt>>,
    /// Every WAV of a language folder by its name (locutions of extensions).
    named: HashMap<(String, String), Arc<Prompt>>,
}

fn read(path: &Path) -> Result<Prompt, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    decode(std::io::BufReader::new(file))
}

/// A WAV (8 kHz, mono, 16-bit) encoded to 20 ms G.711 frames both ways.
fn decode(reader: impl std::io::Read) -> Result<Prompt, String> {
    let mut r = hound::WavReader::new(reader).map_err(|e| e.to_string())?;
    let spec = r.spec();
    if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(format!(
            "expected 8000 Hz, mono, 16-bit; found {} Hz, {} channel(s), {}-bit",
            spec.sample_rate, spec.channels, spec.bits_per_sample
        ));
    }
    let samples: Vec<i16> = r
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if samples.is_empty() {
        return Err("no samples".into());
    }
    Ok(Prompt::from_samples(&samples))
}

impl Prompt {
    /// 8 kHz 16-bit samples encoded to 20 ms G.711 frames both ways.
    pub fn from_samples(samples: &[i16]) -> Prompt {
        let frames = samples.len().div_ceil(FRAME);
        let (mut pcmu, mut pcma) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
        for chunk in samples.chunks(FRAME) {
            // the last frame is padded with silence
            let (mut u, mut a) = ([g711::ulaw(0); FRAME], [g711::alaw(0); FRAME]);
            for (i, &s) in chunk.iter().enumerate() {
                u[i] = g711::ulaw(s);
                a[i] = g711::alaw(s);
            }
            pcmu.push(u);
            pcma.push(a);
        }
        Prompt { pcmu, pcma }
    }
}

impl Prompts {
    /// The built-in sounds (`builtin.rs`), then every `<dir>/<language>/<name>.wav` over
    /// them file by file (an absent `dir` leaves the built-in ones). Returns the prompts
    /// and one line per file that is unreadable (naming it; the built-in one stays), or per
    /// cause that no language has, for the start-up log.
    pub fn load(dir: &Path) -> (Prompts, Vec<String>) {
        let mut p = Prompts::default();
        let mut problems = Vec::new();
        for (lang, name, wav) in super::builtin::SOUNDS {
            match decode(*wav) {
                Ok(prompt) => {
                    p.named
                        .insert((lang.to_string(), name.to_string()), Arc::new(prompt));
                }
                Err(e) => problems.push(format!("built-in sounds/{}/{}.wav: {}", lang, name, e)),
            }
        }
        let langs = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for lang in langs {
            let files = std::fs::read_dir(dir.join(&lang))
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .map(|e| e.path())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            for path in files {
                let (Some(stem), Some("wav")) = (
                    path.file_stem().and_then(|s| s.to_str()),
                    path.extension().and_then(|s| s.to_str()),
                ) else {
                    continue;
                };
                match read(&path) {
                    Ok(prompt) => {
                        p.named
                            .insert((lang.clone(), stem.to_string()), Arc::new(prompt));
                    }
                    Err(e) => problems.push(format!("{}: {}", path.display(), e)),
                }
            }
        }
        let langs: std::collections::BTreeSet<String> =
            p.named.keys().map(|(l, _)| l.clone()).collect();
        for lang in &langs {
            for cause in Cause::ALL {
                if let Some(prompt) = p.named.get(&(lang.clone(), cause.file().to_string())) {
                    p.by.insert((lang.clone(), cause), prompt.clone());
                }
            }
        }
        for cause in Cause::ALL {
            // a language without it falls back to English: only English must have it
            if !p.by.contains_key(&("en".to_string(), cause)) {
                let path = dir.join("en").join(format!("{}.wav", cause.file()));
                if !problems
                    .iter()
                    .any(|l| l.starts_with(&path.display().to_string()))
                {
                    problems.push(format!("{}: missing", path.display()));
                }
            }
        }
        (p, problems)
    }

    /// The prompt for `cause` in `language`, else in English.
    pub fn get(&self, language: &str, cause: Cause) -> Option<Arc<Prompt>> {
        self.by
            .get(&(language.to_string(), cause))
            .or_else(|| self.by.get(&("en".to_string(), cause)))
            .cloned()
    }

    /// The locution `name` (a WAV of the language folder), else in English.
    pub fn named(&self, language: &str, name: &str) -> Option<Arc<Prompt>> {
        self.named
            .get(&(language.to_string(), name.to_string()))
            .or_else(|| self.named.get(&("en".to_string(), name.to_string())))
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.by.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_sounds_load_and_fall_back_to_english() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds");
        let (p, problems) = Prompts::load(&dir);
        assert!(problems.is_empty(), "{:?}", problems);
        assert_eq!(p.len(), 2 * Cause::ALL.len());
        let en = p.get("en", Cause::Busy).unwrap();
        let fr = p.get("fr", Cause::Busy).unwrap();
        assert!(Arc::ptr_eq(&en, &fr));
        let es = p.get("es", Cause::Busy).unwrap();
        assert!(!Arc::ptr_eq(&en, &es));
        assert_eq!(en.pcmu.len(), en.pcma.len());
        assert!(en.pcmu.len() > 50, "a second or more of speech");
    }

    #[test]
    fn a_bad_file_is_named_and_the_built_in_one_stays() {
        let dir = std::env::temp_dir().join(format!("vozbox-prompts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("en")).unwrap();
        std::fs::write(dir.join("en/busy.wav"), b"not a wav").unwrap();
        let (p, problems) = Prompts::load(&dir);
        assert!(
            problems.iter().any(|l| l.contains("en/busy.wav")),
            "{:?}",
            problems
        );
        // the folder lacks every other file and has a broken one: the built-in sounds play
        assert_eq!(problems.len(), 1, "{:?}", problems);
        assert!(p.get("en", Cause::Busy).is_some());
        assert_eq!(p.len(), 2 * Cause::ALL.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// No folder at all (a binary installed on its own): the built-in sounds, no problem.
    #[test]
    fn without_a_folder_the_built_in_sounds_play() {
        let (p, problems) = Prompts::load(Path::new("/nonexistent/vozbox/sounds"));
        assert!(problems.is_empty(), "{:?}", problems);
        assert_eq!(p.len(), 2 * Cause::ALL.len());
        assert!(p.named("es", "welcome").is_some());
        // a folder's file overrides the built-in one of the same name
        let dir = std::env::temp_dir().join(format!("vozbox-prompts-o-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("en")).unwrap();
        let es = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/es/busy.wav");
        std::fs::copy(es, dir.join("en/busy.wav")).unwrap();
        let (o, problems) = Prompts::load(&dir);
        assert!(problems.is_empty(), "{:?}", problems);
        let (en, es) = (
            o.get("en", Cause::Busy).unwrap(),
            p.get("es", Cause::Busy).unwrap(),
        );
        assert_eq!(en.pcmu, es.pcmu);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

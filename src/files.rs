//! Files kept beside the database with a record each (voicemail messages, call
//! recordings): a file `<dir>/<id>.wav` is written whole under a temporary name, synced and
//! renamed before its record commits; a removal takes the record first. `reconcile`, at
//! start, clears what a crash left between the two steps.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The file of record `id` in `dir`.
pub fn file(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{}.wav", id))
}

/// Where a file is written before it is complete.
pub fn partial(path: &Path) -> PathBuf {
    path.with_extension("wav.part")
}

/// Makes a written partial file the file at `path`: synced, renamed, the folder synced.
pub fn commit(path: &Path) -> std::io::Result<()> {
    let part = partial(path);
    std::fs::File::open(&part)?.sync_all()?;
    std::fs::rename(&part, path)?;
    if let Some(d) = path.parent() {
        std::fs::File::open(d)?.sync_all()?;
    }
    Ok(())
}

/// Writes 8 kHz 16-bit `samples` (interleaved when `channels` is 2) as a WAV at `path`,
/// whole and synced, through a temporary name.
pub fn write_wav(path: &Path, channels: u16, samples: &[i16]) -> std::io::Result<()> {
    let other = |e: hound::Error| std::io::Error::other(e.to_string());
    {
        let mut w = hound::WavWriter::create(partial(path), spec(channels)).map_err(other)?;
        let mut i16w = w.get_i16_writer(samples.len() as u32);
        for &s in samples {
            i16w.write_sample(s);
        }
        i16w.flush().map_err(other)?;
        w.finalize().map_err(other)?;
    }
    commit(path)
}

/// 8 kHz, 16-bit PCM.
pub fn spec(channels: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Removes from `dir` the files whose id has no record in `ids` and every partial file;
/// `drop_record` is called for each id of `ids` whose file is missing. Returns the highest
/// id seen (records and files).
pub fn reconcile(
    dir: &Path,
    ids: &HashSet<u64>,
    mut drop_record: impl FnMut(u64) -> Result<(), String>,
) -> Result<u64, String> {
    let mut last = ids.iter().copied().max().unwrap_or(0);
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let id = name
            .strip_suffix(".wav")
            .and_then(|n| n.parse::<u64>().ok());
        let orphan = match id {
            Some(id) => {
                last = last.max(id);
                !ids.contains(&id)
            }
            None => name.ends_with(".wav.part"),
        };
        if orphan {
            tracing::warn!(
                "{}: {} has no record (a crash while saving): removed",
                dir.display(),
                name
            );
            let _ = std::fs::remove_file(e.path());
        }
    }
    for &id in ids {
        if !file(dir, id).exists() {
            tracing::warn!("{}: {} has no file: its record removed", dir.display(), id);
            drop_record(id)?;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_crash_left_is_cleared() {
        let dir = std::env::temp_dir().join(format!("vozbox-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_wav(&file(&dir, 1), 1, &[1, 2, 3]).unwrap();
        write_wav(&file(&dir, 7), 2, &[1, 2, 3, 4]).unwrap();
        std::fs::write(partial(&file(&dir, 8)), b"half").unwrap();
        std::fs::write(dir.join("notes.txt"), b"kept").unwrap();
        // records 1 and 2; the file of 2 is missing, 7 has no record, 8 was half written
        let ids: HashSet<u64> = [1, 2].into();
        let mut dropped = Vec::new();
        let last = reconcile(&dir, &ids, |id| {
            dropped.push(id);
            Ok(())
        })
        .unwrap();
        assert_eq!((last, dropped), (7, vec![2]));
        assert!(file(&dir, 1).exists() && dir.join("notes.txt").exists());
        assert!(!file(&dir, 7).exists() && !partial(&file(&dir, 8)).exists());
        let r = hound::WavReader::open(file(&dir, 1)).unwrap();
        assert_eq!((r.spec().channels, r.len()), (1, 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! `vozbox voicemail` and `vozbox recordings`: the files kept beside the database with a
//! record each, listed from the database (also while the server runs) and removed through
//! the running server when there is one (it tells the phones, checks the client's rules),
//! else on the database.

use super::{ask_server, load_config, open_reader, Failure};
use std::path::PathBuf;
use vozbox::api::client;

/// `vozbox recordings`: read from the database (also while the server runs); a deletion
/// goes through the running server, else to the database, when the client allows it.
pub fn recordings(
    config: Option<PathBuf>,
    client: Option<String>,
    json: bool,
    delete: Option<u64>,
) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let dir = vozbox::recording::folder(&cfg.storage.path, &cfg.storage.recordings);
    if let Some(id) = delete {
        if cfg.api.addr().is_some_and(client::listening) {
            ask_server::<serde_json::Value>(&cfg, "DELETE", &format!("/api/recordings/{}", id))?;
        } else {
            let reader = open_reader(&cfg)?;
            let model = reader.model().map_err(|e| Failure(e.to_string(), 3))?;
            let list = reader.recordings().map_err(|e| Failure(e.to_string(), 3))?;
            let r = list.iter().find(|r| r.id == id);
            if let Some(r) = r.filter(|r| !vozbox::recording::removable(&model, &r.client)) {
                return Err(Failure(
                    format!("recording {}: client {} does not allow removing its recordings (allow_recording_removal = false)", id, r.client),
                    1,
                ));
            }
            drop(reader);
            let store = vozbox::store::Store::open(&cfg.storage.path)
                .map_err(|e| Failure(e.to_string(), 3))?;
            vozbox::recording::remove(&store, &dir, id).map_err(|e| Failure(e, 1))?;
        }
        println!("recording {} deleted", id);
        return Ok(());
    }
    let mut list = open_reader(&cfg)?
        .recordings()
        .map_err(|e| Failure(e.to_string(), 3))?;
    list.retain(|r| client.as_ref().is_none_or(|c| *c == r.client));
    if json {
        let v: Vec<_> = list
            .iter()
            .map(|r| vozbox::api::recordings::view(r, &dir))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", vozbox::report::recordings(&list, &dir));
    }
    Ok(())
}

/// `vozbox voicemail`: read from the database (also while the server runs); a deletion
/// goes through the running server (its phones are told), else to the database.
pub fn voicemail(
    config: Option<PathBuf>,
    mailbox: Option<String>,
    json: bool,
    delete: Option<u64>,
) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let dir = vozbox::voicemail::folder(&cfg.storage.path);
    if let Some(id) = delete {
        if cfg.api.addr().is_some_and(client::listening) {
            let path = format!("/api/voicemail_messages/{}", id);
            ask_server::<serde_json::Value>(&cfg, "DELETE", &path)?;
        } else {
            let store = vozbox::store::Store::open(&cfg.storage.path)
                .map_err(|e| Failure(e.to_string(), 3))?;
            vozbox::voicemail::remove(&store, &dir, id).map_err(|e| Failure(e, 1))?;
        }
        println!("voicemail message {} deleted", id);
        return Ok(());
    }
    let mut list = open_reader(&cfg)?
        .voicemails()
        .map_err(|e| Failure(e.to_string(), 3))?;
    list.retain(|m| mailbox.as_ref().is_none_or(|b| *b == m.mailbox));
    if json {
        let v: Vec<_> = list
            .iter()
            .map(|m| vozbox::api::voicemail::view(m, &dir))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", vozbox::report::voicemail(&list, &dir));
    }
    Ok(())
}

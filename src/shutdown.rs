//! Stopping the server (SIGTERM or ctrl-c): new calls are refused with `503`, the calls in
//! progress get `[calls] shutdown_grace` to end on their own, the rest are hung up (BYE to
//! both sides, record `hung_up`), then every queued change is committed, the store's writer
//! stops and the database is closed. Registrations keep working until then.

use crate::b2bua::B2bua;
use crate::store::writer::Writer;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long calls just hung up may wait for the answers to their BYEs (over UDP a lost
/// BYE is resent after 0.5 s and 1 s).
const SETTLE: Duration = Duration::from_secs(2);
/// How long the database may stay in use by an admin API request after the drain.
const API_LETGO: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);

/// SIGTERM or ctrl-c (SIGINT), listened for from this call on (not from the first poll:
/// a signal sent once the caller has said it is ready is never missed, nor fatal).
pub fn signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (term, int) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            tracing::warn!("no handler for SIGTERM and SIGINT: they end the process at once");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// Refuses new calls and waits for the calls in progress to end, at most `grace` (a
/// second signal cuts it short); then hangs up the rest and waits a moment for their BYEs'
/// answers.
pub async fn drain(b2bua: Arc<B2bua>, grace: Duration) {
    let again = signal();
    b2bua.refuse_new_calls();
    let n = b2bua.active();
    if n == 0 {
        tracing::info!("draining: no call in progress; new calls get 503");
    } else {
        tracing::info!(
            "draining: {} call(s) in progress, up to {}; new calls get 503",
            n,
            humantime::format_duration(grace)
        );
    }
    let deadline = Instant::now() + grace;
    tokio::pin!(again);
    while b2bua.active() > 0 {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {
                if Instant::now() >= deadline {
                    let n = b2bua.hang_up_all();
                    tracing::info!("grace time over: hanging up {} call(s)", n);
                    break;
                }
            }
            _ = &mut again => {
                let n = b2bua.hang_up_all();
                tracing::info!("second signal: hanging up {} call(s) now", n);
                break;
            }
        }
    }
    let settle = Instant::now() + SETTLE;
    loop {
        // (a call whose INVITE was taken just before new calls were refused)
        if b2bua.active() > 0 {
            b2bua.hang_up_all();
        }
        if !b2bua.awaiting_answers() {
            break;
        }
        if Instant::now() >= settle {
            tracing::warn!("some BYEs are still unanswered; not waiting longer");
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    tracing::info!("all calls ended");
}

/// Commits what is queued, stops the store's writer and closes the database. `store`
/// should be the last handle but for admin API requests still finishing (they get a
/// moment); if one holds on, the database is closed as the process exits.
pub async fn close(writer: &Writer, store: Arc<Store>) {
    let w = writer.clone();
    match tokio::task::spawn_blocking(move || w.stop()).await {
        Ok(true) => tracing::info!("store: every call record and registration committed"),
        _ => tracing::error!("store: the writer had stopped before the shutdown"),
    }
    let letgo = Instant::now() + API_LETGO;
    while Arc::strong_count(&store) > 1 && Instant::now() < letgo {
        tokio::time::sleep(POLL).await;
    }
    let store = match Arc::try_unwrap(store) {
        Ok(s) => s,
        Err(_) => {
            tracing::warn!("the database is still in use; it is closed as the process exits");
            return;
        }
    };
    match tokio::task::spawn_blocking(move || store.close()).await {
        Ok(Ok(())) => tracing::info!("database closed"),
        Ok(Err(e)) => tracing::error!("closing the database: {}", e),
        Err(e) => tracing::error!("closing the database: {}", e),
    }
}

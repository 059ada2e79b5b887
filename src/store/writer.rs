//! The single writer: one thread that takes binding changes from a bounded queue and
//! commits as many as are waiting in one durable transaction (group commit). A caller
//! learns through its reply channel that its change is on disk.

use super::Store;
use crate::model::Binding;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub enum BindingOp {
    Put(Arc<Binding>),
    Delete(String),
}

struct Job {
    ops: Vec<BindingOp>,
    done: Option<oneshot::Sender<bool>>,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Most jobs committed in one transaction: bounds the latency of the first of them.
const MAX_BATCH: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
pub enum Submit {
    Queued,
    /// The queue is full: shed the request (503).
    Full,
}

impl Writer {
    pub fn start(store: Arc<Store>, queue: usize) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(queue);
        std::thread::Builder::new()
            .name("vozbox-store".into())
            .spawn(move || {
                let mut batch: Vec<Job> = Vec::with_capacity(256);
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let ops: Vec<BindingOp> =
                        batch.iter_mut().flat_map(|j| j.ops.drain(..)).collect();
                    let ok = match store.write_bindings(&ops) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::error!(
                                "store: writing {} binding changes failed: {}",
                                ops.len(),
                                e
                            );
                            false
                        }
                    };
                    for j in batch.drain(..) {
                        if let Some(d) = j.done {
                            let _ = d.send(ok);
                        }
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("store writer thread: {}", e));
        Writer { tx }
    }

    /// Queues changes; the receiver says `true` once they are durable.
    pub fn submit(&self, ops: Vec<BindingOp>) -> (Submit, Option<oneshot::Receiver<bool>>) {
        let (done, rx) = oneshot::channel();
        match self.tx.try_send(Job {
            ops,
            done: Some(done),
        }) {
            Ok(()) => (Submit::Queued, Some(rx)),
            Err(_) => (Submit::Full, None),
        }
    }
}

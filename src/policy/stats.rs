//! What the policies refused, by cause and kind of request, for `GET /metrics`: relaxed
//! atomic additions from fixed tables, no lock.

use super::Block;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `request` label: what was refused.
pub const REQUESTS: [&str; 4] = ["INVITE", "REGISTER", "SUBSCRIBE", "OPTIONS"];

#[derive(Default)]
pub struct PolicyStats {
    refused: [[AtomicU64; REQUESTS.len()]; Block::ALL.len()],
    /// Calls in progress a policy ended (credit or daily limit spent).
    cut: [AtomicU64; Block::ALL.len()],
}

fn block(b: Block) -> usize {
    Block::ALL.iter().position(|x| *x == b).unwrap_or(0)
}

impl PolicyStats {
    /// A request refused by policy `b`; `method` outside `REQUESTS` counts as INVITE.
    pub fn refused(&self, b: Block, method: &str) {
        let m = REQUESTS.iter().position(|x| *x == method).unwrap_or(0);
        self.refused[block(b)][m].fetch_add(1, Ordering::Relaxed);
    }

    /// A call in progress ended by policy `b`.
    pub fn cut(&self, b: Block) {
        self.cut[block(b)].fetch_add(1, Ordering::Relaxed);
    }

    /// (cause, request, count) for every pair.
    pub fn refused_totals(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (i, b) in Block::ALL.iter().enumerate() {
            for (j, r) in REQUESTS.iter().enumerate() {
                out.push((b.as_str(), *r, self.refused[i][j].load(Ordering::Relaxed)));
            }
        }
        out
    }

    /// (cause, calls ended) for every cause.
    pub fn cut_totals(&self) -> Vec<(&'static str, u64)> {
        Block::ALL
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), self.cut[i].load(Ordering::Relaxed)))
            .collect()
    }
}

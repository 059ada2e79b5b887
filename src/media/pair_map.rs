//! Maps and sets keyed by a relay port pair (`ports::Lease::key`: its pool's number and
//! its port, or a socket's token derived from it), hashed by a multiply-and-fold instead
//! of SipHash: the relay's forwarding threads look one up per packet, and the keys are the
//! relay's own numbers, not a peer's.

use std::collections::{HashMap, HashSet};

/// A pair's key (pool id and port) multiplied by an odd constant and folded: the
/// well-mixed high bits of the product reach the low bits that pick a bucket.
#[derive(Default)]
pub(super) struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, n: u64) {
        let x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }
    fn write(&mut self, bytes: &[u8]) {
        // only `write_u64` is used (by u64's `Hash`); anything else is still hashed
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }
}

pub(super) type ByPair<V> = HashMap<u64, V, std::hash::BuildHasherDefault<PairHasher>>;
pub(super) type PairSet = HashSet<u64, std::hash::BuildHasherDefault<PairHasher>>;

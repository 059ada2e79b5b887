//! A session's side of the kernel fast path (`fastpath.rs`): which of its four directions
//! (A's RTP and RTCP to B, B's to A) the kernel forwards right now, and the kernel's
//! counters added to the session's.
//!
//! `Shared::kernel_sync` is called after anything a rule depends on changed: a party's
//! socket connected to its settled source (the forwarding thread), a new SDP from a party,
//! a recording or its watch set or stopped, the echo test, an application taking side A;
//! and when the session ends (before its sockets go back to the pool). It recomputes
//! each direction's rule from the session's state and changes only what differs. Never
//! called per packet.

use super::fastpath::{Count, Fastpath, Path};
use super::forward::Shared;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;

/// A direction forwarded by the kernel, and its counters as last added to the session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offloaded {
    path: Path,
    seen: Count,
}

/// The directions of a session the kernel forwards, by socket (0 A's RTP … 3 B's RTCP).
pub(super) type Offloads = std::sync::Mutex<[Option<Offloaded>; 4]>;

fn v4(a: SocketAddr) -> Option<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(_) => None,
    }
}

impl Shared {
    /// The rule socket `k`'s packets should have now: None while anything but plain
    /// relaying between two settled IPv4 parties goes on.
    fn wanted(&self, k: usize) -> Option<Path> {
        if !self.connects
            || self.v6
            || self.echo.load(Ordering::Relaxed)
            || self.tap.get().is_some()
            || self.rec.load().is_some()
        {
            return None;
        }
        let rtcp = k % 2 == 1;
        let (from, to) = if k < 2 {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        };
        let ((rtp_in, rtcp_in), (rtp_out, rtcp_out)) =
            (from.sockets.as_ref()?, to.sockets.as_ref()?);
        let (inbound, source, outbound, dest) = if rtcp {
            (rtcp_in, &from.rtcp_peer, rtcp_out, &to.rtcp_peer)
        } else {
            (rtp_in, &from.rtp_peer, rtp_out, &to.rtp_peer)
        };
        if !source.connected.load(Ordering::Relaxed) || !dest.connected.load(Ordering::Relaxed) {
            return None;
        }
        Some(Path {
            to_relay: v4(inbound.local_addr().ok()?)?,
            from: v4(source.current()?)?,
            via: v4(outbound.local_addr().ok()?)?,
            dest: v4(dest.current()?)?,
            rtcp,
        })
    }

    /// Makes the kernel's rules for this session what its state asks for now.
    pub(super) fn kernel_sync(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        for (k, slot) in offloads.iter_mut().enumerate() {
            let want = self.wanted(k);
            if want == slot.map(|o| o.path) {
                continue;
            }
            if let Some(o) = slot.take() {
                if let Some(c) = kernel.remove(&o.path.key()) {
                    self.fold(kernel, k, o.seen, c);
                }
            }
            if let Some(path) = want {
                if kernel.install(&path) {
                    *slot = Some(Offloaded {
                        path,
                        seen: Count::default(),
                    });
                }
            }
        }
    }

    /// Takes every rule of this session out (it ends).
    pub(super) fn kernel_release(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        for (k, slot) in offloads.iter_mut().enumerate() {
            if let Some(o) = slot.take() {
                if let Some(c) = kernel.remove(&o.path.key()) {
                    self.fold(kernel, k, o.seen, c);
                }
            }
        }
    }

    /// Adds what the kernel relayed for this session since the last look to its counters
    /// (before `idle` or `counters` read them).
    pub(super) fn kernel_read(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        for (k, slot) in offloads.iter_mut().enumerate() {
            let Some(o) = slot else { continue };
            if let Some(c) = kernel.count(&o.path.key()) {
                self.fold(kernel, k, o.seen, c);
                o.seen = c;
            }
        }
    }

    /// Adds the difference between two readings of socket `k`'s rule.
    fn fold(&self, kernel: &Fastpath, k: usize, before: Count, now: Count) {
        let packets = now.packets.saturating_sub(before.packets);
        if packets == 0 {
            return;
        }
        let rtcp = k % 2 == 1;
        let side = if k < 2 { &self.a } else { &self.b };
        if !rtcp {
            side.packets.fetch_add(packets, Ordering::Relaxed);
        }
        kernel.add(rtcp, packets, now.bytes.saturating_sub(before.bytes));
        // the kernel's clock (CLOCK_MONOTONIC_COARSE) to the session's milliseconds
        let clock = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        let clock_ns = (clock.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(clock.tv_nsec as u64);
        let ago_ms = clock_ns.saturating_sub(now.last_ns) / 1_000_000;
        side.last
            .fetch_max(self.now_ms().saturating_sub(ago_ms), Ordering::Relaxed);
    }
}

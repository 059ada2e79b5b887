//! A session's side of the kernel fast path (`fastpath.rs`): which of its four directions
//! (A's RTP and RTCP to B, B's to A) the kernel forwards right now, and the kernel's
//! counters added to the session's.
//!
//! `Shared::kernel_sync` is called after anything a rule depends on changed: a party's
//! socket connected to its settled source (the forwarding thread), a new SDP from a party,
//! a recording or its watch set or stopped, the echo test, an application taking side A;
//! once a second for an answered call (the driver's sweep, through `MediaSession::idle`),
//! so that a rule follows a route that changed; and `kernel_release` when the
//! `MediaSession` is dropped (the forwarding thread may hold the session's state a little
//! longer: no rule is made after that). It recomputes each direction's rule from the session's state and
//! the routes, and changes only what differs. Never called per packet.

use super::fastpath::{Count, Fastpath, Offloaded, Path};
use super::forward::Shared;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

impl Shared {
    /// The rule socket `k`'s packets should have now: None while anything but plain
    /// relaying between two settled parties goes on.
    fn wanted(&self, k: usize) -> Option<Path> {
        if !self.connects
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
        // (the sockets are bound to `local`'s address: RTP on its port, RTCP on the next)
        let local = |side: &super::forward::Side| {
            let a = side.local;
            Some(SocketAddr::new(
                a.ip(),
                a.port().checked_add(u16::from(rtcp))?,
            ))
        };
        let (source, dest) = if rtcp {
            (&from.rtcp_peer, &to.rtcp_peer)
        } else {
            (&from.rtp_peer, &to.rtp_peer)
        };
        if from.sockets.is_none()
            || to.sockets.is_none()
            || !source.connected.load(Ordering::Relaxed)
            || !dest.connected.load(Ordering::Relaxed)
        {
            return None;
        }
        let path = Path {
            to_relay: plain(local(from)?)?,
            from: plain(source.current()?)?,
            via: plain(local(to)?)?,
            dest: plain(dest.current()?)?,
            rtcp,
        };
        // four addresses of one family (an IPv4-mapped one counts as IPv4)
        let family = path.to_relay.is_ipv4();
        [path.from, path.via, path.dest]
            .iter()
            .all(|a| a.is_ipv4() == family)
            .then_some(path)
    }

    /// Makes the kernel's rules for this session what its state asks for now.
    pub(super) fn kernel_sync(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        let (offloads, ended) = &mut *offloads;
        if *ended {
            return;
        }
        for (k, slot) in offloads.iter_mut().enumerate() {
            let want = self
                .wanted(k)
                .and_then(|p| Some((p, kernel.toward(p.via.ip(), p.dest.ip())?)));
            if want == slot.map(|o| (o.path, o.toward)) {
                continue;
            }
            self.take_out(kernel, k, slot);
            if let Some((path, toward)) = want {
                if kernel.install(&path, toward) {
                    *slot = Some(Offloaded {
                        path,
                        toward,
                        seen: Count::default(),
                    });
                }
            }
        }
    }

    /// Takes every rule of this session out, for good: it ends (its `MediaSession` is
    /// dropped; its state may live on a little in the forwarding thread).
    pub(super) fn kernel_release(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        let (offloads, ended) = &mut *offloads;
        *ended = true;
        for (k, slot) in offloads.iter_mut().enumerate() {
            self.take_out(kernel, k, slot);
        }
    }

    /// Adds what the kernel relayed for this session since the last look to its counters
    /// (before `idle` or `counters` read them).
    pub(super) fn kernel_read(&self) {
        let Some(kernel) = &self.kernel else { return };
        let mut offloads = self.offloads.lock().unwrap_or_else(|e| e.into_inner());
        for (k, slot) in offloads.0.iter_mut().enumerate() {
            let Some(o) = slot else { continue };
            if let Some(c) = kernel.count(&o.path.key()) {
                self.fold(kernel, k, o.seen, c);
                o.seen = c;
            }
        }
    }

    /// Takes socket `k`'s rule out of the kernel, its last counts added to the session's.
    fn take_out(&self, kernel: &Fastpath, k: usize, slot: &mut Option<Offloaded>) {
        if let Some(o) = slot.take() {
            if let Some(c) = kernel.remove(&o.path.key()) {
                self.fold(kernel, k, o.seen, c);
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
        self.kernel_packets.fetch_add(packets, Ordering::Relaxed);
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

/// `a` as a rule holds it: an IPv4-mapped IPv6 address as the IPv4 one its packets carry.
/// None for a link-local IPv6 address (or any with a scope): a rule's address has no
/// interface, and the way to it would be asked without one.
fn plain(a: SocketAddr) -> Option<SocketAddr> {
    match a {
        SocketAddr::V6(v6) if v6.scope_id() != 0 || v6.ip().is_unicast_link_local() => None,
        _ => Some(SocketAddr::new(a.ip().to_canonical(), a.port())),
    }
}

#[cfg(test)]
mod tests {
    use super::plain;
    use std::net::{SocketAddr, SocketAddrV6};

    #[test]
    fn a_rule_holds_plain_addresses_and_no_link_local_one() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            plain(a("[::ffff:192.0.2.7]:4000")),
            Some(a("192.0.2.7:4000"))
        );
        assert_eq!(plain(a("192.0.2.7:4000")), Some(a("192.0.2.7:4000")));
        assert_eq!(
            plain(a("[2001:db8::7]:4000")),
            Some(a("[2001:db8::7]:4000"))
        );
        assert_eq!(plain(a("[fe80::7]:4000")), None);
        let scoped = SocketAddrV6::new("2001:db8::7".parse().unwrap(), 4000, 0, 3);
        assert_eq!(plain(SocketAddr::V6(scoped)), None);
    }
}

//! UDP: sockets with large kernel buffers and the blocking receive loops. Each loop reads
//! what the socket holds, up to `BATCH` datagrams with one `recvmmsg`, each stamped by the
//! kernel with the time it arrived (`SO_TIMESTAMPNS`); it hands up first what continues
//! admitted work (responses, in-dialog requests, ACK: `triage.rs`), then the new
//! requests and CANCELs, each with how long it waited in the socket — the queue delay the server sheds
//! new work by (`overload.rs`).

use super::{Flow, Proto, Sink};
use crate::sip::triage::second_pass;
use nix::sys::socket::{
    recvmmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage,
};
use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Datagrams read per system call (a quiet socket gives one at a time).
const BATCH: usize = 16;
/// The largest datagram read (the size check against `max_message_size` follows).
const SIZE: usize = 65536;

/// A UDP socket with large kernel buffers, so bursts queue in the kernel rather than drop.
pub(super) fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    let s: UdpSocket = s.into();
    // The kernel's arrival time on every datagram: without it waits count as zero.
    if let Err(e) = setsockopt(&s, sockopt::ReceiveTimestampns, &true) {
        tracing::warn!(
            "udp:{}: no receive timestamps ({}): overload is seen later",
            addr,
            e
        );
    }
    Ok(s)
}

fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(a) = s.as_sockaddr_in() {
        return Some(SocketAddr::from(*a));
    }
    s.as_sockaddr_in6().map(|a| SocketAddr::from(*a))
}

/// One datagram of a batch: its length, source and when the kernel received it.
#[derive(Clone, Copy, Default)]
struct Got {
    len: usize,
    from: Option<SocketAddr>,
    at: Option<Duration>,
}

/// The buffers of one receive loop, made once: up to `BATCH` datagrams per read.
struct Batch {
    bufs: Vec<Vec<u8>>,
    hdrs: MultiHeaders<SockaddrStorage>,
    got: [Got; BATCH],
    n: usize,
    /// The clock when the batch was read.
    now: Duration,
}

fn headers() -> MultiHeaders<SockaddrStorage> {
    MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(nix::sys::time::TimeSpec)))
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl Batch {
    fn new() -> Batch {
        Batch {
            bufs: vec![vec![0u8; SIZE]; BATCH],
            hdrs: headers(),
            got: [Got::default(); BATCH],
            n: 0,
            now: Duration::ZERO,
        }
    }

    /// Blocks for the first datagram, then takes what else is already queued.
    fn read(&mut self, sock: &UdpSocket) -> nix::Result<usize> {
        let mut iovs: Vec<[IoSliceMut; 1]> =
            self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let msgs = recvmmsg(
            sock.as_raw_fd(),
            &mut self.hdrs,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        let mut n = 0;
        for (slot, m) in self.got.iter_mut().zip(msgs) {
            let at = m.cmsgs().ok().and_then(|mut c| {
                c.find_map(|c| match c {
                    ControlMessageOwned::ScmTimestampns(t) => Some(Duration::new(
                        u64::try_from(t.tv_sec()).unwrap_or(0),
                        u32::try_from(t.tv_nsec()).unwrap_or(0),
                    )),
                    _ => None,
                })
            });
            *slot = Got {
                len: m.bytes,
                from: m.address.as_ref().and_then(socket_addr),
                at,
            };
            n += 1;
        }
        self.n = n;
        self.now = since_epoch(SystemTime::now());
        // A header the kernel wrote no timestamp into offers no room for one next time.
        if self.got[..n].iter().any(|g| g.at.is_none()) {
            self.hdrs = headers();
        }
        Ok(n)
    }

    /// Datagram `i` of the last read: its bytes, source and how long it waited.
    fn get(&self, i: usize) -> Option<(&[u8], SocketAddr, Duration)> {
        let g = self.got[..self.n].get(i)?;
        let waited =
            g.at.map(|at| self.now.saturating_sub(at))
                .unwrap_or_default();
        Some((&self.bufs[i][..g.len.min(SIZE)], g.from?, waited))
    }
}

pub(super) fn udp_loop<S: Sink>(sock: Arc<UdpSocket>, local: SocketAddr, sink: Arc<S>, max: usize) {
    let mut batch = Batch::new();
    loop {
        let n = match batch.read(&sock) {
            Ok(n) => n,
            Err(e) => {
                // ICMP errors surface here on Linux (ECONNREFUSED): not fatal.
                tracing::trace!("udp:{} recv: {}", local, e);
                continue;
            }
        };
        // Work in progress first, then new requests and CANCELs, each in arrival order.
        let mut new = [false; BATCH];
        for (i, slot) in new.iter_mut().enumerate().take(n) {
            *slot = batch.get(i).is_some_and(|(d, _, _)| second_pass(d));
        }
        for pass in [false, true] {
            for i in (0..n).filter(|&i| new[i] == pass) {
                if let Some((data, remote, waited)) = batch.get(i) {
                    one(&sink, local, remote, data, max, waited);
                }
            }
        }
    }
}

/// Hands one datagram up (unless its source is blocked, it is a keep-alive or too large).
fn one<S: Sink>(
    sink: &Arc<S>,
    local: SocketAddr,
    remote: SocketAddr,
    data: &[u8],
    max: usize,
    waited: Duration,
) {
    if sink.is_blocked(remote.ip()) {
        return;
    }
    // Keep-alives: CRLF pings and empty datagrams.
    if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return;
    }
    if data.len() > max {
        tracing::debug!(
            "udp:{} dropping {}-byte message from {}",
            local,
            data.len(),
            remote
        );
        return;
    }
    let flow = Flow {
        proto: Proto::Udp,
        local,
        remote,
        conn: None,
    };
    // A bug must cost one message, never the receive loop (and with it all of UDP).
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sink.clone().on_message(data, flow, waited)
    }));
    if handled.is_err() {
        tracing::error!(
            "udp:{}: a message from {} hit a bug; dropped",
            local,
            remote
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_tells_how_long_each_datagram_waited() {
        let rx = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut b = Batch::new();
        // The kernel turns receive stamping on a moment after the first socket asks (a
        // datagram not stamped on arrival is stamped when read): one round first.
        tx.send_to(b"warm-up", to).unwrap();
        assert_eq!(b.read(&rx).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(20));
        tx.send_to(b"first", to).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        tx.send_to(b"second", to).unwrap();
        assert_eq!(b.read(&rx).unwrap(), 2);
        let (d0, from, w0) = b.get(0).unwrap();
        let (d1, _, w1) = b.get(1).unwrap();
        assert_eq!(
            (d0, d1, from),
            (&b"first"[..], &b"second"[..], tx.local_addr().unwrap())
        );
        assert!(w0 >= Duration::from_millis(50), "{:?}", w0);
        assert!(w1 < w0, "{:?} {:?}", w1, w0);
        assert!(b.get(2).is_none());
    }
}

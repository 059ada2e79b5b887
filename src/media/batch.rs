//! Receiving a relay socket's datagrams several at a time: one `recvmmsg` reads up to
//! `BURST` of them, and a short count tells that the socket is empty — what lets the
//! forwarding threads watch their sockets edge-triggered (one readiness poll per packet
//! instead of two) without a second system call per packet to find the socket drained.
//! A batch has two halves, read into in turn, so that a full read can be held while the
//! next one shows whether newer packets follow (`session.rs` relays the newest of a
//! stream that is far behind). The buffers and headers are made once per thread;
//! receiving allocates nothing.

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Datagrams read per system call. RTP arrives one packet per 20 ms per socket, so one
/// is the usual count; a burst after a network hiccup takes a few calls.
pub(super) const BURST: usize = 8;
/// The largest datagram relayed whole (RTP over Ethernet stays under 1,500 bytes).
const SIZE: usize = 2048;

/// What one read gave.
pub(super) enum Read {
    /// `n` datagrams are in the batch; fewer than `BURST` means the socket is empty now.
    Got(usize),
    /// Nothing was queued.
    Empty,
    /// An error was consumed (a pending ICMP error of an earlier send): read again.
    Error,
}

pub(super) struct RecvBatch {
    /// Headers for IPv4 sockets and for IPv6 ones: the kernel writes each header's
    /// address length back and the next read offers only that much room, so a header
    /// that read an IPv4 source would cut an IPv6 one short.
    headers: [MultiHeaders<SockaddrStorage>; 2],
    bufs: Box<[[[u8; SIZE]; BURST]; 2]>,
    /// Length and source of each datagram of the last read into each half.
    got: [[(usize, Option<SocketAddr>); BURST]; 2],
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            headers: [
                MultiHeaders::preallocate(BURST, None),
                MultiHeaders::preallocate(BURST, None),
            ],
            bufs: Box::new([[[0u8; SIZE]; BURST]; 2]),
            got: [[(0, None); BURST]; 2],
        }
    }
}

fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(a) = s.as_sockaddr_in() {
        return Some(SocketAddr::from(*a));
    }
    s.as_sockaddr_in6().map(|a| SocketAddr::from(*a))
}

impl RecvBatch {
    /// Reads what `fd` (non-blocking; an IPv6 socket if `v6`) holds, up to `BURST`
    /// datagrams, into half `half` (0 or 1) of the batch.
    pub(super) fn read(&mut self, fd: BorrowedFd<'_>, v6: bool, half: usize) -> Read {
        let half = half & 1;
        let mut iovs = self.bufs[half].each_mut().map(|b| [IoSliceMut::new(b)]);
        let res = recvmmsg(
            fd.as_raw_fd(),
            &mut self.headers[usize::from(v6)],
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        );
        match res {
            Ok(msgs) => {
                let mut n = 0;
                for (slot, m) in self.got[half].iter_mut().zip(msgs) {
                    *slot = (m.bytes, m.address.as_ref().and_then(socket_addr));
                    n += 1;
                }
                Read::Got(n)
            }
            Err(nix::errno::Errno::EAGAIN) => Read::Empty,
            Err(_) => Read::Error,
        }
    }

    /// Datagram `i` of the last read into `half` and its source (a datagram larger than
    /// the buffer is cut at its end, as `recvfrom` would).
    pub(super) fn get(&self, half: usize, i: usize) -> Option<(&[u8], SocketAddr)> {
        let (len, src) = *self.got[half & 1].get(i)?;
        Some((&self.bufs[half & 1].get(i)?[..len.min(SIZE)], src?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn reads_a_burst_then_reports_empty() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut b = RecvBatch::default();
        assert!(matches!(b.read(rx.as_fd(), false, 0), Read::Empty));
        for i in 0..(BURST as u8 + 3) {
            tx.send_to(&[i; 20], rx.local_addr().unwrap()).unwrap();
        }
        // a full burst: there may be more
        assert!(matches!(b.read(rx.as_fd(), false, 0), Read::Got(BURST)));
        let (p, src) = b.get(0, BURST - 1).unwrap();
        assert_eq!(
            (p, src),
            (&[BURST as u8 - 1; 20][..], tx.local_addr().unwrap())
        );
        // a short count: the rest, and the socket is empty; the first half is kept
        assert!(matches!(b.read(rx.as_fd(), false, 1), Read::Got(3)));
        assert_eq!(b.get(1, 2).unwrap().0, &[BURST as u8 + 2; 20][..]);
        assert_eq!(b.get(0, 0).unwrap().0, &[0; 20][..]);
        assert!(matches!(b.read(rx.as_fd(), false, 0), Read::Empty));
    }

    /// IPv4 and IPv6 sockets served by one batch in turn each get their sources whole.
    #[test]
    fn ipv4_and_ipv6_sources_in_turn() {
        let mut b = RecvBatch::default();
        for _ in 0..2 {
            for (any, v6) in [("127.0.0.1:0", false), ("[::1]:0", true)] {
                let rx = std::net::UdpSocket::bind(any).unwrap();
                rx.set_nonblocking(true).unwrap();
                let tx = std::net::UdpSocket::bind(any).unwrap();
                tx.send_to(&[0x80; 12], rx.local_addr().unwrap()).unwrap();
                assert!(matches!(b.read(rx.as_fd(), v6, 0), Read::Got(1)));
                assert_eq!(b.get(0, 0).unwrap().1, tx.local_addr().unwrap());
            }
        }
    }
}

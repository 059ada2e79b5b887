//! UDP: sockets with large kernel buffers and the blocking receive loops (one `recvfrom`
//! per message, no reactor in the way).

use super::{Flow, Proto, Sink};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

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
    Ok(s.into())
}

pub(super) fn udp_loop<S: Sink>(sock: Arc<UdpSocket>, local: SocketAddr, sink: Arc<S>, max: usize) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, remote) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on Linux (ECONNREFUSED): not fatal.
                tracing::trace!("udp:{} recv: {}", local, e);
                continue;
            }
        };
        if sink.is_blocked(remote.ip()) {
            continue;
        }
        let data = &buf[..n];
        // Keep-alives: CRLF pings and empty datagrams.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        if n > max {
            tracing::debug!("udp:{} dropping {}-byte message from {}", local, n, remote);
            continue;
        }
        let flow = Flow {
            proto: Proto::Udp,
            local,
            remote,
            conn: None,
        };
        // A bug must cost one message, never the receive loop (and with it all of UDP).
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sink.clone().on_message(data, flow)
        }));
        if handled.is_err() {
            tracing::error!(
                "udp:{}: a message from {} hit a bug; dropped",
                local,
                remote
            );
        }
    }
}

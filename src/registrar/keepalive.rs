//! Keeps NAT mappings of UDP bindings open: an OPTIONS to each binding whose Contact is
//! not where its REGISTER came from, over the binding's own flow, every interval.

use super::location::Location;
use crate::auth::nonce::now_secs;
use crate::sip::transport::{Flow, Transports};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub fn options_ping(flow: &Flow, local: SocketAddr, contact: &str, seq: u64) -> Vec<u8> {
    let branch = format!("z9hG4bK-ka-{:x}-{:x}", seq, rand::random::<u32>());
    format!(
        "OPTIONS {contact} SIP/2.0\r\n\
         Via: SIP/2.0/{proto} {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:keepalive@{local}>;tag=ka{seq:x}\r\n\
         To: <{contact}>\r\n\
         Call-ID: ka-{seq:x}-{rnd:x}@{local}\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: {ua}\r\n\
         Content-Length: 0\r\n\r\n",
        proto = flow.proto.via_name(),
        local = local,
        rnd = rand::random::<u32>(),
        ua = crate::sip::reply::SERVER,
    )
    .into_bytes()
}

/// Runs on its own thread: sending blocks (briefly) and must not hold a reactor thread.
pub fn run(location: Arc<Location>, transports: Arc<Transports>, interval: u64) {
    if interval == 0 {
        return;
    }
    let mut seq: u64 = 0;
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        let now = now_secs();
        for b in location.all() {
            if !b.natted || b.expires_at <= now || b.flow.proto != crate::sip::transport::Proto::Udp
            {
                continue;
            }
            seq += 1;
            if let Err(e) = transports.send(
                &b.flow,
                &options_ping(&b.flow, transports.advertised(&b.flow), &b.contact, seq),
            ) {
                tracing::debug!("keep-alive to {}: {}", b.flow, e);
            }
        }
    }
}

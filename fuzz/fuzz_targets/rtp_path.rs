//! A sequence of packets from arbitrary sources and times, and new SDPs, through the relay's
//! per-packet decision (shape check + latching with strict sources). Must never panic;
//! once learning is over only the latched source passes and the destination stays put;
//! and a packet from outside the party (neither its SDP address nor its SIP IP) never
//! passes and never changes where packets go, during learning or after.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};
use vozbox::media::latch::Party;
use vozbox::media::session::PacketGate;

/// The party's SIP comes from 10.0.0.1; its SDPs name 10.0.0.1 or 192.0.2.1 (NAT).
/// Sources are drawn from 10.0.0.0–3 and 192.0.2.1, ports 4000–4003.
fn party(pick: u8) -> Party {
    let ip = if pick & 1 == 0 { [10, 0, 0, 1] } else { [192, 0, 2, 1] };
    Party {
        sdp: SocketAddr::from((ip, 4000 + (pick >> 1 & 3) as u16)),
        signalling: Some(IpAddr::from([10, 0, 0, 1])),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let mut now_party = party(first);
    let gate = PacketGate::new(now_party, true);
    let mut now: u64 = 0;
    // Each packet: [source, time step (x16 ms), flags, length] then `length` bytes.
    // flags bit 0: RTCP; bit 1: a new SDP (party from the source byte) comes first.
    while rest.len() >= 4 {
        let (head, tail) = rest.split_at(4);
        let len = (head[3] as usize).min(tail.len());
        let (packet, tail) = tail.split_at(len);
        rest = tail;
        now += head[1] as u64 * 16;
        if head[2] & 2 != 0 {
            now_party = party(head[0]);
            gate.advertise(now_party);
        }
        let ip: IpAddr = if head[0] & 16 != 0 {
            IpAddr::from([192, 0, 2, 1])
        } else {
            IpAddr::from([10, 0, 0, head[0] % 4])
        };
        let src = SocketAddr::new(ip, 4000 + (head[0] / 64) as u16);
        let before = (gate.destination(), gate.learning_until());
        let passed = gate.pass(packet, head[2] & 1 == 1, src, now);
        let learning_over = before.1 != 0 && now >= before.1;
        if learning_over {
            assert_eq!(gate.destination(), before.0, "moved after learning");
            if passed {
                assert_eq!(Some(src), before.0, "a stranger passed after learning");
            }
        }
        let belongs = src == now_party.sdp || Some(src.ip()) == now_party.signalling;
        if !belongs {
            assert!(!passed, "a stranger's packet passed");
            assert_eq!(
                (gate.destination(), gate.learning_until()),
                before,
                "a stranger's packet changed the stream"
            );
        }
        if passed {
            assert!(packet.len() >= 8 && packet[0] >> 6 == 2);
        }
    }
});

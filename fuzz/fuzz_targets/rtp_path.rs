//! A sequence of packets from arbitrary sources and times through the relay's per-packet
//! decision (shape check + latching). Must never panic, and once learning is over only the
//! latched source passes and the destination stays put.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use vozbox::media::session::PacketGate;

fuzz_target!(|data: &[u8]| {
    let advertised: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let gate = PacketGate::new(advertised);
    let mut now: u64 = 0;
    let mut rest = data;
    // Each packet: [source, time step (x16 ms), rtcp flag, length] then `length` bytes.
    while rest.len() >= 4 {
        let (head, tail) = rest.split_at(4);
        let len = (head[3] as usize).min(tail.len());
        let (packet, tail) = tail.split_at(len);
        rest = tail;
        now += head[1] as u64 * 16;
        let src = SocketAddr::from(([10, 0, 0, head[0] % 4], 4000 + (head[0] / 64) as u16));
        let before = (gate.destination(), gate.learning_until());
        let passed = gate.pass(packet, head[2] & 1 == 1, src, now);
        let learning_over = before.1 != 0 && now >= before.1;
        if learning_over {
            assert_eq!(gate.destination(), before.0, "moved after learning");
            if passed {
                assert_eq!(Some(src), before.0, "a stranger passed after learning");
            }
        }
        if passed {
            assert!(packet.len() >= 8 && packet[0] >> 6 == 2);
        }
    }
});

//! RTP helpers of the relay tests: a raw RTP packet, the relay port facing the caller, a
//! callee that echoes its audio, a caller whose SDP the test chooses.

use super::*;

/// The SSRC of every packet `rtp` makes: a packet with it reaching anyone but the call's
/// parties is the call's audio leaking.
pub const SSRC: u32 = 0x1234_5678;

/// The relay's port facing the caller, from `vozbox calls`, once the call is answered.
pub fn caller_port(v: &Vozbox) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = v.calls();
        if let Some(l) = out.lines().find(|l| l.contains("answered")) {
            if let Some(p) = l
                .split("A ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|p| p.trim().parse().ok())
            {
                return p;
            }
        }
        assert!(Instant::now() < deadline, "no answered call: {}", out);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An RTP packet: version 2, payload type `pt`, sequence `seq`, SSRC `SSRC`, 160-byte
/// payload.
pub fn rtp(pt: u8, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, pt, (seq >> 8) as u8, seq as u8];
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend(std::iter::repeat_n(0xd5u8, 160));
    p
}

/// The SSRC of an RTP packet.
pub fn ssrc(p: &[u8]) -> Option<u32> {
    p.get(8..12)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// SIPp answering with `scenario` from `ip:port`, echoing the RTP it gets back to where it
/// came from, its media on `media_ip` (its SDP names that address).
pub fn echoing_uas(scenario: &str, ip: &str, port: u16, media_ip: &str) -> SippUas {
    // SIPp echoes audio on this port and video on the one two above.
    let media_port = free_ports(4).to_string();
    SippUas::start_with(
        scenario,
        "u1",
        ip,
        port,
        &["-rtp_echo", "-mp", &media_port, "-mi", media_ip],
    )
}

/// bob registered from a free port, answered by SIPp's `scenario`, which echoes the RTP it
/// gets back to where it came from.
pub fn echoing_bob(v: &Vozbox, scenario: &str) -> SippUas {
    let port = free_port("127.0.0.1");
    register(v, "127.0.0.1", ("bob", "Bob-Secret-22"), port);
    echoing_uas(scenario, "127.0.0.1", port, "127.0.0.1")
}

/// alice calls `number` for `ms` milliseconds with an SDP naming `sdp` (192.0.2.33 is
/// unreachable: a caller behind NAT); her RTP is the test's to send, from wherever it
/// likes.
pub fn alice_calls_with_sdp(addr: &str, number: &str, sdp: (&str, u16), ms: u32) -> Sipp {
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;{};{};{}\n",
        number, sdp.0, sdp.1
    );
    sipp(
        "uac_call_sdp.xml",
        addr,
        "u1",
        "127.0.0.1",
        &csv,
        &[
            "-auth_uri",
            &format!("{}@{}", number, addr),
            "-d",
            &ms.to_string(),
        ],
    )
}

/// alice calls bob's 101 with SIPp's `scenario` (fields: domain, authentication, caller,
/// number, SDP address and port — `uac_record_info.xml`'s) and an SDP naming the test's
/// socket at 127.0.0.1:`port`; `extra`: more SIPp arguments (e.g. `-d`).
pub fn alice_calls_bob_from(scenario: &str, addr: &str, port: u16, extra: &[&str]) -> Sipp {
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;101;127.0.0.1;{}\n",
        port
    );
    let uri = format!("101@{}", addr);
    let mut args = vec!["-auth_uri", uri.as_str()];
    args.extend_from_slice(extra);
    sipp(scenario, addr, "u1", "127.0.0.1", &csv, &args)
}

/// A caller's media: `sent` packets to the relay port facing it, one every 20 ms, keeping
/// what comes back.
pub fn talk(sock: &std::net::UdpSocket, relay: u16, sent: u16) -> Vec<Vec<u8>> {
    sock.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let mut drain = |got: &mut Vec<Vec<u8>>| {
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
    };
    for seq in 0..sent {
        sock.send_to(&rtp(8, seq), ("127.0.0.1", relay)).unwrap();
        drain(&mut got);
        std::thread::sleep(Duration::from_millis(20));
    }
    let end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < end {
        drain(&mut got);
        std::thread::sleep(Duration::from_millis(10));
    }
    got
}

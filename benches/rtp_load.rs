//! RTP load through a relay (vozbox or rtpengine): every call has two ends, caller (A) and
//! callee (B); every 20 ms each end sends one G.711 packet (172 bytes) to the relay port
//! facing it, and receives what the relay forwards from the other end. The payload carries
//! the send time, so the one-way time through the relay is measured in one process with
//! one clock.
//!
//!   cargo bench --bench rtp_load -- PORTS_FILE SECONDS RELAY_PID [SENDERS] [SOCKETS] [BATCH_US]
//!
//! PORTS_FILE: one line per call, "A_PORT B_PORT" (the relay's ports facing caller and
//! callee, on 127.0.0.1). Prints what was offered and received, loss, the one-way delay
//! (p50, p99, max), how late the generator itself sent (so a saturated generator shows),
//! and the relay's CPU per call and per relayed packet (utime+stime of RELAY_PID over the
//! run). `benches/media_load.sh` drives it.
//!
//! Every caller's end sends from RTP_A_IP (127.0.0.3, where `benches/media_load.sh`'s SIPp
//! caller signals from), every callee's from RTP_B_IP (127.0.0.2, its SIPp callee): the
//! relay's strict sources accept a party's media only from its SDP address or its SIP IP.
//! RTP_RELAY_IP (127.0.0.1) is where the relay's ports are.
//!
//! The generator must cost little, or it is what is measured: the call ends share SOCKETS
//! sockets (16 by default; to the relay each relay port still has one peer, which it
//! latches onto), SENDERS threads (1) send what is due by a schedule (the ends' phases
//! spread over the 20 ms period), and one thread receives, emptying each ready socket and
//! then sleeping BATCH_US (200 µs by default) so that packets gather: a relay sending to
//! the network never pays for waking its receiver, and on loopback it would (the sender's
//! `sendto` runs the receiver's wake-up), once per packet. The delays it measures include
//! up to that much of the generator's own waiting.

use rustix::buffer::spare_capacity;
use rustix::event::epoll;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const PACKET: usize = 172;
const PERIOD_US: u64 = 20_000;

fn cpu_ticks(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap_or_default();
    // fields after the ")" of the command name: utime is the 12th, stime the 13th
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// CPU ticks the whole machine spent busy (every CPU, user, system, interrupts and
/// softirqs; not idle, waiting for I/O or stolen by the hypervisor): the generator, the relay and the kernel's
/// packet work wherever it ran — what a kernel fast path costs is counted here, not in
/// the relay's process.
fn machine_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = s.lines().next().unwrap_or("");
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    [0, 1, 2, 5, 6].iter().filter_map(|&i| f.get(i)).sum()
}

/// CPU ticks of the relay's forwarding threads (named `relay-N`) of process `pid`.
fn relay_ticks(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", pid)) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .map(|c| c.starts_with("relay-"))
                .unwrap_or(false)
        })
        .map(|t| {
            let s = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            let rest = s.rsplit(')').next().unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            n(11) + n(12)
        })
        .sum()
}

#[derive(Default)]
struct Stats {
    sent: u64,
    received: u64,
    /// one-way delays in microseconds, one per packet received
    delays: Vec<u32>,
    /// sends later than 1 ms after their slot (the generator falling behind)
    late: u64,
    max_lag_us: u64,
}

/// One call end: the socket it sends from and the relay port it sends to.
struct End {
    sock: usize,
    to: std::net::SocketAddr,
}

/// A sender thread: sends for `ends` by their schedule from `warm_us` to `stop_us` (µs
/// since `start`).
fn send(ends: Vec<End>, socks: &[UdpSocket], start: Instant, warm_us: u64, stop_us: u64) -> Stats {
    let mut st = Stats::default();
    let n = ends.len().max(1) as u64;
    let phase = |i: usize| PERIOD_US * i as u64 / n;
    let mut pkt = [0xd5u8; PACKET];
    pkt[0] = 0x80;
    pkt[1] = 8;
    let mut seq = vec![0u16; ends.len()];
    let (mut cursor, mut cycle) = (0usize, 0u64);
    while !ends.is_empty() {
        let due = warm_us + cycle * PERIOD_US + phase(cursor);
        if due >= stop_us {
            break;
        }
        let now = start.elapsed().as_micros() as u64;
        if due > now {
            std::thread::sleep(Duration::from_micros(due - now));
            continue;
        }
        let lag = now - due;
        st.max_lag_us = st.max_lag_us.max(lag);
        if lag > 1_000 {
            st.late += 1;
        }
        let e = &ends[cursor];
        pkt[2..4].copy_from_slice(&seq[cursor].to_be_bytes());
        pkt[12..20].copy_from_slice(&now.to_be_bytes());
        if socks[e.sock].send_to(&pkt, e.to).is_ok() {
            st.sent += 1;
        }
        seq[cursor] = seq[cursor].wrapping_add(1);
        cursor += 1;
        if cursor == ends.len() {
            cursor = 0;
            cycle += 1;
        }
    }
    st
}

/// The receiving thread: until `until_us`, empties every socket that is ready, then lets
/// packets gather for `batch` (0: none) — see the module doc.
fn receive(socks: &[UdpSocket], start: Instant, until_us: u64, batch: Duration) -> Stats {
    let mut st = Stats::default();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
    for (i, s) in socks.iter().enumerate() {
        epoll::add(
            &ep,
            s,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )
        .expect("epoll add");
    }
    let mut events = Vec::with_capacity(64);
    let mut buf = [0u8; 2048];
    let wait = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    while (start.elapsed().as_micros() as u64) < until_us {
        events.clear();
        if epoll::wait(&ep, spare_capacity(&mut events), Some(&wait)).is_err() {
            continue;
        }
        for ev in events.iter() {
            let Some(s) = socks.get(ev.data.u64() as usize) else {
                continue;
            };
            while let Ok(n) = s.recv(&mut buf) {
                if n >= 20 {
                    let sent_us = u64::from_be_bytes(buf[12..20].try_into().unwrap_or([0; 8]));
                    let now_us = start.elapsed().as_micros() as u64;
                    st.delays
                        .push(now_us.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
                    st.received += 1;
                }
            }
        }
        if !events.is_empty() && !batch.is_zero() {
            std::thread::sleep(batch);
        }
    }
    st
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(file), Some(secs), Some(pid)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: rtp_load PORTS_FILE SECONDS RELAY_PID [THREADS]");
        std::process::exit(2);
    };
    let secs: u64 = secs.parse().unwrap_or(10);
    let arg = |i: usize, d: usize| args.get(i).and_then(|t| t.parse().ok()).unwrap_or(d).max(1);
    // an even count: callers' ends use the even sockets, callees' the odd ones
    let (senders, nsocks) = (arg(3, 1), arg(4, 16).div_ceil(2) * 2);
    let batch = Duration::from_micros(args.get(5).and_then(|t| t.parse().ok()).unwrap_or(200));
    let pairs: Vec<(u16, u16)> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .collect();
    // Each end sends from its party's SIP address (the relay's strict sources accept media
    // only from a party's SDP address or the IP its SIP comes from).
    let ip = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let (a_ip, b_ip) = (ip("RTP_A_IP", "127.0.0.3"), ip("RTP_B_IP", "127.0.0.2"));
    // where the relay's ports are (RTP_RELAY_IP)
    let relay_ip: std::net::IpAddr = ip("RTP_RELAY_IP", "127.0.0.1")
        .parse()
        .expect("RTP_RELAY_IP: an address");
    let socks: Vec<UdpSocket> = (0..nsocks)
        .map(|i| {
            let at = if i % 2 == 0 { &a_ip } else { &b_ip };
            let s = UdpSocket::bind((at.as_str(), 0)).expect("bind");
            let _ = socket2::SockRef::from(&s).set_recv_buffer_size(8 << 20);
            s
        })
        .collect();
    // RTP_DIRECT=1: no relay, each end sends straight to the other end's socket — what the
    // generator and one loopback hop cost alone (`benches/media_load.sh` with DIRECT=1
    // subtracts it from a relay's run: the relay's share of the machine).
    let direct = std::env::var("RTP_DIRECT").is_ok_and(|v| v == "1");
    let mut ends = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        let (sa, sb) = ((2 * i) % nsocks, (2 * i + 1) % nsocks);
        for (sock, relay, other) in [(sa, a, sb), (sb, b, sa)] {
            let to = if direct {
                socks[other].local_addr().expect("local address")
            } else {
                std::net::SocketAddr::new(relay_ip, *relay)
            };
            let e = End { sock, to };
            if !direct {
                // One packet from every end first: the relay latches onto it.
                let _ = socks[e.sock].send_to(&[0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], e.to);
            }
            ends.push(e);
        }
    }
    if !direct {
        // Once the relay's learning (3 s) is over, one more packet from every end settles
        // its source (vozbox connects the socket to it, and may hand the stream to the
        // kernel): what is measured is the steady state of a call.
        std::thread::sleep(Duration::from_millis(3_200));
        for e in &ends {
            let _ = socks[e.sock].send_to(&[0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], e.to);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut buf = [0u8; 2048];
    for s in &socks {
        s.set_nonblocking(true).expect("nonblocking");
        while s.recv(&mut buf).is_ok() {}
    }
    let start = Instant::now();
    let warm_us = 10_000;
    let stop_us = warm_us + secs * 1_000_000;
    // ends dealt to the senders in turn: each sender's phases cover the period
    let mut per: Vec<Vec<End>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, e) in ends.into_iter().enumerate() {
        per[i % senders].push(e);
    }
    let c0 = cpu_ticks(pid);
    let t0 = relay_ticks(pid);
    let m0 = machine_ticks();
    let socks = std::sync::Arc::new(socks);
    let rx = {
        let socks = socks.clone();
        std::thread::spawn(move || receive(&socks, start, stop_us + 500_000, batch))
    };
    let handles: Vec<_> = per
        .into_iter()
        .map(|e| {
            let socks = socks.clone();
            std::thread::spawn(move || send(e, &socks, start, warm_us, stop_us))
        })
        .collect();
    let mut all = Stats::default();
    for h in handles {
        let st = h.join().expect("sender thread");
        all.sent += st.sent;
        all.late += st.late;
        all.max_lag_us = all.max_lag_us.max(st.max_lag_us);
    }
    let r = rx.join().expect("receiver thread");
    all.received = r.received;
    all.delays = r.delays;
    let c1 = cpu_ticks(pid);
    let machine_s = machine_ticks().saturating_sub(m0) as f64 / 100.0;
    let cpu_s = (c1 - c0) as f64 / 100.0; // USER_HZ on Linux
    let relay_s = relay_ticks(pid).saturating_sub(t0) as f64 / 100.0;
    let d = &mut all.delays;
    d.sort_unstable();
    let q = |p: f64| {
        d.get(((d.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let calls = pairs.len();
    let expected = (calls as u64) * 2 * secs * 50;
    let (sent, got) = (all.sent, all.received);
    println!(
        "calls {} | offered {} of {} expected ({:.1} %), {} sent > 1 ms late (max {} µs) | received {} | loss {:.3} % | one-way p50 {} µs p99 {} µs max {} µs | relay CPU {:.2} s = {:.3} % of a core per call, {:.2} µs per relayed packet | relay threads {:.2} µs per relayed packet | machine {:.2} µs per relayed packet",
        calls,
        sent,
        expected,
        100.0 * sent as f64 / expected.max(1) as f64,
        all.late,
        all.max_lag_us,
        got,
        100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64,
        q(0.5),
        q(0.99),
        d.last().copied().unwrap_or(0),
        cpu_s,
        100.0 * cpu_s / secs as f64 / calls.max(1) as f64,
        1e6 * cpu_s / got.max(1) as f64,
        1e6 * relay_s / got.max(1) as f64,
        1e6 * machine_s / got.max(1) as f64,
    );
}

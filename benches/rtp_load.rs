//! RTP load through a relay (vozbox or rtpengine): for each call two local sockets play
//! caller (A) and callee (B); every 20 ms each sends one G.711 packet (172 bytes) to the
//! relay port facing it, and each receives what the relay forwards from the other. The
//! payload carries the send time, so the one-way time through the relay is measured in
//! one process with one clock.
//!
//!   cargo bench --bench rtp_load -- PORTS_FILE SECONDS RELAY_PID
//!
//! PORTS_FILE: one line per call, "A_PORT B_PORT" (the relay's ports facing caller and
//! callee, on 127.0.0.1). Prints what was offered and received, loss, the one-way delay
//! (p50, p99, max) and the relay's CPU per call and per relayed packet (utime+stime of
//! RELAY_PID over the run). `benches/media_load.sh` drives it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

const PACKET: usize = 172;

fn cpu_ticks(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap_or_default();
    // fields after the ")" of the command name: utime is the 12th, stime the 13th
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

struct Stats {
    sent: AtomicU64,
    received: AtomicU64,
    /// one-way delays in microseconds (sampled: every packet)
    delays: Mutex<Vec<u32>>,
}

async fn receiver(sock: Arc<UdpSocket>, start: Instant, stats: Arc<Stats>, stop: Instant) {
    let mut buf = [0u8; 2048];
    let mut local = Vec::with_capacity(4096);
    loop {
        let left = stop.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
        match tokio::time::timeout(left, sock.recv(&mut buf)).await {
            Ok(Ok(n)) if n >= 20 => {
                let sent_us = u64::from_be_bytes(buf[12..20].try_into().unwrap_or([0; 8]));
                let now_us = start.elapsed().as_micros() as u64;
                local.push(now_us.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
                stats.received.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    stats.delays.lock().unwrap().extend(local);
}

async fn sender(
    sock: Arc<UdpSocket>,
    start: Instant,
    stats: Arc<Stats>,
    stop: Instant,
    phase: Duration,
) {
    tokio::time::sleep(phase).await;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut pkt = [0xd5u8; PACKET];
    pkt[0] = 0x80;
    pkt[1] = 8;
    let mut seq: u16 = 0;
    while Instant::now() < stop {
        tick.tick().await;
        pkt[2..4].copy_from_slice(&seq.to_be_bytes());
        let us = start.elapsed().as_micros() as u64;
        pkt[12..20].copy_from_slice(&us.to_be_bytes());
        if sock.send(&pkt).await.is_ok() {
            stats.sent.fetch_add(1, Ordering::Relaxed);
        }
        seq = seq.wrapping_add(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(file), Some(secs), Some(pid)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: rtp_load PORTS_FILE SECONDS RELAY_PID");
        std::process::exit(2);
    };
    let secs: u64 = secs.parse().unwrap_or(10);
    let pairs: Vec<(u16, u16)> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let stats = Arc::new(Stats {
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        delays: Mutex::new(Vec::new()),
    });
    rt.block_on(async {
        let start = Instant::now();
        let mut socks = Vec::new();
        for (a, b) in &pairs {
            for relay in [a, b] {
                let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
                s.connect(("127.0.0.1", *relay)).await.expect("connect");
                socks.push(Arc::new(s));
            }
        }
        // One packet from every socket first: the relay latches onto them.
        for s in &socks {
            let _ = s.send(&[0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let warm = Instant::now();
        let stop = warm + Duration::from_secs(secs);
        let c0 = cpu_ticks(pid);
        let mut tasks = Vec::new();
        let n = socks.len().max(1) as u64;
        for (i, s) in socks.iter().enumerate() {
            // senders spread over the 20 ms period
            let phase = Duration::from_micros(20_000 * i as u64 / n);
            tasks.push(tokio::spawn(sender(s.clone(), start, stats.clone(), stop, phase)));
            tasks.push(tokio::spawn(receiver(s.clone(), start, stats.clone(), stop)));
        }
        for t in tasks {
            let _ = t.await;
        }
        let c1 = cpu_ticks(pid);
        let tck = 100.0; // USER_HZ on Linux
        let cpu_s = (c1 - c0) as f64 / tck;
        let sent = stats.sent.load(Ordering::Relaxed);
        let got = stats.received.load(Ordering::Relaxed);
        let mut d = stats.delays.lock().unwrap().clone();
        d.sort_unstable();
        let q = |p: f64| d.get(((d.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
        let calls = pairs.len();
        let expected = (calls as u64) * 2 * secs * 50;
        println!(
            "calls {} | offered {} of {} expected ({:.1} %) | received {} | loss {:.3} % | one-way p50 {} µs p99 {} µs max {} µs | relay CPU {:.2} s = {:.3} % of a core per call, {:.2} µs per relayed packet",
            calls,
            sent,
            expected,
            100.0 * sent as f64 / expected.max(1) as f64,
            got,
            100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64,
            q(0.5),
            q(0.99),
            d.last().copied().unwrap_or(0),
            cpu_s,
            100.0 * cpu_s / secs as f64 / calls.max(1) as f64,
            1e6 * cpu_s / got.max(1) as f64,
        );
    });
}

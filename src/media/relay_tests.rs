//! The relay's forwarding threads with real sessions: where a call's port pairs are
//! watched (`relay.rs`, `ports.rs`).

use super::ports::{test_pool, PortPool};
use super::relay::Relay;
use super::sdp::Advertised;
use super::session::{Facing, MediaSession, Sources};
use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn open(relay: &Relay, pool: &Arc<PortPool>) -> MediaSession {
    let turn = relay.next();
    let leases = (
        pool.take(turn.watch).unwrap(),
        pool.take(turn.watch).unwrap(),
    );
    let lo = IpAddr::from([127, 0, 0, 1]);
    MediaSession::open(relay, turn, lo, lo, leases, &Sources::default()).unwrap()
}

/// A packet from A's phone reaches B's and one from B's reaches A's.
fn relays(s: &MediaSession) -> bool {
    let phone = || {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        u
    };
    let (a, b) = (phone(), phone());
    for (side, p) in [(Facing::A, &a), (Facing::B, &b)] {
        let at = p.local_addr().unwrap();
        let adv = Advertised { rtp: at, rtcp: at };
        s.set_peer(side, Some(adv), at.ip());
    }
    let rtp = [0x80u8, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42];
    let mut buf = [0u8; 64];
    let hop = |from: &UdpSocket, f: Facing, to: &UdpSocket, buf: &mut [u8]| {
        from.send_to(&rtp, s.address(f)).unwrap();
        to.recv_from(buf).is_ok_and(|(n, _)| buf[..n] == rtp)
    };
    hop(&a, Facing::A, &b, &mut buf) && hop(&b, Facing::B, &a, &mut buf)
}

fn all_back(pool: &PortPool) -> bool {
    let t = Instant::now();
    while pool.in_use() != 0 && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
    }
    pool.in_use() == 0
}

/// A call's two pairs stay in its thread's epoll set when it ends (kept bound), and the
/// next call there takes them as they are; a call given to the other thread moves
/// them out of the first set into its own. Each call relays both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn kept_pairs_stay_watched_by_their_thread_or_move_to_the_next() {
    let relay = Relay::start(2, Duration::ZERO).unwrap();
    let lo = IpAddr::from([127, 0, 0, 1]);
    // two pairs: every call takes the same two
    let pool = test_pool(lo, 32600, 32603);
    let s = open(&relay, &pool);
    assert!(relays(&s));
    assert_eq!((relay.watched_by(0), relay.watched_by(1)), (4, 0));
    drop(s);
    assert!(all_back(&pool));
    // kept bound and still watched by thread 0
    assert_eq!((relay.watched_by(0), relay.watched_by(1)), (4, 0));
    // the second call goes to thread 1: the pairs move
    let s = open(&relay, &pool);
    assert_eq!((relay.watched_by(0), relay.watched_by(1)), (0, 4));
    assert!(relays(&s));
    drop(s);
    assert!(all_back(&pool));
    // the third to thread 0 again
    let s = open(&relay, &pool);
    assert_eq!((relay.watched_by(0), relay.watched_by(1)), (4, 0));
    assert!(relays(&s));
    drop(s);
    assert!(all_back(&pool));
    let one = Relay::start(1, Duration::ZERO).unwrap();
    let pool = test_pool(lo, 32610, 32613);
    for _ in 0..3 {
        let s = open(&one, &pool);
        assert!(relays(&s));
        assert_eq!(one.watched_by(0), 4);
        drop(s);
        assert!(all_back(&pool));
    }
    // a pool that drops its pairs closes them: they leave the set by themselves
    drop(pool);
    assert_eq!(one.watched_by(0), 0);
}

/// With every pair of the range kept bound and watched by the one thread, the next calls
/// take them as they are: no pair is put into an epoll set again.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_call_on_the_thread_that_watches_its_pairs_needs_no_epoll_ctl() {
    use std::sync::atomic::Ordering;
    let relay = Relay::start(1, Duration::ZERO).unwrap();
    let lo = IpAddr::from([127, 0, 0, 1]);
    // eight pairs: four calls take them all
    let pool = test_pool(lo, 32620, 32635);
    let calls: Vec<MediaSession> = (0..4).map(|_| open(&relay, &pool)).collect();
    assert_eq!(relay.watched.load(Ordering::Relaxed), 8);
    drop(calls);
    assert!(all_back(&pool));
    for _ in 0..3 {
        let calls: Vec<MediaSession> = (0..4).map(|_| open(&relay, &pool)).collect();
        assert!(calls.iter().all(relays));
        drop(calls);
        assert!(all_back(&pool));
    }
    assert_eq!(relay.watched.load(Ordering::Relaxed), 8);
    assert_eq!(relay.watched_by(0), 16);
}

//! The user-space SIP work of one authenticated registration, without sockets, store or
//! threads: the two REGISTERs of `../shared/anchors/kamailio/reg_auth.xml` (the second
//! with its digest answer, MD5, qop=auth) parsed, checked, keyed and answered (401, then
//! 200), the digest verified. CPU time on the register load's receive thread varies
//! ±15 % from run to run on this VM; this loop varies a few per cent, so it shows steps
//! of that size (A/B: run it at both commits). The stages are timed apart and together:
//!
//!   cargo bench --bench sip_path [-- ROUNDS ITERATIONS]
//!
//! prints, per stage, the median over ROUNDS (7) of ITERATIONS (100,000) registrations,
//! in nanoseconds per registration, with the fastest and slowest round (for A/B runs, pin
//! it, `taskset -c 1`, and compare the fastest). `answer` makes the two responses as the
//! registrar does (the stamped Via, the added fields, `Answer::print`), `built` as it did
//! before (the same, then a `Message` built by `reply::response`, the Via and fields moved
//! into it, printed by `to_bytes`), for comparison in one run; both are checked to print
//! the same bytes first.

use std::hint::black_box;

// the allocator of the binary (src/main.rs): allocation is a good part of this work
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;
use vozbox::auth::digest::{ha1, Algorithm, Credentials};
use vozbox::sip::answer::Answer;
use vozbox::sip::message::Message;
use vozbox::sip::reply::response;
use vozbox::sip::respond::{stamp_via, to_tag, Stamp};
use vozbox::sip::transaction::Transactions;
use vozbox::sip::transport::{Flow, Proto};
use vozbox::sip::validate::check_request;

const REALM: &str = "127.0.0.1";
const NONCE: &str = "00000000693f1c2a000000000000002a5c3b9e0f1d2a4b6c7d8e9fa0b1c2d3e4";

/// A REGISTER of the scenario: the `n`th of the registration (1, 2), its header fields
/// after Contact (`auth`: an Authorization line, or nothing).
fn register(n: u32, auth: &str) -> String {
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-2741-1-{n}\r\n\
From: <sip:u0042@127.0.0.1>;tag=2741R1\r\n\
To: <sip:u0042@127.0.0.1>\r\n\
Call-ID: 1-2741@127.0.0.1\r\n\
CSeq: {n} REGISTER\r\n\
Contact: <sip:u0042@127.0.0.1:5061;transport=UDP>\r\n\
{auth}Max-Forwards: 70\r\n\
Expires: 3600\r\n\
User-Agent: sipp-bench\r\n\
Content-Length: 0\r\n\r\n"
    )
}

/// The second REGISTER, with the digest answer to the 401 (MD5, qop=auth).
fn second() -> String {
    let uri = "sip:127.0.0.1:5060";
    let (cnonce, nc) = ("6b8b4567", "00000001");
    let h1 = ha1(Algorithm::Md5, "u0042", REALM, "pwu0042");
    let h2 = Algorithm::Md5.hash_joined(&["REGISTER", uri]);
    let resp = Algorithm::Md5.hash_joined(&[&h1, NONCE, nc, cnonce, "auth", &h2]);
    register(
        2,
        &format!(
            "Authorization: Digest username=\"u0042\",realm=\"{REALM}\",cnonce=\"{cnonce}\",nc={nc},qop=auth,uri=\"{uri}\",nonce=\"{NONCE}\",response=\"{resp}\",algorithm=MD5\r\n"
        ),
    )
}

/// The two responses' added fields, as the registrar adds them.
fn challenge() -> Answer {
    Answer::new(401, "Unauthorized").with(
        "WWW-Authenticate",
        format!("Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm=MD5, qop=\"auth\""),
    )
}

fn ok() -> Answer {
    Answer::new(200, "OK")
        .with(
            "Contact",
            format!(
                "<{}>;expires={}",
                "sip:u0042@127.0.0.1:5061;transport=UDP", 3600
            ),
        )
        .with("Date", "Sun, 06 Dec 2026 18:00:00 GMT")
        .with("Supported", "path, 100rel, timer, norefersub")
}

/// One registration's parse and checks: what every request pays before the registrar.
fn receive(raw: &[u8], flow: &Flow, txns: &Transactions) -> (Message, Stamp, String) {
    let msg = Message::parse(raw).unwrap();
    let checked = check_request(&msg).unwrap();
    let key = txns.key(&msg, &checked.via);
    black_box(key);
    let tag = to_tag(&msg);
    let stamp = Stamp::new(&checked.via, flow);
    black_box(&checked);
    (msg, stamp, tag)
}

fn verify(msg: &Message) -> bool {
    let Some(h) = msg.get("Authorization") else {
        return false;
    };
    let Ok(c) = Credentials::parse(h) else {
        return false;
    };
    let h1 = ha1(Algorithm::Md5, &c.username, &c.realm, "pwu0042");
    c.expected(Algorithm::Md5, &h1, "REGISTER").as_deref() == Some(&*c.response)
}

/// The response as it was printed before `Answer`: a `Message` built from the request,
/// the fields and the stamped Via moved into it (a constant field was copied into it as
/// well), printed by `to_bytes`.
fn built(req: &Message, stamped: String, tag: &str, a: Answer) -> Vec<u8> {
    let mut r = response(req, a.code, a.reason, tag);
    for (k, v) in a.extra {
        r.push_header(k, String::from(v));
    }
    r.set_top_via(stamped);
    r.to_bytes()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(7);
    let n = args.get(1).copied().unwrap_or(100_000);
    let flow = Flow {
        proto: Proto::Udp,
        local: "127.0.0.1:5060".parse().unwrap(),
        remote: "127.0.0.1:5061".parse().unwrap(),
        conn: None,
    };
    let txns = Transactions::new(16);
    let (first, second) = (register(1, ""), second());
    let (first, second) = (first.as_bytes(), second.as_bytes());
    let (m1, _, t1) = receive(first, &flow, &txns);
    let (m2, _, t2) = receive(second, &flow, &txns);
    assert!(verify(&m2), "the digest answer verifies");
    let (c1, c2) = (check_request(&m1).unwrap(), check_request(&m2).unwrap());
    for (m, c, t, a) in [(&m1, &c1, &t1, challenge()), (&m2, &c2, &t2, ok())] {
        assert_eq!(
            built(m, stamp_via(&c.via, &flow).0, t, a.clone()),
            Stamp::new(&c.via, &flow).answer(m, t, &a).bytes.to_vec(),
            "both ways print the same response"
        );
    }

    type Stage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let stages: Vec<Stage> = vec![
        (
            "parse",
            Box::new(|| {
                black_box(Message::parse(black_box(first)).unwrap());
                black_box(Message::parse(black_box(second)).unwrap());
            }),
        ),
        (
            "check (parsed)",
            Box::new(|| {
                black_box(check_request(black_box(&m1)).unwrap());
                black_box(check_request(black_box(&m2)).unwrap());
            }),
        ),
        (
            "key, tag, stamp (checked)",
            Box::new(|| {
                for (m, c) in [(&m1, &c1), (&m2, &c2)] {
                    black_box(txns.key(m, &c.via));
                    black_box(to_tag(m));
                    black_box(Stamp::new(&c.via, &flow));
                }
            }),
        ),
        (
            "receive (parse, check, key, tag, stamp)",
            Box::new(|| {
                black_box(receive(black_box(first), &flow, &txns));
                black_box(receive(black_box(second), &flow, &txns));
            }),
        ),
        (
            "verify digest",
            Box::new(|| assert!(verify(black_box(&m2)))),
        ),
        // both: the stamp, the added fields and the response, as the registrar makes them
        (
            "answer 401 + 200",
            Box::new(|| {
                for (m, c, t, a) in [(&m1, &c1, &t1, challenge()), (&m2, &c2, &t2, ok())] {
                    black_box(Stamp::new(&c.via, &flow).answer(m, t, &a));
                }
            }),
        ),
        (
            "built 401 + 200 (before)",
            Box::new(|| {
                for (m, c, t, a) in [(&m1, &c1, &t1, challenge()), (&m2, &c2, &t2, ok())] {
                    black_box(built(m, stamp_via(&c.via, &flow).0, t, a));
                }
            }),
        ),
        (
            "all (receive, verify, answer)",
            Box::new(|| {
                let (m1, s1, t1) = receive(black_box(first), &flow, &txns);
                black_box(s1.answer(&m1, &t1, &challenge()));
                let (m2, s2, t2) = receive(black_box(second), &flow, &txns);
                assert!(verify(&m2));
                black_box(s2.answer(&m2, &t2, &ok()));
            }),
        ),
    ];
    println!("ns per registration, median of {rounds} rounds of {n}:");
    for (name, f) in &stages {
        let mut per: Vec<f64> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    f();
                }
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .collect();
        per.sort_by(f64::total_cmp);
        let (lo, mid, hi) = (per[0], per[per.len() / 2], per[per.len() - 1]);
        println!("{mid:9.0}  (min {lo:.0}, max {hi:.0})  {name}");
    }
}

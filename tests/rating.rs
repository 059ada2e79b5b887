//! Rating and priced call records against the real binary (issue 17): a client that bills
//! cannot call out without an active rating profile that rates the number; the longest
//! prefix wins; a time band switches the rate; every external call's record carries its
//! price, exact to the fourth decimal, in the client's currency.

mod common;
use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const LAB: &str = r#"
[[brand]]
name = "acme"

[[carrier]]
brand = "acme"
name = "upstream"
address = "127.0.0.5"
port = CARRIER_PORT
transport = "udp"

[[client]]
brand = "acme"
name = "unrated"
domain = "unrated.example"
outgoing_ddi = "+34944000100"
billing_method = "postpaid"
voice_notifications = true

[[client]]
brand = "acme"
name = "tomorrow"
domain = "tomorrow.example"
outgoing_ddi = "+34944000200"
billing_method = "postpaid"

[[client]]
brand = "acme"
name = "minutes"
domain = "minutes.example"
outgoing_ddi = "+34944000300"
billing_method = "postpaid"
currency = "USD"

[[client]]
brand = "acme"
name = "seconds"
domain = "seconds.example"
outgoing_ddi = "+34944000400"
billing_method = "postpaid"

[[client]]
brand = "acme"
name = "banded"
domain = "banded.example"
outgoing_ddi = "+34944000500"
billing_method = "postpaid"

[[client]]
brand = "acme"
name = "offpeak"
domain = "offpeak.example"
outgoing_ddi = "+34944000600"
billing_method = "postpaid"

[[user]]
client = "unrated"
name = "u1"
password = "Unrated-Pass-1"

[[user]]
client = "tomorrow"
name = "u2"
password = "Tomorrow-Pass-2"

[[user]]
client = "minutes"
name = "u3"
password = "Minutes-Pass-3"

[[user]]
client = "seconds"
name = "u4"
password = "Seconds-Pass-4"

[[user]]
client = "banded"
name = "u5"
password = "Banded-Pass-5"

[[user]]
client = "offpeak"
name = "u6"
password = "Offpeak-Pass-6"

[[rating_profile]]
client = "tomorrow"
name = "next"
active_from = "TOMORROW"
rates = [{ prefix = "+34", connection_fee = "0", per_minute = "0.02" }]

# the older profile is not the active one: the latest started one is
[[rating_profile]]
client = "minutes"
name = "old"
active_from = "2020-01-01T00:00:00Z"
rates = [{ prefix = "+34", connection_fee = "9", per_minute = "9" }]

[[rating_profile]]
client = "minutes"
name = "current"
active_from = "2024-01-01T00:00:00Z"
rates = [
  { prefix = "+34", connection_fee = "0.10", per_minute = "0.50", increment = 60 },
  { prefix = "+346", connection_fee = "0.05", per_minute = "0.0123", increment = 60, minimum = 30 },
]

[[rating_profile]]
client = "seconds"
name = "current"
active_from = "2024-01-01T00:00:00Z"
rates = [
  { prefix = "+34", connection_fee = "0.10", per_minute = "0.50", increment = 1 },
  { prefix = "+346", connection_fee = "0.05", per_minute = "0.0123", increment = 1, minimum = 30 },
]

[[rating_profile]]
client = "banded"
name = "current"
active_from = "2024-01-01T00:00:00Z"
rates = [
  { prefix = "+34", connection_fee = "0", per_minute = "0.60", increment = 1 },
  { prefix = "+34", connection_fee = "0", per_minute = "6.00", increment = 1, from = "NOW_FROM", to = "NOW_TO" },
]

[[rating_profile]]
client = "offpeak"
name = "current"
active_from = "2024-01-01T00:00:00Z"
rates = [
  { prefix = "+34", connection_fee = "0", per_minute = "0.60", increment = 1 },
  { prefix = "+34", connection_fee = "0", per_minute = "6.00", increment = 1, from = "LATER_FROM", to = "LATER_TO" },
]
"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// "HH:MM" UTC `offset` seconds from now.
fn hhmm(offset: i64) -> String {
    let t = (now() as i64 + offset).rem_euclid(86_400);
    format!("{:02}:{:02}", t / 3600, t % 3600 / 60)
}

struct Lab {
    v: Vozbox,
    carrier_port: u16,
}

fn lab(name: &str) -> Lab {
    let carrier_port = free_port("127.0.0.5");
    let tomorrow =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(now() + 86_400));
    let prov = LAB
        .replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("TOMORROW", &tomorrow.to_string())
        // a band around now, and one that starts in two hours
        .replace("NOW_FROM", &hhmm(-3600))
        .replace("NOW_TO", &hhmm(3600))
        .replace("LATER_FROM", &hhmm(7200))
        .replace("LATER_TO", &hhmm(10_800));
    Lab {
        // SIPp sends no RTP: no media timeout during the 62 s calls
        v: Vozbox::start(name, "[media]\ntimeout = 0\n", &prov),
        carrier_port,
    }
}

fn dial(
    v: &Vozbox,
    scenario: &str,
    (domain, user, pw): (&str, &str, &str),
    number: &str,
    hold_ms: u64,
) -> Sipp {
    let uri = format!("{}@{}", number, v.addr());
    let csv = format!(
        "SEQUENTIAL\n{};[authentication username={} password={}];{};{};9\n",
        domain, user, pw, user, number
    );
    sipp(
        scenario,
        &v.addr(),
        "u1",
        "127.0.0.1",
        &csv,
        &["-auth_uri", &uri, "-d", &hold_ms.to_string()],
    )
}

/// Every record as JSON, newest first.
fn records(v: &Vozbox) -> Vec<serde_json::Value> {
    let r: serde_json::Value = serde_json::from_str(&v.api_get("/api/cdrs")).unwrap();
    r["items"]
        .as_array()
        .or_else(|| r.as_array())
        .cloned()
        .unwrap_or_else(|| panic!("{}", r))
}

fn record_of(v: &Vozbox, client: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(r) = records(v).into_iter().find(|r| r["client"] == client) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no record of {}",
            client
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The price of `secs` seconds: fee + ceil(max(secs, minimum)/increment)·increment·per_minute/60,
/// in ten-thousandths, rounded half up (the issue's formula, computed apart from vozbox).
fn expected(fee: i64, per_minute: i64, increment: u64, minimum: u64, secs: u64) -> String {
    let billed = secs.max(minimum).div_ceil(increment) * increment;
    let units = fee as i128 + (billed as i128 * per_minute as i128 * 2 + 60) / 120;
    format!("{}.{:04}", units / 10_000, units % 10_000)
}

#[test]
fn without_an_active_profile_an_external_call_cannot_be_billed() {
    let lab = lab("rating-refused");
    let v = &lab.v;
    // no profile at all: the cannot_be_billed locution, then 403
    let c = dial(
        v,
        "uac_notice.xml",
        ("unrated.example", "u1", "Unrated-Pass-1"),
        "+34600111222",
        0,
    );
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 183"), "{}", c.messages);
    assert!(c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    // a profile active from tomorrow only
    let c = dial(
        v,
        "uac_refused.xml",
        ("tomorrow.example", "u2", "Tomorrow-Pass-2"),
        "+34600111222",
        0,
    );
    sipp_ok(&c);
    assert!(c.messages.contains("SIP/2.0 403"), "{}", c.messages);
    let cdrs = v.cdrs(2);
    let refused = cdrs.lines().filter(|l| l.contains("cannot_be_billed  403"));
    assert_eq!(refused.count(), 2, "{}", cdrs);
}

#[test]
fn the_longest_prefix_prices_a_62_second_call_exactly_at_increments_of_60_and_1() {
    let lab = lab("rating-62s");
    let v = &lab.v;
    let up = SippUas::start_with(
        "uas_answer.xml",
        "u1",
        "127.0.0.5",
        lab.carrier_port,
        &["-m", "2", "-timeout", "100s"],
    );
    let addr = v.addr();
    let calls: Vec<_> = [
        ("minutes.example", "u3", "Minutes-Pass-3"),
        ("seconds.example", "u4", "Seconds-Pass-4"),
    ]
    .into_iter()
    .map(|who| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let uri = format!("+34600111222@{}", addr);
            sipp(
                "uac_call.xml",
                &addr,
                "u1",
                "127.0.0.1",
                &call_csv(who.0, who.1, who.2, "+34600111222"),
                &["-auth_uri", &uri, "-d", "62000", "-timeout", "90s"],
            )
        })
    })
    .collect();
    for c in calls {
        sipp_ok(&c.join().unwrap());
    }
    sipp_ok(&up.wait(Duration::from_secs(30)));
    // +346 (fee 0.05, 0.0123 a minute, at least 30 s) beats +34
    let m = record_of(v, "minutes");
    let secs = m["duration"].as_u64().unwrap();
    assert!((62..=63).contains(&secs), "{}", m);
    assert_eq!(m["price"], expected(500, 123, 60, 30, secs), "{}", m);
    assert_eq!(m["currency"], "USD");
    let s = record_of(v, "seconds");
    let secs = s["duration"].as_u64().unwrap();
    assert!((62..=63).contains(&secs), "{}", s);
    assert_eq!(s["price"], expected(500, 123, 1, 30, secs), "{}", s);
    assert_eq!(s["currency"], "EUR");
    if secs == 62 {
        assert_eq!(s["price"], "0.0627");
    }
    // shown by vozbox cdrs with the currency
    let cdrs = v.cdrs(2);
    assert!(
        cdrs.contains(&format!("{} USD", m["price"].as_str().unwrap())),
        "{}",
        cdrs
    );
}

#[test]
fn a_time_band_switches_the_rate() {
    let lab = lab("rating-band");
    let v = &lab.v;
    let up = SippUas::start_with(
        "uas_answer.xml",
        "u1",
        "127.0.0.5",
        lab.carrier_port,
        &["-m", "2"],
    );
    sipp_ok(&dial(
        v,
        "uac_call.xml",
        ("banded.example", "u5", "Banded-Pass-5"),
        "+34600111222",
        2000,
    ));
    sipp_ok(&dial(
        v,
        "uac_call.xml",
        ("offpeak.example", "u6", "Offpeak-Pass-6"),
        "+34600111222",
        2000,
    ));
    sipp_ok(&up.wait(Duration::from_secs(20)));
    // now inside the band: 6.00 a minute; outside it: 0.60
    let b = record_of(v, "banded");
    assert_eq!(
        b["price"],
        expected(0, 60_000, 1, 0, b["duration"].as_u64().unwrap()),
        "{}",
        b
    );
    let o = record_of(v, "offpeak");
    assert_eq!(
        o["price"],
        expected(0, 6_000, 1, 0, o["duration"].as_u64().unwrap()),
        "{}",
        o
    );
    assert!(b["duration"].as_u64().unwrap() >= 2, "{}", b);
}

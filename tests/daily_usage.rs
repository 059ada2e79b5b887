//! Max daily usage against the real binary (issue 17): a call whose price reaches the
//! client's limit ends the client's other call in progress (both legs get BYE), the next
//! external call is refused with the `no_credit` locution, exactly one e-mail goes to
//! `notify_email` through a real SMTP server (Python's aiosmtpd, started here), and raising
//! the limit with `vozbox apply` unblocks the client at once.

mod common;
use common::smtp::Sink;
use common::*;
use std::time::{Duration, Instant};

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
name = "bluebird"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
billing_method = "postpaid"
max_daily_usage = "LIMIT"
notify_email = "boss@bluebird.example"
timezone = "Europe/Madrid"
voice_notifications = true

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

# +44: 0.10 a second; +3491: free
[[rating_profile]]
client = "bluebird"
name = "standard"
active_from = "2024-01-01T00:00:00Z"
rates = [
  { prefix = "+44", connection_fee = "0", per_minute = "6.00", increment = 1 },
  { prefix = "+3491", connection_fee = "0", per_minute = "0", increment = 1 },
]
"#;

fn provision(carrier_port: u16, limit: &str) -> String {
    LAB.replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("LIMIT", limit)
}

fn dial(addr: &str, scenario: &str, (user, pw): (&str, &str), number: &str) -> Sipp {
    let uri = format!("{}@{}", number, addr);
    let csv = format!(
        "SEQUENTIAL\n127.0.0.1;[authentication username={} password={}];{};{};9\n",
        user, pw, user, number
    );
    sipp(
        scenario,
        addr,
        "u1",
        "127.0.0.1",
        &csv,
        &["-auth_uri", &uri, "-d", "300"],
    )
}

fn answered_calls(v: &Vozbox) -> usize {
    let calls: serde_json::Value =
        serde_json::from_str(&v.api_get("/api/calls")).unwrap_or_default();
    calls
        .as_array()
        .map(|a| a.iter().filter(|c| c["state"] == "answered").count())
        .unwrap_or(0)
}

#[test]
fn reaching_the_limit_ends_the_other_call_blocks_and_mails_once_until_raised() {
    let sink = Sink::start();
    let carrier_port = free_port("127.0.0.5");
    let extra = format!("[smtp]\nserver = \"127.0.0.1\"\nport = {}\n", sink.port);
    let v = Vozbox::start("daily", &extra, &provision(carrier_port, "0.30"));
    let up = SippUas::start_with(
        "uas_answer.xml",
        "u1",
        "127.0.0.5",
        carrier_port,
        &["-m", "3"],
    );
    let addr = v.addr();
    // bob's free call goes on until vozbox ends it
    let bob = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            dial(
                &addr,
                "uac_call_remote_bye.xml",
                ("bob", "Bob-Secret-22"),
                "+34910000000",
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered_calls(&v) < 1 {
        assert!(Instant::now() < deadline, "bob's call was not answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    // alice's call costs 0.10 a second: the 0.30 left pay 3 s, then it ends
    let started = Instant::now();
    let alice = dial(
        &addr,
        "uac_call_remote_bye.xml",
        ("alice", "Alice-Secret-1"),
        "+44207000000",
    );
    sipp_ok(&alice);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "{:?}", took);
    // its price reached the limit: bob's call got BYE too (both legs)
    sipp_ok(&bob.join().unwrap());
    let cdrs = v.cdrs(2);
    assert_eq!(cdrs.matches("daily_limit").count(), 2, "{}", cdrs);
    assert!(cdrs.contains("0.3000 EUR"), "{}", cdrs);

    let usage = v.cli_args(&["usage", "--client", "bluebird"]);
    assert!(
        usage.contains("0.3000/0.3000 EUR") && usage.contains("daily_limit"),
        "{}",
        usage
    );

    // the next external call: the no_credit locution, then 403
    let c = dial(
        &addr,
        "uac_notice.xml",
        ("alice", "Alice-Secret-1"),
        "+44207000000",
    );
    sipp_ok(&c);
    let i183 = c
        .messages
        .find("SIP/2.0 183")
        .expect("the no_credit locution");
    let i403 = c.messages.find("SIP/2.0 403").expect("403");
    assert!(i183 < i403, "{}", c.messages);

    // exactly one e-mail, with the client and its limit
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.count() < 1 {
        assert!(Instant::now() < deadline, "no e-mail: {}", v.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let mail = sink.received();
    assert!(mail.contains("boss@bluebird.example"), "{}", mail);
    assert!(
        mail.contains("Max daily usage reached: bluebird"),
        "{}",
        mail
    );
    assert!(mail.contains("0.30 EUR"), "{}", mail);

    // a higher limit through `vozbox apply`: unblocked at once
    let prov = v.dir.join("provision.toml");
    std::fs::write(&prov, provision(carrier_port, "5.00")).unwrap();
    v.cli_args(&["apply", prov.to_str().unwrap()]);
    let usage = v.cli_args(&["usage", "--client", "bluebird"]);
    assert!(
        usage.contains("0.3000/5.0000 EUR") && usage.ends_with("no\n1 client(s)\n"),
        "{}",
        usage
    );
    sipp_ok(&dial(
        &addr,
        "uac_call.xml",
        ("alice", "Alice-Secret-1"),
        "+44207000000",
    ));
    sipp_ok(&up.wait(Duration::from_secs(20)));

    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.count(), 1, "{}", sink.received());
}

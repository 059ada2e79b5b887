//! Prepaid balances against the real binary (issue 17): a call is cut when its client's
//! balance runs out (within a second of what the balance pays), the next one is refused
//! with the `no_credit` locution, the balance is never negative, and a SIGKILL between the
//! end of a call and the next start leaves balance and records consistent (the balance is
//! debited in the record's own transaction). Applying the same file again changes no
//! balance; a file with another balance sets it.

mod common;
use common::*;
use std::time::Duration;

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
name = "payg"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
billing_method = "prepaid"
balance = "BALANCE"
voice_notifications = true

[[user]]
client = "payg"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

# 0.10 a second
[[rating_profile]]
client = "payg"
name = "standard"
active_from = "2024-01-01T00:00:00Z"
rates = [{ prefix = "+34", connection_fee = "0", per_minute = "6.00", increment = 1 }]
"#;

fn provision(carrier_port: u16, balance: &str) -> String {
    LAB.replace("CARRIER_PORT", &carrier_port.to_string())
        .replace("BALANCE", balance)
}

fn dial(v: &Vozbox, scenario: &str) -> Sipp {
    let uri = format!("+34600111222@{}", v.addr());
    let csv = "SEQUENTIAL\n127.0.0.1;[authentication username=alice password=Alice-Secret-1];alice;+34600111222;9\n";
    sipp(
        scenario,
        &v.addr(),
        "u1",
        "127.0.0.1",
        csv,
        &["-auth_uri", &uri],
    )
}

/// The records as JSON, oldest first.
fn records(v: &Vozbox) -> Vec<serde_json::Value> {
    let r: serde_json::Value = serde_json::from_str(&v.api_get("/api/cdrs")).unwrap();
    let mut items = r["items"].as_array().cloned().unwrap_or_default();
    items.reverse();
    items
}

/// A call the balance cuts: both legs get BYE after `secs` (±1), priced `price`.
fn cut_call(v: &Vozbox, carrier_port: u16, secs: u64, price: &str) {
    let before = records(v).len();
    let up = SippUas::start("uas_answer.xml", "u1", "127.0.0.5", carrier_port);
    // the caller waits for vozbox's BYE; so does the carrier
    sipp_ok(&dial(v, "uac_call_remote_bye.xml"));
    sipp_ok(&up.wait(Duration::from_secs(20)));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let last = loop {
        let rs = records(v);
        if let Some(r) = rs.get(before).filter(|r| r["disposition"] == "no_credit") {
            break r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", rs);
        std::thread::sleep(Duration::from_millis(100));
    };
    let d = last["duration"].as_u64().unwrap();
    assert!(d.abs_diff(secs) <= 1, "{}\n{:#?}", last, records(v));
    assert_eq!(last["price"], price, "{}", last);
}

/// The live balance and why the client is blocked, from `GET /api/usage`.
fn standing(v: &Vozbox) -> (String, String) {
    let u: serde_json::Value = serde_json::from_str(&v.api_get("/api/usage?client=payg")).unwrap();
    let balance = u[0]["balance"].as_str().unwrap().to_string();
    assert!(!balance.starts_with('-'), "a negative balance: {}", u);
    (
        balance,
        u[0]["blocked"].as_str().unwrap_or("no").to_string(),
    )
}

fn refused(v: &Vozbox) {
    let before = records(v).len();
    let c = dial(v, "uac_notice.xml");
    sipp_ok(&c);
    let i183 = c
        .messages
        .find("SIP/2.0 183")
        .expect("the no_credit locution");
    let i403 = c.messages.find("SIP/2.0 403").expect("403");
    assert!(i183 < i403, "{}", c.messages);
    // its record is there before the test goes on
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while records(v).len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no record of the refusal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(records(v)[before]["route"], "refused:no_credit");
}

#[test]
fn a_call_is_cut_when_the_balance_runs_out_and_the_next_is_refused_across_a_sigkill() {
    let carrier_port = free_port("127.0.0.5");
    let mut v = Vozbox::start("prepaid", "", &provision(carrier_port, "0.50"));
    // 0.50 at 0.10 a second: 5 s
    cut_call(&v, carrier_port, 5, "0.5000");
    assert_eq!(standing(&v), ("0.0000".into(), "no_credit".into()));
    refused(&v);
    let n = records(&v).len();

    // killed between the end of a call and the next start; restarted with the same file
    v.kill();
    let prov = v.dir.join("provision.toml");
    v.spawn(Some(&prov));
    assert_eq!(records(&v).len(), n, "no record lost or doubled");
    // the balance is what the records say: 0.50 − 0.50
    assert_eq!(standing(&v), ("0.0000".into(), "no_credit".into()));
    let usage = v.cli_args(&["usage"]);
    assert!(
        usage.contains("0.0000 EUR") && usage.contains("no_credit"),
        "{}",
        usage
    );
    refused(&v);

    // the same file again through the running server: still nothing to spend
    v.cli_args(&["apply", prov.to_str().unwrap()]);
    refused(&v);

    // a file with another balance sets it: 0.30 pays 3 s
    std::fs::write(&prov, provision(carrier_port, "0.30")).unwrap();
    v.cli_args(&["apply", prov.to_str().unwrap()]);
    assert_eq!(standing(&v), ("0.3000".into(), "no".into()));
    cut_call(&v, carrier_port, 3, "0.3000");
    assert_eq!(standing(&v), ("0.0000".into(), "no_credit".into()));
    refused(&v);
    // without the server, the database says the same
    v.kill();
    let usage = v.cli_args(&["usage", "--client", "payg"]);
    assert!(
        usage.contains("0.0000 EUR") && usage.contains("no_credit"),
        "{}",
        usage
    );
}

//! The admin API's resources (issue 18): CRUD of the provisioned entities with the
//! provisioning file's validation, referrers protected, client administrators confined to
//! their client (`404` for another's, absent from lists and counts), restricted rights,
//! the audit trail, `export` → `check` → `apply` a no-op, registrations removed and CDRs
//! filtered through the API. Against the real binary, over HTTP, with SIPp as the phone.

mod common;
use common::*;
use serde_json::{json, Value};

const TWO_CLIENTS: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"

[[client]]
brand = "acme"
name = "redbird"
domain = "redbird.example"

[[call_acl]]
client = "bluebird"
name = "local-only"
default_policy = "deny"
rules = [{ priority = 1, policy = "allow", pattern = "^9[0-9]{8}$" }]

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[user]]
client = "redbird"
name = "rita"
extension = "100"
password = "Rita-Secret-11"

[[user]]
client = "redbird"
name = "rob"
extension = "101"
password = "Rob-Secret-111"
"#;

fn login(v: &Vozbox, name: &str, password: &str) -> String {
    let (s, r) = v.api_as(
        "",
        "POST",
        "/api/login",
        Some(json!({"name": name, "password": password})),
    );
    assert_eq!(s, 200, "{}", r);
    r["token"].as_str().expect("a session token").to_string()
}

/// A new administrator through the API (as the operator): its session token.
fn admin(v: &Vozbox, body: Value) -> String {
    let op = v.token();
    let mut body = body;
    body["password"] = json!("Long-Enough-Pass-1");
    let (s, r) = v.api_as(&op, "POST", "/api/admins", Some(body.clone()));
    assert_eq!(s, 201, "{}", r);
    assert!(r.get("password_hash").is_none(), "{}", r);
    login(v, body["name"].as_str().unwrap(), "Long-Enough-Pass-1")
}

fn carol() -> Value {
    json!({"client": "bluebird", "name": "carol", "password": "Carol-Secret-1",
           "extension": "102", "call_acl": "local-only"})
}

#[test]
fn entities_are_created_read_changed_and_deleted_with_the_files_validation() {
    let v = Vozbox::start("res-crud", "", TWO_CLIENTS);
    let t = v.token();
    // create: the new user registers at once, no restart
    let (s, r) = v.api_as(&t, "POST", "/api/users", Some(carol()));
    assert_eq!(s, 201, "{}", r);
    assert_eq!(r["id"], "bluebird/carol");
    register(
        &v,
        "127.0.0.1",
        ("carol", "Carol-Secret-1"),
        free_port("127.0.0.1"),
    );
    // the same again: a conflict
    let (s, r) = v.api_as(&t, "POST", "/api/users", Some(carol()));
    assert_eq!(s, 409, "{}", r);
    // the file's validation and error texts, keyed as in the file
    let mut bad = carol();
    bad["name"] = json!("dave");
    bad["password"] = json!("short");
    bad["extension"] = json!("100");
    let (s, r) = v.api_as(&t, "POST", "/api/users", Some(bad));
    assert_eq!(s, 422, "{}", r);
    let errors = r["errors"].as_array().unwrap();
    let keyed = |k: &str| errors.iter().find(|e| e["key"] == k).cloned();
    assert_eq!(
        keyed("user.password").expect("password error")["message"],
        "expected at least 8 characters"
    );
    assert!(keyed("user.extension").expect("extension error")["message"]
        .as_str()
        .unwrap()
        .contains("duplicate extension \"100\""));
    assert_eq!(errors[0]["id"], "bluebird/dave");
    // a type error names its key
    let (s, r) = v.api_as(
        &t,
        "POST",
        "/api/users",
        Some(json!({"client": "bluebird", "name": "erin", "password": "Erin-Secret-1", "max_calls": "two"})),
    );
    assert_eq!(s, 422, "{}", r);
    assert_eq!(r["errors"][0]["key"], "user.max_calls", "{}", r);
    // an unknown key is refused as in a file
    let (s, r) = v.api_as(
        &t,
        "POST",
        "/api/users",
        Some(json!({"client": "bluebird", "name": "erin", "password": "Erin-Secret-1", "colour": "red"})),
    );
    assert_eq!(s, 422, "{}", r);
    assert!(r.to_string().contains("unknown field `colour`"), "{}", r);
    // read and list with filters and paging
    let (s, r) = v.api_as(&t, "GET", "/api/users/bluebird/carol", None);
    assert_eq!(
        (s, r["call_acl"].clone()),
        (200, json!("local-only")),
        "{}",
        r
    );
    let (_, r) = v.api_as(&t, "GET", "/api/users?client=bluebird", None);
    assert_eq!(r["total"], 2, "{}", r);
    let (_, r) = v.api_as(&t, "GET", "/api/users?limit=1&offset=1", None);
    assert_eq!(
        (r["total"].clone(), r["items"].as_array().unwrap().len()),
        (json!(4), 1)
    );
    // replace: the id cannot change; other keys can
    let mut changed = carol();
    changed["max_calls"] = json!(2);
    let (s, r) = v.api_as(
        &t,
        "PUT",
        "/api/users/bluebird/carol",
        Some(changed.clone()),
    );
    assert_eq!((s, r["max_calls"].clone()), (200, json!(2)), "{}", r);
    changed["name"] = json!("carla");
    let (s, _) = v.api_as(&t, "PUT", "/api/users/bluebird/carol", Some(changed));
    assert_eq!(s, 422);
    // an ACL a user refers to is not deleted: the referrers are named
    let (s, r) = v.api_as(&t, "DELETE", "/api/call_acls/bluebird/local-only", None);
    assert_eq!(s, 409, "{}", r);
    assert_eq!(r["referrers"][0]["resource"], "users", "{}", r);
    assert_eq!(r["referrers"][0]["id"], "bluebird/carol", "{}", r);
    assert_eq!(r["referrers"][0]["key"], "user.call_acl", "{}", r);
    let (s, _) = v.api_as(&t, "DELETE", "/api/users/bluebird/carol", None);
    assert_eq!(s, 200);
    let (s, _) = v.api_as(&t, "DELETE", "/api/call_acls/bluebird/local-only", None);
    assert_eq!(s, 200);
    let (s, _) = v.api_as(&t, "GET", "/api/users/bluebird/carol", None);
    assert_eq!(s, 404);
    // every other kind: an operator creates, reads and deletes one
    let more = [
        (
            "media_relay_sets",
            json!({"name": "lan", "bind": "127.0.0.1", "advertised": "127.0.0.1", "port_min": 40000, "port_max": 40099}),
            "lan",
        ),
        ("brands", json!({"name": "other"}), "other"),
        (
            "corporations",
            json!({"name": "group", "brand": "acme"}),
            "group",
        ),
        (
            "clients",
            json!({"brand": "acme", "name": "greenbird", "domain": "greenbird.example"}),
            "greenbird",
        ),
        (
            "ddis",
            json!({"client": "bluebird", "number": "+34944000100", "route": "user", "user": "alice"}),
            "+34944000100",
        ),
        (
            "friends",
            json!({"client": "bluebird", "name": "pbx", "mode": "register", "password": "Pbx-Secret-123", "patterns": ["^2[0-9]{2}$"]}),
            "bluebird/pbx",
        ),
        (
            "extensions",
            json!({"client": "bluebird", "number": "200", "route": "number", "target": "+34944000999"}),
            "bluebird/200",
        ),
        (
            "call_forwards",
            json!({"client": "bluebird", "user": "alice", "call_type": "any", "forward_type": "busy", "target": "extension", "extension": "200"}),
            "bluebird/alice/busy/any",
        ),
        (
            "carriers",
            json!({"brand": "acme", "name": "trunk", "address": "127.0.0.5"}),
            "acme/trunk",
        ),
        (
            "ddi_providers",
            json!({"brand": "acme", "name": "in", "addresses": ["127.0.0.6"]}),
            "acme/in",
        ),
        (
            "rating_profiles",
            json!({"client": "bluebird", "name": "std", "active_from": "2026-01-01T00:00:00Z", "rates": [{"prefix": "+34", "connection_fee": "0", "per_minute": "0.02"}]}),
            "bluebird/std",
        ),
    ];
    for (kind, body, id) in &more {
        let (s, r) = v.api_as(&t, "POST", &format!("/api/{}", kind), Some(body.clone()));
        assert_eq!(s, 201, "{}: {}", kind, r);
        assert_eq!(r["id"], *id, "{}", r);
        let (s, r) = v.api_as(&t, "GET", &format!("/api/{}/{}", kind, id), None);
        assert_eq!(s, 200, "{}: {}", kind, r);
    }
    for (kind, _, id) in more.iter().rev() {
        let (s, r) = v.api_as(&t, "DELETE", &format!("/api/{}/{}", kind, id), None);
        assert_eq!(s, 200, "{}: {}", kind, r);
    }
    // the audit trail names the writer of each change, newest first
    let (_, r) = v.api_as(&t, "GET", "/api/audit?limit=1000", None);
    let items = r["items"].as_array().unwrap();
    assert_eq!(items[0]["action"], "delete", "{}", r);
    assert!(items.iter().all(|e| e["who"] == "api-token"), "{}", r);
    assert!(items.iter().any(|e| e["action"] == "create"
        && e["resource"] == "users"
        && e["id"] == "bluebird/carol"));
}

#[test]
fn a_client_administrator_sees_and_changes_only_its_own_client() {
    let v = Vozbox::start("res-scope", "", TWO_CLIENTS);
    let ann = admin(&v, json!({"name": "ann", "client": "bluebird"}));
    // lists and counts hold only bluebird's
    let (s, r) = v.api_as(&ann, "GET", "/api/users", None);
    assert_eq!((s, r["total"].clone()), (200, json!(1)), "{}", r);
    assert_eq!(r["items"][0]["id"], "bluebird/alice");
    let (_, r) = v.api_as(&ann, "GET", "/api/clients", None);
    assert_eq!(r["total"], 1, "{}", r);
    assert!(!r.to_string().contains("redbird"), "{}", r);
    let (_, r) = v.api_as(&ann, "GET", "/api/users?client=redbird", None);
    assert_eq!(r["total"], 0, "{}", r);
    // another client's entity: 404, whatever the method
    for (m, body) in [
        ("GET", None),
        ("PUT", Some(json!({"password": "Hijacked-Pass-1"}))),
        ("DELETE", None),
    ] {
        let (s, r) = v.api_as(&ann, m, "/api/users/redbird/rita", body);
        assert_eq!(s, 404, "{} {}", m, r);
        assert!(!r.to_string().contains("Rita-Secret"), "{}", r);
    }
    let (s, _) = v.api_as(&ann, "GET", "/api/clients/redbird", None);
    assert_eq!(s, 404);
    let mut intruder = carol();
    intruder["client"] = json!("redbird");
    let (s, _) = v.api_as(&ann, "POST", "/api/users", Some(intruder));
    assert_eq!(s, 404);
    // its own client: created without naming the client
    let mut own = carol();
    own.as_object_mut().unwrap().remove("client");
    let (s, r) = v.api_as(&ann, "POST", "/api/users", Some(own));
    assert_eq!(
        (s, r["id"].clone()),
        (201, json!("bluebird/carol")),
        "{}",
        r
    );
    // the operator's own resources and a whole file are not a client administrator's
    for (m, p) in [
        ("GET", "/api/brands"),
        ("GET", "/api/carriers"),
        ("GET", "/api/admins"),
        ("GET", "/api/media"),
    ] {
        let (s, r) = v.api_as(&ann, m, p, None);
        assert_eq!(s, 403, "{} {}", p, r);
    }
    let (s, _) = v.api_as(
        &ann,
        "POST",
        "/api/ddis",
        Some(json!({"number": "+34944000100"})),
    );
    assert_eq!(s, 403);
    // the audit trail: ann's change, and nothing of another client
    let op = v.token();
    let mut rob = json!({"client": "redbird", "name": "rob", "password": "Rob-Secret-222", "extension": "101"});
    let (s, _) = v.api_as(&op, "PUT", "/api/users/redbird/rob", Some(rob.take()));
    assert_eq!(s, 200);
    let (_, r) = v.api_as(&ann, "GET", "/api/audit", None);
    assert_eq!(r["total"], 1, "{}", r);
    assert_eq!(r["items"][0]["who"], "ann");
    assert_eq!(r["items"][0]["id"], "bluebird/carol");
    let (_, r) = v.api_as(&op, "GET", "/api/audit", None);
    assert_eq!(r["total"], 3, "{}", r); // ann added, carol created, rob changed
                                        // a restricted administrator: reads users, nothing else, writes nothing
    let reader = admin(
        &v,
        json!({"name": "rea", "client": "bluebird", "rights": {"users": "read"}}),
    );
    let (s, _) = v.api_as(&reader, "GET", "/api/users", None);
    assert_eq!(s, 200);
    let (s, _) = v.api_as(&reader, "DELETE", "/api/users/bluebird/carol", None);
    assert_eq!(s, 403);
    let (s, _) = v.api_as(&reader, "GET", "/api/extensions", None);
    assert_eq!(s, 403);
    // removed: its session stops working at once
    let (s, _) = v.api_as(&op, "DELETE", "/api/admins/rea", None);
    assert_eq!(s, 200);
    let (s, _) = v.api_as(&reader, "GET", "/api/users", None);
    assert_eq!(s, 401);
    // the last operator stays
    let (s, r) = v.api_as(&op, "DELETE", "/api/admins/admin", None);
    assert_eq!(s, 409, "{}", r);
}

/// What a client administrator could use against another client even within its own:
/// internal (intervpbx) and direct friends, another client's DDI as its caller ID, the
/// model's warnings and errors about other clients. And sessions: a new password ends
/// them; a client with administrators is not deleted under them.
#[test]
fn a_client_administrator_cannot_reach_into_another_client() {
    let provision = format!(
        "{}\n[[ddi]]\nclient = \"redbird\"\nnumber = \"+34944000200\"\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"+34944000100\"\n\n[[client]]\nbrand = \"acme\"\nname = \"greenbird\"\ndomain = \"greenbird.example\"\n",
        TWO_CLIENTS
    );
    let v = Vozbox::start("res-reach", "", &provision);
    let op = v.token();
    let ann = admin(&v, json!({"name": "ann", "client": "bluebird"}));
    for (mode, extra) in [
        ("intervpbx", json!({"target_client": "redbird"})),
        ("direct", json!({"address": "127.0.0.5"})),
    ] {
        let mut f = json!({"name": "pbx", "mode": mode, "patterns": ["^1[0-9]{2}$"]});
        f.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, r) = v.api_as(&ann, "POST", "/api/friends", Some(f));
        assert_eq!(s, 403, "{}: {}", mode, r);
        assert!(!r.to_string().contains("redbird"), "{}", r);
    }
    let (s, r) = v.api_as(
        &ann,
        "POST",
        "/api/friends",
        Some(json!({"name": "pbx", "mode": "register", "password": "Pbx-Secret-123"})),
    );
    assert_eq!(s, 201, "{}", r);
    // another client's DDI as caller ID: refused without naming its owner
    let mut spoof = carol();
    spoof["outgoing_ddi"] = json!("+34944000200");
    let (s, r) = v.api_as(&ann, "POST", "/api/users", Some(spoof));
    assert_eq!(s, 422, "{}", r);
    assert_eq!(r["errors"][0]["key"], "user.outgoing_ddi", "{}", r);
    assert!(
        !r.to_string().contains("redbird") && !r.to_string().contains("another client"),
        "{}",
        r
    );
    let mut own = carol();
    own["outgoing_ddi"] = json!("+34944000100");
    let (s, r) = v.api_as(&ann, "POST", "/api/users", Some(own));
    assert_eq!(s, 201, "{}", r);
    // a warning about redbird's forward is redbird's, not in bluebird's answers
    let fwd = |client: &str, user: &str| json!({"client": client, "user": user, "call_type": "any", "forward_type": "busy", "target": "extension", "extension": "999"});
    let (s, r) = v.api_as(
        &op,
        "POST",
        "/api/call_forwards",
        Some(fwd("redbird", "rita")),
    );
    assert_eq!(s, 201, "{}", r);
    assert!(
        r["warnings"][0].as_str().unwrap().contains("no extension"),
        "{}",
        r
    );
    let (s, r) = v.api_as(
        &ann,
        "POST",
        "/api/call_forwards",
        Some(fwd("bluebird", "alice")),
    );
    assert_eq!(s, 201, "{}", r);
    let w = r["warnings"].to_string();
    assert!(
        w.contains("no extension \\\"999\\\" in client \\\"bluebird\\\"") && !w.contains("redbird"),
        "{}",
        r
    );
    // a new password ends the sessions of the old one
    let (s, _) = v.api_as(
        &op,
        "PUT",
        "/api/admins/ann",
        Some(json!({"password": "Another-Long-Pass-2"})),
    );
    assert_eq!(s, 200);
    let (s, _) = v.api_as(&ann, "GET", "/api/users", None);
    assert_eq!(s, 401);
    // a client with administrators is not deleted under them
    admin(&v, json!({"name": "gus", "client": "greenbird"}));
    let (s, r) = v.api_as(&op, "DELETE", "/api/clients/greenbird", None);
    assert_eq!(s, 409, "{}", r);
    assert_eq!(r["referrers"][0]["resource"], "admins", "{}", r);
    // names the audit trail uses for others are not administrators' names
    let (s, _) = v.api_as(
        &op,
        "POST",
        "/api/admins",
        Some(json!({"name": "cli", "password": "Long-Enough-Pass-1"})),
    );
    assert_eq!(s, 422);
}

#[test]
fn export_then_check_then_apply_is_a_no_op() {
    let v = Vozbox::start("res-export", "", TWO_CLIENTS);
    let t = v.token();
    let (s, _) = v.api_as(&t, "POST", "/api/users", Some(carol()));
    assert_eq!(s, 201);
    let file = v.dir.join("exported.toml");
    let path = file.to_str().unwrap();
    v.cli_args(&["export", "-o", path]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("name = \"carol\""), "{}", text);
    let check = std::process::Command::new(BIN)
        .args(["check", path])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let said = v.cli_args(&["apply", path]);
    assert!(said.contains("nothing changed"), "{}", said);
    // administrators travel in the file as their hashes: one removed comes back by apply,
    // with the same password
    let added = v.cli_args(&["admin", "add", "ann", "--client", "bluebird"]);
    let pw = added
        .split("password ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a password")
        .to_string();
    v.cli_args(&["export", "-o", path]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("[[admin]]") && text.contains("name = \"ann\"") && !text.contains(&pw),
        "{}",
        text
    );
    v.cli_args(&["admin", "remove", "ann"]);
    let (s, _) = v.api_as(
        "",
        "POST",
        "/api/login",
        Some(json!({"name": "ann", "password": pw})),
    );
    assert_eq!(s, 401);
    v.cli_args(&["apply", path]);
    let ann = login(&v, "ann", &pw);
    let (_, r) = v.api_as(&ann, "GET", "/api/users", None);
    assert_eq!(r["total"], 2, "{}", r);
}

#[test]
fn registrations_are_removed_and_records_filtered_through_the_api() {
    let v = Vozbox::start("res-live", "", TWO_CLIENTS);
    let t = v.token();
    register(
        &v,
        "127.0.0.1",
        ("alice", "Alice-Secret-1"),
        free_port("127.0.0.1"),
    );
    let (_, r) = v.api_as(&t, "GET", "/api/registrations", None);
    assert_eq!(r[0]["aor"], "sip:alice@127.0.0.1", "{}", r);
    // a client administrator of another client neither sees nor removes it
    let rae = admin(&v, json!({"name": "rae", "client": "redbird"}));
    let (_, r) = v.api_as(&rae, "GET", "/api/registrations", None);
    assert_eq!(r, json!([]));
    let (s, _) = v.api_as(
        &rae,
        "DELETE",
        "/api/registrations/sip:alice@127.0.0.1",
        None,
    );
    assert_eq!(s, 404);
    let (s, r) = v.api_as(&t, "DELETE", "/api/registrations/sip:alice@127.0.0.1", None);
    assert_eq!((s, r["removed"].clone()), (200, json!(1)), "{}", r);
    let (_, r) = v.api_as(&t, "GET", "/api/registrations", None);
    assert_eq!(r, json!([]));
    // gone from the store too
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while v.registrations().contains("alice") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!v.registrations().contains("alice"));
    // a call to nobody leaves a record; filters and CSV
    alice_dials(&v, "uac_refused.xml", "555", "u1", "127.0.0.1", &[]);
    v.cdrs(1);
    let (_, r) = v.api_as(&t, "GET", "/api/cdrs?client=bluebird", None);
    assert_eq!(r["total"], 1, "{}", r);
    let disposition = r["items"][0]["disposition"].as_str().unwrap().to_string();
    let (_, r) = v.api_as(
        &t,
        "GET",
        &format!(
            "/api/cdrs?disposition={}&from=2020-01-01T00:00:00Z",
            disposition
        ),
        None,
    );
    assert_eq!(r["total"], 1, "{}", r);
    let (_, r) = v.api_as(&t, "GET", "/api/cdrs?disposition=answered", None);
    assert_eq!(r["total"], 0, "{}", r);
    let (_, r) = v.api_as(&rae, "GET", "/api/cdrs", None);
    assert_eq!(r["total"], 0, "{}", r);
    let (_, r) = v.api_as(&t, "GET", "/api/cdrs?from=yesterday", None);
    assert!(r["error"].as_str().unwrap().contains("from"), "{}", r);
    let cfg = vozbox::config::Config::load(&v.config).unwrap();
    match vozbox::api::client::request(
        cfg.api.addr().unwrap(),
        "GET",
        "/api/cdrs?format=csv",
        Some(&t),
        None,
        "",
    ) {
        Ok(vozbox::api::client::Reply::Http { status: 200, body }) => {
            let mut lines = body.lines();
            assert!(lines
                .next()
                .unwrap()
                .starts_with("start,answer,end,duration,client,caller"));
            let row = lines.next().expect("one record");
            assert!(
                row.contains(",bluebird,") && row.contains(&disposition),
                "{}",
                row
            );
        }
        _ => panic!("no CSV"),
    }
}

#[test]
fn the_cli_manages_administrators_while_the_server_runs() {
    let v = Vozbox::start("res-cli", "", TWO_CLIENTS);
    let out = std::process::Command::new(BIN)
        .args([
            "admin",
            "add",
            "ned",
            "--client",
            "redbird",
            "--read",
            "users,cdrs",
            "--config",
        ])
        .arg(&v.config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pw = said
        .split("password ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a password");
    let ned = login(&v, "ned", pw);
    let (s, r) = v.api_as(&ned, "GET", "/api/users", None);
    assert_eq!((s, r["total"].clone()), (200, json!(2)), "{}", r);
    let list = v.cli_args(&["admin", "list"]);
    assert!(
        list.contains("ned") && list.contains("redbird") && list.contains("users:read"),
        "{}",
        list
    );
    v.cli_args(&["admin", "remove", "ned"]);
    let (s, _) = v.api_as(&ned, "GET", "/api/users", None);
    assert_eq!(s, 401);
}

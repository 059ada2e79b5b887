//! The OpenAPI document (issue 18) is valid OpenAPI 3 (checked by `openapi-spec-validator`
//! from PyPI) and lists exactly the routes the server serves, compared from both sides:
//! every operation it lists is served (without a credential: `401`, not `404`/`405`), and
//! every other method on its paths, and a path it does not list, is not (with a
//! credential: `405`, `404`).

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

fn raw(v: &Vozbox, method: &str, path: &str) -> u16 {
    as_(v, None, method, path)
}

fn as_(v: &Vozbox, token: Option<&str>, method: &str, path: &str) -> u16 {
    let cfg = vozbox::config::Config::load(&v.config).unwrap();
    match vozbox::api::client::request(cfg.api.addr().unwrap(), method, path, token, None, "") {
        Ok(vozbox::api::client::Reply::Http { status, .. }) => status,
        _ => panic!("no admin API"),
    }
}

#[test]
fn the_document_is_valid_and_lists_every_route_the_server_serves() {
    let v = Vozbox::start("openapi", "", PROVISION);
    let token = v.token();
    let (s, doc) = v.api_as(&token, "GET", "/api/openapi.json", None);
    assert_eq!(s, 200, "{}", doc);
    // valid OpenAPI, by an independent validator
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(sys.stdin))\nprint('valid')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    py.stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("valid"),
        "openapi-spec-validator (pip install openapi-spec-validator): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 40, "{}", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for m in METHODS {
            let listed = item.get(m.to_ascii_lowercase()).is_some();
            let status = raw(&v, m, &concrete);
            if listed {
                operations += 1;
                let open = item[m.to_ascii_lowercase()]["security"] == serde_json::json!([]);
                if open {
                    assert!(
                        status != 404 && status != 405 && status != 401,
                        "{} {}: {}",
                        m,
                        path,
                        status
                    );
                } else {
                    assert_eq!(
                        status, 401,
                        "{} {} is listed but answers {}",
                        m, path, status
                    );
                }
            } else {
                // with a credential, so that the answer is the router's
                let status = as_(&v, Some(&token), m, &concrete);
                assert_eq!(
                    status, 405,
                    "{} {} is not listed but answers {}",
                    m, path, status
                );
            }
        }
    }
    assert!(operations >= 80, "{}", operations);
    // nothing outside the document
    for p in [
        "/api/nothing",
        "/api/users/x",
        "/api/users/x/y/z",
        "/metrics-nope",
    ] {
        assert_eq!(as_(&v, Some(&token), "GET", p), 404, "{}", p);
    }
    // the resources take the provisioning file's keys
    let user = &doc["components"]["schemas"]["UserDef"];
    assert!(user["properties"]["password"].is_object(), "{}", user);
    assert_eq!(user["additionalProperties"], false, "{}", user);
}

//! The declarative provisioning file (TOML) → a validated `Model`, applied atomically.

pub mod demo;
pub mod export;
pub mod file;
pub mod kinds;
pub mod validate;

pub use validate::{Checked, ProvisionError};

use crate::config::{key_at, line_col};

/// What the server a file is meant for can do, where it matters to validation: a file for a
/// server without a GeoIP database must not filter by country. `None`: not known (`vozbox
/// check` without the server's config), not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Whether `[policy] geoip_database` is set.
    pub geoip: Option<bool>,
}

impl Context {
    /// A server with (`geoip`) or without a GeoIP database.
    pub fn for_server(geoip: bool) -> Context {
        Context { geoip: Some(geoip) }
    }
}

/// Parses and validates a provisioning text; every error carries its line and key.
pub fn parse(text: &str) -> Result<Checked, Vec<ProvisionError>> {
    parse_with(text, &Context::default())
}

/// [`parse`] for a server of which `ctx` is known.
pub fn parse_with(text: &str, ctx: &Context) -> Result<Checked, Vec<ProvisionError>> {
    let file: file::File = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        let msg = e.message().trim().to_string();
        // "unknown field `x`", "missing field `x`" name the key; a wrong value is named by
        // the key written before it.
        let named = msg.starts_with("unknown field") || msg.starts_with("missing field");
        let key = msg
            .split('`')
            .nth(1)
            .filter(|_| named)
            .map(|k| k.to_string())
            .or_else(|| {
                e.span()
                    .and_then(|s| key_at(text, s.start))
                    .map(|(table, key)| match table {
                        Some(t) => format!("{}.{}", t, key),
                        None => key,
                    })
            })
            .unwrap_or_else(|| "file".into());
        vec![ProvisionError {
            line,
            col,
            key,
            message: msg,
        }]
    })?;
    validate::to_model(&file, text, ctx)
}

/// Reads and validates a file; errors (and warnings, printed here to stderr) are
/// formatted as `FILE:LINE:COL: key: message`.
pub fn load(path: &std::path::Path) -> Result<Checked, Vec<String>> {
    load_with(path, &Context::default())
}

/// [`load`] for a server of which `ctx` is known.
pub fn load_with(path: &std::path::Path, ctx: &Context) -> Result<Checked, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{}: cannot read: {}", path.display(), e)])?;
    match parse_with(&text, ctx) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {}:{}", path.display(), w);
            }
            Ok(c)
        }
        Err(errs) => Err(errs
            .iter()
            .map(|e| format!("{}:{}", path.display(), e))
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[brand]]
name = "acme"

[[corporation]]
name = "group"
brand = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "bluebird.example"
corporation = "group"

[[client]]
brand = "acme"
name = "redbird"
domain = "redbird.example"
corporation = "group"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"
"#;

    fn errors(extra: &str) -> Vec<ProvisionError> {
        match parse(&format!("{}{}", BASE, extra)) {
            Ok(_) => panic!("accepted:\n{}", extra),
            Err(e) => e,
        }
    }

    fn one(extra: &str, key: &str, needle: &str) {
        let e = errors(extra);
        assert!(
            e.iter()
                .any(|e| e.key == key && e.message.contains(needle) && e.line > 0),
            "expected {} / {:?}, got {:?}",
            key,
            needle,
            e
        );
    }

    #[test]
    fn the_design_example_is_accepted_as_written() {
        let text = include_str!("../../docs/examples/design.toml");
        let c = parse(text).unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(c.model.users.len(), 1);
        assert_eq!(c.model.friends.len(), 1);
        assert_eq!(c.model.carriers[0].port, Some(5080));
        // the forward to extension 101 (not in the file) is a warning, not an error
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn full_example_is_accepted() {
        let text = include_str!("../../docs/examples/provision.toml");
        parse(text).unwrap_or_else(|e| panic!("{:?}", e));
    }

    #[test]
    fn a_carrier_lets_naptr_choose_its_transport_only_by_host_name_without_port() {
        let carrier = |address: &str, extra: &str| {
            format!("\n[[carrier]]\nbrand = \"acme\"\nname = \"t\"\naddress = \"{}\"\ntransport = \"auto\"\n{}", address, extra)
        };
        let key = "carrier.transport";
        one(&carrier("192.0.2.1", ""), key, "needs a host name");
        one(&carrier("sip.example.com", "port = 5060"), key, "no port");
        let c = parse(&format!("{}{}", BASE, carrier("sip.example.com", "")))
            .unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(c.model.carriers[0].transport, "auto");
        one(
            &carrier("sip.example.com", "").replace("\"auto\"", "\"sctp\""),
            key,
            "expected udp, tcp, tls or auto",
        );
    }

    #[test]
    fn a_direct_friend_lets_naptr_choose_its_transport_only_by_host_name_without_port() {
        let friend = |address: &str, extra: &str| {
            format!("\n[[friend]]\nclient = \"bluebird\"\nname = \"f\"\nmode = \"direct\"\naddress = \"{}\"\ntransport = \"auto\"\n{}", address, extra)
        };
        let key = "friend.transport";
        one(&friend("192.0.2.1", ""), key, "needs a host name");
        one(&friend("pbx.example.com", "port = 5060"), key, "no port");
        let c = parse(&format!("{}{}", BASE, friend("pbx.example.com", "")))
            .unwrap_or_else(|e| panic!("{:?}", e));
        assert_eq!(c.model.friends[0].transport.as_deref(), Some("auto"));
    }

    #[test]
    fn outgoing_routes_take_a_prefix_and_carriers_of_their_brand() {
        let route = |prefix: &str, carriers: &str, extra: &str| {
            format!("\n[[carrier]]\nbrand = \"acme\"\nname = \"up\"\naddress = \"192.0.2.1\"\n\n[[outgoing_route]]\nbrand = \"acme\"\nname = \"r\"\nprefix = \"{}\"\ncarriers = {}\n{}", prefix, carriers, extra)
        };
        let key = "outgoing_route.carriers";
        one(
            &route("+34", "[\"nope\"]", ""),
            key,
            "no carrier named \"nope\"",
        );
        one(&route("*", "[]", ""), key, "at least one carrier");
        one(&route("*", "[\"up\", \"up\"]", ""), key, "listed twice");
        for bad in ["34", "+", "+3a", "+1234567890123456", "**"] {
            one(
                &route(bad, "[\"up\"]", ""),
                "outgoing_route.prefix",
                "expected",
            );
        }
        one(
            &route("*", "[\"up\"]", "weight = 0"),
            "outgoing_route.weight",
            "1 ≤ weight ≤ 1000",
        );
        let c = parse(&format!(
            "{}{}",
            BASE,
            route("+34", "[\"up\"]", "priority = 2\nweight = 5")
        ))
        .unwrap_or_else(|e| panic!("{:?}", e));
        let r = &c.model.outgoing_routes[0];
        assert_eq!((r.prefix.as_str(), r.priority, r.weight), ("+34", 2, 5));
        assert_eq!(r.carriers, ["up"]);
        // defaults: priority 1, weight 1
        let c = parse(&format!("{}{}", BASE, route("*", "[\"up\"]", ""))).unwrap();
        let r = &c.model.outgoing_routes[0];
        assert_eq!((r.priority, r.weight), (1, 1));
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = errors("\n[[user]]\nclient = \"bluebird\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\nextenson = \"101\"\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "extenson");
        assert_eq!(e[0].line, 31);
    }

    #[test]
    fn dangling_reference() {
        one(
            "\n[[user]]\nclient = \"greenbird\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\n",
            "user.client",
            "no client named \"greenbird\"",
        );
        one("\n[[user]]\nclient = \"bluebird\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\ncall_acl = \"nope\"\n", "user.call_acl", "no call ACL");
    }

    #[test]
    fn duplicate_extension_in_a_client() {
        one("\n[[user]]\nclient = \"bluebird\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\nextension = \"100\"\n", "user.extension", "duplicate extension \"100\"");
        // the same number in another client is fine
        parse(&format!("{}\n[[user]]\nclient = \"redbird\"\nname = \"bob\"\npassword = \"Bob-Secret-1\"\nextension = \"100\"\n", BASE)).unwrap();
    }

    #[test]
    fn friend_patterns_must_be_posix_regular_expressions() {
        let f = |p: &str| {
            format!("\n[[friend]]\nclient = \"bluebird\"\nname = \"pbx\"\nmode = \"register\"\npassword = \"Pbx-Secret-1\"\npatterns = ['{}']\n", p)
        };
        one(&f("^2\\d{2}$"), "friend.patterns", "PCRE escape \\d");
        one(
            &f("^2[0-9{2}$"),
            "friend.patterns",
            "not a valid regular expression",
        );
        parse(&format!("{}{}", BASE, f("^2[0-9]{2}$"))).unwrap();
        parse(&format!("{}{}", BASE, f("^[[:digit:]]+$"))).unwrap();
    }

    #[test]
    fn a_tls_fingerprint_is_sha256_and_only_for_tls_peers() {
        let f = |transport: &str, fp: &str| {
            format!("\n[[friend]]\nclient = \"bluebird\"\nname = \"pbx\"\nmode = \"direct\"\naddress = \"192.0.2.7\"\ntransport = \"{}\"\ntls_fingerprint = \"{}\"\n", transport, fp)
        };
        let good = "ab".repeat(32);
        one(
            &f("udp", &good),
            "friend.tls_fingerprint",
            "transport = \"tls\"",
        );
        one(&f("tls", "AB:CD"), "friend.tls_fingerprint", "SHA-256");
        let c = parse(&format!("{}{}", BASE, f("tls", &good))).unwrap();
        let pinned = c.model.friends.iter().find(|f| f.name == "pbx").unwrap();
        assert_eq!(
            pinned.tls_fingerprint.as_deref(),
            Some(["AB"; 32].join(":").as_str())
        );
    }

    #[test]
    fn qualify_interval_is_for_peers_at_a_fixed_address_and_exports() {
        let friend = |mode: &str, n: u32| {
            format!("\n[[friend]]\nclient = \"bluebird\"\nname = \"pbx\"\nmode = \"{}\"\naddress = \"192.0.2.7\"\npassword = \"Pbx-Secret-1\"\nqualify_interval = {}\n", mode, n)
        };
        let carrier = |n: u32| {
            format!("\n[[carrier]]\nbrand = \"acme\"\nname = \"out\"\naddress = \"192.0.2.9\"\nqualify_interval = {}\n", n)
        };
        one(
            &friend("register", 30),
            "friend.qualify_interval",
            "fixed address",
        );
        one(
            &friend("direct", 3601),
            "friend.qualify_interval",
            "1 to 3600",
        );
        one(&carrier(86400), "carrier.qualify_interval", "1 to 3600");
        let c = parse(&format!("{}{}{}", BASE, friend("direct", 30), carrier(5))).unwrap();
        assert_eq!(c.model.friends[0].qualify_interval, 30);
        assert_eq!(c.model.carriers[0].qualify_interval, 5);
        // written back as given; a peer without one (0: off) has no key
        let carriers = export::items(&c.model, kinds::Kind::Carrier);
        assert_eq!(carriers[0]["qualify_interval"], 5);
        let c = parse(&format!("{}{}", BASE, friend("register", 0))).unwrap();
        assert_eq!(c.model.friends[0].qualify_interval, 0);
        let friends = export::items(&c.model, kinds::Kind::Friend);
        assert!(
            !friends[0].contains_key("qualify_interval"),
            "{:?}",
            friends
        );
    }

    #[test]
    fn register_friend_needs_a_password() {
        one(
            "\n[[friend]]\nclient = \"bluebird\"\nname = \"pbx\"\nmode = \"register\"\n",
            "friend.password",
            "needs a password",
        );
    }

    #[test]
    fn intervpbx_target_must_share_brand_and_corporation() {
        let other = "\n[[brand]]\nname = \"other\"\n\n[[client]]\nbrand = \"other\"\nname = \"greybird\"\ndomain = \"grey.example\"\n\n[[client]]\nbrand = \"acme\"\nname = \"lonebird\"\ndomain = \"lone.example\"\n";
        let f = |t: &str| {
            format!("{}\n[[friend]]\nclient = \"bluebird\"\nname = \"to-{}\"\nmode = \"intervpbx\"\ntarget_client = \"{}\"\n", other, t, t)
        };
        one(
            &f("greybird"),
            "friend.target_client",
            "is in brand \"other\"",
        );
        one(
            &f("lonebird"),
            "friend.target_client",
            "not in the same corporation",
        );
        parse(&format!("{}\n[[friend]]\nclient = \"bluebird\"\nname = \"to-red\"\nmode = \"intervpbx\"\ntarget_client = \"redbird\"\n", BASE)).unwrap();
        one("\n[[friend]]\nclient = \"bluebird\"\nname = \"x\"\nmode = \"intervpbx\"\ntarget_client = \"redbird\"\npatterns = [\"^1$\"]\n", "friend.patterns", "has no patterns");
    }

    #[test]
    fn call_forwards_that_would_both_apply_are_refused() {
        let cf = |call_type: &str, enabled: bool| {
            format!("\n[[call_forward]]\nclient = \"bluebird\"\nuser = \"alice\"\ncall_type = \"{}\"\nforward_type = \"busy\"\ntarget = \"voicemail\"\nenabled = {}\n", call_type, enabled)
        };
        one(
            &format!("{}{}", cf("any", true), cf("internal", true)),
            "call_forward.forward_type",
            "overlapping",
        );
        one(
            &format!("{}{}", cf("external", false), cf("external", true)),
            "call_forward.forward_type",
            "already has a busy forward",
        );
        parse(&format!(
            "{}{}{}",
            BASE,
            cf("internal", true),
            cf("external", true)
        ))
        .unwrap();
        parse(&format!(
            "{}{}{}",
            BASE,
            cf("any", false),
            cf("internal", true)
        ))
        .unwrap();
    }

    #[test]
    fn a_wrong_type_names_its_key() {
        let e = errors("\n[[user]]\nclient = \"bluebird\"\nname = \"bob\"\npassword = \"Bob-Secret-12\"\nmax_calls = \"two\"\n");
        assert_eq!(e.len(), 1, "{:?}", e);
        assert_eq!(e[0].key, "user.max_calls", "{:?}", e);
        let e = errors("\n[[user]]\nclient = \"bluebird\"\nname = \"bob\"\npassword = 201\n");
        assert_eq!(e[0].key, "user.password", "{:?}", e);
    }

    #[test]
    fn every_error_is_reported_not_only_the_first() {
        let e = errors("\n[[user]]\nclient = \"nobody\"\nname = \"bob\"\npassword = \"short\"\n\n[[ddi]]\nclient = \"bluebird\"\nnumber = \"944000100\"\n");
        assert!(e.len() >= 3, "{:?}", e);
    }

    #[test]
    fn sip_user_names_are_unique_across_users_and_friends() {
        one("\n[[friend]]\nclient = \"bluebird\"\nname = \"alice\"\nmode = \"register\"\npassword = \"Pbx-Secret-1\"\n", "friend.name", "already used");
    }
}

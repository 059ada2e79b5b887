//! The fields of each kind's form: the keys and types of its provisioning-file section,
//! read from the same schema the OpenAPI document publishes (`api/routes.rs::schema_of`,
//! derived from `provision/file.rs`), so a key added to the file is in the form at once.
//! This file adds only what a form needs beyond types: an order, choices, hints, and the
//! columns of the list.

use crate::api::routes::schema_of;
use crate::provision::kinds::{Kind, ALL};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    /// A password: not shown again; left empty on an edit, the current one is kept.
    Secret,
    Number,
    Check,
    Choice(&'static [&'static str]),
    /// A list of strings, one a line.
    Lines,
    /// A list of tables (ACL rules, rates), as JSON.
    Json,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub input: Input,
    pub required: bool,
    pub hint: Option<&'static str>,
    /// A box ticked where the file leaves its key out (see `ticked`).
    pub ticked: bool,
}

/// The keys shown first, in this order (the rest follow in the schema's order).
fn order(k: Kind) -> &'static [&'static str] {
    match k {
        Kind::User => &[
            "client",
            "name",
            "password",
            "extension",
            "email",
            "call_acl",
            "outgoing_ddi",
            "max_calls",
            "allowed_codecs",
        ],
        Kind::Friend => &[
            "client",
            "name",
            "description",
            "mode",
            "password",
            "priority",
            "patterns",
        ],
        Kind::Extension => &[
            "client",
            "number",
            "route",
            "user",
            "friend",
            "target",
            "voicemail",
        ],
        Kind::Ddi => &[
            "client",
            "number",
            "route",
            "user",
            "friend",
            "extension",
            "voicemail",
        ],
        Kind::Voicemail => &[
            "client",
            "name",
            "user",
            "friend",
            "email",
            "send_mail",
            "attach_sound",
            "pin",
            "greeting",
            "enabled",
        ],
        Kind::CallForward => &[
            "client",
            "user",
            "friend",
            "forward_type",
            "call_type",
            "target",
            "number",
            "extension",
            "timeout",
            "enabled",
        ],
        Kind::CallAcl => &["client", "name", "default_policy", "rules"],
        Kind::Client => &["brand", "name", "domain", "corporation", "max_calls"],
        Kind::Carrier => &["brand", "name", "address", "port", "transport"],
        Kind::DdiProvider => &["brand", "name", "addresses"],
        Kind::OutgoingRoute => &["brand", "name", "prefix", "priority", "weight", "carriers"],
        Kind::RatingProfile => &["client", "name", "active_from", "active_to", "rates"],
        Kind::MediaRelaySet => &["name", "bind", "advertised", "port_min", "port_max"],
        Kind::Brand | Kind::Corporation => &["name"],
    }
}

fn choices(k: Kind, field: &str) -> Option<&'static [&'static str]> {
    Some(match (k, field) {
        (Kind::Extension, "route") => &[
            "user",
            "number",
            "friend",
            "voicemail",
            "ivr",
            "locution",
            "echo",
        ],
        (Kind::Ddi, "route") => &["user", "friend", "extension", "ivr", "voicemail"],
        (Kind::Friend, "mode") => &["register", "direct", "intervpbx"],
        (Kind::Friend | Kind::Carrier, "transport") => &["udp", "tcp", "tls", "auto"],
        (Kind::CallAcl, "default_policy") => &["allow", "deny"],
        (Kind::CallForward, "call_type") => &["any", "internal", "external"],
        (Kind::CallForward, "forward_type") => {
            &["unconditional", "no_answer", "busy", "not_registered"]
        }
        (Kind::CallForward, "target") => &["number", "extension", "voicemail"],
        (Kind::Client, "billing_method") => &["none", "postpaid", "prepaid"],
        (Kind::Client, "on_demand_record") => &["off", "info", "info_dtmf"],
        _ => return None,
    })
}

/// The boxes whose key the file reads as true when left out (`#[serde(default = "yes")]`, a
/// user's `voicemail`): a new form starts with them ticked, and an entity read without the
/// key shows them ticked (else saving it would turn them off).
fn ticked(k: Kind, field: &str) -> bool {
    matches!(
        (k, field),
        (Kind::User, "voicemail")
            | (Kind::Voicemail, "attach_sound" | "enabled")
            | (Kind::CallForward, "enabled")
            | (Kind::Client, "allow_recording_removal")
    )
}

fn hint(k: Kind, field: &str) -> Option<&'static str> {
    Some(match (k, field) {
        (_, "allowed_codecs") => "One a line (e.g. PCMU, PCMA); empty: all",
        (_, "patterns") => "Regular expressions of the numbers it takes, one a line",
        (_, "authorized_sources") => "Addresses or networks calls may come from, one a line",
        (_, "geoip_countries") => "Country codes calls may come from, one a line",
        (_, "addresses") => "One address a line",
        (Kind::OutgoingRoute, "prefix") => "+ and digits (a prefix of the E.164 number), or * for any",
        (Kind::OutgoingRoute, "carriers") => "Carriers of the brand, one a line, tried in this order",
        (Kind::CallAcl, "rules") => {
            "JSON list, e.g. [{\"priority\": 1, \"policy\": \"deny\", \"pattern\": \"^00\"}]"
        }
        (Kind::RatingProfile, "rates") => {
            "JSON list, e.g. [{\"prefix\": \"34\", \"connection_fee\": \"0.01\", \"per_minute\": \"0.02\"}]"
        }
        (_, "active_from" | "active_to") => "A time like 2026-01-01T00:00:00Z",
        (_, "max_calls") => "0: unlimited",
        (_, "qualify_interval") => {
            "Seconds between OPTIONS to it (down after 3 unanswered: its calls refused); 0 or empty: not probed"
        }
        (_, "balance" | "max_daily_usage") => "An amount like 10.00",
        (Kind::Extension, "target") => "The number dialled when the route is number",
        (Kind::User, "extension") => "The user's own extension number",
        (Kind::User, "voicemail") => "A voicemail box of its own, named after the user",
        (Kind::Client, "on_demand_record") => {
            "Recording on demand: by SIP INFO Record: on|off (info), also by * and the recording code (info_dtmf)"
        }
        (Kind::Client, "recording_code") => "The digits pressed after a * to record on demand",
        (Kind::Client, "allow_recording_removal") => "Its call recordings may be deleted",
        _ => return None,
    })
}

/// The keys of each kind's list, after its id.
pub fn columns(k: Kind) -> &'static [&'static str] {
    match k {
        Kind::User => &["extension", "email", "call_acl"],
        Kind::Friend => &["mode", "description", "patterns"],
        Kind::Voicemail => &["user", "friend", "email", "enabled"],
        Kind::Extension => &["route", "user", "friend", "target"],
        Kind::Ddi => &["route", "user", "friend", "extension"],
        Kind::CallForward => &["target", "number", "extension", "enabled"],
        Kind::CallAcl => &["default_policy"],
        Kind::Client => &["brand", "domain", "billing_method", "max_calls"],
        Kind::Carrier => &["address", "port", "transport"],
        Kind::DdiProvider => &["addresses"],
        Kind::OutgoingRoute => &["prefix", "priority", "weight", "carriers"],
        Kind::RatingProfile => &["active_from", "active_to"],
        Kind::MediaRelaySet => &["bind", "advertised", "port_min", "port_max"],
        Kind::Brand => &["max_calls"],
        Kind::Corporation => &["brand"],
    }
}

/// The kind whose names a field refers to (its form suggests them).
pub fn refers_to(field: &str) -> Option<(Kind, &'static str)> {
    Some(match field {
        "client" | "target_client" => (Kind::Client, "name"),
        "brand" => (Kind::Brand, "name"),
        "corporation" => (Kind::Corporation, "name"),
        "call_acl" => (Kind::CallAcl, "name"),
        "user" => (Kind::User, "name"),
        "friend" => (Kind::Friend, "name"),
        "voicemail" => (Kind::Voicemail, "name"),
        "outgoing_ddi" => (Kind::Ddi, "number"),
        "media_relay_set" => (Kind::MediaRelaySet, "name"),
        _ => return None,
    })
}

fn input_of(k: Kind, name: &str, schema: &Value) -> Input {
    let ty = |v: &Value| -> String {
        match v.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("string")
                .to_string(),
            _ => "object".into(),
        }
    };
    if name == "password" {
        return Input::Secret;
    }
    if let Some(c) = choices(k, name) {
        return Input::Choice(c);
    }
    match ty(schema).as_str() {
        "integer" | "number" => Input::Number,
        "boolean" => Input::Check,
        "array" => match schema.get("items") {
            Some(items) if ty(items) == "string" => Input::Lines,
            _ => Input::Json,
        },
        _ => Input::Text,
    }
}

fn build() -> BTreeMap<Kind, Vec<Field>> {
    let doc = serde_json::to_value(crate::api::openapi::document()).unwrap_or_default();
    ALL.into_iter()
        .map(|k| {
            let schema = &doc["components"]["schemas"][schema_of(k)];
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut names: Vec<String> = order(k).iter().map(|s| s.to_string()).collect();
            let props = schema["properties"].as_object();
            for name in props.into_iter().flat_map(|p| p.keys()) {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
            let fields = names
                .into_iter()
                .filter_map(|name| {
                    let s = props?.get(&name)?;
                    Some(Field {
                        input: input_of(k, &name, s),
                        required: required.contains(&name.as_str()),
                        hint: hint(k, &name),
                        ticked: ticked(k, &name),
                        name,
                    })
                })
                .collect();
            (k, fields)
        })
        .collect()
}

/// The fields of a kind's form, in order.
pub fn of(k: Kind) -> &'static [Field] {
    static FIELDS: OnceLock<BTreeMap<Kind, Vec<Field>>> = OnceLock::new();
    FIELDS
        .get_or_init(build)
        .get(&k)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_schemas_keys_and_the_tables_name_real_keys() {
        for k in ALL {
            let f = of(k);
            assert!(!f.is_empty(), "{:?}", k);
            let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
            for id in k.id_fields() {
                assert!(*id == "owner" || names.contains(id), "{:?} {}", k, id);
            }
            for key in order(k).iter().chain(columns(k)) {
                assert!(names.contains(key), "{:?}: no key {}", k, key);
            }
        }
        let user = of(Kind::User);
        assert_eq!(user[0].name, "client");
        assert!(user[0].required);
        let pw = user.iter().find(|f| f.name == "password").unwrap();
        assert_eq!(pw.input, Input::Secret);
        let ext = user.iter().find(|f| f.name == "extension").unwrap();
        assert!(!ext.required && ext.input == Input::Text);
        let codecs = user.iter().find(|f| f.name == "allowed_codecs").unwrap();
        assert_eq!(codecs.input, Input::Lines);
        let mc = user.iter().find(|f| f.name == "max_calls").unwrap();
        assert_eq!(mc.input, Input::Number);
        let rules = of(Kind::CallAcl)
            .iter()
            .find(|f| f.name == "rules")
            .unwrap();
        assert_eq!(rules.input, Input::Json);
        let enabled = of(Kind::CallForward)
            .iter()
            .find(|f| f.name == "enabled")
            .unwrap();
        assert_eq!(enabled.input, Input::Check);
        for k in ALL {
            for f in of(k).iter().filter(|f| f.ticked) {
                assert_eq!(f.input, Input::Check, "{:?} {}", k, f.name);
            }
        }
        let ticked: Vec<&str> = of(Kind::Voicemail)
            .iter()
            .filter(|f| f.ticked)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(ticked, ["attach_sound", "enabled"]);
        assert!(of(Kind::User)
            .iter()
            .any(|f| f.name == "voicemail" && f.ticked));
        let client = of(Kind::Client);
        assert!(client
            .iter()
            .any(|f| f.name == "allow_recording_removal" && f.ticked));
        assert!(client.iter().any(|f| f.name == "on_demand_record"
            && f.input == Input::Choice(&["off", "info", "info_dtmf"])));
    }
}

//! The model as the provisioning file writes it: one JSON object per entity with the
//! file's keys (what the API shows and accepts), rendered back to TOML. Any change made
//! through the API is checked by rendering the whole edited document and parsing it like a
//! file, so the API and the file share one validation and its error texts, and
//! `vozbox export` writes a file that re-applies as a no-op.

use super::kinds::{Kind, ALL};
use super::{Checked, ProvisionError};
use crate::model::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One entity in the file's form.
pub type Item = Map<String, Value>;

/// Every entity of a model, by kind, in the file's form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    sections: BTreeMap<Kind, Vec<Item>>,
}

/// An error of a rendered document, with the entity it was found in.
#[derive(Debug, Clone)]
pub struct Located {
    pub kind: Option<Kind>,
    pub id: Option<String>,
    pub error: ProvisionError,
}

/// The TOML text of a document and the first line of each entity in it.
pub struct Rendered {
    pub text: String,
    starts: Vec<(usize, Kind, usize)>,
}

fn object(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The JSON of a model type with its empty options left out.
fn plain<T: serde::Serialize>(t: &T) -> Item {
    object(serde_json::to_value(t).unwrap_or(Value::Null))
}

fn time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

fn extension(e: &Extension) -> Item {
    let (route, key, value) = match &e.route {
        ExtensionRoute::User(u) => ("user", "user", u),
        ExtensionRoute::Number(n) => ("number", "target", n),
        ExtensionRoute::Friend(f) => ("friend", "friend", f),
        ExtensionRoute::Voicemail(u) => ("voicemail", "user", u),
        ExtensionRoute::Ivr(i) => ("ivr", "ivr", i),
        ExtensionRoute::Locution(l) => ("locution", "locution", l),
    };
    let mut m = object(json!({"client": e.client, "number": e.number, "route": route}));
    m.insert(key.into(), json!(value));
    m
}

fn ddi(d: &Ddi) -> Item {
    let mut m = object(json!({"client": d.client, "number": d.number, "record": d.record}));
    if let Some(r) = &d.route {
        let (route, key, value) = match r {
            DdiRoute::User(u) => ("user", "user", u),
            DdiRoute::Voicemail(u) => ("voicemail", "user", u),
            DdiRoute::Friend(f) => ("friend", "friend", f),
            DdiRoute::Extension(x) => ("extension", "extension", x),
            DdiRoute::Ivr(i) => ("ivr", "ivr", i),
        };
        m.insert("route".into(), json!(route));
        m.insert(key.into(), json!(value));
    }
    m
}

fn call_forward(f: &CallForward) -> Item {
    let mut m = object(json!({
        "client": f.client,
        "call_type": f.call_type,
        "forward_type": f.forward_type,
        "timeout": f.timeout,
        "enabled": f.enabled,
    }));
    match &f.owner {
        ForwardOwner::User(u) => m.insert("user".into(), json!(u)),
        ForwardOwner::Friend(x) => m.insert("friend".into(), json!(x)),
    };
    match &f.target {
        ForwardTarget::Voicemail => m.insert("target".into(), json!("voicemail")),
        ForwardTarget::Number(n) => {
            m.insert("number".into(), json!(n));
            m.insert("target".into(), json!("number"))
        }
        ForwardTarget::Extension(x) => {
            m.insert("extension".into(), json!(x));
            m.insert("target".into(), json!("extension"))
        }
    };
    m
}

fn rating_profile(r: &RatingProfile) -> Item {
    let mut m = plain(r);
    m.insert("active_from".into(), json!(time(r.active_from)));
    match r.active_to {
        Some(t) => m.insert("active_to".into(), json!(time(t))),
        None => m.remove("active_to"),
    };
    m
}

/// Nulls (absent options) removed at every depth: TOML has no null.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The model in the file's form.
pub fn doc(m: &Model) -> Doc {
    let mut d = Doc::default();
    fn all<T>(xs: &[T], f: impl Fn(&T) -> Item) -> Vec<Item> {
        xs.iter().map(f).collect()
    }
    let s = &mut d.sections;
    s.insert(Kind::MediaRelaySet, all(&m.media_relay_sets, plain));
    s.insert(Kind::Brand, all(&m.brands, plain));
    s.insert(Kind::Corporation, all(&m.corporations, plain));
    s.insert(Kind::Client, all(&m.clients, plain));
    s.insert(Kind::CallAcl, all(&m.call_acls, plain));
    s.insert(Kind::Ddi, all(&m.ddis, ddi));
    s.insert(Kind::User, all(&m.users, plain));
    s.insert(Kind::Friend, all(&m.friends, plain));
    // A user's own extension is its `extension` key, not an `[[extension]]` of its own.
    let own = |e: &&Extension| match &e.route {
        ExtensionRoute::User(u) => m.users.iter().any(|x| {
            x.client == e.client && x.name == *u && x.extension.as_deref() == Some(&e.number)
        }),
        _ => false,
    };
    let extensions: Vec<Item> = m
        .extensions
        .iter()
        .filter(|e| !own(e))
        .map(extension)
        .collect();
    s.insert(Kind::Extension, extensions);
    s.insert(Kind::CallForward, all(&m.call_forwards, call_forward));
    s.insert(Kind::Carrier, all(&m.carriers, plain));
    s.insert(Kind::DdiProvider, all(&m.ddi_providers, plain));
    s.insert(Kind::RatingProfile, all(&m.rating_profiles, rating_profile));
    for items in s.values_mut() {
        for i in items.iter_mut() {
            let mut v = Value::Object(std::mem::take(i));
            strip_nulls(&mut v);
            *i = object(v);
        }
    }
    d
}

impl Doc {
    pub fn items(&self, k: Kind) -> &[Item] {
        self.sections.get(&k).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn items_mut(&mut self, k: Kind) -> &mut Vec<Item> {
        self.sections.entry(k).or_default()
    }

    /// The position of the entity `id` of kind `k`.
    pub fn find(&self, k: Kind, id: &str) -> Option<usize> {
        self.items(k)
            .iter()
            .position(|i| k.id_of(i).as_deref() == Some(id))
    }

    /// The document as a provisioning file.
    pub fn render(&self) -> Result<Rendered, String> {
        let mut r = Rendered {
            text: String::new(),
            starts: Vec::new(),
        };
        let mut line = 1;
        for k in ALL {
            for (i, item) in self.items(k).iter().enumerate() {
                let mut v = Value::Object(item.clone());
                strip_nulls(&mut v);
                let value = toml::Value::try_from(v)
                    .map_err(|e| format!("{} {}: {}", k.section(), i + 1, e))?;
                let mut t = toml::Table::new();
                t.insert(k.section().into(), toml::Value::Array(vec![value]));
                let text =
                    toml::to_string(&t).map_err(|e| format!("{} {}: {}", k.section(), i + 1, e))?;
                r.starts.push((line, k, i));
                line += text.matches('\n').count() + 1;
                r.text.push_str(&text);
                r.text.push('\n');
            }
        }
        Ok(r)
    }

    /// Validates the document as a file would be: the model, or every error with the
    /// entity it is in.
    pub fn check(&self) -> Result<Checked, Vec<Located>> {
        self.check_with(&super::Context::default())
    }

    /// [`Doc::check`] for a server of which `ctx` is known.
    pub fn check_with(&self, ctx: &super::Context) -> Result<Checked, Vec<Located>> {
        let r = self.render().map_err(|e| {
            vec![Located {
                kind: None,
                id: None,
                error: ProvisionError {
                    line: 0,
                    col: 0,
                    key: "file".into(),
                    message: e,
                },
            }]
        })?;
        super::parse_with(&r.text, ctx).map_err(|errs| {
            errs.into_iter()
                .map(|error| {
                    let at = r.starts.iter().rev().find(|(l, _, _)| *l <= error.line);
                    let (kind, id) = match at {
                        Some(&(_, k, i)) => {
                            (Some(k), self.items(k).get(i).and_then(|x| k.id_of(x)))
                        }
                        None => (None, None),
                    };
                    Located { kind, id, error }
                })
                .collect()
        })
    }
}

/// `vozbox export`: the model as a provisioning file, with a header.
pub fn to_file(m: &Model) -> Result<String, String> {
    let r = doc(m).render()?;
    Ok(format!(
        "# vozbox provisioning file, written by `vozbox export`.\n\
         # It holds every secret of the model (terminal and friend passwords): keep it 0600.\n\n{}",
        r.text
    ))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn round_trip(text: &str) {
        round_trip_model(parse(text).unwrap().model);
    }

    fn round_trip_model(model: Model) {
        let file = to_file(&model).unwrap();
        let again = parse(&file)
            .unwrap_or_else(|e| panic!("{:?}\n{}", e, file))
            .model;
        assert_eq!(model, again, "{}", file);
    }

    #[test]
    fn every_test_file_exports_to_a_file_that_parses_to_the_same_model() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for e in std::fs::read_dir(dir.join("docs/examples"))
            .unwrap()
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                round_trip(&std::fs::read_to_string(&p).unwrap());
                n += 1;
            }
        }
        assert!(n >= 2);
        round_trip_model(super::super::demo::model("127.0.0.1"));
    }

    #[test]
    fn errors_name_the_entity_they_are_in() {
        let model = super::super::demo::model("127.0.0.1");
        let mut d = doc(&model);
        let users = d.items_mut(Kind::User);
        let alice = users[0].clone();
        let id = Kind::User.id_of(&alice).unwrap();
        users[0].insert("call_acl".into(), json!("nope"));
        let errs = d.check().unwrap_err();
        assert_eq!(errs.len(), 1, "{:?}", errs);
        assert_eq!(errs[0].kind, Some(Kind::User));
        assert_eq!(errs[0].id.as_deref(), Some(id.as_str()));
        assert_eq!(errs[0].error.key, "user.call_acl");
    }
}

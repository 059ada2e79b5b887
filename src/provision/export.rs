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

fn extension(e: &Extension) -> Item {
    if e.route == ExtensionRoute::Echo {
        return object(json!({"client": e.client, "number": e.number, "route": "echo"}));
    }
    let (route, key, value) = match &e.route {
        ExtensionRoute::User(u) => ("user", "user", u),
        ExtensionRoute::Number(n) => ("number", "target", n),
        ExtensionRoute::Friend(f) => ("friend", "friend", f),
        ExtensionRoute::Voicemail(u) => ("voicemail", "voicemail", u),
        ExtensionRoute::Ivr(i) => ("ivr", "ivr", i),
        ExtensionRoute::Locution(l) => ("locution", "locution", l),
        ExtensionRoute::Echo => unreachable!("handled above"),
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
            DdiRoute::Voicemail(u) => ("voicemail", "voicemail", u),
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
    m.insert("active_from".into(), json!(rfc3339(r.active_from)));
    match r.active_to {
        Some(t) => m.insert("active_to".into(), json!(rfc3339(t))),
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
    Doc {
        sections: ALL.into_iter().map(|k| (k, items(m, k))).collect(),
    }
}

/// The entities of one kind in the file's form (what a listing needs: not the whole model).
pub fn items(m: &Model, k: Kind) -> Vec<Item> {
    fn all<T>(xs: &[T], f: impl Fn(&T) -> Item) -> Vec<Item> {
        xs.iter().map(f).collect()
    }
    let mut items = match k {
        Kind::MediaRelaySet => all(&m.media_relay_sets, plain),
        Kind::Brand => all(&m.brands, plain),
        Kind::Corporation => all(&m.corporations, plain),
        Kind::Client => all(&m.clients, plain),
        Kind::CallAcl => all(&m.call_acls, plain),
        Kind::Ddi => all(&m.ddis, ddi),
        Kind::User => all(&m.users, plain),
        Kind::Friend => all(&m.friends, plain),
        // A user's own box is made again from the user: not written.
        Kind::Voicemail => m.voicemails.iter().filter(|x| !x.auto).map(plain).collect(),
        Kind::Extension => {
            // A user's own extension is its `extension` key, not an `[[extension]]` of its
            // own.
            let own: std::collections::HashSet<(&str, &str, &str)> = m
                .users
                .iter()
                .filter_map(|u| Some((u.client.as_str(), u.name.as_str(), u.extension.as_deref()?)))
                .collect();
            m.extensions
                .iter()
                .filter(|e| match &e.route {
                    ExtensionRoute::User(u) => {
                        !own.contains(&(e.client.as_str(), u.as_str(), e.number.as_str()))
                    }
                    _ => true,
                })
                .map(extension)
                .collect()
        }
        Kind::CallForward => all(&m.call_forwards, call_forward),
        Kind::Carrier => all(&m.carriers, plain),
        Kind::DdiProvider => all(&m.ddi_providers, plain),
        Kind::OutgoingRoute => all(&m.outgoing_routes, plain),
        Kind::RatingProfile => all(&m.rating_profiles, rating_profile),
    };
    for i in items.iter_mut() {
        let mut v = Value::Object(std::mem::take(i));
        strip_nulls(&mut v);
        *i = object(v);
    }
    items
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

    /// The document as a provisioning file; an entity that cannot be written is named.
    pub fn render(&self) -> Result<Rendered, Located> {
        let mut r = Rendered {
            text: String::new(),
            starts: Vec::new(),
        };
        let mut line = 1;
        for k in ALL {
            for (i, item) in self.items(k).iter().enumerate() {
                let fail = |e: &dyn std::fmt::Display| Located {
                    kind: Some(k),
                    id: k.id_of(item),
                    error: ProvisionError {
                        line: 0,
                        col: 0,
                        key: k.section().into(),
                        message: format!("cannot be written as TOML: {}", e),
                    },
                };
                let mut v = Value::Object(item.clone());
                strip_nulls(&mut v);
                let value = toml::Value::try_from(v).map_err(|e| fail(&e))?;
                let mut t = toml::Table::new();
                t.insert(k.section().into(), toml::Value::Array(vec![value]));
                let text = toml::to_string(&t).map_err(|e| fail(&e))?;
                r.starts.push((line, k, i));
                line += text.matches('\n').count() + 1;
                r.text.push_str(&text);
                r.text.push('\n');
            }
        }
        Ok(r)
    }

    /// Validates the document as a file would be: the model and its warnings, or every
    /// error; each with the entity it is in.
    pub fn check(&self) -> Result<(Checked, Vec<Located>), Vec<Located>> {
        self.check_with(&super::Context::default())
    }

    /// [`Doc::check`] for a server of which `ctx` is known.
    pub fn check_with(
        &self,
        ctx: &super::Context,
    ) -> Result<(Checked, Vec<Located>), Vec<Located>> {
        let r = self.render().map_err(|e| vec![e])?;
        let locate = |error: ProvisionError| {
            let at = r.starts.iter().rev().find(|(l, _, _)| *l <= error.line);
            let (kind, id) = match at {
                Some(&(_, k, i)) => (Some(k), self.items(k).get(i).and_then(|x| k.id_of(x))),
                None => (None, None),
            };
            Located { kind, id, error }
        };
        match super::parse_with(&r.text, ctx) {
            Ok(c) => {
                let warnings = c.warnings.iter().cloned().map(locate).collect();
                Ok((c, warnings))
            }
            Err(errs) => Err(errs.into_iter().map(locate).collect()),
        }
    }
}

/// `vozbox export`: the model and the administrators (their password hashes) as a
/// provisioning file, with a header.
pub fn to_file(m: &Model, admins: &[Admin]) -> Result<String, String> {
    let mut text = doc(m)
        .render()
        .map_err(|e| format!("{} {:?}: {}", e.error.key, e.id, e.error.message))?
        .text;
    for a in admins {
        let mut t = toml::Table::new();
        t.insert("name".into(), a.name.clone().into());
        t.insert("password_hash".into(), a.password_hash.clone().into());
        if let Some(c) = &a.client {
            t.insert("client".into(), c.clone().into());
        }
        if let Some(r) = &a.rights {
            let rights: toml::Table = r
                .iter()
                .map(|(k, v)| {
                    let level = if *v == Access::Write { "write" } else { "read" };
                    (k.clone(), toml::Value::from(level))
                })
                .collect();
            t.insert("rights".into(), toml::Value::Table(rights));
        }
        let mut doc = toml::Table::new();
        doc.insert(
            "admin".into(),
            toml::Value::Array(vec![toml::Value::Table(t)]),
        );
        text.push_str(&toml::to_string(&doc).map_err(|e| format!("admin {}: {}", a.name, e))?);
        text.push('\n');
    }
    Ok(format!(
        "# vozbox provisioning file, written by `vozbox export`.\n\
         # It holds every secret of the model (terminal and friend passwords, administrators'\n\
         # password hashes): keep it 0600.\n\n{}",
        text
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
        let admins = vec![
            Admin {
                name: "ann".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$qL8Y4pO8jYkTtP4nH2C2cRk7PZ9X7m5tq2N5m0eL1aQ".into(),
                client: model.clients.first().map(|c| c.name.clone()),
                rights: Some([("users".to_string(), Access::Write)].into()),
            },
            Admin {
                name: "root".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$qL8Y4pO8jYkTtP4nH2C2cRk7PZ9X7m5tq2N5m0eL1aQ".into(),
                client: None,
                rights: None,
            },
        ];
        let admins = if model.clients.is_empty() {
            admins[1..].to_vec()
        } else {
            admins
        };
        let file = to_file(&model, &admins).unwrap();
        let again = parse(&file).unwrap_or_else(|e| panic!("{:?}\n{}", e, file));
        assert_eq!(model, again.model, "{}", file);
        assert_eq!(admins, again.admins, "{}", file);
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

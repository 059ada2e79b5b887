//! An entity's form: its values as the form holds them (text), turned into the file's
//! form for the API and back, the API's validation errors placed next to the field their
//! key names (`user.extension` → the `extension` field), and the form's HTML.

use super::fields::{Field, Input};
use super::layout;
use super::who::{Session, CSRF_FIELD};
use crate::provision::export::Item;
use crate::provision::kinds::Kind;
use maud::{html, Markup};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The form's values by field name, as text (a ticked box: `on`).
pub type Raw = BTreeMap<String, String>;

/// Errors to show: per field, and those no field of this form names.
#[derive(Debug, Default)]
pub struct Errors {
    pub by_field: BTreeMap<String, Vec<String>>,
    pub general: Vec<String>,
}

impl Errors {
    pub fn field(name: &str, msg: impl Into<String>) -> Errors {
        let mut e = Errors::default();
        e.by_field.insert(name.to_string(), vec![msg.into()]);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }
}

/// A submitted form's values (the CSRF token aside).
pub fn raw_of_pairs(pairs: Vec<(String, String)>) -> Raw {
    pairs.into_iter().filter(|(k, _)| k != CSRF_FIELD).collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => String::new(),
        other => other.to_string(),
    }
}

/// An entity's values as its form shows them (passwords are not shown).
pub fn raw_of_item(fields: &[Field], item: &Item) -> Raw {
    fields
        .iter()
        .filter_map(|f| {
            let Some(v) = item.get(&f.name) else {
                return f.ticked.then(|| (f.name.clone(), "on".to_string()));
            };
            let t = match (f.input, v) {
                (Input::Secret, _) => return None,
                (Input::Lines, Value::Array(a)) => {
                    a.iter().map(text).collect::<Vec<_>>().join("\n")
                }
                (Input::Json, v) => serde_json::to_string_pretty(v).unwrap_or_default(),
                (_, v) => text(v),
            };
            Some((f.name.clone(), t))
        })
        .collect()
}

/// The form's values in the file's form. An empty text leaves its key out; an empty
/// password on an edit keeps `current`'s. Only a JSON list that is not JSON is refused
/// here: everything else is the provisioning validation's to judge.
pub fn item_of(fields: &[Field], raw: &Raw, current: Option<&Item>) -> Result<Item, Errors> {
    let mut item = Item::new();
    let mut errors = Errors::default();
    for f in fields {
        let value = raw.get(&f.name).map(|s| s.trim()).unwrap_or("");
        let v = match f.input {
            Input::Check => Some(json!(!value.is_empty())),
            _ if value.is_empty() => match (f.input, current) {
                (Input::Secret, Some(c)) => c.get(&f.name).cloned(),
                _ => None,
            },
            Input::Number => Some(match value.parse::<i64>() {
                Ok(n) => json!(n),
                // the validation names the key and the type it expects
                Err(_) => json!(value),
            }),
            Input::Lines => Some(json!(value
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>())),
            Input::Json => match serde_json::from_str::<Value>(value) {
                Ok(v @ Value::Array(_)) => Some(v),
                Ok(_) => {
                    errors.by_field.insert(
                        f.name.clone(),
                        vec!["expected a JSON list: [ {…}, … ]".into()],
                    );
                    None
                }
                Err(e) => {
                    errors
                        .by_field
                        .insert(f.name.clone(), vec![format!("not JSON: {}", e)]);
                    None
                }
            },
            Input::Text | Input::Secret | Input::Choice(_) => Some(json!(value)),
        };
        if let Some(v) = v {
            item.insert(f.name.clone(), v);
        }
    }
    if errors.is_empty() {
        Ok(item)
    } else {
        Err(errors)
    }
}

/// The field an error key of kind `k` names (`user.extension` → `extension`,
/// `call_acl.rules[1].pattern` → `rules`).
fn field_of_key(k: Kind, key: &str) -> Option<&str> {
    let rest = key.strip_prefix(k.section())?.strip_prefix('.')?;
    rest.split(['.', '[']).next().filter(|f| !f.is_empty())
}

/// The API's answer to a write (`{"errors": [{resource, id, key, message}]}` or
/// `{"error": …}`), placed on the fields of the form of entity `id` of kind `k`.
pub fn errors_of(k: Kind, fields: &[Field], id: Option<&str>, v: &Value) -> Errors {
    let mut out = Errors::default();
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        out.general.push(e.to_string());
    }
    for r in v
        .get("referrers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.general.push(describe(r));
    }
    for e in v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("invalid");
        let ours = e.get("resource").and_then(Value::as_str) == Some(k.plural())
            && e.get("id").and_then(Value::as_str) == id;
        let field = e
            .get("key")
            .and_then(Value::as_str)
            .and_then(|key| field_of_key(k, key))
            .filter(|f| fields.iter().any(|x| x.name == *f));
        match field.filter(|_| ours) {
            Some(f) => out
                .by_field
                .entry(f.to_string())
                .or_default()
                .push(message.to_string()),
            None => out.general.push(describe(e)),
        }
    }
    out
}

/// An error or referrer of another entity, as a line.
fn describe(e: &Value) -> String {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    let place = [s("resource"), s("id"), s("key")]
        .iter()
        .filter(|x| !x.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    match (place.is_empty(), s("message")) {
        (true, m) => m.to_string(),
        (false, "") => place,
        (false, m) => format!("{}: {}", place, m),
    }
}

/// What the form is for.
pub enum Mode {
    New,
    /// An existing entity: its id fields cannot change.
    Edit,
}

/// The form's surroundings: where it posts, what it may do, what it suggests.
pub struct Setting<'a> {
    pub kind: Kind,
    pub mode: Mode,
    pub action: String,
    /// Where its delete form posts (None: no delete).
    pub delete: Option<String>,
    /// The administrator may change it (else every control is disabled and no button shown).
    pub writable: bool,
    /// A client administrator's own client (its client field is fixed).
    pub own_client: Option<&'a str>,
    /// Names the reference fields suggest (field → names).
    pub suggestions: &'a BTreeMap<String, Vec<String>>,
}

fn locked(st: &Setting, f: &Field) -> bool {
    let is_id =
        st.kind.id_fields().iter().any(|id| {
            *id == f.name || (*id == "owner" && (f.name == "user" || f.name == "friend"))
        });
    (matches!(st.mode, Mode::Edit) && is_id)
        || (st.own_client.is_some() && st.kind.client_field() == Some(f.name.as_str()))
}

fn control(st: &Setting, f: &Field, value: &str, invalid: bool) -> Markup {
    let id = format!("f-{}", f.name);
    let err = format!("err-{}", f.name);
    let described = invalid.then_some(err.as_str());
    let disabled = !st.writable;
    let readonly = locked(st, f);
    let required = f.required && !matches!(f.input, Input::Secret | Input::Check) && !readonly;
    let list = st
        .suggestions
        .get(&f.name)
        .filter(|l| !l.is_empty() && !readonly)
        .map(|_| format!("dl-{}", f.name));
    html! {
        @match f.input {
            Input::Check => {
                input id=(id) type="checkbox" name=(f.name) checked[!value.is_empty()]
                    disabled[disabled || readonly] aria-describedby=[described];
                // a locked box still sends its value
                @if readonly && !value.is_empty() { input type="hidden" name=(f.name) value="on"; }
            }
            Input::Choice(options) => {
                @if readonly {
                    input id=(id) type="text" name=(f.name) value=(value) readonly disabled[disabled];
                } @else {
                    select id=(id) name=(f.name) disabled[disabled] required[required]
                        aria-invalid=[invalid.then_some("true")] aria-describedby=[described] {
                        @if !f.required { option value="" selected[value.is_empty()] { "—" } }
                        @for o in options.iter() { option value=(o) selected[*o == value] { (o) } }
                        // a value the list does not know is kept (the validation judges it)
                        @if !value.is_empty() && !options.contains(&value) {
                            option value=(value) selected { (value) }
                        }
                    }
                }
            }
            Input::Lines | Input::Json => {
                textarea id=(id) name=(f.name) disabled[disabled] readonly[readonly]
                    rows=(if f.input == Input::Json { 6 } else { 3 })
                    aria-invalid=[invalid.then_some("true")] aria-describedby=[described] { (value) }
            }
            Input::Secret => {
                input id=(id) type="password" name=(f.name) autocomplete="new-password"
                    disabled[disabled] required[f.required && matches!(st.mode, Mode::New)]
                    placeholder=[matches!(st.mode, Mode::Edit).then_some("unchanged")]
                    aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
            }
            Input::Number => {
                input id=(id) type="text" inputmode="numeric" name=(f.name) value=(value)
                    disabled[disabled] readonly[readonly] required[required]
                    aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
            }
            Input::Text => {
                input id=(id) type="text" name=(f.name) value=(value) list=[list.as_deref()]
                    disabled[disabled] readonly[readonly] required[required] autocomplete="off"
                    aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
            }
        }
    }
}

/// The form of one entity, with its errors.
pub fn render(s: &Session, st: &Setting, fields: &[Field], raw: &Raw, errors: &Errors) -> Markup {
    html! {
        @if !errors.general.is_empty() {
            div.alert.error role="alert" {
                "Not saved:"
                ul { @for e in &errors.general { li { (e) } } }
            }
        } @else if !errors.by_field.is_empty() {
            p.alert.error role="alert" { "Not saved: see the fields marked below." }
        }
        @if !st.writable {
            p.alert.info role="status" { "Read only: this administrator may not change " (layout::title(st.kind).to_lowercase()) "." }
        }
        form.entity.panel method="post" action=(st.action) {
            (layout::csrf(s))
            @for f in fields {
                @let value = raw.get(&f.name).map(String::as_str).unwrap_or("");
                @let errs = errors.by_field.get(&f.name);
                div.field.invalid[errs.is_some()] {
                    label for={ "f-" (f.name) } {
                        (f.name.replace('_', " "))
                        @if f.required { span.req aria-hidden="true" { "*" } }
                    }
                    div.control {
                        (control(st, f, value, errs.is_some()))
                        @if let Some(h) = f.hint { span.hint { (h) } }
                        @if let Some(errs) = errs {
                            span.error id={ "err-" (f.name) } { (errs.join("; ")) }
                        }
                    }
                }
            }
            @for (name, names) in st.suggestions {
                datalist id={ "dl-" (name) } { @for n in names { option value=(n) {} } }
            }
            @if st.writable {
                div.actions {
                    button.primary type="submit" {
                        @match st.mode { Mode::New => "Create", Mode::Edit => "Save" }
                    }
                    a.button href={ "/" (st.kind.plural()) } { "Cancel" }
                }
            }
        }
        @if let (true, Some(action)) = (st.writable, &st.delete) {
            form.actions method="post" action=(action)
                data-confirm={ "Delete this " (layout::one(st.kind)) "?" } {
                (layout::csrf(s))
                button.danger.delete type="submit" { "Delete " (layout::one(st.kind)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields;
    use super::*;

    #[test]
    fn form_values_become_the_files_form_and_errors_find_their_field() {
        let f = fields::of(Kind::User);
        let raw: Raw = [
            ("client", "bluebird"),
            ("name", " carol "),
            ("password", ""),
            ("extension", "102"),
            ("max_calls", "2"),
            ("allowed_codecs", "PCMU\n\n PCMA \n"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let current: Item = json!({"password": "Old-Secret-1"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let item = item_of(f, &raw, Some(&current)).unwrap();
        assert_eq!(item["name"], "carol");
        assert_eq!(item["password"], "Old-Secret-1");
        assert_eq!(item["max_calls"], 2);
        assert_eq!(item["allowed_codecs"], json!(["PCMU", "PCMA"]));
        assert!(!item.contains_key("email"));
        let back = raw_of_item(f, &item);
        assert_eq!(back["allowed_codecs"], "PCMU\nPCMA");
        assert!(!back.contains_key("password"));
        // unticked stays unticked; a user read without `voicemail` has its box
        assert_eq!(item["voicemail"], false);
        assert_eq!(back["voicemail"], "");
        let bob: Item = json!({"client": "bluebird", "name": "bob"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(raw_of_item(f, &bob)["voicemail"], "on");
        let answer = json!({"errors": [
            {"resource": "users", "id": "bluebird/carol", "key": "user.extension", "message": "taken"},
            {"resource": "users", "id": "bluebird/alice", "key": "user.extension", "message": "other"},
            {"message": "an entity of another client"},
        ]});
        let e = errors_of(Kind::User, f, Some("bluebird/carol"), &answer);
        assert_eq!(e.by_field["extension"], vec!["taken".to_string()]);
        assert_eq!(e.general.len(), 2, "{:?}", e);
        assert_eq!(
            field_of_key(Kind::CallAcl, "call_acl.rules[1].pattern"),
            Some("rules")
        );
        assert_eq!(field_of_key(Kind::User, "user"), None);
        let acl = fields::of(Kind::CallAcl);
        let raw: Raw = [("rules".to_string(), "{".to_string())].into();
        assert!(item_of(acl, &raw, None)
            .unwrap_err()
            .by_field
            .contains_key("rules"));
    }
}

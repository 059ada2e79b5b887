//! The kinds of provisioned entity, as the provisioning file and the API name them: the
//! file's section (`[[user]]`), the API's collection (`/api/users`), the fields that
//! identify one, and the field naming the client it belongs to.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    MediaRelaySet,
    Brand,
    Corporation,
    Client,
    CallAcl,
    Ddi,
    User,
    Friend,
    Voicemail,
    Extension,
    CallForward,
    Carrier,
    DdiProvider,
    OutgoingRoute,
    RatingProfile,
}

/// Every kind, in the order a provisioning file is written (references point backwards).
pub const ALL: [Kind; 15] = [
    Kind::MediaRelaySet,
    Kind::Brand,
    Kind::Corporation,
    Kind::Client,
    Kind::CallAcl,
    Kind::Ddi,
    Kind::User,
    Kind::Friend,
    Kind::Voicemail,
    Kind::Extension,
    Kind::CallForward,
    Kind::Carrier,
    Kind::DdiProvider,
    Kind::OutgoingRoute,
    Kind::RatingProfile,
];

impl Kind {
    /// The provisioning file's section (`[[section]]`), also the prefix of error keys.
    pub fn section(self) -> &'static str {
        match self {
            Kind::MediaRelaySet => "media_relay_set",
            Kind::Brand => "brand",
            Kind::Corporation => "corporation",
            Kind::Client => "client",
            Kind::CallAcl => "call_acl",
            Kind::Ddi => "ddi",
            Kind::User => "user",
            Kind::Friend => "friend",
            Kind::Voicemail => "voicemail",
            Kind::Extension => "extension",
            Kind::CallForward => "call_forward",
            Kind::Carrier => "carrier",
            Kind::DdiProvider => "ddi_provider",
            Kind::OutgoingRoute => "outgoing_route",
            Kind::RatingProfile => "rating_profile",
        }
    }

    /// The API's collection name (`/api/<plural>`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::MediaRelaySet => "media_relay_sets",
            Kind::Brand => "brands",
            Kind::Corporation => "corporations",
            Kind::Client => "clients",
            Kind::CallAcl => "call_acls",
            Kind::Ddi => "ddis",
            Kind::User => "users",
            Kind::Friend => "friends",
            Kind::Voicemail => "voicemails",
            Kind::Extension => "extensions",
            Kind::CallForward => "call_forwards",
            Kind::Carrier => "carriers",
            Kind::DdiProvider => "ddi_providers",
            Kind::OutgoingRoute => "outgoing_routes",
            Kind::RatingProfile => "rating_profiles",
        }
    }

    pub fn from_plural(p: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.plural() == p)
    }

    /// The fields whose values, joined by `/`, identify one entity of the kind (and are the
    /// segments of its API path). A call forward is identified by its owner (the `user` or
    /// `friend` field, one name space in a client), its type and its call type.
    pub fn id_fields(self) -> &'static [&'static str] {
        match self {
            Kind::MediaRelaySet | Kind::Brand | Kind::Corporation | Kind::Client => &["name"],
            Kind::Ddi => &["number"],
            Kind::Extension => &["client", "number"],
            Kind::CallForward => &["client", "owner", "forward_type", "call_type"],
            Kind::Carrier | Kind::DdiProvider | Kind::OutgoingRoute => &["brand", "name"],
            Kind::CallAcl | Kind::User | Kind::Friend | Kind::Voicemail | Kind::RatingProfile => {
                &["client", "name"]
            }
        }
    }

    /// The field naming the client an entity belongs to; `None` for the operator's own
    /// entities (brands, carriers, relay sets, …).
    pub fn client_field(self) -> Option<&'static str> {
        match self {
            Kind::Client => Some("name"),
            Kind::CallAcl
            | Kind::Ddi
            | Kind::User
            | Kind::Friend
            | Kind::Voicemail
            | Kind::Extension
            | Kind::CallForward
            | Kind::RatingProfile => Some("client"),
            _ => None,
        }
    }

    /// The value of one id field of `item` (text, as written in a path).
    pub fn id_part(self, item: &Map<String, Value>, field: &str) -> Option<String> {
        let v = if self == Kind::CallForward && field == "owner" {
            item.get("user").or_else(|| item.get("friend"))?
        } else {
            item.get(field)?
        };
        match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The id of `item` (`client/name`, …), when it has every id field.
    pub fn id_of(self, item: &Map<String, Value>) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .id_fields()
            .iter()
            .map(|f| self.id_part(item, f))
            .collect();
        parts.map(|p| p.join("/"))
    }

    /// The client `item` belongs to.
    pub fn client_of(self, item: &Map<String, Value>) -> Option<String> {
        let f = self.client_field()?;
        item.get(f)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_ids() {
        for k in ALL {
            assert_eq!(Kind::from_plural(k.plural()), Some(k));
        }
        let user = json!({"client": "bluebird", "name": " alice ", "password": "x"});
        let user = user.as_object().unwrap();
        assert_eq!(Kind::User.id_of(user).as_deref(), Some("bluebird/alice"));
        assert_eq!(Kind::User.client_of(user).as_deref(), Some("bluebird"));
        assert_eq!(Kind::Brand.client_of(user), None);
        let cf =
            json!({"client": "b", "friend": "pbx", "forward_type": "busy", "call_type": "any"});
        assert_eq!(
            Kind::CallForward.id_of(cf.as_object().unwrap()).as_deref(),
            Some("b/pbx/busy/any")
        );
        assert_eq!(
            Kind::User.id_of(json!({"client": "b"}).as_object().unwrap()),
            None
        );
    }
}

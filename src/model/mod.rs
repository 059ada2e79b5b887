//! The domain (DESIGN §3): plain data, validated by `provision`, stored by `store`.

pub mod admin;
pub mod binding;
pub mod brand;
pub mod call_acl;
pub mod call_forward;
pub mod carrier;
pub mod cdr;
pub mod client;
pub mod ddi;
pub mod extension;
pub mod friend;
pub mod mail;
pub mod media_relay_set;
pub mod outgoing_route;
pub mod rating_profile;
pub mod recording;
pub mod service_codes;
pub mod trust;
pub mod user;
pub mod voicemail;

pub use admin::{Access, Admin, AuditEntry};
pub use binding::{Binding, BindingOwner};
pub use brand::{Brand, Corporation};
pub use call_acl::{AclRule, CallAcl, Policy};
pub use call_forward::{CallForward, CallType, ForwardOwner, ForwardTarget, ForwardType};
pub use carrier::{Carrier, DdiProvider};
pub use cdr::Cdr;
pub use client::{BillingMethod, Client};
pub use ddi::{Ddi, DdiRoute};
pub use extension::{Extension, ExtensionRoute};
pub use friend::{Friend, FriendMode};
pub use mail::Mail;
pub use media_relay_set::MediaRelaySet;
pub use outgoing_route::OutgoingRoute;
pub use rating_profile::{Rate, RatingProfile};
pub use recording::Recording;
pub use user::User;
pub use voicemail::{Voicemail, VoicemailMessage};

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A time as RFC 3339 UTC (`2026-12-05T10:00:00Z`), from seconds since the epoch.
pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// A zero left out when a model is written (`qualify_interval`: off).
pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Every provisioned entity: what a provisioning file describes and the store holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub brands: Vec<Brand>,
    pub corporations: Vec<Corporation>,
    pub clients: Vec<Client>,
    pub users: Vec<User>,
    pub extensions: Vec<Extension>,
    pub friends: Vec<Friend>,
    pub call_acls: Vec<CallAcl>,
    pub call_forwards: Vec<CallForward>,
    pub ddis: Vec<Ddi>,
    pub carriers: Vec<Carrier>,
    pub ddi_providers: Vec<DdiProvider>,
    pub media_relay_sets: Vec<MediaRelaySet>,
    pub rating_profiles: Vec<RatingProfile>,
    #[serde(default)]
    pub voicemails: Vec<Voicemail>,
    #[serde(default)]
    pub outgoing_routes: Vec<OutgoingRoute>,
}

/// A read-only view of the model with the indices the hot paths need. Replaced whole
/// (never mutated) when a provisioning file is applied.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub model: Model,
    client_by_domain: HashMap<String, usize>,
    /// client → user name → index (looked up by `&str`, no allocation per request)
    user_by_name: HashMap<String, HashMap<String, usize>>,
    friend_by_name: HashMap<String, HashMap<String, usize>>,
    client_by_name: HashMap<String, usize>,
    /// client → extension number → index
    extension_by_number: HashMap<String, HashMap<String, usize>>,
    /// client → its friends' indices ordered by (priority, name): the order routing tries them
    friends_in_order: HashMap<String, Vec<usize>>,
    /// parallel to `model.friends`: each pattern compiled once, anchored as `^(?:p)$`
    friend_patterns: Vec<Vec<Regex>>,
    /// client → ACL name → index
    acl_by_name: HashMap<String, HashMap<String, usize>>,
    /// parallel to `model.call_acls`: the rules ordered by priority, compiled once
    acl_rules: Vec<Vec<CompiledAclRule>>,
    /// E.164 number → index (DDI numbers are unique across clients)
    ddi_by_number: HashMap<String, usize>,
    /// brand → index of its first carrier by name
    carrier_by_brand: HashMap<String, usize>,
    /// brand → indices of its carriers by name
    carriers_by_brand: HashMap<String, Vec<usize>>,
    /// brand → indices of its outgoing routes
    outgoing_by_brand: HashMap<String, Vec<usize>>,
    /// client → indices of its rating profiles
    rating_by_client: HashMap<String, Vec<usize>>,
    /// Addresses and ranges of the trusted peers (`trust.rs`), exempt from rate limits.
    trusted: Vec<ipnet::IpNet>,
    /// client → its time zone (found once: the rates' bands and "today" are read in it)
    tz_by_client: HashMap<String, jiff::tz::TimeZone>,
    /// client → voicemail box name → index
    voicemail_by_name: HashMap<String, HashMap<String, usize>>,
    /// (client, owner, owner is a friend) → index of its box
    voicemail_by_owner: HashMap<(String, String, bool), usize>,
}

/// One rule of a call ACL with its pattern compiled (see [`Snapshot::call_acl`]).
#[derive(Debug, Clone)]
pub struct CompiledAclRule {
    pub priority: u32,
    pub policy: Policy,
    /// The pattern as written (unanchored: `^`/`$` in it anchor it). `None` when it does not
    /// compile — provisioning rejects such patterns, so this only happens with a model that
    /// bypassed validation; routing refuses a call that reaches such a rule (fail closed).
    pub regex: Option<Regex>,
}

/// A friend pattern matches the whole dialled number: compiled as `^(?:p)$`.
fn anchored(p: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{})$", p)).ok()
}

/// A credential that may REGISTER: a terminal or a register-mode friend.
#[derive(Debug, Clone, Copy)]
pub enum Registrant<'a> {
    Terminal(&'a User),
    Friend(&'a Friend),
}

impl Registrant<'_> {
    pub fn password(&self) -> &str {
        match self {
            Registrant::Terminal(u) => &u.password,
            Registrant::Friend(f) => f.password.as_deref().unwrap_or(""),
        }
    }
    pub fn owner(&self) -> BindingOwner {
        match self {
            Registrant::Terminal(_) => BindingOwner::Terminal,
            Registrant::Friend(_) => BindingOwner::Friend,
        }
    }
}

impl Snapshot {
    /// Whether `ip` is a carrier's, a DDI provider's or a password-less direct friend's
    /// (whatever the port).
    pub fn is_trusted_address(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    pub fn new(model: Model) -> Snapshot {
        let mut s = Snapshot {
            client_by_domain: HashMap::new(),
            user_by_name: HashMap::new(),
            friend_by_name: HashMap::new(),
            client_by_name: HashMap::new(),
            extension_by_number: HashMap::new(),
            friends_in_order: HashMap::new(),
            friend_patterns: Vec::new(),
            acl_by_name: HashMap::new(),
            acl_rules: Vec::new(),
            ddi_by_number: HashMap::new(),
            carrier_by_brand: HashMap::new(),
            carriers_by_brand: HashMap::new(),
            outgoing_by_brand: HashMap::new(),
            rating_by_client: HashMap::new(),
            trusted: Vec::new(),
            tz_by_client: HashMap::new(),
            voicemail_by_name: HashMap::new(),
            voicemail_by_owner: HashMap::new(),
            model,
        };
        for c in &s.model.clients {
            // provisioning refuses an unknown zone; one that vanished from the system's
            // database since counts as UTC
            let tz = jiff::tz::TimeZone::get(&c.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
            s.tz_by_client.insert(c.name.clone(), tz);
        }
        s.trusted = trust::trusted_networks(&s.model);
        for (i, c) in s.model.clients.iter().enumerate() {
            s.client_by_name.insert(c.name.clone(), i);
        }
        for (i, e) in s.model.extensions.iter().enumerate() {
            s.extension_by_number
                .entry(e.client.clone())
                .or_default()
                .insert(e.number.clone(), i);
        }
        for (i, f) in s.model.friends.iter().enumerate() {
            s.friends_in_order
                .entry(f.client.clone())
                .or_default()
                .push(i);
        }
        let friends = &s.model.friends;
        for v in s.friends_in_order.values_mut() {
            v.sort_by(|&a, &b| {
                (friends[a].priority, &friends[a].name)
                    .cmp(&(friends[b].priority, &friends[b].name))
            });
        }
        // An invalid pattern (rejected by provisioning) is dropped: it matches nothing.
        s.friend_patterns = friends
            .iter()
            .map(|f| f.patterns.iter().filter_map(|p| anchored(p)).collect())
            .collect();
        for (i, a) in s.model.call_acls.iter().enumerate() {
            s.acl_by_name
                .entry(a.client.clone())
                .or_default()
                .insert(a.name.clone(), i);
        }
        s.acl_rules = s
            .model
            .call_acls
            .iter()
            .map(|a| {
                let mut rules: Vec<CompiledAclRule> = a
                    .rules
                    .iter()
                    .map(|r| CompiledAclRule {
                        priority: r.priority,
                        policy: r.policy,
                        regex: Regex::new(&r.pattern).ok(),
                    })
                    .collect();
                // Stable: rules of equal priority keep their written order.
                rules.sort_by_key(|r| r.priority);
                rules
            })
            .collect();
        for (i, d) in s.model.ddis.iter().enumerate() {
            s.ddi_by_number.insert(d.number.clone(), i);
        }
        for (i, c) in s.model.carriers.iter().enumerate() {
            let carriers = &s.model.carriers;
            s.carrier_by_brand
                .entry(c.brand.clone())
                .and_modify(|j| {
                    if c.name < carriers[*j].name {
                        *j = i;
                    }
                })
                .or_insert(i);
            s.carriers_by_brand
                .entry(c.brand.clone())
                .or_default()
                .push(i);
        }
        for v in s.carriers_by_brand.values_mut() {
            let carriers = &s.model.carriers;
            v.sort_by(|a, b| carriers[*a].name.cmp(&carriers[*b].name));
        }
        for (i, r) in s.model.outgoing_routes.iter().enumerate() {
            s.outgoing_by_brand
                .entry(r.brand.clone())
                .or_default()
                .push(i);
        }
        for (i, r) in s.model.rating_profiles.iter().enumerate() {
            s.rating_by_client
                .entry(r.client.clone())
                .or_default()
                .push(i);
        }
        for (i, c) in s.model.clients.iter().enumerate() {
            s.client_by_domain.insert(c.domain.to_ascii_lowercase(), i);
        }
        for (i, u) in s.model.users.iter().enumerate() {
            s.user_by_name
                .entry(u.client.clone())
                .or_default()
                .insert(u.name.clone(), i);
        }
        for (i, v) in s.model.voicemails.iter().enumerate() {
            s.voicemail_by_name
                .entry(v.client.clone())
                .or_default()
                .insert(v.name.clone(), i);
            let owner = match (&v.user, &v.friend) {
                (Some(u), _) => Some((u.clone(), false)),
                (None, Some(f)) => Some((f.clone(), true)),
                (None, None) => None,
            };
            if let Some((o, friend)) = owner {
                s.voicemail_by_owner
                    .entry((v.client.clone(), o, friend))
                    .or_insert(i);
            }
        }
        for (i, f) in s.model.friends.iter().enumerate() {
            s.friend_by_name
                .entry(f.client.clone())
                .or_default()
                .insert(f.name.clone(), i);
        }
        s
    }

    pub fn client_by_domain(&self, domain: &str) -> Option<&Client> {
        let i = if domain.bytes().any(|b| b.is_ascii_uppercase()) {
            self.client_by_domain.get(&domain.to_ascii_lowercase())
        } else {
            self.client_by_domain.get(domain)
        };
        i.map(|&i| &self.model.clients[i])
    }

    pub fn user(&self, client: &str, name: &str) -> Option<&User> {
        self.user_by_name
            .get(client)
            .and_then(|m| m.get(name))
            .map(|&i| &self.model.users[i])
    }

    pub fn friend(&self, client: &str, name: &str) -> Option<&Friend> {
        self.friend_by_name
            .get(client)
            .and_then(|m| m.get(name))
            .map(|&i| &self.model.friends[i])
    }

    pub fn client(&self, name: &str) -> Option<&Client> {
        self.client_by_name
            .get(name)
            .map(|&i| &self.model.clients[i])
    }

    /// The extension `number` of `client`.
    pub fn extension(&self, client: &str, number: &str) -> Option<&Extension> {
        self.extension_by_number
            .get(client)
            .and_then(|m| m.get(number))
            .map(|&i| &self.model.extensions[i])
    }

    /// The friends of `client` in routing order (priority ascending, ties by name), each
    /// with its patterns compiled to match the whole number.
    pub fn friends_by_priority(&self, client: &str) -> impl Iterator<Item = (&Friend, &[Regex])> {
        self.friends_in_order
            .get(client)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| (&self.model.friends[i], self.friend_patterns[i].as_slice()))
    }

    /// The call ACL `name` of `client`, with its rules compiled and ordered by priority.
    pub fn call_acl(&self, client: &str, name: &str) -> Option<(&CallAcl, &[CompiledAclRule])> {
        self.acl_by_name
            .get(client)
            .and_then(|m| m.get(name))
            .map(|&i| (&self.model.call_acls[i], self.acl_rules[i].as_slice()))
    }

    /// The DDI with this exact E.164 number.
    pub fn ddi(&self, number: &str) -> Option<&Ddi> {
        self.ddi_by_number.get(number).map(|&i| &self.model.ddis[i])
    }

    /// The carrier external calls of `brand` go through: its first carrier by name.
    pub fn carrier_of_brand(&self, brand: &str) -> Option<&Carrier> {
        self.carrier_by_brand
            .get(brand)
            .map(|&i| &self.model.carriers[i])
    }

    /// The carriers of `brand`, by name.
    pub fn carriers_of_brand(&self, brand: &str) -> impl Iterator<Item = &Carrier> {
        self.carriers_by_brand
            .get(brand)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.model.carriers[i])
    }

    /// The carrier `name` of `brand`.
    pub fn carrier(&self, brand: &str, name: &str) -> Option<&Carrier> {
        self.carriers_of_brand(brand).find(|c| c.name == name)
    }

    /// The outgoing routes of `brand`, as provisioned.
    pub fn outgoing_routes(&self, brand: &str) -> impl Iterator<Item = &OutgoingRoute> {
        self.outgoing_by_brand
            .get(brand)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.model.outgoing_routes[i])
    }

    /// The rating profiles of `client` (active or not).
    pub fn rating_profiles(&self, client: &str) -> impl Iterator<Item = &RatingProfile> {
        self.rating_by_client
            .get(client)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.model.rating_profiles[i])
    }

    /// The time zone of `client` (UTC for an unknown client).
    pub fn timezone(&self, client: &str) -> jiff::tz::TimeZone {
        self.tz_by_client
            .get(client)
            .cloned()
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The voicemail box `name` of `client`.
    pub fn voicemail(&self, client: &str, name: &str) -> Option<&Voicemail> {
        self.voicemail_by_name
            .get(client)
            .and_then(|m| m.get(name))
            .map(|&i| &self.model.voicemails[i])
    }

    /// The voicemail box a user or friend of `client` owns (`friend` says which).
    pub fn voicemail_of(&self, client: &str, owner: &str, friend: bool) -> Option<&Voicemail> {
        self.voicemail_by_owner
            .get(&(client.to_string(), owner.to_string(), friend))
            .map(|&i| &self.model.voicemails[i])
    }

    /// The terminal or register-mode friend of `client` called `name`.
    pub fn registrant(&self, client: &str, name: &str) -> Option<Registrant<'_>> {
        if let Some(u) = self.user(client, name) {
            return Some(Registrant::Terminal(u));
        }
        self.friend(client, name)
            .filter(|f| f.mode == FriendMode::Register)
            .map(Registrant::Friend)
    }
}

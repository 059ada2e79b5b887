//! The domain (DESIGN §3): plain data, validated by `provision`, stored by `store`.

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
pub mod media_relay_set;
pub mod rating_profile;
pub mod user;

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
pub use media_relay_set::MediaRelaySet;
pub use rating_profile::{Rate, RatingProfile};
pub use user::User;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    pub fn new(model: Model) -> Snapshot {
        let mut s = Snapshot {
            client_by_domain: HashMap::new(),
            user_by_name: HashMap::new(),
            friend_by_name: HashMap::new(),
            model,
        };
        for (i, c) in s.model.clients.iter().enumerate() {
            s.client_by_domain.insert(c.domain.to_ascii_lowercase(), i);
        }
        for (i, u) in s.model.users.iter().enumerate() {
            s.user_by_name
                .entry(u.client.clone())
                .or_default()
                .insert(u.name.clone(), i);
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

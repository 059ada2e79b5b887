use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRule {
    pub priority: u32,
    pub policy: Policy,
    pub pattern: String,
}

/// Which external numbers a user or friend may call: rules by priority, first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAcl {
    pub client: String,
    pub name: String,
    pub default_policy: Policy,
    pub rules: Vec<AclRule>,
}

use serde::{Deserialize, Serialize};

/// A voicemail box of a client (`[[voicemail]]`): owned by a user or a friend (or nobody:
/// reached only through an extension or DDI route). Every user has one named after it
/// (`auto`) unless `voicemail = false` on the user or a box of its own is provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voicemail {
    pub client: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A new message is mailed to `email`.
    #[serde(default)]
    pub send_mail: bool,
    /// The mail carries the message's WAV.
    #[serde(default = "yes")]
    pub attach_sound: bool,
    /// Digits asked by `*93<extension>` from another phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// A locution played instead of the recorded or default greeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Messages it keeps at most (0: no limit); a full box answers busy.
    #[serde(default = "hundred")]
    pub max_messages: u32,
    /// Made for a user by provisioning (not written back by `vozbox export`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

impl Voicemail {
    /// The box a user gets by default: named after it, its e-mail (mailed when it has one).
    pub fn of_user(u: &super::User) -> Voicemail {
        Voicemail {
            client: u.client.clone(),
            name: u.name.clone(),
            user: Some(u.name.clone()),
            friend: None,
            email: u.email.clone(),
            send_mail: u.email.is_some(),
            attach_sound: true,
            pin: None,
            greeting: None,
            enabled: true,
            max_messages: hundred(),
            auto: true,
        }
    }
}

fn yes() -> bool {
    true
}

fn hundred() -> u32 {
    100
}

/// One message left in a voicemail box (the store's `voicemail_messages`; the WAV file is
/// `<storage>/voicemail/<id>.wav`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailMessage {
    pub id: u64,
    pub client: String,
    pub mailbox: String,
    /// The caller's number (user part of its identity) and display name.
    pub caller: String,
    #[serde(default)]
    pub caller_name: String,
    /// Milliseconds since the epoch.
    pub received: u64,
    pub duration_ms: u64,
    /// Not listened to yet.
    pub new: bool,
}

//! `[smtp]`: the server e-mail notifications go through (`src/mail/`), and their
//! templates.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// Host name or address of the SMTP server; "" sends no e-mail.
    pub server: String,
    pub port: u16,
    /// "none" (plain), "starttls" or "tls" (implicit TLS, port 465).
    pub security: String,
    /// Credentials, when the server wants them ("": none).
    pub username: String,
    pub password: String,
    /// The sender of every notification.
    pub from: String,
    /// The max daily usage notification: `${MAXDAILYUSAGE_COMPANY}` is the client's name,
    /// `${MAXDAILYUSAGE_AMOUNT}` its limit with the currency.
    pub max_daily_usage_subject: String,
    pub max_daily_usage_body: String,
    /// A new voicemail message (a client's own template wins): `${VM_NAME}` the mailbox,
    /// `${VM_DATE}` when, `${VM_DUR}` its length (m:ss), `${VM_CIDNAME}` and `${VM_CIDNUM}`
    /// the caller's name and number, `${VM_MSGNUM}` its number in the mailbox.
    pub voicemail_subject: String,
    pub voicemail_body: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            voicemail_subject: "New voicemail ${VM_MSGNUM} from ${VM_CIDNUM} in ${VM_NAME}".into(),
            voicemail_body: "Dear ${VM_NAME},\n\nyou have a new voicemail message (number ${VM_MSGNUM}) of ${VM_DUR} from ${VM_CIDNAME} <${VM_CIDNUM}>, left on ${VM_DATE}.\n".into(),
            server: String::new(),
            port: 25,
            security: "none".into(),
            username: String::new(),
            password: String::new(),
            from: "vozbox@localhost".into(),
            max_daily_usage_subject: "Max daily usage reached: ${MAXDAILYUSAGE_COMPANY}".into(),
            max_daily_usage_body: "The client ${MAXDAILYUSAGE_COMPANY} has reached its max daily usage of ${MAXDAILYUSAGE_AMOUNT}.\nIts external calls are refused until midnight in its time zone, or until the limit is raised.\n".into(),
        }
    }
}

impl Smtp {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !["none", "starttls", "tls"].contains(&self.security.as_str()) {
            return Err(("security", "expected none, starttls or tls".into()));
        }
        if self.port == 0 {
            return Err(("port", "expected a port above 0".into()));
        }
        if !self.from.contains('@') {
            return Err(("from", "expected an e-mail address".into()));
        }
        if self.username.is_empty() != self.password.is_empty() {
            return Err((
                "password",
                "expected both username and password, or neither".into(),
            ));
        }
        Ok(())
    }
}

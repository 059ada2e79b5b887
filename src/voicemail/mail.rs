//! The e-mail that announces a new message: `[smtp]`'s template (or the client's own) with
//! the message's variables, the WAV attached as `msg0001.wav` when the mailbox says so.

use crate::config::Smtp;
use crate::mail::render;
use crate::model::mail::Attachment;
use crate::model::{Client, Mail};
use std::path::Path;

pub struct Vars<'a> {
    pub name: &'a str,
    pub date: &'a str,
    pub duration: &'a str,
    pub caller_name: &'a str,
    pub caller_number: &'a str,
    /// The message's number in its mailbox (1 = the oldest).
    pub number: usize,
}

/// When a message was left, in the client's time zone (`2026-12-05 14:03 CET`).
pub fn date(ms: u64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms as i64)
        .map(|t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default()
}

pub fn message(
    smtp: &Smtp,
    client: Option<&Client>,
    to: &str,
    v: &Vars,
    attach: Option<(&Path, usize)>,
) -> Mail {
    let number = v.number.to_string();
    let caller_name = if v.caller_name.is_empty() {
        v.caller_number
    } else {
        v.caller_name
    };
    let vars = [
        ("VM_NAME", v.name),
        ("VM_DATE", v.date),
        ("VM_DUR", v.duration),
        ("VM_CIDNAME", caller_name),
        ("VM_CIDNUM", v.caller_number),
        ("VM_MSGNUM", number.as_str()),
    ];
    let subject = client
        .and_then(|c| c.voicemail_subject.as_deref())
        .unwrap_or(&smtp.voicemail_subject);
    let body = client
        .and_then(|c| c.voicemail_body.as_deref())
        .unwrap_or(&smtp.voicemail_body);
    Mail {
        to: to.to_string(),
        subject: render(subject, &vars),
        body: render(body, &vars),
        attachment: attach.map(|(path, n)| Attachment {
            path: path.display().to_string(),
            name: format!("msg{:04}.wav", n),
            content_type: "audio/x-wav".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_filled() {
        let smtp = Smtp::default();
        let v = Vars {
            name: "alice",
            date: "2026-12-05 14:03 UTC",
            duration: "0:05",
            caller_name: "Bob",
            caller_number: "101",
            number: 3,
        };
        let m = message(
            &smtp,
            None,
            "alice@example.com",
            &v,
            Some((Path::new("/x/7.wav"), 3)),
        );
        assert_eq!(m.subject, "New voicemail 3 from 101 in alice");
        assert!(
            m.body
                .contains("(number 3) of 0:05 from Bob <101>, left on 2026-12-05 14:03 UTC"),
            "{}",
            m.body
        );
        let a = m.attachment.unwrap();
        assert_eq!(
            (a.name.as_str(), a.content_type.as_str()),
            ("msg0003.wav", "audio/x-wav")
        );
        assert_eq!(date(0, &jiff::tz::TimeZone::UTC), "1970-01-01 00:00 UTC");
    }
}

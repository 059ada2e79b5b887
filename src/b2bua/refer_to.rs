//! `Refer-To` of a REFER (RFC 3515 §2.1): the number a blind transfer routes, or the
//! dialog an attended one replaces (RFC 3891 `Replaces` as a URI header).

use crate::sip::headers::{percent_decode, uri_user, NameAddr};
use crate::sip::message::Message;
use crate::sip::uri::Scheme;

/// `Refer-To`: the number to route, or the dialog its `Replaces` names (call-ID, tags).
#[derive(Debug, PartialEq, Eq)]
pub enum ReferTo {
    Blind(String),
    Replaces(String, (String, String)),
}

/// Reads the one `Refer-To` of a REFER (None: missing, several, or not a SIP or tel URI;
/// a `Replaces` without both tags).
pub fn refer_to(msg: &Message) -> Option<ReferTo> {
    // (its compact form `r` too)
    let mut all = msg.all("Refer-To");
    let value = all.next()?;
    if all.next().is_some() {
        return None;
    }
    let uri = NameAddr::parse(value).ok()?.uri().ok()?;
    if !matches!(uri.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
        return None;
    }
    let replaces = uri
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Replaces"));
    let Some((_, r)) = replaces else {
        let user = uri_user(&uri).unwrap_or_default();
        return Some(ReferTo::Blind(percent_decode(&user)));
    };
    let r = percent_decode(r);
    let mut parts = r.split(';');
    let call_id = parts.next()?.trim().to_string();
    let (mut to, mut from) = (None, None);
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("to-tag") => to = Some(v.trim()),
            Some((k, v)) if k.trim().eq_ignore_ascii_case("from-tag") => from = Some(v.trim()),
            _ => {}
        }
    }
    let (to, from) = (to?, from?);
    if call_id.is_empty() || to.is_empty() || from.is_empty() {
        return None;
    }
    Some(ReferTo::Replaces(
        call_id,
        (to.to_string(), from.to_string()),
    ))
}

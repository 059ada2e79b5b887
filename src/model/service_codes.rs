//! Service codes (`*…`): vozbox's own numbering (`80`–`83` the forwards, `93` voicemail)
//! and a client's own codes in its place (`service_codes`). A pure mapping: what a phone
//! dialled after the `*`, in vozbox's numbering, or nothing when it is no code in effect
//! for the client (a default the client replaced included); and the check provisioning
//! runs on a client's codes. Here, below routing and provisioning, as both ask it.

use std::collections::BTreeMap;

/// Each service by its `service_codes` key, with its default code.
pub const SERVICES: [(&str, &str); 5] = [
    ("forward_unconditional", "80"),
    ("forward_busy", "81"),
    ("forward_no_answer", "82"),
    ("forward_not_registered", "83"),
    ("voicemail", "93"),
];

/// The code in effect for each service of a client.
pub fn in_effect(own: &BTreeMap<String, String>) -> Vec<(&'static str, &str, &'static str)> {
    SERVICES
        .iter()
        .map(|&(name, default)| {
            let code = own.get(name).map(String::as_str).unwrap_or(default);
            (name, code, default)
        })
        .collect()
}

/// `dialled` (without its `*`) in vozbox's numbering: the client's code replaced by the
/// default one, what follows kept.
pub fn canonical(own: &BTreeMap<String, String>, dialled: &str) -> Option<String> {
    // the longest code first: a code may be the start of another service's argument
    let mut codes = in_effect(own);
    codes.sort_by_key(|(_, code, _)| std::cmp::Reverse(code.len()));
    codes
        .into_iter()
        .find_map(|(_, code, default)| Some(format!("{}{}", default, dialled.strip_prefix(code)?)))
}

/// What is wrong with a client's codes: an unknown service, a code that is not 1 to 4
/// digits, or one code the start of another (a phone could not reach the longer one).
pub fn check(own: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in own {
        if !SERVICES.iter().any(|(name, _)| name == k) {
            let names: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown service {:?}: expected {}",
                k,
                names.join(", ")
            ));
        }
        if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{}: expected 1 to 4 digits (without the *), got {:?}",
                k, v
            ));
        }
    }
    let codes = in_effect(own);
    for (a, ca, _) in &codes {
        for (b, cb, _) in &codes {
            if a != b && cb.starts_with(ca) {
                return Err(format!(
                    "{} (*{}) is the start of {} (*{}): a phone could not dial the second",
                    a, ca, b, cb
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_defaults_and_a_clients_own_codes() {
        let none = own(&[]);
        assert_eq!(canonical(&none, "80102").as_deref(), Some("80102"));
        assert_eq!(canonical(&none, "93").as_deref(), Some("93"));
        assert_eq!(canonical(&none, "21"), None);
        let mine = own(&[("forward_unconditional", "21"), ("voicemail", "98")]);
        assert_eq!(canonical(&mine, "21102").as_deref(), Some("80102"));
        assert_eq!(canonical(&mine, "98").as_deref(), Some("93"));
        // the default it replaced is no code any more; the others stay
        assert_eq!(canonical(&mine, "80102"), None);
        assert_eq!(canonical(&mine, "93"), None);
        assert_eq!(canonical(&mine, "81*").as_deref(), Some("81*"));
    }

    #[test]
    fn bad_codes_are_named() {
        assert!(check(&own(&[("voicemail", "98")])).is_ok());
        assert!(check(&own(&[("voicmail", "98")]))
            .unwrap_err()
            .contains("unknown service"));
        assert!(check(&own(&[("voicemail", "*98")]))
            .unwrap_err()
            .contains("digits"));
        assert!(check(&own(&[("voicemail", "12345")])).is_err());
        let e = check(&own(&[("voicemail", "8")])).unwrap_err();
        assert!(
            e.contains("voicemail (*8) is the start of forward_unconditional"),
            "{}",
            e
        );
    }
}

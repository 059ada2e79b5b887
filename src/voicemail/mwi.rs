//! Message waiting indication (RFC 3842 `message-summary`, over RFC 6665 subscriptions),
//! the pure part: the NOTIFY body and the subscription's length.

/// The `application/simple-message-summary` body for `account` with `new` and `old`
/// messages.
pub fn body(account: &str, new: usize, old: usize) -> String {
    format!(
        "Messages-Waiting: {}\r\nMessage-Account: {}\r\nVoice-Message: {}/{}\r\n",
        if new > 0 { "yes" } else { "no" },
        account,
        new,
        old
    )
}

/// The shortest and longest subscription vozbox grants, and the default.
pub const MIN_EXPIRES: u32 = 60;
pub const MAX_EXPIRES: u32 = 3600;

/// What a SUBSCRIBE asking `asked` seconds gets: 0 ends it, a missing value is the
/// longest, a longer one is shortened (one below the minimum is refused with `423` before
/// this is asked).
pub fn granted(asked: Option<u32>) -> u32 {
    match asked {
        Some(0) => 0,
        Some(n) => n.clamp(MIN_EXPIRES, MAX_EXPIRES),
        None => MAX_EXPIRES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_counts_new_and_old() {
        assert_eq!(
            body("sip:bob@bluebird.example", 2, 5),
            "Messages-Waiting: yes\r\nMessage-Account: sip:bob@bluebird.example\r\nVoice-Message: 2/5\r\n"
        );
        assert!(body("sip:a@b", 0, 3).starts_with("Messages-Waiting: no\r\n"));
    }

    #[test]
    fn subscriptions_are_held_between_bounds() {
        assert_eq!(granted(Some(0)), 0);
        assert_eq!(granted(Some(5)), 60);
        assert_eq!(granted(Some(600)), 600);
        assert_eq!(granted(Some(86400)), 3600);
        assert_eq!(granted(None), 3600);
    }
}

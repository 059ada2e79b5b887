//! URI equality as RFC 3261 §19.1.4 defines it, on the one URI grammar (`uri.rs`).

use super::uri::{parse_uri, percent_decode, Host, Uri};

/// URI equality as RFC 3261 §19.1.4 defines it for SIP URIs: scheme and host without case,
/// user and password exactly (escapes decoded), the same port (present or absent), the
/// parameters `user`, `ttl`, `method`, `maddr` and `transport` equal when either has them,
/// any other parameter equal when both have it. (Header components are not compared.)
/// Text that `parse_uri` refuses is compared as text.
pub fn uri_equal(a: &str, b: &str) -> bool {
    // the same text is the same URI (a refresh repeats its Contact): no parse
    if a == b {
        return true;
    }
    let (Ok(x), Ok(y)) = (parse_uri(a.trim()), parse_uri(b.trim())) else {
        return a == b;
    };
    let host = |u: &Uri| match &u.host {
        Host::Name(n) => Host::Name(n.to_ascii_lowercase()),
        h => h.clone(),
    };
    let decoded = |s: &Option<String>| s.as_deref().map(percent_decode);
    if x.scheme != y.scheme
        || decoded(&x.user) != decoded(&y.user)
        || decoded(&x.password) != decoded(&y.password)
        || host(&x) != host(&y)
        || x.port != y.port
    {
        return false;
    }
    let value = |p: &[(String, Option<String>)], n: &str| {
        p.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_deref().map(|v| percent_decode(v).to_ascii_lowercase()))
    };
    for (name, _) in x.params.iter().chain(y.params.iter()) {
        let (vx, vy) = (value(&x.params, name), value(&y.params, name));
        let significant = matches!(
            name.as_str(),
            "user" | "ttl" | "method" | "maddr" | "transport"
        );
        if (significant || (vx.is_some() && vy.is_some())) && vx != vy {
            return false;
        }
    }
    // Header components are never ignored: each must be in both, with the same value
    // (names compared without case, in any order, values percent-decoded).
    let headers = |u: &Uri| {
        let mut h: Vec<(String, String)> = u
            .headers
            .iter()
            .map(|(n, v)| (percent_decode(n).to_ascii_lowercase(), percent_decode(v)))
            .collect();
        h.sort();
        h
    };
    headers(&x) == headers(&y)
}

#[cfg(test)]
mod uri_equality {
    use super::uri_equal;

    #[test]
    fn rfc3261_19_1_4_examples() {
        // equivalent
        assert!(uri_equal(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(uri_equal(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(uri_equal(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(uri_equal(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        // not equivalent
        assert!(!uri_equal(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!uri_equal("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!uri_equal(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!uri_equal(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;newparam=6"
        ));
        // A ';' in the user part (RFC 4475 semiuri) and an extension transport.
        assert!(uri_equal(
            "sip:user;par=u%40example.net@example.com",
            "sip:user;par=u%40example.net@EXAMPLE.com"
        ));
        assert!(!uri_equal(
            "sip:user;par=u%40example.net@example.com",
            "sip:user;par=v@example.com"
        ));
        assert!(!uri_equal("sip:a@b;transport=x-1", "sip:a@b;transport=x-2"));
        // Header components (RFC 3261 §19.1.4): never ignored, order free.
        assert!(!uri_equal(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!uri_equal(
            "sip:carol@chicago.com?Subject=next%20meeting",
            "sip:carol@chicago.com?Subject=another%20meeting"
        ));
        assert!(uri_equal(
            "sip:carol@chicago.com?subject=next%20meeting&priority=urgent",
            "sip:carol@chicago.com?Priority=urgent&Subject=next%20meeting"
        ));
    }
}

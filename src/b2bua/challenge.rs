//! Answering a carrier's digest challenge (the client side of RFC 7616), with the
//! credentials configured for that carrier. Friends must never challenge vozbox.

use crate::auth::digest::{self, parse_params, Algorithm, Credentials};

/// The `Authorization`/`Proxy-Authorization` value answering `challenge` (a
/// `WWW-Authenticate`/`Proxy-Authenticate` value) for `method` on `uri`; None when the
/// challenge is not a digest vozbox can answer.
pub fn answer(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let (scheme, rest) = challenge.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let params = parse_params(rest).ok()?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_ref())
    };
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    let alg = match get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(a)?,
    };
    let qop_auth =
        get("qop").is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
    // The response is the server side's formula (`Credentials::expected`) on our values.
    let cnonce = format!("{:016x}", rand::random::<u64>());
    let creds = Credentials {
        username: user.into(),
        realm: realm.into(),
        nonce: nonce.into(),
        uri: uri.into(),
        qop: qop_auth.then(|| "auth".into()),
        nc: qop_auth.then(|| "00000001".into()),
        cnonce: qop_auth.then(|| cnonce.as_str().into()),
        ..Default::default()
    };
    let ha1 = digest::ha1(alg, user, realm, password);
    let resp = creds.expected(alg, &ha1, method)?;
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}, response=\"{}\"",
        user,
        realm,
        nonce,
        uri,
        alg.name(),
        resp
    );
    if qop_auth {
        v.push_str(&format!(", qop=auth, nc=00000001, cnonce=\"{}\"", cnonce));
    }
    if let Some(o) = get("opaque") {
        v.push_str(&format!(", opaque=\"{}\"", o));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::digest::Credentials;

    #[test]
    fn our_answer_verifies_with_the_server_side_check() {
        let ch = "Digest realm=\"carrier.example\", nonce=\"abc123\", qop=\"auth\", algorithm=MD5, opaque=\"xyz\"";
        let v = answer(ch, "trunk", "secret", "INVITE", "sip:+34600000000@10.0.0.1").unwrap();
        let c = Credentials::parse(&v).unwrap();
        let ha1 = digest::ha1(Algorithm::Md5, "trunk", "carrier.example", "secret");
        assert_eq!(
            c.expected(Algorithm::Md5, &ha1, "INVITE").unwrap(),
            c.response
        );
        assert_eq!(c.opaque.as_deref(), Some("xyz"));
        // without qop (RFC 2069 style)
        let v = answer(
            "Digest realm=\"r\", nonce=\"n\"",
            "u",
            "p",
            "INVITE",
            "sip:x@y",
        )
        .unwrap();
        let c = Credentials::parse(&v).unwrap();
        let ha1 = digest::ha1(Algorithm::Md5, "u", "r", "p");
        assert_eq!(
            c.expected(Algorithm::Md5, &ha1, "INVITE").unwrap(),
            c.response
        );
        assert!(answer("Basic realm=\"r\"", "u", "p", "INVITE", "sip:x@y").is_none());
    }
}

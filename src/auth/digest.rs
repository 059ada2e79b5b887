//! HTTP digest (RFC 2617, RFC 7616, RFC 8760 for SIP): the Authorization header, the hash
//! computations and the challenge text. Server side only.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.trim_matches('"') {
            a if a.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            a if a.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    pub fn hash(self, data: &str) -> String {
        self.hash_joined(&[data])
    }

    /// The hash of `parts` joined by ':', in lower-case hex, without building the joined
    /// text (digest's `A1`, `A2` and response are all such joins).
    pub fn hash_joined(self, parts: &[&str]) -> String {
        fn feed<D: Digest>(mut d: D, parts: &[&str]) -> String {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p.as_bytes());
            }
            hex(&d.finalize())
        }
        match self {
            Algorithm::Md5 => feed(Md5::new(), parts),
            Algorithm::Sha256 => feed(Sha256::new(), parts),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// The fields of a `Digest` Authorization (or Proxy-Authorization) header, borrowed from
/// the header text (owned only where a quoted value had escapes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub username: Cow<'a, str>,
    pub realm: Cow<'a, str>,
    pub nonce: Cow<'a, str>,
    pub uri: Cow<'a, str>,
    pub response: Cow<'a, str>,
    pub algorithm: Option<Cow<'a, str>>,
    pub cnonce: Option<Cow<'a, str>>,
    pub opaque: Option<Cow<'a, str>>,
    pub qop: Option<Cow<'a, str>>,
    pub nc: Option<Cow<'a, str>>,
}

impl<'a> Credentials<'a> {
    /// Parses `Digest k=v, k="v", …`. Errors name what is wrong; nothing panics.
    pub fn parse(header: &'a str) -> Result<Credentials<'a>, String> {
        let h = header.trim();
        let (scheme, rest) = h.split_once(char::is_whitespace).ok_or("no credentials")?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(format!("scheme {:.16} is not Digest", scheme));
        }
        let mut c = Credentials::default();
        const KEYS: [&str; 10] = [
            "username",
            "realm",
            "nonce",
            "uri",
            "response",
            "algorithm",
            "cnonce",
            "opaque",
            "qop",
            "nc",
        ];
        let mut seen = 0u16;
        for (k, v) in parse_params(rest)? {
            let Some(i) = KEYS.iter().position(|n| n.eq_ignore_ascii_case(k)) else {
                continue;
            };
            if seen & (1 << i) != 0 {
                return Err(format!("parameter {} repeated", KEYS[i]));
            }
            seen |= 1 << i;
            match i {
                0 => c.username = v,
                1 => c.realm = v,
                2 => c.nonce = v,
                3 => c.uri = v,
                4 => c.response = v,
                5 => c.algorithm = Some(v),
                6 => c.cnonce = Some(v),
                7 => c.opaque = Some(v),
                8 => c.qop = Some(v),
                _ => c.nc = Some(v),
            }
        }
        for (name, v) in [
            ("username", &c.username),
            ("realm", &c.realm),
            ("nonce", &c.nonce),
            ("uri", &c.uri),
            ("response", &c.response),
        ] {
            if v.is_empty() {
                return Err(format!("missing {}", name));
            }
        }
        Ok(c)
    }

    /// The nonce count as a number, when qop is used.
    pub fn nonce_count(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.len() != 8 {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }

    /// The expected response for this request given HA1 (RFC 7616 §3.4.1).
    pub fn expected(&self, alg: Algorithm, ha1: &str, method: &str) -> Option<String> {
        let ha2 = alg.hash_joined(&[method, &self.uri]);
        match self.qop.as_deref() {
            None => Some(alg.hash_joined(&[ha1, &self.nonce, &ha2])),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = self.nc.as_deref()?;
                let cnonce = self.cnonce.as_deref()?;
                Some(alg.hash_joined(&[ha1, &self.nonce, nc, cnonce, q, &ha2]))
            }
            Some(_) => None,
        }
    }
}

pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash_joined(&[user, realm, password])
}

/// Constant-time comparison of two hex strings.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x.to_ascii_lowercase() ^ y.to_ascii_lowercase();
    }
    d == 0
}

pub(crate) fn parse_params(s: &str) -> Result<Vec<(&str, Cow<'_, str>)>, String> {
    let mut out = Vec::with_capacity(10);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[ks..i].trim();
        if key.is_empty() || i >= b.len() || b[i] != b'=' {
            return Err(format!("parameter without value near {:.20}", &s[ks..]));
        }
        i += 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let vs = i;
            let mut escaped = false;
            loop {
                if i >= b.len() {
                    return Err("unterminated quoted string".into());
                }
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        escaped = true;
                        i += 2;
                    }
                    b'"' => break,
                    _ => i += 1,
                }
            }
            let raw = &s[vs..i];
            i += 1;
            if escaped {
                let mut v = String::with_capacity(raw.len());
                let mut chars = raw.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        if let Some(n) = chars.next() {
                            v.push(n);
                        }
                    } else {
                        v.push(c);
                    }
                }
                Cow::Owned(v)
            } else {
                Cow::Borrowed(raw)
            }
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            Cow::Borrowed(s[vs..i].trim())
        };
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5: Mufasa / "Circle Of Life", qop=auth.
    #[test]
    fn rfc2617_md5_vector() {
        let c = Credentials::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(c.expected(Algorithm::Md5, &h, "GET").unwrap(), c.response);
        assert_eq!(c.nonce_count(), Some(1));
    }

    /// RFC 7616 §3.9.1: the same exchange with MD5 and SHA-256 (realm http-auth@example.org).
    #[test]
    fn rfc7616_vectors() {
        let base = r#"username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let md5_text = format!(
            "Digest {}, algorithm=MD5, response=\"8ca523f5e9506fed4657c9700eebdbec\"",
            base
        );
        let md5 = Credentials::parse(&md5_text).unwrap();
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert_eq!(
            md5.expected(Algorithm::Md5, &h, "GET").unwrap(),
            md5.response
        );
        let sha_text = format!(
            "Digest {}, algorithm=SHA-256, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\"",
            base
        );
        let sha = Credentials::parse(&sha_text).unwrap();
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert_eq!(
            sha.expected(Algorithm::Sha256, &h, "GET").unwrap(),
            sha.response
        );
    }

    #[test]
    fn escapes_in_quoted_values() {
        let c = Credentials::parse(
            r#"Digest username="a\"b\é", realm="r", nonce="n", uri="u", response="x""#,
        )
        .unwrap();
        assert_eq!(c.username, "a\"bé");
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        for h in [
            "",
            "Digest",
            "Basic abc",
            "Digest username=\"a",
            "Digest a",
            "Digest username=\"a\", username=\"b\"",
        ] {
            assert!(Credentials::parse(h).is_err(), "{}", h);
        }
    }
}

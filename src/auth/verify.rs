//! One digest check for every request that must authenticate (REGISTER with
//! `Authorization`, INVITE and others with `Proxy-Authorization`): credentials, algorithm,
//! realm, nonce freshness, nonce-count replay, and bans for failures.

use super::ban::Bans;
use super::digest::{self, Algorithm, Credentials};
use super::nonce::{NonceState, Nonces, Use};
use crate::sip::headers::uri_equal;
use crate::sip::message::{Message, StartLine};
use crate::sip::transport::Flow;

/// What the server-side digest settings are.
pub struct Verifier<'a> {
    pub nonces: &'a Nonces,
    pub bans: &'a Bans,
    pub algorithms: &'a [Algorithm],
}

/// The outcome of checking a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Right credentials for this user name, fresh nonce, not replayed.
    Authenticated(String),
    /// Send a (new) challenge; `stale=true` when the credentials were right but the nonce
    /// is not (or no longer) ours.
    Challenge { stale: bool },
    /// A malformed credential (answer 400).
    Bad(&'static str),
}

impl Verifier<'_> {
    /// The challenge header values (one per offered algorithm) for `realm`.
    pub fn challenge(&self, realm: &str, stale: bool) -> Vec<String> {
        let nonce = self.nonces.issue(realm);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm=\"{}\", nonce=\"{}\", qop=\"auth\", algorithm={}",
                    realm,
                    nonce,
                    alg.name()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// Checks the credentials in `header` of `req` for `realm`; `password` gives the secret
    /// of a user name (None: unknown, which takes the same path and the same answer).
    pub fn verify(
        &self,
        req: &Message,
        header: &str,
        realm: &str,
        flow: &Flow,
        password: impl FnOnce(&str) -> Option<String>,
    ) -> Verdict {
        let method = req.method().unwrap_or("");
        let Some(auth) = req.get(header) else {
            return Verdict::Challenge { stale: false };
        };
        let creds = match Credentials::parse(auth) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("{} from {}: {}: {}", method, flow.remote, header, e);
                self.bans.fail(flow.remote.ip());
                return Verdict::Challenge { stale: false };
            }
        };
        // RFC 2617 §3.2.2.5: the digest covers the Request-URI; another URI is a bad request
        // (a credential made for some other request), not a failed login.
        if let StartLine::Request { uri, .. } = &req.start {
            if !uri_equal(&creds.uri, uri) {
                return Verdict::Bad("the digest uri is not the Request-URI");
            }
        }
        let alg = match creds.algorithm.as_deref() {
            None => Some(Algorithm::Md5),
            Some(a) => Algorithm::parse(a),
        }
        .filter(|a| self.algorithms.contains(a));
        let nonce_state = self.nonces.check(&creds.nonce, realm);
        let pw = password(&creds.username);
        // The digest is computed even for unknown users so both take the same path, and
        // checked whatever the nonce: right credentials with a nonce that is not (or no
        // longer) ours — e.g. one from before a restart — are a stale nonce, not a failed
        // login (a whole office behind one NAT would be banned after a restart).
        let correct = match (alg, &pw) {
            (Some(alg), pw) if creds.realm == realm => {
                let ha1 = digest::ha1(
                    alg,
                    &creds.username,
                    realm,
                    pw.as_deref().unwrap_or("\u{0}"),
                );
                let expected = creds.expected(alg, &ha1, method);
                pw.is_some() && expected.is_some_and(|e| digest::same(&e, &creds.response))
            }
            _ => false,
        };
        if !correct {
            tracing::info!(
                "{} from {}: authentication failed for {:?}@{}",
                method,
                flow.remote,
                creds.username,
                realm
            );
            self.bans.fail(flow.remote.ip());
            return Verdict::Challenge { stale: false };
        }
        if nonce_state != NonceState::Fresh {
            return Verdict::Challenge { stale: true };
        }
        let nc = if creds.qop.is_some() {
            match creds.nonce_count() {
                Some(n) => Some(n),
                None => return Verdict::Bad("qop without a valid nc"),
            }
        } else {
            None
        };
        match self.nonces.record(&creds.nonce, nc, txn_hash(req, flow)) {
            Use::Accepted => Verdict::Authenticated(creds.username.to_string()),
            Use::Stale => Verdict::Challenge { stale: true },
            Use::Replayed => {
                // Answered with a fresh challenge; not counted for bans: a legitimate phone
                // can resend an old request, and the challenge gives an attacker nothing.
                tracing::info!(
                    "{} from {}: replayed {} for {:?}",
                    method,
                    flow.remote,
                    header,
                    creds.username
                );
                Verdict::Challenge { stale: false }
            }
        }
    }
}

/// Identifies one transaction (its retransmissions hash alike), so that a retransmitted
/// request is not taken for a replay of its nonce count.
fn txn_hash(req: &Message, flow: &Flow) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.get("Via").hash(&mut h);
    req.call_id().hash(&mut h);
    req.get("CSeq").hash(&mut h);
    flow.proto.hash(&mut h);
    flow.remote.hash(&mut h);
    flow.conn.hash(&mut h);
    h.finish()
}

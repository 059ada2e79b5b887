//! Service codes dialled from a phone: `*80`, `*81`, `*82`, `*83` followed by an extension
//! or a number set the calling user's unconditional, busy, no-answer or not-registered
//! forward (`*8x*`: to voicemail); the bare code removes it. The setting is made like a
//! provisioned one — the whole model checked as a file, committed with an audit entry
//! naming the user, the live snapshot swapped — and the caller hears `forward_on`,
//! `forward_off`, or `failed` when it is refused (a number its ACL forbids is set all the
//! same: the ACL is checked when the forward is followed).

use super::call::Info;
use super::{B2bua, Incoming};
use crate::auth::nonce::now_secs;
use crate::model::{AuditEntry, CallForward, CallType, ForwardOwner, ForwardTarget, ForwardType};
use crate::provision::export;
use std::sync::Arc;

/// What `*8x…` asks: the forward type and its new target (`None`: remove it). `None` for
/// any other code.
pub fn forward_code(
    code: &str,
    is_extension: impl Fn(&str) -> bool,
) -> Option<(ForwardType, Option<ForwardTarget>)> {
    let ty = match code.get(..2)? {
        "80" => ForwardType::Unconditional,
        "81" => ForwardType::Busy,
        "82" => ForwardType::NoAnswer,
        "83" => ForwardType::NotRegistered,
        _ => return None,
    };
    let rest = &code[2..];
    let target = match rest {
        "" => None,
        "*" => Some(ForwardTarget::Voicemail),
        r if r.bytes().all(|b| b.is_ascii_digit() || b == b'#') && is_extension(r) => {
            Some(ForwardTarget::Extension(r.to_string()))
        }
        r if !r.is_empty()
            && r.trim_start_matches('+')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            Some(ForwardTarget::Number(r.to_string()))
        }
        _ => return None,
    };
    Some((ty, target))
}

impl B2bua {
    /// A service code of user `user` of `client`: a forward code is carried out and
    /// confirmed by a locution; any other comes back (not a code of ours).
    pub(super) fn service(
        self: &Arc<Self>,
        inc: Incoming,
        info: Info,
        (client, user): (&str, &str),
        code: &str,
    ) -> Result<(), Box<(Incoming, Info)>> {
        let snap = self.snapshot.load();
        let Some((ty, target)) = forward_code(code, |n| snap.extension(client, n).is_some()) else {
            return Err(Box::new((inc, info)));
        };
        // A forward to oneself would refuse every call (482); one to voicemail needs a
        // mailbox of one's own.
        let own = snap.user(client, user).and_then(|u| u.extension.clone());
        let refused = match &target {
            Some(ForwardTarget::Voicemail) if snap.voicemail_of(client, user, false).is_none() => {
                Some("no voicemail of one's own")
            }
            Some(ForwardTarget::Extension(x)) if own.as_ref() == Some(x) => {
                Some("a forward to one's own extension")
            }
            _ => None,
        };
        let on = target.is_some();
        let (me, client, user, code) = (
            self.clone(),
            client.to_string(),
            user.to_string(),
            code.to_string(),
        );
        // The change commits to the store: off the thread that receives SIP.
        self.rt.spawn_blocking(move || {
            let done = match refused {
                Some(why) => Err(why.to_string()),
                None => me.set_forward(&client, &user, ty, target),
            };
            let said = match done {
                Ok(()) if on => "forward_on",
                Ok(()) => "forward_off",
                Err(why) => {
                    tracing::info!("service code *{} of {}@{}: {}", code, user, client, why);
                    "failed"
                }
            };
            me.play_locution(inc, info, &client, Some(said), None);
        });
        Ok(())
    }

    /// Replaces (or removes) `user`'s forward of type `ty`, as an operator's change would.
    fn set_forward(
        &self,
        client: &str,
        user: &str,
        ty: ForwardType,
        target: Option<ForwardTarget>,
    ) -> Result<(), String> {
        let change = self.models.begin();
        let mut model = self.models.snapshot.load().model.clone();
        let owner = ForwardOwner::User(user.to_string());
        model
            .call_forwards
            .retain(|f| !(f.client == client && f.owner == owner && f.forward_type == ty));
        let on = target.is_some();
        if let Some(target) = target {
            model.call_forwards.push(CallForward {
                client: client.to_string(),
                owner,
                call_type: CallType::Any,
                forward_type: ty,
                timeout: if ty == ForwardType::NoAnswer { 10 } else { 0 },
                target,
                enabled: true,
            });
        }
        let (checked, _) = export::doc(&model).check().map_err(|errs| {
            errs.iter()
                .map(|e| format!("{}: {}", e.error.key, e.error.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let entry = AuditEntry {
            at: now_secs(),
            who: format!("{}@{}", user, client),
            action: if on { "update" } else { "delete" }.into(),
            resource: "call_forwards".into(),
            id: format!(
                "{}/{}/{}/any",
                client,
                user,
                crate::routing::forward::type_name(ty)
            ),
            client: Some(client.to_string()),
        };
        self.models
            .commit(&change, &checked.model, &[], Some(&entry))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_codes() {
        let ext = |n: &str| n == "102";
        assert_eq!(
            forward_code("80102", ext),
            Some((
                ForwardType::Unconditional,
                Some(ForwardTarget::Extension("102".into()))
            ))
        );
        assert_eq!(
            forward_code("81600111222", ext),
            Some((
                ForwardType::Busy,
                Some(ForwardTarget::Number("600111222".into()))
            ))
        );
        assert_eq!(
            forward_code("82*", ext),
            Some((ForwardType::NoAnswer, Some(ForwardTarget::Voicemail)))
        );
        assert_eq!(
            forward_code("83", ext),
            Some((ForwardType::NotRegistered, None))
        );
        assert_eq!(forward_code("98", ext), None);
        assert_eq!(forward_code("80abc", ext), None);
        assert_eq!(forward_code("8", ext), None);
    }
}

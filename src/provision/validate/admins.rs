//! The file's administrators: a valid name, an argon2 hash (never a password), an existing
//! client, rights a client administrator may have.

use super::*;
use crate::model::admin::{check_rights, valid_admin_name, ADMIN_NAME_RULE};

pub(super) fn admins(cx: &mut Ctx, file: &File, k: &Names) -> Vec<Admin> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for d in &file.admin {
        let name = v(&d.name);
        if !valid_admin_name(&name) {
            cx.err(&d.name, "admin.name", ADMIN_NAME_RULE);
        } else if !seen.insert(name.clone()) {
            cx.err(
                &d.name,
                "admin.name",
                format!("duplicate administrator {:?}", name),
            );
        }
        let hash = v(&d.password_hash);
        let is_argon2 = argon2::password_hash::phc::PasswordHash::new(&hash)
            .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"));
        if !is_argon2 {
            cx.err(
                &d.password_hash,
                "admin.password_hash",
                "expected an argon2 hash ($argon2id$v=19$…), never a password: `vozbox admin add` \
                 then `vozbox export` writes one",
            );
        }
        let client = ov(&d.client);
        if let (Some(c), Some(s)) = (&client, &d.client) {
            if !k.clients.contains_key(c) {
                cx.err(s, "admin.client", format!("no client named {:?}", c));
            }
        }
        let mut rights = None;
        if let Some(r) = &d.rights {
            let mut map = std::collections::BTreeMap::new();
            for (res, level) in r {
                match level.as_str() {
                    "read" => map.insert(res.clone(), Access::Read),
                    "write" => map.insert(res.clone(), Access::Write),
                    other => {
                        cx.err(
                            &d.name,
                            "admin.rights",
                            format!("{}: expected read or write, got {:?}", res, other),
                        );
                        continue;
                    }
                };
            }
            if let Err(e) = check_rights(client.is_some(), &map) {
                cx.err(&d.name, "admin.rights", e);
            }
            rights = Some(map);
        }
        out.push(Admin {
            name,
            password_hash: hash,
            client,
            rights,
        });
    }
    out
}

//! The demo made on an empty database, so two softphones can register at once: users
//! 100 and 101, voice notifications on (a failed call says why), and extension 300 playing
//! the `welcome` locution and 400 the echo test (quick checks that audio reaches a phone,
//! and that it gets back).

use crate::model::*;

fn password() -> String {
    const A: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16)
        .map(|_| A[rand::random_range(0..A.len())] as char)
        .collect()
}

/// A brand and a client on `domain` with users 100 and 101 (extensions 100 and 101).
pub fn model(domain: &str) -> Model {
    let users: Vec<User> = ["100", "101"]
        .iter()
        .map(|n| User {
            client: "demo".into(),
            name: n.to_string(),
            password: password(),
            extension: Some(n.to_string()),
            call_acl: None,
            outgoing_ddi: None,
            max_calls: 0,
            allowed_codecs: vec![],
            email: None,
            voicemail: true,
        })
        .collect();
    Model {
        brands: vec![Brand {
            name: "demo".into(),
            max_calls: 0,
        }],
        clients: vec![Client {
            name: "demo".into(),
            brand: "demo".into(),
            domain: domain.to_ascii_lowercase(),
            corporation: None,
            max_calls: 0,
            ip_filter: false,
            authorized_sources: vec![],
            geoip_countries: vec![],
            outgoing_ddi: None,
            media_relay_set: None,
            billing_method: BillingMethod::None,
            balance: "0".into(),
            currency: "EUR".into(),
            max_daily_usage: None,
            notify_email: None,
            language: "en".into(),
            timezone: "UTC".into(),
            country: None,
            area_code: None,
            voice_notifications: true,
            recording_code: None,
            on_demand_record: "off".into(),
            allow_recording_removal: true,
            service_codes: Default::default(),
            voicemail_subject: None,
            voicemail_body: None,
        }],
        extensions: users
            .iter()
            .map(|u| Extension {
                client: "demo".into(),
                number: u.name.clone(),
                route: ExtensionRoute::User(u.name.clone()),
            })
            .chain([
                Extension {
                    client: "demo".into(),
                    number: "300".into(),
                    route: ExtensionRoute::Locution("welcome".into()),
                },
                Extension {
                    client: "demo".into(),
                    number: "400".into(),
                    route: ExtensionRoute::Echo,
                },
            ])
            .collect(),
        // each user's own voicemail (as provisioning makes it)
        voicemails: users.iter().map(Voicemail::of_user).collect(),
        // a call a user does not answer in 20 s, or whose phone is off, leaves a message
        call_forwards: users
            .iter()
            .flat_map(|u| {
                [(ForwardType::NoAnswer, 20), (ForwardType::NotRegistered, 0)].map(
                    |(forward_type, timeout)| CallForward {
                        client: "demo".into(),
                        owner: ForwardOwner::User(u.name.clone()),
                        call_type: CallType::Any,
                        forward_type,
                        timeout,
                        target: ForwardTarget::Voicemail,
                        enabled: true,
                    },
                )
            })
            .collect(),
        users,
        ..Default::default()
    }
}

/// What `vozbox demo` shows of the demo client `client` in `model`: its users and
/// passwords, and what to dial.
pub fn describe(model: &Model, client: &Client) -> String {
    let mut out = format!("Demo client \"demo\" on domain {}:\n", client.domain);
    for u in model.users.iter().filter(|u| u.client == "demo") {
        out.push_str(&format!(
            "  user {}  password {}  (register sip:{}@{})\n",
            u.name, u.password, u.name, client.domain
        ));
    }
    for e in model.extensions.iter().filter(|e| e.client == "demo") {
        match &e.route {
            ExtensionRoute::Locution(name) => {
                out.push_str(&format!("  dial {}: the locution {:?}\n", e.number, name))
            }
            ExtensionRoute::Echo => out.push_str(&format!(
                "  dial {}: the echo test (your own audio back)\n",
                e.number
            )),
            _ => {}
        }
    }
    if model.voicemails.iter().any(|v| v.client == "demo") {
        out.push_str("  dial *93: your voicemail (a call not answered in 20 s, or to a phone that is off, leaves a message)\n");
    }
    out
}

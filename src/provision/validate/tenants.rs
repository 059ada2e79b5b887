//! Relay sets, brands, corporations and clients: who the tenants are.

use super::*;

/// The media relay sets.
pub(super) fn media_relay_sets(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.media_relay_set {
        let name = v(&d.name);
        if !k.mrs.insert(name.clone()) {
            cx.err(
                &d.name,
                "media_relay_set.name",
                format!("duplicate media relay set {:?}", name),
            );
        }
        for (key, s) in [("bind", &d.bind), ("advertised", &d.advertised)] {
            if v(s).parse::<std::net::IpAddr>().is_err() {
                let msg = if is_host(&v(s)) {
                    format!("{:?} is a host name: expected an IP address (the relay binds and advertises addresses; names are not resolved here)", v(s))
                } else {
                    "expected an IP address".into()
                };
                cx.err(s, &format!("media_relay_set.{}", key), msg);
            }
        }
        if d.port_min.get_ref() > d.port_max.get_ref() || *d.port_min.get_ref() < 1024 {
            let e = cx.at(
                d.port_min.span().start,
                "media_relay_set.port_min",
                "expected 1024 ≤ port_min ≤ port_max",
            );
            cx.errors.push(e);
        }
        m.media_relay_sets.push(MediaRelaySet {
            name,
            bind: v(&d.bind),
            advertised: v(&d.advertised),
            port_min: *d.port_min.get_ref(),
            port_max: *d.port_max.get_ref(),
        });
    }
}

/// The brands.
pub(super) fn brands(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.brand {
        let name = v(&d.name);
        if name.is_empty() {
            cx.err(&d.name, "brand.name", "must not be empty");
        } else if !k.brands.insert(name.clone()) {
            cx.err(&d.name, "brand.name", format!("duplicate brand {:?}", name));
        }
        m.brands.push(Brand {
            name,
            max_calls: d.max_calls,
        });
    }
}

/// The corporations, each of a brand.
pub(super) fn corporations(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.corporation {
        let name = v(&d.name);
        if !k.brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "corporation.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        if k.corps.insert(name.clone(), v(&d.brand)).is_some() {
            cx.err(
                &d.name,
                "corporation.name",
                format!("duplicate corporation {:?}", name),
            );
        }
        m.corporations.push(Corporation {
            name,
            brand: v(&d.brand),
        });
    }
}

/// The clients (vPBXs): brand, corporation, domain, relay set, billing, …
pub(super) fn clients(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.client {
        let name = v(&d.name);
        let brand = v(&d.brand);
        if name.is_empty() || name.contains('/') {
            cx.err(&d.name, "client.name", "must not be empty or contain '/'");
        }
        if !k.brands.contains(&brand) {
            cx.err(
                &d.brand,
                "client.brand",
                format!("no brand named {:?}", brand),
            );
        }
        let domain = v(&d.domain).to_ascii_lowercase();
        if !is_host(&domain) {
            cx.err(
                &d.domain,
                "client.domain",
                "expected a domain name or an IP address",
            );
        } else if !k.domains.insert(domain.clone()) {
            cx.err(
                &d.domain,
                "client.domain",
                format!("domain {:?} is already used by another client", domain),
            );
        }
        let corporation = ov(&d.corporation);
        if let (Some(c), Some(s)) = (&corporation, &d.corporation) {
            match k.corps.get(c) {
                None => cx.err(
                    s,
                    "client.corporation",
                    format!("no corporation named {:?}", c),
                ),
                Some(b) if *b != brand => cx.err(
                    s,
                    "client.corporation",
                    format!(
                        "corporation {:?} belongs to brand {:?}, not {:?}",
                        c, b, brand
                    ),
                ),
                _ => {}
            }
        }
        if let (Some(r), Some(s)) = (ov(&d.media_relay_set), &d.media_relay_set) {
            if !k.mrs.contains(&r) {
                cx.err(
                    s,
                    "client.media_relay_set",
                    format!("no media relay set named {:?}", r),
                );
            }
        }
        for s in &d.authorized_sources {
            if v(s).parse::<ipnet::IpNet>().is_err() && v(s).parse::<std::net::IpAddr>().is_err() {
                cx.err(
                    s,
                    "client.authorized_sources",
                    "expected an IP address or CIDR range",
                );
            }
        }
        if let (Some(false), Some(first)) = (cx.server.geoip, d.geoip_countries.first()) {
            cx.err(
                first,
                "client.geoip_countries",
                "needs a GeoIP database: set [policy] geoip_database in the server's config (without one no country could be told, and the filter would refuse or allow blindly)",
            );
        }
        for s in &d.geoip_countries {
            let c = v(s);
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                cx.err(
                    s,
                    "client.geoip_countries",
                    "expected ISO 3166 alpha-2 codes like \"ES\"",
                );
            }
        }
        if let Some(s) = &d.country {
            let c = v(s);
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                cx.err(
                    s,
                    "client.country",
                    "expected an ISO 3166 alpha-2 code like \"ES\"",
                );
            }
        }
        if let Some(s) = &d.area_code {
            if !v(s).bytes().all(|b| b.is_ascii_digit()) {
                cx.err(s, "client.area_code", "expected digits");
            }
        }
        let billing_method = match d.billing_method.as_ref().map(v).as_deref() {
            None | Some("none") => BillingMethod::None,
            Some("postpaid") => BillingMethod::Postpaid,
            Some("prepaid") => BillingMethod::Prepaid,
            Some(_) => {
                if let Some(s) = &d.billing_method {
                    cx.err(
                        s,
                        "client.billing_method",
                        "expected none, postpaid or prepaid",
                    );
                }
                BillingMethod::None
            }
        };
        for (key, s) in [
            ("balance", &d.balance),
            ("max_daily_usage", &d.max_daily_usage),
        ] {
            if let Some(s) = s {
                match crate::policy::money::Money::parse(&v(s)) {
                    Ok(m) if m.0 < 0 && key == "max_daily_usage" => {
                        cx.err(s, "client.max_daily_usage", "must not be negative")
                    }
                    Ok(_) => {}
                    Err(e) => cx.err(s, &format!("client.{}", key), e),
                }
            }
        }
        if let Some(s) = &d.timezone {
            if crate::policy::clock::zone(&v(s)).is_none() {
                cx.err(
                    s,
                    "client.timezone",
                    "expected an IANA time zone like \"Europe/Madrid\" or \"UTC\"",
                );
            }
        }
        if let Some(s) = &d.on_demand_record {
            if !["off", "info", "info_dtmf"].contains(&v(s).as_str()) {
                cx.err(
                    s,
                    "client.on_demand_record",
                    "expected off, info or info_dtmf",
                );
            }
        }
        if let Some(s) = &d.recording_code {
            let c = v(s).trim_start_matches('*').to_string();
            if c.is_empty() || c.len() > 3 || !c.bytes().all(|b| b.is_ascii_digit() || b == b'#') {
                cx.err(
                    s,
                    "client.recording_code",
                    "expected 1 to 3 digits (pressed after a *)",
                );
            }
        }
        let codes: std::collections::BTreeMap<String, String> = d
            .service_codes
            .iter()
            .map(|(k, c)| (k.clone(), v(c)))
            .collect();
        if let Err(e) = crate::model::service_codes::check(&codes) {
            cx.err(&d.name, "client.service_codes", e);
        }
        if let Some(s) = &d.notify_email {
            if !v(s).contains('@') {
                cx.err(s, "client.notify_email", "expected an e-mail address");
            }
        }
        if k.clients
            .insert(name.clone(), (brand.clone(), corporation.clone()))
            .is_some()
        {
            cx.err(
                &d.name,
                "client.name",
                format!("duplicate client {:?}", name),
            );
        }
        m.clients.push(Client {
            name,
            brand,
            domain,
            corporation,
            max_calls: d.max_calls,
            ip_filter: d.ip_filter,
            authorized_sources: d.authorized_sources.iter().map(v).collect(),
            geoip_countries: d.geoip_countries.iter().map(v).collect(),
            outgoing_ddi: ov(&d.outgoing_ddi),
            media_relay_set: ov(&d.media_relay_set),
            billing_method,
            balance: ov(&d.balance).unwrap_or_else(|| "0".into()),
            currency: ov(&d.currency).unwrap_or_else(|| "EUR".into()),
            max_daily_usage: ov(&d.max_daily_usage),
            notify_email: ov(&d.notify_email),
            language: ov(&d.language).unwrap_or_else(|| "en".into()),
            timezone: ov(&d.timezone).unwrap_or_else(|| "UTC".into()),
            country: ov(&d.country),
            area_code: ov(&d.area_code),
            voice_notifications: d.voice_notifications,
            // kept without the `*` it is pressed after
            recording_code: ov(&d.recording_code).map(|c| c.trim_start_matches('*').to_string()),
            on_demand_record: ov(&d.on_demand_record).unwrap_or_else(|| "off".into()),
            allow_recording_removal: d.allow_recording_removal,
            service_codes: d
                .service_codes
                .iter()
                .map(|(k, c)| (k.clone(), v(c)))
                .collect(),
            voicemail_subject: ov(&d.voicemail_subject),
            voicemail_body: ov(&d.voicemail_body),
        });
    }
}

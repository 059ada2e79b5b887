//! Carriers, DDI providers and rating profiles: the way out and what it costs.

use super::*;
use crate::policy::clock::{minutes, WEEKDAYS};
use crate::policy::money::Money;

/// The carriers (outbound trunks) of the brands.
pub(super) fn carriers(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.carrier {
        if !k.brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "carrier.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        if !k.carriers.insert((v(&d.brand), v(&d.name))) {
            cx.err(
                &d.name,
                "carrier.name",
                format!("duplicate carrier {:?}", v(&d.name)),
            );
        }
        if !is_host(&v(&d.address)) {
            cx.err(
                &d.address,
                "carrier.address",
                "expected an IP address or host name",
            );
        }
        let transport = ov(&d.transport).unwrap_or_else(|| "udp".into());
        if !["udp", "tcp", "tls", "auto"].contains(&transport.as_str()) {
            if let Some(t) = &d.transport {
                cx.err(t, "carrier.transport", "expected udp, tcp, tls or auto");
            }
        }
        // `auto`: the host name's NAPTR records choose (RFC 3263 §4.1), so no port
        let by_name = v(&d.address)
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_err();
        if transport == "auto" && (!by_name || d.port.is_some()) {
            if let Some(t) = &d.transport {
                cx.err(
                    t,
                    "carrier.transport",
                    "auto (NAPTR) needs a host name as address and no port",
                );
            }
        }
        let tls_fingerprint = fingerprint_ok(
            cx,
            &d.tls_fingerprint,
            transport == "tls" || transport == "auto",
            "carrier.tls_fingerprint",
        );
        let qualify_interval =
            qualify_ok(cx, &d.qualify_interval, true, "carrier.qualify_interval");
        m.carriers.push(Carrier {
            brand: v(&d.brand),
            name: v(&d.name),
            address: v(&d.address),
            port: d.port,
            transport,
            tls_fingerprint,
            username: ov(&d.username),
            password: ov(&d.password),
            qualify_interval,
        });
    }
}

/// The DDI providers (inbound trunks) of the brands.
pub(super) fn ddi_providers(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.ddi_provider {
        if m.ddi_providers
            .iter()
            .any(|p| p.brand == v(&d.brand) && p.name == v(&d.name))
        {
            cx.err(
                &d.name,
                "ddi_provider.name",
                format!(
                    "duplicate DDI provider {:?} in brand {:?}",
                    v(&d.name),
                    v(&d.brand)
                ),
            );
        }
        if !k.brands.contains(&v(&d.brand)) {
            cx.err(
                &d.brand,
                "ddi_provider.brand",
                format!("no brand named {:?}", v(&d.brand)),
            );
        }
        for a in &d.addresses {
            if v(a).parse::<ipnet::IpNet>().is_err() && v(a).parse::<std::net::IpAddr>().is_err() {
                cx.err(
                    a,
                    "ddi_provider.addresses",
                    "expected an IP address or CIDR range",
                );
            }
        }
        m.ddi_providers.push(DdiProvider {
            brand: v(&d.brand),
            name: v(&d.name),
            addresses: d.addresses.iter().map(v).collect(),
        });
    }
}

/// The rating profiles of the clients.
pub(super) fn rating_profiles(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    for d in &file.rating_profile {
        if m.rating_profiles
            .iter()
            .any(|p| p.client == v(&d.client) && p.name == v(&d.name))
        {
            cx.err(
                &d.name,
                "rating_profile.name",
                format!(
                    "duplicate rating profile {:?} in client {:?}",
                    v(&d.name),
                    v(&d.client)
                ),
            );
        }
        k.client_ok(cx, &d.client, "rating_profile.client");
        let from = parse_time(&v(&d.active_from)).unwrap_or_else(|e| {
            cx.err(&d.active_from, "rating_profile.active_from", e);
            0
        });
        let to = d.active_to.as_ref().and_then(|s| {
            parse_time(&v(s))
                .map_err(|e| cx.err(s, "rating_profile.active_to", e))
                .ok()
        });
        let mut rates = Vec::new();
        for r in &d.rates {
            if !v(&r.prefix).starts_with('+')
                || !v(&r.prefix)[1..].bytes().all(|b| b.is_ascii_digit())
            {
                cx.err(
                    &r.prefix,
                    "rating_profile.rates.prefix",
                    "expected an E.164 prefix like \"+34\"",
                );
            }
            for (k, s) in [
                ("connection_fee", &r.connection_fee),
                ("per_minute", &r.per_minute),
            ] {
                match Money::parse(&v(s)) {
                    Ok(m) if m.0 < 0 => cx.err(
                        s,
                        &format!("rating_profile.rates.{}", k),
                        "must not be negative",
                    ),
                    Ok(_) => {}
                    Err(e) => cx.err(s, &format!("rating_profile.rates.{}", k), e),
                }
            }
            for d in &r.weekdays {
                if !WEEKDAYS.contains(&v(d).as_str()) {
                    cx.err(
                        d,
                        "rating_profile.rates.weekdays",
                        "expected mon, tue, wed, thu, fri, sat or sun",
                    );
                }
            }
            for (k, s) in [("from", &r.from), ("to", &r.to)] {
                if let Some(s) = s {
                    if minutes(&v(s)).is_none() {
                        cx.err(
                            s,
                            &format!("rating_profile.rates.{}", k),
                            "expected a local time \"HH:MM\" (00:00 to 24:00)",
                        );
                    }
                }
            }
            rates.push(Rate {
                prefix: v(&r.prefix),
                connection_fee: v(&r.connection_fee),
                per_minute: v(&r.per_minute),
                increment: r.increment.max(1),
                minimum: r.minimum,
                weekdays: r.weekdays.iter().map(v).collect(),
                from: ov(&r.from),
                to: ov(&r.to),
            });
        }
        m.rating_profiles.push(RatingProfile {
            client: v(&d.client),
            name: v(&d.name),
            active_from: from,
            active_to: to,
            rates,
        });
    }
}

/// The outgoing routes of the brands: a prefix (`+` and digits) or `*`, carriers of the
/// route's own brand (at least one, each once), a weight from 1 to 1000.
pub(super) fn outgoing_routes(cx: &mut Ctx, file: &File, m: &mut Model, k: &mut Names) {
    let mut names = HashSet::new();
    for d in &file.outgoing_route {
        let brand = v(&d.brand);
        if !k.brands.contains(&brand) {
            cx.err(
                &d.brand,
                "outgoing_route.brand",
                format!("no brand named {:?}", brand),
            );
        }
        if v(&d.name).is_empty() || !names.insert((brand.clone(), v(&d.name))) {
            cx.err(
                &d.name,
                "outgoing_route.name",
                format!("duplicate or empty outgoing route {:?}", v(&d.name)),
            );
        }
        let prefix = v(&d.prefix);
        let digits = prefix.strip_prefix('+').unwrap_or("");
        let prefix_ok = prefix == "*"
            || (!digits.is_empty()
                && digits.len() <= 15
                && digits.bytes().all(|b| b.is_ascii_digit()));
        if !prefix_ok {
            cx.err(
                &d.prefix,
                "outgoing_route.prefix",
                "expected \"*\" (any number) or \"+\" and digits (a prefix of the E.164 number)",
            );
        }
        let weight = d.weight.as_ref().map(|w| *w.get_ref()).unwrap_or(1);
        if let Some(w) = d.weight.as_ref().filter(|_| !(1..=1000).contains(&weight)) {
            let e = cx.at(
                w.span().start,
                "outgoing_route.weight",
                "expected 1 ≤ weight ≤ 1000",
            );
            cx.errors.push(e);
        }
        if d.carriers.is_empty() {
            cx.err(
                &d.name,
                "outgoing_route.carriers",
                "expected at least one carrier",
            );
        }
        let mut carriers: Vec<String> = Vec::new();
        for c in &d.carriers {
            let name = v(c);
            if !k.carriers.contains(&(brand.clone(), name.clone())) {
                cx.err(
                    c,
                    "outgoing_route.carriers",
                    format!("no carrier named {:?} in brand {:?}", name, brand),
                );
            } else if carriers.contains(&name) {
                cx.err(
                    c,
                    "outgoing_route.carriers",
                    format!("carrier {:?} listed twice", name),
                );
            }
            carriers.push(name);
        }
        m.outgoing_routes.push(OutgoingRoute {
            brand,
            name: v(&d.name),
            prefix,
            priority: d.priority.as_ref().map(|p| *p.get_ref()).unwrap_or(1),
            weight,
            carriers,
        });
    }
}

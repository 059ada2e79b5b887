//! The client's filter by IP address (the seed's "Filter by IP address": only calls from
//! allowed IPs/ranges or countries). It applies to what the client's users and friends
//! send — REGISTER, SUBSCRIBE, OPTIONS, new INVITEs — never to carriers or DDI providers
//! (they are not the client's). With the filter on and both lists empty nothing passes
//! (the seed's Error box: "no outgoing call will be allowed").

use crate::model::Client;
use std::net::IpAddr;

/// Whether `client` accepts a request from `ip`, whose country (ISO alpha-2, from the GeoIP
/// database) is `country`: no filter, an authorized source (an address or a CIDR range,
/// v4 or v6) that contains it, or its country listed.
pub fn allows(client: &Client, ip: IpAddr, country: Option<&str>) -> bool {
    if !client.ip_filter {
        return true;
    }
    let ip = canonical(ip);
    let listed = |c: &str| client.geoip_countries.iter().any(|x| x == c);
    country.is_some_and(listed)
        || client
            .authorized_sources
            .iter()
            .any(|s| crate::model::trust::addr_matches(s, ip))
}

/// Whether a lookup of the country is worth it for `client` (a filter that lists some).
pub fn wants_country(client: &Client) -> bool {
    client.ip_filter && !client.geoip_countries.is_empty()
}

/// An IPv4 address carried in IPv6 (`::ffff:a.b.c.d`, a dual-stack socket) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// A client with every policy off, for the policies' unit tests.
#[cfg(test)]
pub fn tests_client() -> Client {
    tests::client(false, &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn client(on: bool, sources: &[&str], countries: &[&str]) -> Client {
        let list = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect();
        Client {
            name: "c".into(),
            brand: "b".into(),
            domain: "c.example".into(),
            corporation: None,
            max_calls: 0,
            ip_filter: on,
            authorized_sources: list(sources),
            geoip_countries: list(countries),
            outgoing_ddi: None,
            media_relay_set: None,
            billing_method: Default::default(),
            balance: "0".into(),
            currency: "EUR".into(),
            max_daily_usage: None,
            notify_email: None,
            language: "en".into(),
            timezone: "UTC".into(),
            country: None,
            area_code: None,
            voice_notifications: false,
            recording_code: None,
            on_demand_record: "off".into(),
            allow_recording_removal: true,
            service_codes: Default::default(),
            voicemail_subject: None,
            voicemail_body: None,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_filter_lets_everyone_in() {
        assert!(allows(&client(false, &[], &[]), ip("203.0.113.9"), None));
    }

    #[test]
    fn a_filter_with_both_lists_empty_refuses_everything() {
        let c = client(true, &[], &[]);
        assert!(!allows(&c, ip("127.0.0.1"), None));
        assert!(!allows(&c, ip("127.0.0.3"), Some("US")));
    }

    #[test]
    fn addresses_and_ranges_v4_and_v6() {
        let c = client(
            true,
            &["192.0.2.7", "198.51.100.0/24", "2001:db8::/32"],
            &[],
        );
        assert!(allows(&c, ip("192.0.2.7"), None));
        assert!(!allows(&c, ip("192.0.2.8"), None));
        assert!(allows(&c, ip("198.51.100.200"), None));
        assert!(allows(&c, ip("::ffff:198.51.100.1"), None));
        assert!(allows(&c, ip("2001:db8:1::5"), None));
        assert!(!allows(&c, ip("2001:db9::5"), None));
    }

    #[test]
    fn a_listed_country_or_an_authorized_source_is_enough() {
        let c = client(true, &["127.0.0.0/30"], &["US"]);
        assert!(allows(&c, ip("127.0.0.3"), Some("US")));
        assert!(allows(&c, ip("127.0.0.2"), Some("RU")), "inside the range");
        assert!(!allows(&c, ip("127.0.0.9"), Some("RU")));
        assert!(!allows(&c, ip("127.0.0.9"), None));
        assert!(wants_country(&c));
        assert!(!wants_country(&client(true, &["127.0.0.0/30"], &[])));
    }
}

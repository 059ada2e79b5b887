//! The order a name's addresses are tried in, as pure functions: NAPTR records by order
//! then preference (RFC 3403), SRV records by priority (RFC 2782), and among the SRV
//! targets of one priority a weighted random order drawn anew each time the name is used
//! (so that a zone's weights share the calls out), from what the resolver kept.

use super::Found;

/// One usable NAPTR record: order, preference, transport, replacement (an SRV name).
pub type Naptr = (u16, u16, &'static str, String);

/// NAPTR records in the order they are tried: order, then preference (both ascending).
pub fn naptr_order(mut records: Vec<Naptr>) -> Vec<Naptr> {
    records.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    records
}

/// One SRV record: priority, weight, target name, port.
pub type Srv = (u16, u16, String, u16);

/// SRV records by priority ascending (as received within one: their weights decide later,
/// `arrange`).
pub fn srv_order(mut records: Vec<Srv>) -> Vec<Srv> {
    records.sort_by_key(|r| r.0);
    records
}

/// The addresses of one SRV target (or of a name's own A/AAAA), its rank — the place of
/// the NAPTR record that led to it, then its SRV priority — and its SRV weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub rank: (u16, u16),
    pub weight: u16,
    pub found: Vec<Found>,
}

impl Ranked {
    /// Addresses with nothing to rank them by (an IP address, a name's A/AAAA).
    pub fn one(found: Vec<Found>) -> Ranked {
        Ranked {
            rank: (0, 0),
            weight: 0,
            found,
        }
    }
}

/// The addresses in the order they are tried: by rank, and within one rank each next
/// target drawn with a chance in proportion to its weight (RFC 2782: the weights'
/// running sum, records of weight 0 first so that they are drawn only when `draw` gives
/// 0). `draw(total)` is a uniform number in `0..=total`.
pub fn arrange(mut ranked: Vec<Ranked>, draw: &mut impl FnMut(u32) -> u32) -> Vec<Found> {
    ranked.sort_by_key(|r| r.rank);
    let mut out = Vec::new();
    let mut rest = ranked.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(r) = rest.next_if(|r| r.rank == group[0].rank) {
            group.push(r);
        }
        // (stable: weight 0 first, the others as received)
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = draw(total).min(total);
            let mut sum = 0;
            let i = group
                .iter()
                .position(|r| {
                    sum += u32::from(r.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            out.extend(group.remove(i).found);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{default_port, naptr_transport, srv_name};
    use super::*;

    fn at(i: u8) -> Found {
        Found {
            transport: "udp",
            addr: format!("192.0.2.{}:5060", i).parse().expect("addr"),
        }
    }

    fn srv(priority: u16, weight: u16, i: u8) -> Ranked {
        Ranked {
            rank: (0, priority),
            weight,
            found: vec![at(i)],
        }
    }

    fn last_octets(found: &[Found]) -> Vec<u8> {
        found
            .iter()
            .map(|f| match f.addr.ip() {
                std::net::IpAddr::V4(ip) => ip.octets()[3],
                std::net::IpAddr::V6(_) => 0,
            })
            .collect()
    }

    #[test]
    fn srv_records_go_by_priority_then_by_a_draw_weighted_by_their_weights() {
        let r = |p, w, t: &str| (p, w, t.to_string(), 5060);
        let ordered = srv_order(vec![r(20, 10, "c"), r(10, 5, "b"), r(10, 50, "a")]);
        let names: Vec<&str> = ordered.iter().map(|x| x.2.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(srv_name("tls", "sip.test"), "_sips._tcp.sip.test.");
        assert_eq!(srv_name("tcp", "sip.test"), "_sip._tcp.sip.test.");
        assert_eq!(srv_name("udp", "sip.test"), "_sip._udp.sip.test.");
        assert_eq!(default_port("tls"), 5061);

        // priority 10: .1 (weight 10), .2 (weight 30), .3 (weight 0); priority 20: .4
        let ranked = || vec![srv(20, 5, 4), srv(10, 10, 1), srv(10, 30, 2), srv(10, 0, 3)];
        // running sums in the drawing order: .3 → 0, .1 → 10, .2 → 40
        let with = |draws: &[u32]| {
            let mut d = draws.iter().copied();
            last_octets(&arrange(ranked(), &mut |_| d.next().unwrap_or(0)))
        };
        assert_eq!(with(&[0, 0, 0, 0]), [3, 1, 2, 4]);
        assert_eq!(with(&[1, 0, 0, 0]), [1, 3, 2, 4]);
        assert_eq!(with(&[10, 0, 0, 0]), [1, 3, 2, 4]);
        assert_eq!(with(&[11, 0, 0, 0]), [2, 3, 1, 4]);
        // the second draw is among what is left: .3 → 0, .1 → 10
        assert_eq!(with(&[40, 5, 0, 0]), [2, 1, 3, 4]);
        // a draw past the total (a bad source) takes the last
        assert_eq!(with(&[99, 99, 99, 99]), [2, 1, 3, 4]);
        // the totals drawn from: 40 for the three, then what is left
        let mut totals = Vec::new();
        arrange(ranked(), &mut |t| {
            totals.push(t);
            t
        });
        assert_eq!(totals, [40, 10, 0, 5]);
    }

    #[test]
    fn the_draw_shares_the_first_place_out_by_weight() {
        // weights 30 and 10: the first place goes 3 times in 4 to the heavier
        let (mut first, mut seed) = ([0u32; 2], 7u64);
        for _ in 0..4000 {
            let mut draw = |total: u32| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 33) % (u64::from(total) + 1)) as u32
            };
            let order = arrange(vec![srv(10, 30, 1), srv(10, 10, 2)], &mut draw);
            first[usize::from(last_octets(&order)[0] - 1)] += 1;
        }
        assert!((2800..3200).contains(&first[0]), "{:?}", first);
    }

    #[test]
    fn naptr_records_choose_the_transport_by_order_then_preference() {
        assert_eq!(naptr_transport(b"S", b"sips+d2t"), Some("tls"));
        assert_eq!(naptr_transport(b"s", b"SIP+D2T"), Some("tcp"));
        assert_eq!(naptr_transport(b"s", b"SIP+D2U"), Some("udp"));
        // another service, or a record that is not terminal at an SRV name: not ours
        assert_eq!(naptr_transport(b"s", b"SIP+D2S"), None);
        assert_eq!(naptr_transport(b"a", b"SIP+D2U"), None);
        assert_eq!(naptr_transport(b"", b"E2U+sip"), None);
        let order = naptr_order(vec![
            (20, 10, "udp", "_sip._udp.x.".into()),
            (10, 60, "tls", "_sips._tcp.x.".into()),
            (10, 50, "tcp", "_sip._tcp.x.".into()),
        ]);
        let transports: Vec<&str> = order.iter().map(|r| r.2).collect();
        assert_eq!(transports, ["tcp", "tls", "udp"]);
        // a later NAPTR record's targets come after an earlier one's, whatever their
        // priority
        let mut late = srv(1, 0, 9);
        late.rank.0 = 1;
        let order = arrange(vec![late, srv(50, 0, 1)], &mut |_| 0);
        assert_eq!(last_octets(&order), [1, 9]);
    }
}

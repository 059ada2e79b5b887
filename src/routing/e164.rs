//! E.164 helpers: from what a caller dials to `+CC…` and back to a country's national format.
//!
//! The dialling plan of a country is reduced to three facts: its calling code, its national
//! trunk prefix (the `0` of `0145…` in France; none in Spain, Portugal, Italy, Mexico, Chile
//! and Colombia; `1` in the North American plan) and its international prefix (`00`; `011`
//! in the North American plan). Emergency and other special short numbers are not handled.

/// What routing needs to know of a country's dialling plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    iso: &'static str,
    /// Calling code without the `+`.
    cc: &'static str,
    /// The national trunk prefix, if the country has one.
    trunk: Option<&'static str>,
    /// The international call prefix.
    intl: &'static str,
}

const fn plan(
    iso: &'static str,
    cc: &'static str,
    trunk: Option<&'static str>,
    intl: &'static str,
) -> Plan {
    Plan {
        iso,
        cc,
        trunk,
        intl,
    }
}

/// Countries whose numbers vozbox can normalise. Add a row to support another one.
const PLANS: &[Plan] = &[
    plan("ES", "34", None, "00"),
    plan("PT", "351", None, "00"),
    plan("FR", "33", Some("0"), "00"),
    plan("DE", "49", Some("0"), "00"),
    plan("IT", "39", None, "00"),
    plan("GB", "44", Some("0"), "00"),
    plan("IE", "353", Some("0"), "00"),
    plan("NL", "31", Some("0"), "00"),
    plan("BE", "32", Some("0"), "00"),
    plan("CH", "41", Some("0"), "00"),
    plan("AT", "43", Some("0"), "00"),
    // North American Numbering Plan: trunk prefix 1, international prefix 011.
    plan("US", "1", Some("1"), "011"),
    plan("CA", "1", Some("1"), "011"),
    // Mexico dropped its trunk prefixes (01, 044, 045) in 2019.
    plan("MX", "52", None, "00"),
    plan("AR", "54", Some("0"), "00"),
    plan("BR", "55", Some("0"), "00"),
    // Chile and Colombia moved to closed numbering plans without a trunk prefix.
    plan("CL", "56", None, "00"),
    plan("CO", "57", None, "00"),
];

/// A local number (without area code) has at most this many digits: shorter numbers dialled
/// in a client with an area code get the area code prepended.
const MAX_LOCAL_DIGITS: usize = 7;

fn lookup(iso: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.iso.eq_ignore_ascii_case(iso))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The calling code (without `+`) of a country given by its ISO 3166 alpha-2 code.
pub fn calling_code(iso: &str) -> Option<&'static str> {
    lookup(iso).map(|p| p.cc)
}

/// `+` followed by 1 to 15 digits.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| all_digits(d) && d.len() <= 15)
}

/// Whether `number` is written in international form for a caller in `country`: `+…`, `00…`,
/// or the country's own international prefix (`011…` in North America).
pub fn is_international(number: &str, country: Option<&str>) -> bool {
    number.starts_with('+')
        || number.starts_with("00")
        || country
            .and_then(lookup)
            .is_some_and(|p| number.starts_with(p.intl))
}

/// `number` as dialled by someone in `country` (ISO code) with `area_code`, in E.164:
///
/// - `+…` is kept; `00…` (or the country's international prefix) → `+…`;
/// - a leading national trunk prefix is removed and the calling code prepended
///   (`0145000000` in FR → `+33145000000`; ES, PT and IT have no trunk prefix);
/// - a local number of at most 7 digits gets the area code (`4000100` in ES/94 →
///   `+34944000100`), anything else just the calling code.
///
/// `None` when the number has characters other than digits (and a leading `+`), is empty,
/// is longer than E.164 allows, or is national and the country is unknown.
pub fn to_e164(number: &str, country: Option<&str>, area_code: Option<&str>) -> Option<String> {
    let plan = country.and_then(lookup);
    let out = if let Some(rest) = number.strip_prefix('+') {
        all_digits(rest).then(|| number.to_string())?
    } else if !all_digits(number) {
        return None;
    } else if let Some(rest) = plan
        .and_then(|p| number.strip_prefix(p.intl))
        .or_else(|| number.strip_prefix("00"))
    {
        format!("+{}", rest)
    } else {
        let plan = plan?;
        match plan.trunk.and_then(|t| number.strip_prefix(t)) {
            Some(national) => format!("+{}{}", plan.cc, national),
            None => {
                // An area code may be written with the trunk prefix ("030" for Berlin).
                let area = area_code
                    .map(|a| plan.trunk.and_then(|t| a.strip_prefix(t)).unwrap_or(a))
                    .filter(|a| all_digits(a));
                match area {
                    Some(a) if number.len() <= MAX_LOCAL_DIGITS => {
                        format!("+{}{}{}", plan.cc, a, number)
                    }
                    _ => format!("+{}{}", plan.cc, number),
                }
            }
        }
    };
    is_e164(&out).then_some(out)
}

/// An E.164 number as someone in `country` dials it: the country's own numbers lose the
/// calling code and get the trunk prefix where the country uses one (`+33145000000` in FR →
/// `0145000000`, `+34944000100` in ES → `944000100`); foreign numbers get the international
/// prefix (`00`, or `011` in North America). Without a known country, or for something that is
/// not `+…`, the number is returned unchanged.
pub fn to_national(e164: &str, country: Option<&str>) -> String {
    let (Some(rest), Some(plan)) = (e164.strip_prefix('+'), country.and_then(lookup)) else {
        return e164.to_string();
    };
    match rest.strip_prefix(plan.cc).filter(|n| !n.is_empty()) {
        Some(national) => format!("{}{}", plan.trunk.unwrap_or(""), national),
        None => format!("{}{}", plan.intl, rest),
    }
}

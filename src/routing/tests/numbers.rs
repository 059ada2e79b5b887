//! Numbers to and from E.164 by a client's country and area code.

use super::*;

// ---------------------------------------------------------------- E.164

/// (the sentence, the number, country, area code, the expected E.164)
type E164Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

#[test]
fn e164_normalisation() {
    let rows: &[E164Row] = &[
        (
            "+… is kept",
            "+34944000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "00… becomes +…",
            "0034944000100",
            Some("ES"),
            None,
            Some("+34944000100"),
        ),
        (
            "00… needs no country",
            "0044207000000",
            None,
            None,
            Some("+44207000000"),
        ),
        (
            "a national number gets the calling code",
            "944000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "a local number of ≤ 7 digits gets the area code",
            "4000100",
            Some("ES"),
            Some("94"),
            Some("+34944000100"),
        ),
        (
            "a local number without area code only gets the calling code",
            "4000100",
            Some("ES"),
            None,
            Some("+344000100"),
        ),
        (
            "the French trunk 0 is removed",
            "0145000000",
            Some("FR"),
            None,
            Some("+33145000000"),
        ),
        (
            "the German trunk 0 is removed",
            "0301234567",
            Some("DE"),
            Some("30"),
            Some("+49301234567"),
        ),
        (
            "a German local number gets the area code",
            "1234567",
            Some("DE"),
            Some("30"),
            Some("+49301234567"),
        ),
        (
            "an area code written with its trunk 0",
            "1234567",
            Some("DE"),
            Some("030"),
            Some("+49301234567"),
        ),
        (
            "the British trunk 0 is removed",
            "02070000000",
            Some("GB"),
            None,
            Some("+442070000000"),
        ),
        (
            "Italy has no trunk prefix: the 0 stays",
            "0612345678",
            Some("IT"),
            None,
            Some("+390612345678"),
        ),
        (
            "Portugal has no trunk prefix",
            "212345678",
            Some("PT"),
            None,
            Some("+351212345678"),
        ),
        (
            "Spain has no trunk prefix",
            "0800123",
            Some("ES"),
            None,
            Some("+340800123"),
        ),
        (
            "a US number",
            "2125551234",
            Some("US"),
            None,
            Some("+12125551234"),
        ),
        (
            "the US trunk 1 is removed",
            "12125551234",
            Some("US"),
            None,
            Some("+12125551234"),
        ),
        (
            "the US international prefix 011",
            "011442070000000",
            Some("US"),
            None,
            Some("+442070000000"),
        ),
        (
            "a US local number gets the area code",
            "5551234",
            Some("US"),
            Some("212"),
            Some("+12125551234"),
        ),
        (
            "spaces are not digits",
            "944 000 100",
            Some("ES"),
            None,
            None,
        ),
        ("letters are not digits", "94a", Some("ES"), None, None),
        ("+ only at the start", "+34-944", Some("ES"), None, None),
        ("empty", "", Some("ES"), None, None),
        ("a lone +", "+", Some("ES"), None, None),
        ("a lone 00", "00", Some("ES"), None, None),
        (
            "a national number without country",
            "944000100",
            None,
            None,
            None,
        ),
        (
            "a national number in an unknown country",
            "944000100",
            Some("XX"),
            None,
            None,
        ),
        (
            "longer than E.164 allows",
            "+1234567890123456",
            Some("ES"),
            None,
            None,
        ),
    ];
    for (sentence, number, country, area, want) in rows {
        assert_eq!(
            to_e164(number, *country, *area).as_deref(),
            *want,
            "{}: {:?} in {:?}/{:?}",
            sentence,
            number,
            country,
            area
        );
    }
}

#[test]
fn e164_to_national() {
    let rows: &[(&str, &str, Option<&str>, &str)] = &[
        (
            "Spanish number in ES",
            "+34944000100",
            Some("ES"),
            "944000100",
        ),
        (
            "French number in FR gets the trunk 0",
            "+33145000000",
            Some("FR"),
            "0145000000",
        ),
        (
            "foreign number in ES gets 00",
            "+33145000000",
            Some("ES"),
            "0033145000000",
        ),
        (
            "foreign number in FR gets 00",
            "+34944000100",
            Some("FR"),
            "0034944000100",
        ),
        (
            "Italian number keeps its 0",
            "+390612345678",
            Some("IT"),
            "0612345678",
        ),
        (
            "US number in US gets the trunk 1",
            "+12125551234",
            Some("US"),
            "12125551234",
        ),
        (
            "foreign number in US gets 011",
            "+442070000000",
            Some("US"),
            "011442070000000",
        ),
        (
            "no country: unchanged",
            "+34944000100",
            None,
            "+34944000100",
        ),
        (
            "unknown country: unchanged",
            "+34944000100",
            Some("XX"),
            "+34944000100",
        ),
        ("not E.164: unchanged", "944000100", Some("ES"), "944000100"),
    ];
    for (sentence, number, country, want) in rows {
        assert_eq!(to_national(number, *country), *want, "{}", sentence);
    }
}

#[test]
fn calling_codes() {
    let rows = [
        ("ES", "34"),
        ("PT", "351"),
        ("FR", "33"),
        ("DE", "49"),
        ("IT", "39"),
        ("GB", "44"),
        ("IE", "353"),
        ("NL", "31"),
        ("BE", "32"),
        ("CH", "41"),
        ("AT", "43"),
        ("US", "1"),
        ("CA", "1"),
        ("MX", "52"),
        ("AR", "54"),
        ("BR", "55"),
        ("CL", "56"),
        ("CO", "57"),
    ];
    for (iso, cc) in rows {
        assert_eq!(calling_code(iso), Some(cc), "{}", iso);
    }
    assert_eq!(calling_code("XX"), None);
}

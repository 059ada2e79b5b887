//! Comma-separated header values (RFC 3261 §7.3.1): the elements split on the commas
//! outside quotes and angle brackets.

/// Splits a header value on the commas that separate list elements, outside quotes and
/// angle brackets.
pub fn split_commas(v: &str) -> Vec<&str> {
    commas(v).collect()
}

/// The elements `split_commas` gives, one at a time (no list is built: most values have
/// one element).
pub fn commas(v: &str) -> Commas<'_> {
    Commas {
        v,
        start: 0,
        plain: memchr::memchr(b',', v.as_bytes()).is_none(),
    }
}

pub struct Commas<'a> {
    v: &'a str,
    start: usize,
    /// No comma at all: the whole value is the one element.
    plain: bool,
}

impl<'a> Iterator for Commas<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.v.as_bytes();
        while self.start <= b.len() {
            let from = self.start;
            let mut end = b.len();
            if !self.plain {
                let (mut in_q, mut in_a, mut esc) = (false, false, false);
                for (i, &c) in b.iter().enumerate().skip(from) {
                    if esc {
                        esc = false;
                        continue;
                    }
                    match c {
                        b'\\' if in_q => esc = true,
                        b'"' => in_q = !in_q,
                        b'<' if !in_q => in_a = true,
                        b'>' if !in_q => in_a = false,
                        b',' if !in_q && !in_a => {
                            end = i;
                            break;
                        }
                        _ => {}
                    }
                }
            }
            self.start = end + 1;
            // cut at ASCII bytes: character boundaries
            let item = self.v.get(from..end).unwrap_or("").trim();
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splitter as it was before `commas` (char by char, a list built).
    fn split_commas_before(v: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let (mut in_q, mut in_a, mut esc) = (false, false, false);
        let mut start = 0;
        for (i, c) in v.char_indices() {
            if esc {
                esc = false;
                continue;
            }
            match c {
                '\\' if in_q => esc = true,
                '"' => in_q = !in_q,
                '<' if !in_q => in_a = true,
                '>' if !in_q => in_a = false,
                ',' if !in_q && !in_a => {
                    let item = v[start..i].trim();
                    if !item.is_empty() {
                        out.push(item);
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        let item = v[start..].trim();
        if !item.is_empty() {
            out.push(item);
        }
        out
    }

    #[test]
    fn commas_split_as_the_splitter_before_them() {
        for v in [
            "",
            " ",
            ",",
            "a",
            " a ",
            "a,b",
            "a,,b",
            ", a ,",
            "a,",
            "é,a",
            "\"x\\\"y, z\" <sip:a>, b",
            "\"x\\,y\", c",
            "\"\\é,\", d",
            "\"unclosed, a, b",
            "<sip:a,b, c",
            "<sip:a;p=1,2>;q=1, <sip:b>",
            "\"<\" a, b",
            "SIP/2.0/UDP h;branch=z9hG4bK1 , SIP/2.0/TCP g",
        ] {
            assert_eq!(
                commas(v).collect::<Vec<_>>(),
                split_commas_before(v),
                "{:?}",
                v
            );
        }
    }

    #[test]
    fn split_commas_respects_quotes_and_brackets() {
        let v = r#""a, b" <sip:x@y;p=1,2>, <sip:z@w>"#;
        assert_eq!(split_commas(v).len(), 2);
    }
}

//! The text of a message part (a header value, a start-line field) without a copy of its
//! own: a parsed message keeps its header section once, shared, and each value is a range
//! of it; a response copies the request's values by sharing that section too. Text written
//! by vozbox is either a constant or an owned string; text it parses outside a message
//! (`share`, or a `slice` of an owned string) a shared copy of its own. Reads as a `&str`
//! (`Deref`).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// `buf[start..end]`: made from a `&str` inside `buf`, so on character boundaries
    /// (`as_str` reads it with `get`, which cannot panic either way).
    Shared {
        buf: Arc<str>,
        start: u32,
        end: u32,
    },
    Owned(String),
}

impl Text {
    /// A constant: no allocation.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// `sub`, which must lie within `buf`, as a range of the shared `buf`; an owned copy
    /// if it does not (never the case for the parser's slices, but no panic either way).
    pub fn shared(buf: &Arc<str>, sub: &str) -> Text {
        match range_in(buf, sub) {
            Some((start, end)) => Text(Repr::Shared {
                buf: buf.clone(),
                start,
                end,
            }),
            None => Text(Repr::Owned(sub.to_string())),
        }
    }

    /// A copy of `s` that its parts can share: `slice` of it makes no further copy.
    pub fn share(s: &str) -> Text {
        let buf: Arc<str> = Arc::from(s);
        let whole: &str = &buf;
        Text::shared(&buf, whole)
    }

    /// `sub`, a part of this text's string, as a text of its own: a range of the same
    /// shared section (or constant) where this one is one, else a shared copy (so that
    /// its own parts need no further copy).
    pub fn slice(&self, sub: &str) -> Text {
        match &self.0 {
            Repr::Shared { buf, .. } => match range_in(buf, sub) {
                Some((start, end)) => Text(Repr::Shared {
                    buf: buf.clone(),
                    start,
                    end,
                }),
                None => Text::share(sub),
            },
            Repr::Static(s) => {
                let at = (sub.as_ptr() as usize).wrapping_sub(s.as_ptr() as usize);
                match at.checked_add(sub.len()).and_then(|end| s.get(at..end)) {
                    Some(part) if part.as_ptr() == sub.as_ptr() => Text(Repr::Static(part)),
                    _ => Text::share(sub),
                }
            }
            Repr::Owned(_) => Text::share(sub),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // the range was cut from `buf` on character boundaries when the Text was made
            Repr::Shared { buf, start, end } => {
                buf.get(*start as usize..*end as usize).unwrap_or("")
            }
            Repr::Owned(s) => s,
        }
    }

    /// The text as a `String` to change in place (copied once if it was shared).
    pub fn to_mut(&mut self) -> &mut String {
        if !matches!(self.0, Repr::Owned(_)) {
            self.0 = Repr::Owned(self.as_str().to_string());
        }
        match &mut self.0 {
            Repr::Owned(s) => s,
            // just made owned above
            _ => unreachable!("text made owned"),
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.to_mut().push_str(s);
    }

    pub fn push(&mut self, c: char) {
        self.to_mut().push(c);
    }
}

/// Where `sub` lies in `buf`, as a range that fits in `u32` (None: elsewhere).
fn range_in(buf: &str, sub: &str) -> Option<(u32, u32)> {
    let base = buf.as_ptr() as usize;
    let at = sub.as_ptr() as usize;
    let fits = at >= base && at + sub.len() <= base + buf.len();
    let start = u32::try_from(at.checked_sub(base)?).ok()?;
    let end = u32::try_from(at - base + sub.len()).ok()?;
    fits.then_some((start, end))
}

#[cfg(test)]
impl Text {
    /// Whether both are ranges of the same shared section.
    pub fn same_section(&self, other: &Text) -> bool {
        match (&self.0, &other.0) {
            (Repr::Shared { buf: a, .. }, Repr::Shared { buf: b, .. }) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Repr::Owned(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Repr::Owned(s.to_string()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text(Repr::Owned(s.clone()))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        match t.0 {
            Repr::Owned(s) => s,
            other => Text(other).as_str().to_string(),
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from_static("")
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_range_reads_its_slice_and_copies_on_change() {
        let buf: Arc<str> = Arc::from("Via: SIP/2.0/UDP h\r\nTo: <sip:é@b>\r\n");
        let to = &buf[24..34];
        let mut t = Text::shared(&buf, to);
        assert_eq!(t, "<sip:é@b>");
        assert!(matches!(t.0, Repr::Shared { .. }));
        let u = t.clone();
        t.push_str(";tag=1");
        assert_eq!(t, "<sip:é@b>;tag=1");
        assert_eq!(u, "<sip:é@b>");
        assert_eq!(Arc::strong_count(&buf), 2);
    }

    #[test]
    fn a_slice_shares_what_its_text_shares() {
        let t = Text::share("<sip:a@b>;tag=1");
        let part = t.slice(&t[1..8]);
        assert_eq!(part, "sip:a@b");
        assert!(matches!(part.0, Repr::Shared { .. }));
        let c = Text::from_static("SIP/2.0/UDP");
        let udp = c.slice(&c[8..]);
        assert_eq!(udp, "UDP");
        assert!(matches!(udp.0, Repr::Static(_)));
        // a part of something else, or of an owned string, is a shared copy
        let e = c.slice("elsewhere");
        assert_eq!(e, "elsewhere");
        assert!(matches!(e.0, Repr::Shared { .. }));
        let o = Text::from("abc".to_string());
        let bc = o.slice(&o[1..]);
        assert_eq!(bc, "bc");
        assert!(matches!(bc.0, Repr::Shared { .. }));
        assert!(matches!(bc.slice(&bc[1..]).0, Repr::Shared { .. }));
    }

    #[test]
    fn text_outside_the_buffer_is_copied() {
        let buf: Arc<str> = Arc::from("abc");
        let t = Text::shared(&buf, "elsewhere");
        assert!(matches!(t.0, Repr::Owned(_)));
        assert_eq!(t, "elsewhere");
        assert_eq!(Text::from_static("SIP/2.0"), "SIP/2.0");
        assert_eq!(String::from(Text::shared(&buf, &buf[1..])), "bc");
    }
}

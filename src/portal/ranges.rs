//! A body served whole or by the one byte range asked (RFC 9110 §14): what lets a page's
//! `<audio>` player seek in a WAV (`playback.rs`). Several ranges, another unit or a
//! malformed header get the whole body; a range past its end, `416`.

use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq)]
enum Want {
    /// No range, or one not served as such (several ranges, another unit, bad syntax).
    Whole,
    /// Bytes `first..=last`.
    Part(usize, usize),
    /// A range past the end: `416`.
    Unsatisfiable,
}

fn wanted(range: Option<&str>, len: usize) -> Want {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Want::Whole;
    };
    let Some((a, b)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Want::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // the last `b` bytes
        return match b.parse::<usize>() {
            Ok(0) => Want::Unsatisfiable,
            Ok(_) if len == 0 => Want::Unsatisfiable,
            Ok(n) => Want::Part(len.saturating_sub(n), len - 1),
            Err(_) => Want::Whole,
        };
    }
    let Ok(first) = a.parse::<usize>() else {
        return Want::Whole;
    };
    let last = if b.is_empty() {
        usize::MAX
    } else {
        match b.parse::<usize>() {
            Ok(l) if l >= first => l,
            _ => return Want::Whole,
        }
    };
    if first >= len {
        return Want::Unsatisfiable;
    }
    Want::Part(first, last.min(len - 1))
}

/// `body` (of type `content_type`) as the `Range` header `range` asks, with its
/// `Content-Disposition`.
pub fn serve(
    body: Bytes,
    range: Option<&str>,
    content_type: &'static str,
    disposition: &str,
) -> Response {
    let len = body.len();
    let (status, body, content_range) = match wanted(range, len) {
        Want::Whole => (StatusCode::OK, body, None),
        Want::Part(a, b) => (
            StatusCode::PARTIAL_CONTENT,
            body.slice(a..=b),
            Some(format!("bytes {}-{}/{}", a, b, len)),
        ),
        Want::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            Bytes::new(),
            Some(format!("bytes */{}", len)),
        ),
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    for (name, value) in [
        (header::CONTENT_DISPOSITION, Some(disposition.to_string())),
        (header::CONTENT_RANGE, content_range),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 100), Want::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 100), Want::Part(0, 99));
        assert_eq!(wanted(Some("bytes=10-19"), 100), Want::Part(10, 19));
        assert_eq!(wanted(Some("bytes=90-200"), 100), Want::Part(90, 99));
        assert_eq!(wanted(Some("bytes=-30"), 100), Want::Part(70, 99));
        assert_eq!(wanted(Some("bytes=-300"), 100), Want::Part(0, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Want::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Want::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0), Want::Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-2",
            "bytes=x-",
            "bytes=-y",
        ] {
            assert_eq!(wanted(Some(ignored), 100), Want::Whole, "{}", ignored);
        }
    }

    #[test]
    fn answers() {
        let body = Bytes::from_static(b"RIFF0123456789");
        let head = |r: &Response, h| {
            r.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let r = serve(body.clone(), Some("bytes=4-7"), "audio/x-wav", "inline");
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(head(&r, header::CONTENT_RANGE), "bytes 4-7/14");
        assert_eq!(head(&r, header::CONTENT_TYPE), "audio/x-wav");
        assert_eq!(head(&r, header::ACCEPT_RANGES), "bytes");
        assert_eq!(head(&r, header::CONTENT_DISPOSITION), "inline");
        let r = serve(
            body.clone(),
            None,
            "audio/x-wav",
            "attachment; filename=\"a.wav\"",
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(head(&r, header::CONTENT_RANGE), "");
        let r = serve(body, Some("bytes=14-"), "audio/x-wav", "inline");
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(head(&r, header::CONTENT_RANGE), "bytes */14");
    }
}

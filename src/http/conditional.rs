//! Conditional requests (RFC 9110 §13.2.2), evaluated once, in this order:
//!
//! 1. `If-Match`: no strong match (and not `*`) → 412.
//! 2. else `If-Unmodified-Since`: modified after it → 412.
//! 3. `If-None-Match`: a weak match, or `*` → 304.
//! 4. else `If-Modified-Since`: not modified after it → 304.
//!
//! A date that doesn't parse is ignored, as is a date condition on a
//! representation without `Last-Modified` (an empty feed). Each field line
//! of `If-Match`/`If-None-Match` is read on its own, so that a malformed
//! line (an unclosed quote) can't swallow the tags of the next one, as it
//! would if the lines were joined first (found by the `headers` fuzz target).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::SystemTime;

use http::HeaderMap;
use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Send the representation.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluate the request's preconditions against a representation.
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified: Option<SystemTime>) -> Outcome {
    if let Some(matched) = any_line_matches(headers, IF_MATCH, etag, true) {
        if !matched {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(since), Some(lm)) = (date(headers, IF_UNMODIFIED_SINCE), last_modified)
        && lm > since
    {
        return Outcome::PreconditionFailed;
    }
    if let Some(matched) = any_line_matches(headers, IF_NONE_MATCH, etag, false) {
        if matched {
            return Outcome::NotModified;
        }
    } else if let (Some(since), Some(lm)) = (date(headers, IF_MODIFIED_SINCE), last_modified)
        && lm <= since
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// Whether any field line of an entity-tag list header matches `etag`;
/// `None` when the request has no readable line of it.
fn any_line_matches(
    headers: &HeaderMap,
    name: http::header::HeaderName,
    etag: &str,
    strong: bool,
) -> Option<bool> {
    let mut present = false;
    for line in headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
        if matches(line, etag, strong) {
            return Some(true);
        }
        present = true;
    }
    present.then_some(false)
}

/// Every field line of a list header, joined with commas (RFC 9110 §5.3).
/// One line, the common case, is borrowed.
pub fn joined(
    headers: &HeaderMap,
    name: http::header::HeaderName,
) -> Option<std::borrow::Cow<'_, str>> {
    let mut lines = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = lines.next()?;
    match lines.next() {
        None => Some(std::borrow::Cow::Borrowed(first)),
        Some(second) => {
            let mut all = [first, second].join(",");
            for line in lines {
                all.push(',');
                all.push_str(line);
            }
            Some(std::borrow::Cow::Owned(all))
        }
    }
}

fn date(headers: &HeaderMap, name: http::header::HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(name)?.to_str().ok()?.trim()).ok()
}

/// Whether an entity-tag list (or `*`) matches `etag`. Weak comparison
/// ignores `W/` on both sides; strong comparison needs both strong.
fn matches(list: &str, etag: &str, strong: bool) -> bool {
    // What a client that stored our ETag sends back: the tag alone. Our
    // tags are strong, so equal is a match by either comparison.
    if list == etag && !etag.starts_with("W/") {
        return true;
    }
    if list.trim() == "*" {
        return true;
    }
    let (ours_weak, ours) = split_weak(etag);
    parse_list(list)
        .into_iter()
        .any(|(weak, tag)| tag == ours && !(strong && (weak || ours_weak)))
}

fn split_weak(tag: &str) -> (bool, &str) {
    match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    }
}

/// `W/"a", "b"` → [(true, `"a"`), (false, `"b"`)]; malformed members are
/// skipped. Quoted tags may contain commas, so this is a scanner, not a split.
fn parse_list(list: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return out;
        }
        let weak = rest.starts_with("W/");
        let body = if weak { &rest[2..] } else { rest };
        if let Some(after_quote) = body.strip_prefix('"') {
            if let Some(end) = after_quote.find('"') {
                out.push((weak, &body[..end + 2]));
                rest = &after_quote[end + 1..];
                continue;
            }
            return out;
        }
        // Not a quoted tag: skip to the next comma.
        match rest.find(',') {
            Some(i) => rest = &rest[i + 1..],
            None => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    const TAG: &str = "\"abc\"";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn lm() -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(1_600_000_000))
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        for v in [
            "\"abc\"",
            "\"x\", \"abc\"",
            "W/\"abc\"",
            "*",
            "\"x\",W/\"abc\"",
        ] {
            assert_eq!(
                evaluate(&headers(&[("if-none-match", v)]), TAG, lm()),
                Outcome::NotModified,
                "{v}"
            );
        }
        for v in ["\"abcd\"", "abc", "\"x\"", ""] {
            assert_eq!(
                evaluate(&headers(&[("if-none-match", v)]), TAG, lm()),
                Outcome::Proceed,
                "{v}"
            );
        }
    }

    #[test]
    fn several_if_none_match_lines_are_one_list() {
        let h = headers(&[("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")]);
        assert_eq!(evaluate(&h, TAG, lm()), Outcome::NotModified);
    }

    #[test]
    fn if_none_match_beats_if_modified_since() {
        let h = headers(&[
            ("if-none-match", "\"other\""),
            ("if-modified-since", "Sun, 13 Sep 2037 12:26:40 GMT"),
        ]);
        assert_eq!(evaluate(&h, TAG, lm()), Outcome::Proceed);
    }

    #[test]
    fn if_modified_since_compares_dates_and_ignores_garbage() {
        let at = httpdate::fmt_http_date(lm().unwrap());
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &at)]), TAG, lm()),
            Outcome::NotModified
        );
        let before = httpdate::fmt_http_date(lm().unwrap() - Duration::from_secs(1));
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &before)]), TAG, lm()),
            Outcome::Proceed
        );
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", "yesterday")]), TAG, lm()),
            Outcome::Proceed
        );
        assert_eq!(
            evaluate(&headers(&[("if-modified-since", &at)]), TAG, None),
            Outcome::Proceed
        );
    }

    #[test]
    fn if_match_needs_a_strong_match() {
        assert_eq!(
            evaluate(&headers(&[("if-match", "\"abc\"")]), TAG, lm()),
            Outcome::Proceed
        );
        assert_eq!(
            evaluate(&headers(&[("if-match", "W/\"abc\"")]), TAG, lm()),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            evaluate(&headers(&[("if-match", "\"zzz\"")]), TAG, lm()),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            evaluate(&headers(&[("if-match", "*")]), TAG, lm()),
            Outcome::Proceed
        );
    }

    /// Found by the `headers` fuzz target: a line holding a lone `"` used
    /// to swallow the tag on the next line once the lines were joined.
    #[test]
    fn a_malformed_line_does_not_hide_the_tag_on_the_next() {
        let h = headers(&[
            ("if-none-match", "\""),
            ("if-none-match", ""),
            ("if-none-match", TAG),
        ]);
        assert_eq!(evaluate(&h, TAG, lm()), Outcome::NotModified);
        let h = headers(&[("if-match", "\"x"), ("if-match", TAG)]);
        assert_eq!(evaluate(&h, TAG, lm()), Outcome::Proceed);
    }

    #[test]
    fn quoted_commas_do_not_split_tags() {
        assert_eq!(
            parse_list("\"a,b\", W/\"c\""),
            vec![(false, "\"a,b\""), (true, "\"c\"")]
        );
    }
}

//! SPEC's "Limits" on articles: how long an id, title, summary and body may
//! be, and how many names an article may carry, as the site file sets them.
//!
//! [`exceeded`] is the one check, a pure function of the article and the
//! limits; import (a record over a limit is a bad record), `check` (stored
//! rows over a limit are reported) and feeds (such rows are left out, like
//! rows that don't decode) all ask it, so the three never disagree.
//!
//! `max_feed_bytes` and `cache_bytes` live here too, as the site file's other
//! limits, but they bound what the server makes, not what an article holds.
//! So does the site's offset, for SPEC's rule that a date must lie in
//! 0001-9999 in it too: the article alone can't tell (its own offset and
//! UTC are checked when it is validated), and a date feeds can't write in
//! four digits must be refused, reported and left out like any other.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Datelike, FixedOffset, Offset, Utc};

use crate::article::{Article, Body};

/// The site file's limits. [`SiteLimits::default`] holds SPEC's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteLimits {
    /// Bytes of an article id.
    pub max_id_bytes: usize,
    /// Bytes of a title.
    pub max_title_bytes: usize,
    /// Bytes of a summary.
    pub max_summary_bytes: usize,
    /// Bytes of a body or `content_html` (after Markdown, for `.md` files).
    pub max_body_bytes: usize,
    /// Categories, regions and authors of one article, each.
    pub max_names_per_article: usize,
    /// Bytes of a feed's identity body (enforced where feeds are rendered).
    pub max_feed_bytes: usize,
    /// Bytes of rendered feeds the server holds, all codings together
    /// (enforced by the server's cache).
    pub cache_bytes: u64,
    /// The site's offset (its `timezone`), which feeds write every date
    /// in: a date must lie in 0001-01-01..9999-12-31 there too.
    pub offset: FixedOffset,
}

/// SPEC's default `timezone`, +07:00.
const DEFAULT_OFFSET_SECONDS: i32 = 7 * 3600;

impl Default for SiteLimits {
    fn default() -> SiteLimits {
        SiteLimits {
            max_id_bytes: 200,
            max_title_bytes: 1000,
            max_summary_bytes: 4096,
            max_body_bytes: 1_048_576,
            max_names_per_article: 16,
            max_feed_bytes: 2_097_152,
            cache_bytes: 268_435_456,
            offset: FixedOffset::east_opt(DEFAULT_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix()),
        }
    }
}

/// Room a record needs beyond its limited fields: dates, URLs, names and
/// the JSON around them.
const RECORD_SLACK_BYTES: usize = 1 << 20;

/// JSON writes one byte of text as at most six (`\u001f`), and a four-byte
/// character as twelve (a surrogate pair): six per byte at worst.
const WORST_ESCAPE: usize = 6;

impl SiteLimits {
    /// The largest record (a JSON Lines line, a text article file) that
    /// could still hold an article within these limits. A larger one is
    /// refused unread, so that one huge record costs no parsing and no
    /// copies of it in memory.
    pub fn max_record_bytes(&self) -> usize {
        self.max_id_bytes
            .saturating_add(self.max_title_bytes)
            .saturating_add(self.max_summary_bytes)
            .saturating_add(self.max_body_bytes)
            .saturating_mul(WORST_ESCAPE)
            .saturating_add(RECORD_SLACK_BYTES)
    }
}

/// An article field over its limit; shown as
/// ``field `body`: 52428800 bytes, over max_body_bytes = 1048576``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct Exceeded {
    /// The field, as the input formats spell it.
    pub field: &'static str,
    /// What the article has, and the limit it passes.
    pub reason: String,
}

/// The first field of `article` over a limit, in the order of SPEC's
/// article table; `None` when the article is within every limit.
pub fn exceeded(article: &Article, limits: &SiteLimits) -> Option<Exceeded> {
    let body = match &article.body {
        Body::None => 0,
        Body::Text(t) | Body::Html(t) => t.len(),
    };
    let body_field = match &article.body {
        Body::Html(_) => "content_html",
        _ => "body",
    };
    let bytes = |field, actual: usize, limit: &str, max: usize| {
        (actual > max).then(|| Exceeded {
            field,
            reason: format!("{actual} bytes, over {limit} = {max}"),
        })
    };
    let names = |field, list: &[String]| {
        let (actual, max) = (list.len(), limits.max_names_per_article);
        (actual > max).then(|| Exceeded {
            field,
            reason: format!("{actual} names, over max_names_per_article = {max}"),
        })
    };
    bytes("id", article.id.len(), "max_id_bytes", limits.max_id_bytes)
        .or_else(|| {
            bytes(
                "title",
                article.title.len(),
                "max_title_bytes",
                limits.max_title_bytes,
            )
        })
        .or_else(|| {
            bytes(
                "summary",
                article.summary.as_ref().map_or(0, String::len),
                "max_summary_bytes",
                limits.max_summary_bytes,
            )
        })
        .or_else(|| bytes(body_field, body, "max_body_bytes", limits.max_body_bytes))
        .or_else(|| names("authors", &article.authors))
        .or_else(|| names("categories", &article.categories))
        .or_else(|| names("regions", &article.regions))
        .or_else(|| outside_site_years("published", &article.published, limits.offset))
        .or_else(|| outside_site_years("updated", &article.updated, limits.offset))
}

/// A date that leaves 0001..9999 in the site's offset (`9999-12-31T23:59:59Z`
/// is year 10000 at +07:00), which no feed could write in four digits.
fn outside_site_years(
    field: &'static str,
    date: &DateTime<FixedOffset>,
    offset: FixedOffset,
) -> Option<Exceeded> {
    let local = date.with_timezone(&offset);
    (!crate::article::YEARS.contains(&local.year())).then(|| Exceeded {
        field,
        reason: format!(
            "{} is {} in the site's offset, outside 0001-01-01..9999-12-31",
            date.to_rfc3339(),
            local.to_rfc3339()
        ),
    })
}

/// Whether a stored article may reach a feed: within every limit. One that
/// is not is logged (as rows that don't decode are) and left out; `bantin
/// check` reports it.
pub fn admitted(article: &Article, limits: &SiteLimits) -> bool {
    match exceeded(article, limits) {
        None => true,
        Some(e) => {
            tracing::warn!(article = %article.id, "leaving a stored article out of feeds: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn article() -> Article {
        let t = DateTime::parse_from_rfc3339("2020-10-05T16:30:00+07:00").unwrap();
        Article {
            id: "a".into(),
            title: "T".into(),
            summary: None,
            body: Body::None,
            authors: vec![],
            categories: vec!["Kinh tế".into()],
            regions: vec![],
            published: t,
            updated: t,
            url: None,
            image: None,
        }
    }

    #[test]
    fn limits_are_inclusive_and_name_field_and_key() {
        let limits = SiteLimits {
            max_title_bytes: 3,
            ..SiteLimits::default()
        };
        let mut a = article();
        a.title = "abc".into();
        assert_eq!(exceeded(&a, &limits), None);
        a.title = "abcd".into();
        let e = exceeded(&a, &limits).unwrap();
        assert_eq!(
            e.to_string(),
            "field `title`: 4 bytes, over max_title_bytes = 3"
        );
    }

    #[test]
    fn bytes_not_characters_are_counted() {
        let limits = SiteLimits {
            max_id_bytes: 2,
            ..SiteLimits::default()
        };
        let mut a = article();
        a.id = "đ".into(); // two bytes
        assert_eq!(exceeded(&a, &limits), None);
        a.id = "đa".into();
        assert_eq!(exceeded(&a, &limits).unwrap().field, "id");
    }

    #[test]
    fn every_field_has_its_limit() {
        let limits = SiteLimits {
            max_summary_bytes: 1,
            max_body_bytes: 1,
            max_names_per_article: 1,
            ..SiteLimits::default()
        };
        let over = |f: fn(&mut Article)| {
            let mut a = article();
            f(&mut a);
            exceeded(&a, &limits).map(|e| e.field)
        };
        assert_eq!(over(|_| {}), None);
        assert_eq!(over(|a| a.summary = Some("ab".into())), Some("summary"));
        assert_eq!(over(|a| a.body = Body::Text("ab".into())), Some("body"));
        assert_eq!(
            over(|a| a.body = Body::Html("ab".into())),
            Some("content_html")
        );
        assert_eq!(
            over(|a| a.authors = vec!["x".into(), "y".into()]),
            Some("authors")
        );
        assert_eq!(over(|a| a.categories.push("y".into())), Some("categories"));
        assert_eq!(
            over(|a| a.regions = vec!["x".into(), "y".into()]),
            Some("regions")
        );
    }

    #[test]
    fn dates_must_lie_in_years_1_to_9999_in_the_sites_offset_too() {
        let at = |offset_hours: i32| SiteLimits {
            offset: chrono::FixedOffset::east_opt(offset_hours * 3600).unwrap(),
            ..SiteLimits::default()
        };
        let dated = |published: &str, updated: &str| {
            let mut a = article();
            a.published = DateTime::parse_from_rfc3339(published).unwrap();
            a.updated = DateTime::parse_from_rfc3339(updated).unwrap();
            a
        };
        let last = dated("2020-10-05T16:30:00Z", "9999-12-31T23:59:59Z");
        assert_eq!(exceeded(&last, &at(0)), None);
        let e = exceeded(&last, &at(7)).unwrap();
        assert_eq!(
            e.to_string(),
            "field `updated`: 9999-12-31T23:59:59+00:00 is +10000-01-01T06:59:59+07:00 \
             in the site's offset, outside 0001-01-01..9999-12-31"
        );
        assert_eq!(SiteLimits::default().offset, at(7).offset, "SPEC's default");
        let first = dated("0001-01-01T03:00:00Z", "2020-10-05T16:30:00Z");
        assert_eq!(exceeded(&first, &at(-3)), None);
        assert_eq!(exceeded(&first, &at(-4)).unwrap().field, "published");
    }

    #[test]
    fn the_record_bound_leaves_room_for_a_fully_escaped_article() {
        let l = SiteLimits::default();
        assert!(l.max_record_bytes() > 6 * l.max_body_bytes);
        assert!(l.max_record_bytes() < 50 * 1024 * 1024);
        let huge = SiteLimits {
            max_body_bytes: usize::MAX,
            ..l
        };
        assert_eq!(huge.max_record_bytes(), usize::MAX);
    }
}

//! The domain: an article as the newsroom wrote it, and the key of a feed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Datelike, FixedOffset};

/// An article's text after its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body: the feed carries the summary only.
    None,
    /// Plain paragraphs separated by blank lines, shown as text.
    Text(String),
    /// HTML, sanitized before it reaches a feed.
    Html(String),
}

impl Body {
    /// The body from SPEC's two optional fields: non-blank `content_html`
    /// wins over non-blank `body`.
    pub fn from_fields(content_html: Option<String>, body: Option<String>) -> Body {
        match (content_html, body) {
            (Some(html), _) if !html.trim().is_empty() => Body::Html(html),
            (_, Some(text)) if !text.trim().is_empty() => Body::Text(text),
            _ => Body::None,
        }
    }
}

/// One article, validated: every field holds what SPEC's "Articles" table
/// promises (non-empty id and title, at least one category, absolute URLs,
/// NFC display names with non-empty slugs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Stable unique id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// The lede (sapo), plain text.
    pub summary: Option<String>,
    /// The text after the lede.
    pub body: Body,
    /// Author names, in byline order.
    pub authors: Vec<String>,
    /// Category display names, at least one.
    pub categories: Vec<String>,
    /// Region display names.
    pub regions: Vec<String>,
    /// First publication, with the offset it was written in.
    pub published: DateTime<FixedOffset>,
    /// Last change; `published` when the source gave none.
    pub updated: DateTime<FixedOffset>,
    /// Canonical link, absolute; `None` means `{base_url}/articles/{id}`.
    pub url: Option<String>,
    /// Lead image, absolute URL.
    pub image: Option<String>,
}

/// Why a record is not an article.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArticleError {
    /// A required field is absent or empty.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field has the wrong shape.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field's name as the input formats spell it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Article {
    /// Normalize names (NFC, trimmed, duplicates dropped) and check the
    /// invariants every later stage relies on.
    pub fn validated(mut self) -> Result<Article, ArticleError> {
        if self.id.trim().is_empty() {
            return Err(ArticleError::Missing("id"));
        }
        // An id is a key, not text: a control character can't be dropped
        // from it without making another id (and PostgreSQL can't store NUL).
        if self.id.chars().any(char::is_control) {
            return Err(ArticleError::Invalid {
                field: "id",
                reason: format!("{:?} contains a control character", self.id),
            });
        }
        // `.` and `..` are path segments: `{base_url}/articles/..` is not
        // this article's page (SPEC "Limits").
        if self.id == "." || self.id == ".." {
            return Err(ArticleError::Invalid {
                field: "id",
                reason: format!(
                    "{:?} is refused: its link /articles/{} would name another page",
                    self.id, self.id
                ),
            });
        }
        date_in_range("published", &self.published)?;
        date_in_range("updated", &self.updated)?;
        self.title = self.title.trim().to_string();
        // A title of control characters alone would reach feeds empty: they
        // are dropped on output (SPEC "Feeds are valid").
        if crate::text::clean_line(&self.title).is_empty() {
            return Err(ArticleError::Missing("title"));
        }
        self.summary = self
            .summary
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        self.categories = names("categories", &self.categories)?;
        if self.categories.is_empty() {
            return Err(ArticleError::Missing("categories"));
        }
        self.regions = names("regions", &self.regions)?;
        // A name twice in a byline is one author (feed readers merge them).
        let mut authors: Vec<String> = Vec::with_capacity(self.authors.len());
        for a in &self.authors {
            let a = crate::slug::normalize_name(a);
            if !a.is_empty() && !authors.contains(&a) {
                authors.push(a);
            }
        }
        self.authors = authors;
        for (field, value) in [("url", &mut self.url), ("image", &mut self.image)] {
            if let Some(v) = value {
                *v = absolute_url(field, v)?;
            }
        }
        Ok(self)
    }
}

/// The first and last years SPEC allows a date in, in UTC and in the
/// date's own offset alike: what an HTTP date (`Last-Modified`), RFC 822
/// and RFC 3339 can all write with four digits.
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Whether a date lies between 0001-01-01 and 9999-12-31 both in UTC and in
/// its own offset (`9999-12-31T23:59:59-23:59` is year 10000 in UTC).
pub fn date_in_spec_range(date: &DateTime<FixedOffset>) -> bool {
    YEARS.contains(&date.naive_utc().year()) && YEARS.contains(&date.naive_local().year())
}

fn date_in_range(field: &'static str, date: &DateTime<FixedOffset>) -> Result<(), ArticleError> {
    if date_in_spec_range(date) {
        return Ok(());
    }
    Err(ArticleError::Invalid {
        field,
        reason: format!(
            "{} ({} in UTC) lies outside 0001-01-01..9999-12-31",
            date.naive_local(),
            date.naive_utc()
        ),
    })
}

fn names(field: &'static str, raw: &[String]) -> Result<Vec<String>, ArticleError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        let name = crate::slug::normalize_name(name);
        if crate::slug::slugify(&name).is_empty() {
            return Err(ArticleError::Invalid {
                field,
                reason: format!("{name:?} has no letter or digit to make a slug from"),
            });
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The URL in its serialized form: the parser percent-encodes spaces,
/// control characters and the like, which must not reach a feed raw (a NUL
/// in an `href` is not even XML).
fn absolute_url(field: &'static str, value: &str) -> Result<String, ArticleError> {
    match ammonia::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(u.into()),
        Ok(u) => Err(ArticleError::Invalid {
            field,
            reason: format!("{value:?} is not an http(s) URL (scheme {})", u.scheme()),
        }),
        Err(e) => Err(ArticleError::Invalid {
            field,
            reason: format!("{value:?} is not an absolute URL: {e}"),
        }),
    }
}

/// Which list of names a slug belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    /// `categories`
    Category,
    /// `regions`
    Region,
    /// `authors`
    Author,
}

impl Facet {
    /// Every facet, in the order pages list them.
    pub const ALL: [Facet; 3] = [Facet::Category, Facet::Region, Facet::Author];

    /// The URL segment and site-file table for this facet, singular.
    pub fn segment(self) -> &'static str {
        match self {
            Facet::Category => "category",
            Facet::Region => "region",
            Facet::Author => "author",
        }
    }
}

impl Article {
    /// The article's names of a facet, as written.
    pub fn names(&self, facet: Facet) -> &[String] {
        match facet {
            Facet::Category => &self.categories,
            Facet::Region => &self.regions,
            Facet::Author => &self.authors,
        }
    }
}

/// Which articles a feed holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedKey {
    /// Every article.
    All,
    /// One category, by slug.
    Category(String),
    /// One region, by slug.
    Region(String),
    /// A category within a region: (category slug, region slug).
    CategoryRegion(String, String),
    /// One author (byline name), by slug.
    Author(String),
    /// The articles holding every one of these folded words (space-separated,
    /// as `search::words` gives them).
    Search(String),
}

impl FeedKey {
    /// The feed's path under `/feeds/`, without extension:
    /// `all`, `category/{slug}`, `region/{slug}`, `category/{c}/region/{r}`.
    pub fn path(&self) -> String {
        match self {
            FeedKey::All => "all".to_string(),
            FeedKey::Category(c) => format!("category/{c}"),
            FeedKey::Region(r) => format!("region/{r}"),
            FeedKey::CategoryRegion(c, r) => format!("category/{c}/region/{r}"),
            FeedKey::Author(a) => format!("author/{a}"),
            FeedKey::Search(_) => "search".to_string(),
        }
    }

    /// The facet and slug of a one-name feed.
    pub fn single(&self) -> Option<(Facet, &str)> {
        match self {
            FeedKey::Category(s) => Some((Facet::Category, s)),
            FeedKey::Region(s) => Some((Facet::Region, s)),
            FeedKey::Author(s) => Some((Facet::Author, s)),
            FeedKey::All | FeedKey::CategoryRegion(..) | FeedKey::Search(_) => None,
        }
    }

    /// The inverse of [`FeedKey::path`]; `None` for anything else, including
    /// segments that are not slugs.
    pub fn from_path(path: &str) -> Option<FeedKey> {
        // At most four segments; a fifth makes the path no feed's. On the
        // stack: this runs for every request.
        let mut parts = [""; 5];
        let mut n = 0;
        for part in path.split('/') {
            match parts.get_mut(n) {
                Some(slot) => *slot = part,
                None => return None,
            }
            n += 1;
        }
        let ok = |s: &str| crate::slug::is_slug(s);
        match parts.get(..n).unwrap_or_default() {
            ["all"] => Some(FeedKey::All),
            ["category", c] if ok(c) => Some(FeedKey::Category(c.to_string())),
            ["region", r] if ok(r) => Some(FeedKey::Region(r.to_string())),
            ["author", a] if ok(a) => Some(FeedKey::Author(a.to_string())),
            ["category", c, "region", r] if ok(c) && ok(r) => {
                Some(FeedKey::CategoryRegion(c.to_string(), r.to_string()))
            }
            _ => None,
        }
    }
}

/// An RFC 3339 date with its offset, as import formats write them; the
/// error names `field`.
pub(crate) fn parse_date(
    field: &str,
    s: &str,
) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("field `{field}`: {s:?} is not an RFC 3339 date with offset ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Article {
        let t = DateTime::parse_from_rfc3339("2020-10-05T16:30:00+07:00").unwrap();
        Article {
            id: "a".into(),
            title: " T ".into(),
            summary: Some("  ".into()),
            body: Body::None,
            authors: vec![" Thanh  Giang ".into(), "".into(), "Thanh Giang".into()],
            categories: vec![
                "Quốc phòng - An ninh".into(),
                "Quốc phòng -  An ninh".into(),
            ],
            regions: vec![],
            published: t,
            updated: t,
            url: None,
            image: None,
        }
    }

    #[test]
    fn validation_normalizes_names_and_drops_empty_fields() {
        let a = sample().validated().unwrap();
        assert_eq!(a.title, "T");
        assert_eq!(a.summary, None);
        assert_eq!(a.authors, vec!["Thanh Giang"]);
        assert_eq!(a.categories, vec!["Quốc phòng - An ninh"]);
    }

    #[test]
    fn validation_rejects_what_spec_forbids() {
        let mut a = sample();
        a.categories.clear();
        assert_eq!(a.validated(), Err(ArticleError::Missing("categories")));
        let mut a = sample();
        a.url = Some("/relative".into());
        assert!(matches!(
            a.validated(),
            Err(ArticleError::Invalid { field: "url", .. })
        ));
        let mut a = sample();
        a.image = Some("javascript:alert(1)".into());
        assert!(matches!(
            a.validated(),
            Err(ArticleError::Invalid { field: "image", .. })
        ));
        let mut a = sample();
        a.id = "a\u{0}b".into();
        assert!(matches!(
            a.validated(),
            Err(ArticleError::Invalid { field: "id", .. })
        ));
        let mut a = sample();
        a.regions = vec!["—".into()];
        assert!(matches!(
            a.validated(),
            Err(ArticleError::Invalid {
                field: "regions",
                ..
            })
        ));
    }

    #[test]
    fn dot_ids_are_refused_and_dotted_ids_are_not() {
        for id in [".", ".."] {
            let mut a = sample();
            a.id = id.into();
            assert!(
                matches!(
                    a.validated(),
                    Err(ArticleError::Invalid { field: "id", .. })
                ),
                "{id}"
            );
        }
        for id in ["...", ".a", "a..b", "./"] {
            let mut a = sample();
            a.id = id.into();
            assert!(a.validated().is_ok(), "{id}");
        }
    }

    #[test]
    fn dates_must_lie_in_years_1_to_9999_in_utc_and_their_own_offset() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        for ok in [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59+23:59",
            "0001-01-01T23:59:00-00:00",
        ] {
            let mut a = sample();
            a.published = at(ok);
            a.updated = at(ok);
            assert!(a.validated().is_ok(), "{ok}");
        }
        for (bad, field) in [
            ("9999-12-31T23:59:59-23:59", "updated"),
            ("0001-01-01T00:00:00+00:01", "published"),
            ("0000-12-31T23:59:59Z", "published"),
        ] {
            let mut a = sample();
            match field {
                "updated" => a.updated = at(bad),
                _ => a.published = at(bad),
            }
            let err = a.validated().unwrap_err();
            assert!(
                matches!(&err, ArticleError::Invalid { field: f, .. } if *f == field),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("0001-01-01..9999-12-31"), "{err}");
        }
    }

    #[test]
    fn feed_paths_round_trip_and_reject_non_slugs() {
        for key in [
            FeedKey::All,
            FeedKey::Category("kinh-te".into()),
            FeedKey::Region("duc-tho".into()),
            FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into()),
            FeedKey::Author("thanh-giang".into()),
        ] {
            assert_eq!(FeedKey::from_path(&key.path()), Some(key));
        }
        assert_eq!(FeedKey::from_path("category/Kinh-te"), None);
        assert_eq!(FeedKey::from_path("category/../all"), None);
        assert_eq!(FeedKey::from_path("region/a/category/b"), None);
    }
}

//! Turning a [`Feed`] into bytes on the wire: one adapter per format, each
//! from our domain types to the format's own (the `rss` and
//! `atom_syndication` crates, serde for JSON Feed).

mod atom;
mod json;
mod rss;
mod xml;

use crate::feed::{Feed, Month};

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// RSS 2.0
    Rss,
    /// Atom 1.0 (RFC 4287)
    Atom,
    /// JSON Feed 1.1
    Json,
}

impl Format {
    /// Every format, in the order pages list them.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The file extension, which is also the `--format` value.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The media type without parameters, for `<link type>` and OPML.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// The format with extension `ext`.
    pub fn from_ext(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.ext() == ext)
    }
}

/// A feed in a format, as sent: the same bytes from the server, `dump` and
/// `build`.
pub fn render(feed: &Feed, format: Format) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(feed),
        Format::Atom => atom::render(feed),
        Format::Json => json::render(feed),
    }
}

/// The subscription feed's URL in a format: the `current` of its archives,
/// and the identity (Atom `id`, JSON Feed `feed_url`) of every document of
/// the feed, archives included, as RFC 5005 has them make one logical feed.
pub fn feed_url(feed: &Feed, format: Format) -> String {
    match &feed.query {
        Some(q) => format!("{}.{}?{q}", feed.url_stem, format.ext()),
        None => format!("{}.{}", feed.url_stem, format.ext()),
    }
}

/// The URL of the feed's archive document for `month`:
/// `{feed}/archive/{YYYY-MM}.{ext}` (SPEC "URLs").
pub fn archive_url(feed: &Feed, month: Month, format: Format) -> String {
    format!("{}/archive/{month}.{}", feed.url_stem, format.ext())
}

/// This document's own URL (`rel="self"`): its archive URL, or the feed's.
pub fn self_url(feed: &Feed, format: Format) -> String {
    match &feed.archive {
        Some(a) => archive_url(feed, a.month, format),
        None => feed_url(feed, format),
    }
}

/// The RFC 5005 links of a document, as (rel, URL), in a fixed order: an
/// archive links `current` and the months beside it that have articles; a
/// subscription feed links its newest month as `prev-archive`.
fn history_links(feed: &Feed, format: Format) -> Vec<(&'static str, String)> {
    let month = |rel, m: Option<Month>| m.map(|m| (rel, archive_url(feed, m, format)));
    match &feed.archive {
        Some(a) => [
            Some(("current", feed_url(feed, format))),
            month("prev-archive", a.prev),
            month("next-archive", a.next),
        ]
        .into_iter()
        .flatten()
        .collect(),
        None => month("prev-archive", feed.newest_month)
            .into_iter()
            .collect(),
    }
}

/// The feed-history namespace of `<fh:archive/>` (RFC 5005 §4).
const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// The scheme (RSS `domain`, Atom `scheme`) of a facet's terms: the folder
/// of its feeds.
fn term_scheme(feed: &Feed, facet: crate::article::Facet) -> String {
    format!("{}feeds/{}/", feed.home_url, facet.segment())
}

/// A MIME type for an image URL, from its extension, for enclosures.
fn image_type(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    match ext {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        "avif" => Some("image/avif"),
        _ => None,
    }
}

/// The Atom `updated` of an empty feed: Atom requires one even with no
/// entries, SPEC forbids taking it from the clock (the bytes and ETag of an
/// empty feed must not change), and fixes it at 2000-01-01T00:00:00 in the
/// site's offset, a date validators find plausible (they flag any before
/// 1990, the Unix epoch included).
fn empty_feed_updated(feed: &Feed) -> chrono::DateTime<chrono::FixedOffset> {
    use chrono::TimeZone;
    feed.offset
        .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("a fixed offset maps every local time to one instant")
}

//! Turning a [`Feed`] into bytes on the wire: one adapter per format, each
//! from our domain types to the format's own (the `rss` and
//! `atom_syndication` crates, serde for JSON Feed).

mod atom;
mod json;
mod rss;
mod xml;

use crate::feed::Feed;

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

/// The feed's own URL in a format.
pub fn self_url(feed: &Feed, format: Format) -> String {
    format!("{}.{}", feed.url_stem, format.ext())
}

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

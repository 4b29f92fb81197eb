//! Turning a [`Feed`] into bytes on the wire: one adapter per format, each
//! from our domain types to the format's own (the `rss` and
//! `atom_syndication` crates, serde for JSON Feed).

mod atom;
mod json;
mod rss;
mod xml;

use crate::feed::{ArchivePage, Feed};

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
/// `build`. Within the feed's `max_bytes` when giving its oldest items
/// their summary for their content can bring it there (see [`fit`]).
pub fn render(feed: &Feed, format: Format) -> Vec<u8> {
    let write = |feed: &Feed| match format {
        Format::Rss => rss::render(feed),
        Format::Atom => atom::render(feed),
        Format::Json => json::render(feed),
    };
    let content_bytes = match format {
        Format::Rss => rss::content_bytes,
        Format::Atom => atom::content_bytes,
        Format::Json => json::content_bytes,
    };
    fit(feed, content_bytes, write)
}

/// How many bytes an item's content adds to a format's document.
type ContentBytes = fn(&crate::feed::Item) -> usize;

/// SPEC "Limits": a feed whose body would pass `max_bytes` gives its
/// oldest items their summary instead of their content until it fits,
/// never cutting an item. The same rule in every format; how many items it
/// takes depends on the format's size.
///
/// Rendering once per dropped content would cost O(items²) on the feeds
/// most likely to be large. Instead each format says exactly how many bytes
/// an item's content adds (`content_bytes`), the oldest items give up their
/// content until the full size minus those savings fits, and one more
/// render verifies; should it still not fit (the estimate is meant to be
/// exact, the check is what the limit rests on), dropping goes on from the
/// measured size. So: one render when the feed fits, usually two when it
/// doesn't. If every item is down to its summary and the feed still does
/// not fit, it is sent as it is: items are never cut or dropped.
///
/// When the items' content alone passes the limit (an archive month of
/// thousands of articles), the whole document surely does, and rendering
/// it would only cost memory (issue 17: tens of MB a format): the items
/// are rendered first with no content at all, and the newest get theirs
/// back as far as the measured size allows.
fn fit(
    feed: &Feed,
    content_bytes: ContentBytes,
    mut write: impl FnMut(&Feed) -> Vec<u8>,
) -> Vec<u8> {
    let contents: Vec<usize> = feed.items.iter().map(content_bytes).collect();
    let (mut shrunk, mut size, mut oldest_with_content);
    if contents.iter().sum::<usize>() <= feed.max_bytes {
        let full = write(feed);
        if full.len() <= feed.max_bytes {
            return full;
        }
        shrunk = feed.clone();
        size = full.len();
        // Items are newest first, so the oldest without content yet is
        // the last one with content.
        oldest_with_content = shrunk.items.len();
    } else {
        let bare = write(&with_content(feed, 0));
        size = bare.len();
        oldest_with_content = 0;
        for bytes in &contents {
            if size + bytes > feed.max_bytes {
                break;
            }
            size += bytes;
            oldest_with_content += 1;
        }
        if oldest_with_content == 0 {
            return bare;
        }
        drop(bare);
        shrunk = with_content(feed, oldest_with_content);
    }
    loop {
        while size > feed.max_bytes && oldest_with_content > 0 {
            oldest_with_content -= 1;
            let item = &mut shrunk.items[oldest_with_content];
            size = size.saturating_sub(content_bytes(item));
            item.content_html = None;
        }
        let out = write(&shrunk);
        if out.len() <= feed.max_bytes || oldest_with_content == 0 {
            return out;
        }
        size = out.len();
    }
}

/// A copy of `feed` whose newest `keep` items have their content and the
/// others none, the others' content never copied.
fn with_content(feed: &Feed, keep: usize) -> Feed {
    let items = feed
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| crate::feed::Item {
            guid: item.guid.clone(),
            link: item.link.clone(),
            title: item.title.clone(),
            summary: item.summary.clone(),
            content_html: if i < keep {
                item.content_html.clone()
            } else {
                None
            },
            authors: item.authors.clone(),
            terms: item.terms.clone(),
            published: item.published,
            updated: item.updated,
            image: item.image.clone(),
        })
        .collect();
    Feed {
        items,
        ..feed.clone_without_items()
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

/// The URL of one of the feed's archive documents:
/// `{feed}/archive/{YYYY-MM}.{ext}`, or `{feed}/archive/{YYYY-MM}-p{N}.{ext}`
/// for page N >= 2 of a month over `archive_items` (SPEC "URLs").
pub fn archive_url(feed: &Feed, page: ArchivePage, format: Format) -> String {
    format!("{}/archive/{page}.{}", feed.url_stem, format.ext())
}

/// This document's own URL (`rel="self"`): its archive URL, or the feed's.
pub fn self_url(feed: &Feed, format: Format) -> String {
    match &feed.archive {
        Some(a) => archive_url(feed, a.this(), format),
        None => feed_url(feed, format),
    }
}

/// The RFC 5005 links of a document, as (rel, URL), in a fixed order: an
/// archive links `current` and the documents beside it in the chain (the
/// pages of its month, or the months beside it that have articles); a
/// subscription feed links its newest month as `prev-archive`.
fn history_links(feed: &Feed, format: Format) -> Vec<(&'static str, String)> {
    let link = |rel, p: Option<ArchivePage>| p.map(|p| (rel, archive_url(feed, p, format)));
    match &feed.archive {
        Some(a) => [
            Some(("current", feed_url(feed, format))),
            link("prev-archive", a.prev),
            link("next-archive", a.next),
        ]
        .into_iter()
        .flatten()
        .collect(),
        None => link("prev-archive", feed.newest_month.map(ArchivePage::first))
            .into_iter()
            .collect(),
    }
}

/// The feed-history namespace of `<fh:archive/>` (RFC 5005 §4).
const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// The RSS 1.0 syndication module, which RSS 2.0 and Atom readers read
/// for how often to poll.
const SY_NS: &str = "http://purl.org/rss/1.0/modules/syndication/";

/// RSS `<ttl>`: `max_age` in minutes, rounded up, at least 1.
fn ttl_minutes(max_age: u64) -> u64 {
    max_age.div_ceil(60).max(1)
}

/// `sy:updatePeriod` and `sy:updateFrequency` for a feed fresh for
/// `max_age` seconds: the shortest period that holds it, and how many
/// times in it (rounded down, at least once), so that a reader following
/// them never polls sooner than `Cache-Control` allows.
fn update_schedule(max_age: u64) -> (&'static str, u64) {
    const PERIODS: [(&str, u64); 5] = [
        ("hourly", 3_600),
        ("daily", 86_400),
        ("weekly", 604_800),
        ("monthly", 2_592_000),
        ("yearly", 31_536_000),
    ];
    let age = max_age.max(1);
    let (period, secs) = PERIODS
        .into_iter()
        .find(|(_, secs)| age <= *secs)
        .unwrap_or(("yearly", 31_536_000));
    (period, (secs / age).max(1))
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use chrono::{DateTime, FixedOffset};

    use super::*;

    #[test]
    fn poll_hints_never_ask_sooner_than_cache_control() {
        assert_eq!(ttl_minutes(300), 5);
        assert_eq!(ttl_minutes(301), 6);
        assert_eq!(ttl_minutes(0), 1);
        assert_eq!(update_schedule(300), ("hourly", 12));
        assert_eq!(update_schedule(420), ("hourly", 8));
        assert_eq!(update_schedule(3_600), ("hourly", 1));
        assert_eq!(update_schedule(7_200), ("daily", 12));
        assert_eq!(update_schedule(0), ("hourly", 3_600));
        assert_eq!(update_schedule(31_536_000), ("yearly", 1));
    }
    use crate::article::FeedKey;
    use crate::feed::Item;

    /// A feed of `n` items, newest first, whose content holds what the
    /// writers escape differently: `]]>` (in an attribute, where HTML
    /// serializers leave it), quotes, `&`, `<`, tabs and newlines.
    fn feed(n: usize) -> Feed {
        let offset = FixedOffset::east_opt(7 * 3600).unwrap();
        let base = DateTime::parse_from_rfc3339("2020-10-01T08:00:00+07:00").unwrap();
        let items = (0..n)
            .map(|i| {
                let date = base - chrono::Duration::hours(i as i64);
                Item {
                    guid: format!("http://x.example/articles/{i}"),
                    link: format!("http://x.example/articles/{i}"),
                    title: format!("Bài {i} & <b>"),
                    summary: Some(format!("Tóm tắt {i} \"q\" ]]> 'a'")),
                    content_html: Some(format!(
                        "<p title=\"]]>\">Đoạn {i}: a &amp; b &lt; c 'x' \"y\"\t🌾</p>\n{}",
                        "<p>Chữ của thân bài, đủ dài để nặng hơn phần còn lại.</p>"
                            .repeat(4 + i % 7)
                    )),
                    authors: vec![],
                    terms: vec![],
                    published: date,
                    updated: date,
                    image: (i % 3 == 0).then(|| format!("http://x.example/{i}.jpg")),
                }
            })
            .collect::<Vec<_>>();
        Feed {
            key: FeedKey::All,
            title: "T".into(),
            description: "D".into(),
            language: "vi".into(),
            home_url: "http://x.example/".into(),
            url_stem: "http://x.example/feeds/all".into(),
            query: None,
            updated: items.first().map(|i| i.updated),
            max_age: 300,
            newest_month: None,
            items,
            offset,
            hubs: vec![],
            archive: None,
            max_bytes: usize::MAX,
        }
    }

    fn writer(format: Format) -> (fn(&Feed) -> Vec<u8>, ContentBytes) {
        match format {
            Format::Rss => (rss::render, rss::content_bytes),
            Format::Atom => (atom::render, atom::content_bytes),
            Format::Json => (json::render, json::content_bytes),
        }
    }

    #[test]
    fn each_format_knows_exactly_what_an_items_content_adds() {
        let full = feed(9);
        for format in Format::ALL {
            let (write, content_bytes) = writer(format);
            let size = write(&full).len();
            for i in 0..full.items.len() {
                let mut without = full.clone();
                without.items[i].content_html = None;
                assert_eq!(
                    size - write(&without).len(),
                    content_bytes(&full.items[i]),
                    "{format:?} item {i}"
                );
            }
        }
    }

    #[test]
    fn an_oversized_feed_gives_its_oldest_items_their_summary_and_no_more() {
        for format in Format::ALL {
            let (write, _) = writer(format);
            let mut big = feed(40);
            let full = write(&big).len();
            big.max_bytes = full * 2 / 3;
            let out = render(&big, format);
            assert!(out.len() <= big.max_bytes, "{format:?}");
            // Which items kept their content: a newest-first prefix.
            let text = String::from_utf8(out).unwrap();
            let kept: Vec<bool> = (0..big.items.len())
                .map(|i| text.contains(&format!("Đoạn {i}:")))
                .collect();
            let k = kept.iter().take_while(|&&c| c).count();
            assert!(k > 0 && k < kept.len(), "{format:?}: {kept:?}");
            assert!(kept[k..].iter().all(|&c| !c), "{format:?}: not the oldest");
            // Every item is still there, with its summary.
            for i in 0..big.items.len() {
                assert!(text.contains(&format!("Bài {i} ")), "{format:?} item {i}");
            }
            // And no more than needed: keeping one more content won't fit.
            let mut one_more = big.clone();
            for item in &mut one_more.items[k + 1..] {
                item.content_html = None;
            }
            one_more.max_bytes = usize::MAX;
            assert!(write(&one_more).len() > big.max_bytes, "{format:?}: {k}");
        }
    }

    #[test]
    fn a_feed_whose_content_alone_is_over_the_limit_is_never_rendered_whole() {
        for format in Format::ALL {
            let (write, content_bytes) = writer(format);
            let mut f = feed(60);
            let full = write(&f).len();
            let content: usize = f.items.iter().map(content_bytes).sum();
            f.max_bytes = content - 1;
            let largest = Cell::new(0);
            let measured = |f: &Feed| {
                let out = write(f);
                largest.set(largest.get().max(out.len()));
                out
            };
            let out = fit(&f, content_bytes, measured);
            assert!(out.len() <= f.max_bytes, "{format:?}");
            assert!(
                largest.get() <= f.max_bytes,
                "{format:?}: {} of {full}",
                largest.get()
            );
            // The newest items keep their content, as many as fit: one
            // more would not.
            let text = String::from_utf8(out).unwrap();
            let k = (0..60)
                .take_while(|i| text.contains(&format!("Đoạn {i}:")))
                .count();
            assert!(k > 0, "{format:?}");
            let mut one_more = with_content(&f, k + 1);
            one_more.max_bytes = usize::MAX;
            assert!(write(&one_more).len() > f.max_bytes, "{format:?}: {k}");
        }
    }

    #[test]
    fn fitting_renders_once_when_it_fits_and_twice_when_it_does_not() {
        for format in Format::ALL {
            let (write, content_bytes) = writer(format);
            let mut f = feed(60);
            let full = write(&f).len();
            let renders = Cell::new(0);
            let counted = |f: &Feed| {
                renders.set(renders.get() + 1);
                write(f)
            };
            f.max_bytes = full;
            fit(&f, content_bytes, counted);
            assert_eq!(renders.replace(0), 1, "{format:?}");
            f.max_bytes = full / 2;
            assert!(fit(&f, content_bytes, counted).len() <= f.max_bytes);
            assert_eq!(renders.replace(0), 2, "{format:?}");
            // Even with every content gone the feed does not fit: all items
            // are sent with their summaries, none cut, after one render
            // (the content alone is over the limit: the whole document is
            // never rendered).
            f.max_bytes = 10;
            let out = String::from_utf8(fit(&f, content_bytes, counted)).unwrap();
            assert_eq!(renders.replace(0), 1, "{format:?}");
            assert!(!out.contains("Đoạn"), "{format:?}");
            assert!(out.contains("Bài 59 "), "{format:?}");
        }
    }

    #[test]
    fn a_wrong_estimate_is_caught_by_the_check() {
        let mut f = feed(30);
        let full = rss::render(&f).len();
        f.max_bytes = full / 2;
        // An estimate ten times too high drops too few at first; the check
        // sees the feed still too big and drops on from the measured size.
        let out = fit(&f, |i| rss::content_bytes(i) * 10, rss::render);
        assert!(out.len() <= f.max_bytes);
    }
}

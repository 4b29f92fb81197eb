//! Shaping selected articles into a [`Feed`]: titles, names, items with
//! every field cleaned and every date in the site's offset.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::catalog::Catalog;
use super::month::{Archive, ArchivePage, Month};
use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::Site;
use crate::text::{clean, clean_line, escape_html_into, excerpt, html_text};

/// RFC 3986 unreserved characters stay; everything else in an id is encoded.
const ID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A category or region attached to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Which taxonomy.
    pub facet: Facet,
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// One item of a feed, every field cleaned for output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// RSS guid and Atom id: `{id_prefix}{id}`, id percent-encoded.
    pub guid: String,
    /// The article's link.
    pub link: String,
    /// One-line title.
    pub title: String,
    /// Plain-text summary: the article's lede; without one, an excerpt of
    /// its body; without body text, when the item still has content (a
    /// lead image alone), its title. RSS needs a `description` before
    /// `content:encoded` (the RSS profile; the W3C validator warns without
    /// one), and readers show it as the teaser; an excerpt tells more than
    /// the title they already show. Only a title-only article has none.
    pub summary: Option<String>,
    /// Sanitized HTML of the body (lead image first, when there is one).
    pub content_html: Option<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// Categories, then regions.
    pub terms: Vec<Term>,
    /// In the site's offset.
    pub published: DateTime<FixedOffset>,
    /// In the site's offset; never before `published`.
    pub updated: DateTime<FixedOffset>,
    /// Lead image URL.
    pub image: Option<String>,
}

/// A feed ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Which feed.
    pub key: FeedKey,
    /// Title per SPEC: `{title}`, `{title} – {name}`, `{title} – {c} – {r}`.
    pub title: String,
    /// Channel description / subtitle.
    pub description: String,
    /// Language tag.
    pub language: String,
    /// `{base_url}/`: the site the feed belongs to.
    pub home_url: String,
    /// `{base_url}/feeds/{path}`, without extension.
    pub url_stem: String,
    /// The query string of the feed's URL, without `?` (a keyword feed's
    /// `q=…`); it follows the extension.
    pub query: Option<String>,
    /// Newest `updated` among items; `None` for an empty feed.
    pub updated: Option<DateTime<FixedOffset>>,
    /// The site's `max_age` in seconds, what `Cache-Control` says of a
    /// subscription feed: RSS `<ttl>` and `sy:updatePeriod`/`Frequency`
    /// say it again in readers' words.
    pub max_age: u64,
    /// Newest first.
    pub items: Vec<Item>,
    /// Every date is written in this offset.
    pub offset: FixedOffset,
    /// WebSub hubs the feed advertises (SPEC "WebSub"); none on archives.
    pub hubs: Vec<String>,
    /// On a subscription feed, the newest month with articles: its
    /// `prev-archive`. `None` on an empty feed and on archives.
    pub newest_month: Option<Month>,
    /// Set on an archive document, `None` on a subscription feed.
    pub archive: Option<Archive>,
    /// The identity body's size limit (`max_feed_bytes`), which renderers
    /// keep by giving the oldest items their summary for their content.
    pub max_bytes: usize,
}

impl Feed {
    /// This feed with no items: what a renderer copies before it gives
    /// the items other content.
    pub fn clone_without_items(&self) -> Feed {
        Feed {
            key: self.key.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            language: self.language.clone(),
            home_url: self.home_url.clone(),
            url_stem: self.url_stem.clone(),
            query: self.query.clone(),
            updated: self.updated,
            max_age: self.max_age,
            items: Vec::new(),
            offset: self.offset,
            hubs: self.hubs.clone(),
            newest_month: self.newest_month,
            archive: self.archive,
            max_bytes: self.max_bytes,
        }
    }

    /// This feed's items as the archive document of `archive.month`: it
    /// links its neighbours and `current`, carries `fh:archive`, and
    /// advertises no hub (SPEC "WebSub": archives excepted).
    pub fn into_archive(self, archive: Archive) -> Feed {
        Feed {
            archive: Some(archive),
            hubs: Vec::new(),
            newest_month: None,
            ..self
        }
    }
}

/// The title of the keyword feed for `words` (already folded, SPEC
/// "Keyword feeds"): "{title} – tìm: {words, space-separated}".
pub fn search_title(site: &Site, words: &[String]) -> String {
    clean_line(&format!("{} – tìm: {}", site.title, words.join(" ")))
}

/// Shape stored articles (already selected and ordered) into a feed.
pub fn shape(site: &Site, catalog: &Catalog, key: &FeedKey, articles: Vec<Article>) -> Feed {
    shape_with(site, catalog, key, articles, Content::Full)
}

/// Whether items carry their content, or only their summary (archives
/// under `archive_content = "summary"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Content {
    /// Summary and content.
    Full,
    /// The summary alone: what a feed over `max_feed_bytes` gives its
    /// oldest items, so the same text as there.
    Summary,
}

/// [`shape`], with items carrying `content`.
pub(super) fn shape_with(
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    articles: Vec<Article>,
    content: Content,
) -> Feed {
    let (title, description) = heading(site, catalog, key);
    let mut terms = Terms::default();
    // Each article goes as its item is made: an archive month of thousands
    // holds their text once, not twice (issue 17).
    let items: Vec<Item> = articles
        .into_iter()
        .filter(|a| crate::limits::admitted(a, &site.limits))
        .map(|a| item(site, catalog, &a, &mut terms, content))
        .collect();
    Feed {
        key: key.clone(),
        title,
        description,
        language: site.language.clone(),
        home_url: format!("{}/", site.base_url),
        url_stem: format!("{}/feeds/{}", site.base_url, key.path()),
        // A keyword feed's URL is its canonical query: the folded words.
        query: match key {
            FeedKey::Search(words) => Some(format!("q={}", words.replace(' ', "+"))),
            _ => None,
        },
        updated: items.iter().map(|i| i.updated).max(),
        max_age: site.max_age,
        // Items are newest `published` first, so the first one's month is
        // the newest month with articles in this feed.
        // Keyword feeds have no archives to link, nor the kinds of feed
        // the site gives none.
        newest_month: items
            .first()
            .filter(|_| site.archive_feeds.has(key))
            .map(|i| Month::of(i.published)),
        items,
        offset: site.offset,
        hubs: site.hubs.clone(),
        archive: None,
        max_bytes: site.limits.max_feed_bytes,
    }
}

fn heading(site: &Site, catalog: &Catalog, key: &FeedKey) -> (String, String) {
    let described = |facet: Facet, slug: &str| {
        let entry = catalog.facet(facet).get(slug);
        let name = entry.map_or_else(|| slug.to_string(), |e| e.name.clone());
        let description = entry.and_then(|e| e.description.clone());
        (name, description)
    };
    let (title, description) = match key {
        FeedKey::All => (site.title.clone(), None),
        FeedKey::Search(words) => {
            let words: Vec<String> = words.split(' ').map(str::to_string).collect();
            (search_title(site, &words), None)
        }
        FeedKey::Category(c) => {
            let (name, d) = described(Facet::Category, c);
            (format!("{} – {name}", site.title), d)
        }
        FeedKey::Region(r) => {
            let (name, d) = described(Facet::Region, r);
            (format!("{} – {name}", site.title), d)
        }
        FeedKey::Author(a) => {
            let (name, d) = described(Facet::Author, a);
            (format!("{} – {name}", site.title), d)
        }
        FeedKey::CategoryRegion(c, r) => {
            let (cat, _) = described(Facet::Category, c);
            let (reg, _) = described(Facet::Region, r);
            (format!("{} – {cat} – {reg}", site.title), None)
        }
    };
    let description = description
        .filter(|d| !d.is_empty())
        .or_else(|| Some(site.description.clone()).filter(|d| !d.is_empty()))
        .unwrap_or_else(|| title.clone());
    (clean_line(&title), clean_line(&description))
}

/// The terms made so far in one render, by facet and stored name: the
/// items of a feed share a handful of names, and each costs a
/// normalization, a transliteration and a catalog look-up.
/// Owned names, so that each article can go once its item is made; one
/// map per facet, so that a look-up needs no key made (categories first,
/// then regions).
type Terms = (HashMap<String, Term>, HashMap<String, Term>);

fn item(site: &Site, catalog: &Catalog, a: &Article, terms: &mut Terms, content: Content) -> Item {
    let encoded_id: Cow<'_, str> = utf8_percent_encode(&a.id, ID_ENCODE).into();
    let link = match &a.url {
        Some(url) => url.clone(),
        None => format!("{}/articles/{encoded_id}", site.base_url),
    };
    let image = a.image.clone();
    let lede = a
        .summary
        .as_deref()
        .map(clean_line)
        .filter(|s| !s.is_empty());
    // A summary-only item with a lede needs nothing of its body: sanitizing
    // it is most of an item's cost, and archives hold millions of items.
    let body_needed = content == Content::Full || lede.is_none();
    // Plain paragraphs are cheap to write again; sanitized HTML comes from
    // the sanitizer's memo when an earlier render made it.
    let paragraphs;
    let sanitized;
    let body: Option<&str> = match &a.body {
        _ if !body_needed => None,
        Body::None => None,
        Body::Text(t) => {
            paragraphs = crate::text::paragraphs_to_html(t);
            Some(paragraphs.as_str())
        }
        Body::Html(h) => {
            sanitized = crate::sanitize::sanitize_html(h, &site.base);
            Some(&*sanitized)
        }
    }
    .filter(|h| !h.is_empty());
    let title = clean_line(&a.title);
    let summary = lede
        .or_else(|| body.and_then(|b| excerpt(&html_text(b))))
        .or_else(|| (body.is_some() || image.is_some()).then(|| title.clone()));
    let with_content = content == Content::Full && (body.is_some() || image.is_some());
    let content_html = with_content.then(|| {
        let figure_len = image.as_ref().map_or(0, |src| src.len() + 48);
        let mut html = String::with_capacity(figure_len + body.map_or(0, str::len));
        if let Some(src) = &image {
            html.push_str("<figure><img src=\"");
            escape_html_into(&clean(src), &mut html);
            html.push_str("\" alt=\"\"></figure>");
            if body.is_some() {
                html.push('\n');
            }
        }
        // Bodies come clean: paragraphs from cleaned text, sanitized HTML
        // cleaned by the sanitizer.
        html.push_str(body.unwrap_or(""));
        html
    });
    // A slug the catalog does not have yet (an article newer than the
    // catalog a render started with) shows under the article's own name.
    let mut term = |facet: Facet, name: &String| {
        let terms = match facet {
            Facet::Region => &mut terms.1,
            Facet::Category | Facet::Author => &mut terms.0,
        };
        if let Some(t) = terms.get(name.as_str()) {
            return t.clone();
        }
        let slug = crate::slug::slugify(name);
        let shown = catalog.facet(facet).get(&slug).map_or(name, |e| &e.name);
        let t = Term {
            facet,
            name: clean_line(shown),
            slug,
        };
        terms.insert(name.clone(), t.clone());
        t
    };
    let mut item_terms: Vec<Term> = Vec::with_capacity(a.categories.len() + a.regions.len());
    item_terms.extend(a.categories.iter().map(|n| term(Facet::Category, n)));
    item_terms.extend(a.regions.iter().map(|n| term(Facet::Region, n)));
    let published = a.published.with_timezone(&site.offset);
    Item {
        guid: format!("{}{encoded_id}", site.id_prefix),
        link,
        title,
        summary,
        content_html,
        authors: a
            .authors
            .iter()
            .map(|n| clean_line(n))
            .filter(|n| !n.is_empty())
            .collect(),
        terms: item_terms,
        published,
        updated: a.updated.with_timezone(&site.offset).max(published),
        image,
    }
}

/// The title and description of an archive document (the site is
/// Vietnamese, as its feed titles are): the month in the title, so that a
/// reader subscribed to it and to the feed tells them apart, "{title} –
/// lưu trữ 11/2024"; a month over `archive_items` adds its page, "… –
/// trang 2/3", and its article count before the feed's description. A
/// month that fits one document keeps the feed's description.
pub(super) fn page_heading(
    title: &str,
    description: &str,
    page: ArchivePage,
    pages: u32,
    articles: u64,
) -> (String, String) {
    let month = format!("{}/{:04}", page.month.month(), page.month.year());
    if pages <= 1 {
        return (
            clean_line(&format!("{title} – lưu trữ {month}")),
            description.to_string(),
        );
    }
    let of = format!("trang {}/{pages}", page.number);
    (
        clean_line(&format!("{title} – lưu trữ {month} – {of}")),
        clean_line(&format!(
            "Lưu trữ tháng {month}: {} bài, {of}. {description}",
            grouped(articles)
        )),
    )
}

/// A count with its thousands set off by `.`, as Vietnamese writes them.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_feed_is_titled_with_its_folded_words() {
        let site = Site::parse(
            "title = \"Báo Hà Tĩnh\"\nbase_url = \"http://x.example\"\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        let words = ["bao".to_string(), "lu".to_string()];
        assert_eq!(search_title(&site, &words), "Báo Hà Tĩnh – tìm: bao lu");
    }

    #[test]
    fn a_page_names_itself_and_its_months_count() {
        let m = Month::parse("2024-11").unwrap();
        let (title, description) = page_heading(
            "Báo Hà Tĩnh",
            "Tin tức",
            ArchivePage::new(m, 2).unwrap(),
            3,
            29_123,
        );
        assert_eq!(title, "Báo Hà Tĩnh – lưu trữ 11/2024 – trang 2/3");
        assert_eq!(
            description,
            "Lưu trữ tháng 11/2024: 29.123 bài, trang 2/3. Tin tức"
        );
        let (title, description) =
            page_heading("Báo Hà Tĩnh", "Tin tức", ArchivePage::first(m), 1, 12);
        assert_eq!(
            (title.as_str(), description.as_str()),
            ("Báo Hà Tĩnh – lưu trữ 11/2024", "Tin tức")
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1.000");
        assert_eq!(grouped(1_234_567), "1.234.567");
    }
}

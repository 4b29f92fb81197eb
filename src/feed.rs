//! Selecting and shaping one feed: which articles, in which order, under
//! which names, with every date in the site's offset. The result, [`Feed`],
//! is format-neutral; `render` turns it into RSS, Atom or JSON Feed.
//!
//! Nothing here reads the clock except through the `now` it is handed, and
//! nothing iterates a hash map, so the same store gives the same feed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::{MAX_FEED_ITEMS, Named, Site};
use crate::store::{Pair, SlugUse, Snapshot, StoreError};
use crate::text::{clean, clean_line, escape_html_into, excerpt, html_text};

/// RFC 3986 unreserved characters stay; everything else in an id is encoded.
const ID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a feed can't be made.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A slug that no visible article carries.
    #[error("no {facet} with slug {slug:?}")]
    UnknownSlug {
        /// `category` or `region`.
        facet: &'static str,
        /// The slug asked for.
        slug: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A category or region as feeds show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// URL slug.
    pub slug: String,
    /// Display name after SPEC's collision rule.
    pub name: String,
    /// Description from the site file, if any.
    pub description: Option<String>,
    /// Visible articles carrying it.
    pub articles: u64,
    /// Newest `published` instant among them.
    pub newest: Option<DateTime<Utc>>,
}

/// Every category and region that visible articles carry, with display
/// names resolved, and the pairs of a category and a region that share
/// visible articles. Loading it reads the catalog tables (a row per name and
/// per pair) and one index seek per slug: its cost follows the number of
/// slugs, not of articles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The instant it describes: what "visible" means for it and for the
    /// feeds rendered with it.
    pub as_of: DateTime<Utc>,
    /// Visible articles in the store.
    pub total: u64,
    /// Newest `published` instant in the store.
    pub newest: Option<DateTime<Utc>>,
    /// Categories by slug.
    pub categories: BTreeMap<String, Entry>,
    /// Regions by slug.
    pub regions: BTreeMap<String, Entry>,
    /// Authors by slug.
    pub authors: BTreeMap<String, Entry>,
    /// Category/region pairs sharing visible articles, by (category, region).
    pub pairs: BTreeMap<(String, String), Pair>,
    /// Visible articles over the site's limits: stored and counted by the
    /// store's catalog tables, but left out of feeds, so left out here too.
    held: Vec<Held>,
}

/// A visible article over a site limit (SPEC "Limits"), as the catalog
/// needs it to uncount it: which names it carries, and when it was
/// published (a feed's newest article may be it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    id: String,
    published: DateTime<Utc>,
    /// (facet, slug, name) for each name it carries.
    names: Vec<(Facet, String, String)>,
}

impl Held {
    /// The visible articles of the store's held list (migration 6) that
    /// are over the site's own limits (the list may name a few that no
    /// longer are, or that another site's stricter limits held), and the
    /// rows the store found it can't read.
    fn read(snap: &dyn Snapshot, site: &Site, now: DateTime<Utc>) -> Result<Vec<Held>, StoreError> {
        let mut held = Vec::new();
        for a in snap.held()? {
            let published = a.published.to_utc();
            if published > now || crate::limits::exceeded(&a, &site.limits).is_none() {
                continue;
            }
            let mut names = Vec::new();
            for (facet, list) in [
                (Facet::Category, &a.categories),
                (Facet::Region, &a.regions),
            ] {
                for name in list {
                    names.push((facet, crate::slug::slugify(name), name.clone()));
                }
            }
            // The byline's names that have link rows: only those were
            // counted (a CMS's byline of a thousand names keeps at most
            // `max_names_per_article + 1` of them, migration 9), and only
            // those are uncounted.
            let linked = snap.placements(std::slice::from_ref(&a.id))?;
            let linked: Vec<&String> = linked.iter().flat_map(|p| &p.authors).collect();
            for (slug, name) in crate::slug::author_links(&a.authors) {
                if linked.contains(&&slug) {
                    names.push((Facet::Author, slug, name));
                }
            }
            held.push(Held {
                id: a.id,
                published,
                names,
            });
        }
        // Rows that can't be read are out of every feed: out of the lists
        // too, by what their link rows say (their own text is unreadable).
        for row in snap.left_out(&[], now)? {
            let names = row
                .names
                .into_iter()
                .map(|(facet, slug, name)| (facet, slug, crate::slug::normalize_name(&name)))
                .collect();
            held.push(Held {
                id: row.id,
                published: row.published,
                names,
            });
        }
        Ok(held)
    }

    /// The name it carries under `slug`, if it carries the slug.
    fn name(&self, facet: Facet, slug: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(f, s, _)| *f == facet && s == slug)
            .map(|(_, _, n)| n.as_str())
    }

    fn slugs(&self) -> impl Iterator<Item = (Facet, &str)> {
        self.names.iter().map(|(f, s, _)| (*f, s.as_str()))
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.slugs()
            .filter(|(f, _)| *f == Facet::Category)
            .flat_map(move |(_, c)| {
                self.slugs()
                    .filter(|(f, _)| *f == Facet::Region)
                    .map(move |(_, r)| (c, r))
            })
    }
}

/// The newest `published` instant of a feed once `held` is left out, where
/// the store's own answer was one of theirs: a look at as many articles
/// more as there are held ones.
fn newest_unheld(
    snap: &dyn Snapshot,
    key: &FeedKey,
    now: DateTime<Utc>,
    held: &[&Held],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let articles = snap.feed(key, now, held.len().saturating_add(1))?;
    Ok(articles
        .iter()
        .find(|a| !held.iter().any(|h| h.id == a.id))
        .map(|a| a.published.to_utc()))
}

/// The parts of a catalog that a change may have moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogTouch {
    /// The article count and the newest article.
    pub total: bool,
    /// Slugs whose names or counts may differ.
    pub slugs: BTreeSet<(Facet, String)>,
    /// Pairs whose counts may differ.
    pub pairs: BTreeSet<(String, String)>,
}

impl Catalog {
    /// Read the catalog as of `now`.
    pub fn load(
        snap: &dyn Snapshot,
        site: &Site,
        now: DateTime<Utc>,
    ) -> Result<Catalog, StoreError> {
        let mut catalog = Catalog {
            as_of: now,
            held: Held::read(snap, site, now)?,
            ..Catalog::default()
        };
        catalog.put_total(snap)?;
        for facet in Facet::ALL {
            for slug in snap.slugs(facet)? {
                catalog.put_slug(snap, site, facet, &slug)?;
            }
        }
        for (category, region) in snap.pair_keys()? {
            // A pair of a slug no visible article carries has none either:
            // no query for it (one held row can carry a million pairs).
            if catalog.categories.contains_key(&category) && catalog.regions.contains_key(&region) {
                catalog.put_pair(snap, &category, &region)?;
            }
        }
        Ok(catalog)
    }

    /// This catalog with the touched parts read again as of `now`, and
    /// whether any display name changed (which changes every feed whose
    /// items carry it).
    pub fn update(
        &self,
        snap: &dyn Snapshot,
        site: &Site,
        now: DateTime<Utc>,
        touch: &CatalogTouch,
    ) -> Result<(Catalog, bool), StoreError> {
        let mut next = self.clone();
        next.as_of = now;
        next.held = Held::read(snap, site, now)?;
        // An article held or let go since (a write, a limit, its time
        // coming) moves what it carries, whatever the log said.
        let mut touch = Cow::Borrowed(touch);
        for h in self.held.iter().chain(&next.held) {
            let both = self.held.contains(h) && next.held.contains(h);
            if !both {
                let t = touch.to_mut();
                t.total = true;
                t.slugs.extend(h.slugs().map(|(f, s)| (f, s.to_string())));
                t.pairs
                    .extend(h.pairs().map(|(c, r)| (c.to_string(), r.to_string())));
            }
        }
        let touch = touch.as_ref();
        if touch.total {
            next.put_total(snap)?;
        }
        let mut renamed = false;
        for (facet, slug) in &touch.slugs {
            next.put_slug(snap, site, *facet, slug)?;
            let before = self.facet(*facet).get(slug).map(|e| &e.name);
            let after = next.facet(*facet).get(slug).map(|e| &e.name);
            renamed |= before.is_some() && after.is_some() && before != after;
        }
        for (category, region) in &touch.pairs {
            next.put_pair(snap, category, region)?;
        }
        Ok((next, renamed))
    }

    /// Read the article count and the newest article again.
    fn put_total(&mut self, snap: &dyn Snapshot) -> Result<(), StoreError> {
        let (total, newest) = snap.total(self.as_of)?;
        let held: Vec<&Held> = self.held.iter().collect();
        self.total = total.saturating_sub(held.len() as u64);
        self.newest = if held.iter().any(|h| Some(h.published) == newest) {
            newest_unheld(snap, &FeedKey::All, self.as_of, &held)?
        } else {
            newest
        };
        Ok(())
    }

    /// Read one slug again: its entry, or none if no visible article has it.
    fn put_slug(
        &mut self,
        snap: &dyn Snapshot,
        site: &Site,
        facet: Facet,
        slug: &str,
    ) -> Result<(), StoreError> {
        let mut uses = snap.slug_use(facet, slug, self.as_of)?;
        let held: Vec<&Held> = self
            .held
            .iter()
            .filter(|h| h.name(facet, slug).is_some())
            .collect();
        if !held.is_empty() {
            for name in held.iter().filter_map(|h| h.name(facet, slug)) {
                // Stored names as written; the article's, normalized.
                if let Some(use_) = uses
                    .names
                    .iter_mut()
                    .find(|(n, count)| *count > 0 && crate::slug::normalize_name(n) == name)
                {
                    use_.1 -= 1;
                }
            }
            uses.names.retain(|(_, n)| *n > 0);
            if uses.articles() > 0 && held.iter().any(|h| Some(h.published) == uses.newest) {
                let key = match facet {
                    Facet::Category => FeedKey::Category(slug.to_string()),
                    Facet::Region => FeedKey::Region(slug.to_string()),
                    Facet::Author => FeedKey::Author(slug.to_string()),
                };
                uses.newest = newest_unheld(snap, &key, self.as_of, &held)?;
            }
        }
        let none = BTreeMap::new();
        let overrides = match facet {
            Facet::Category => &site.categories,
            Facet::Region => &site.regions,
            // The site file names categories and regions only.
            Facet::Author => &none,
        };
        let map = match facet {
            Facet::Category => &mut self.categories,
            Facet::Region => &mut self.regions,
            Facet::Author => &mut self.authors,
        };
        match resolve(slug, &uses, overrides) {
            Some(entry) => {
                map.insert(slug.to_string(), entry);
            }
            None => {
                map.remove(slug);
            }
        }
        Ok(())
    }

    /// Read one pair again.
    fn put_pair(
        &mut self,
        snap: &dyn Snapshot,
        category: &str,
        region: &str,
    ) -> Result<(), StoreError> {
        let key = (category.to_string(), region.to_string());
        let held: Vec<&Held> = self
            .held
            .iter()
            .filter(|h| h.pairs().any(|p| p == (category, region)))
            .collect();
        let mut pair = snap.pair(category, region, self.as_of)?;
        if let Some(p) = pair.as_mut().filter(|_| !held.is_empty()) {
            p.articles = p.articles.saturating_sub(held.len() as u64);
            if p.articles > 0 && held.iter().any(|h| Some(h.published) == p.newest) {
                let feed = FeedKey::CategoryRegion(key.0.clone(), key.1.clone());
                p.newest = newest_unheld(snap, &feed, self.as_of, &held)?;
            }
        }
        match pair.filter(|p| p.articles > 0) {
            Some(p) => {
                self.pairs.insert(key, p);
            }
            None => {
                self.pairs.remove(&key);
            }
        }
        Ok(())
    }

    /// The entries of a facet.
    pub fn facet(&self, facet: Facet) -> &BTreeMap<String, Entry> {
        match facet {
            Facet::Category => &self.categories,
            Facet::Region => &self.regions,
            Facet::Author => &self.authors,
        }
    }

    /// Whether a feed key names a feed this catalog has. A pair of known
    /// slugs is a feed even with no shared article (an empty feed).
    pub fn knows(&self, key: &FeedKey) -> Result<(), FeedError> {
        let check = |facet: Facet, slug: &str| {
            if self.facet(facet).contains_key(slug) {
                Ok(())
            } else {
                Err(FeedError::UnknownSlug {
                    facet: facet.segment(),
                    slug: slug.to_string(),
                })
            }
        };
        match key {
            FeedKey::All | FeedKey::Search(_) => Ok(()),
            FeedKey::Category(c) => check(Facet::Category, c),
            FeedKey::Region(r) => check(Facet::Region, r),
            FeedKey::CategoryRegion(c, r) => check(Facet::Category, c).and(check(Facet::Region, r)),
            FeedKey::Author(a) => check(Facet::Author, a),
        }
    }

    /// Every feed key: all, each category, each region, each author, and
    /// every pair of a known category and a known region (the URLs the
    /// server answers).
    pub fn keys(&self) -> Vec<FeedKey> {
        let mut keys = vec![FeedKey::All];
        keys.extend(self.categories.keys().map(|c| FeedKey::Category(c.clone())));
        keys.extend(self.regions.keys().map(|r| FeedKey::Region(r.clone())));
        keys.extend(self.authors.keys().map(|a| FeedKey::Author(a.clone())));
        for c in self.categories.keys() {
            keys.extend(
                self.regions
                    .keys()
                    .map(|r| FeedKey::CategoryRegion(c.clone(), r.clone())),
            );
        }
        keys
    }

    /// The display name of a slug, or the slug itself for one we don't know.
    pub fn name(&self, facet: Facet, slug: &str) -> String {
        self.facet(facet)
            .get(slug)
            .map_or_else(|| slug.to_string(), |e| e.name.clone())
    }
}

/// SPEC: the site file's name wins, else the name most articles carry,
/// ties to the smallest in byte order. `None` when no visible article
/// carries the slug.
fn resolve(slug: &str, uses: &SlugUse, overrides: &BTreeMap<String, Named>) -> Option<Entry> {
    let articles = uses.articles();
    if articles == 0 {
        return None;
    }
    // Names that NFC-normalize alike are one name.
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (name, n) in &uses.names {
        *counts.entry(crate::slug::normalize_name(name)).or_default() += n;
    }
    let best = counts
        .iter()
        .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| b.cmp(a)))
        .map(|(name, _)| name.clone())
        .unwrap_or_default();
    let (name, description) = match overrides.get(slug) {
        Some(named) => (named.name.clone(), named.description.clone()),
        None => (best, None),
    };
    Some(Entry {
        slug: slug.to_string(),
        name,
        description,
        articles,
        newest: uses.newest,
    })
}

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

/// A calendar month in the site's offset: what one archive document holds
/// (SPEC "Archives"), written `YYYY-MM` in its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month, if `year` is 1..=9999 (SPEC's date range) and `month`
    /// 1..=12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// The month `date` falls in, in its own offset (pass dates already in
    /// the site's offset, as [`Item`]'s are).
    pub fn of(date: DateTime<FixedOffset>) -> Month {
        use chrono::Datelike;
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parse the URL form `YYYY-MM` (exactly four and two digits).
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month of the year, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The month after this one, if it is still in SPEC's range.
    pub fn succ(self) -> Option<Month> {
        match self.month {
            12 => Month::new(self.year + 1, 1),
            m => Month::new(self.year, m + 1),
        }
    }

    /// Its first instant, midnight of the 1st in `offset`.
    pub fn start(self, offset: FixedOffset) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_local_timezone(offset).single())
            .map_or(DateTime::<Utc>::MIN_UTC, |t| t.to_utc())
    }

    /// The month an instant falls in, in `offset`.
    pub fn at(instant: DateTime<Utc>, offset: FixedOffset) -> Month {
        Month::of(instant.with_timezone(&offset))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Where an archive document sits in its feed's history (RFC 5005 §4):
/// links to the months beside it that have articles in the same feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    /// The month the document holds.
    pub month: Month,
    /// The closest earlier month with articles (`prev-archive`).
    pub prev: Option<Month>,
    /// The closest later month with articles (`next-archive`).
    pub next: Option<Month>,
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
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: u64,
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
            ttl_minutes: self.ttl_minutes,
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

/// Load and shape one feed as of `now`. Fails for slugs the catalog lacks.
pub fn load(
    snap: &dyn Snapshot,
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Feed, FeedError> {
    catalog.knows(key)?;
    let articles = select(snap, site, key, now, limit, true)?;
    Ok(shape(site, catalog, key, articles))
}

/// A subscription feed's articles: the newest `limit` and, when `burst`,
/// beyond them every article published within the site's burst window
/// (SPEC "Burst window"), at most [`MAX_FEED_ITEMS`] in all. The second
/// read happens only when the `limit`-th article is itself that recent.
/// Keyword feeds have no burst window.
fn select(
    snap: &dyn Snapshot,
    site: &Site,
    key: &FeedKey,
    now: DateTime<Utc>,
    limit: usize,
    burst: bool,
) -> Result<Vec<Article>, StoreError> {
    let top = snap.feed(key, now, limit)?;
    let since = burst_start(site).filter(|_| burst && !matches!(key, FeedKey::Search(_)));
    match (since, top.last()) {
        (Some(since), Some(last)) if top.len() >= limit && last.published.to_utc() >= since => {
            let burst = snap.feed_span(key, since, now, MAX_FEED_ITEMS)?;
            Ok(if burst.len() > top.len() { burst } else { top })
        }
        _ => Ok(top),
    }
}

/// The oldest instant of the burst window as of the clock, if the site has
/// one. The clock, not the catalog's instant: the window slides with time
/// whether or not anyone writes.
pub fn burst_start(site: &Site) -> Option<DateTime<Utc>> {
    (site.burst_window > chrono::TimeDelta::zero())
        .then(|| Utc::now().checked_sub_signed(site.burst_window))
        .flatten()
}

/// At most this many articles in one archive document: a month of the all
/// feed of a busy newsroom is some thousands; the bound keeps a render's
/// memory in check whatever the store holds.
pub const MAX_ARCHIVE_ITEMS: usize = 20_000;

/// Load one month of a feed as its archive document (RFC 5005 §4), as of
/// `now`: `None` when the feed has no visible article that month.
pub fn load_archive(
    snap: &dyn Snapshot,
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Option<Feed>, FeedError> {
    catalog.knows(key)?;
    let from = month.start(site.offset);
    let end = month.succ().map(|m| m.start(site.offset));
    let last = end.map_or(now, |e| (e - chrono::Duration::microseconds(1)).min(now));
    if last < from {
        return Ok(None);
    }
    let articles = snap.feed_span(key, from, last, MAX_ARCHIVE_ITEMS)?;
    if articles.is_empty() {
        return Ok(None);
    }
    let in_site = |t: DateTime<Utc>| Month::at(t, site.offset);
    let prev = snap.newest_before(key, from)?.map(in_site);
    let next = match end {
        Some(end) if end <= now => snap.oldest_between(key, end, now)?.map(in_site),
        _ => None,
    };
    let feed = shape(site, catalog, key, articles).into_archive(Archive { month, prev, next });
    Ok(Some(feed))
}

/// Load one feed with a catalog of just the slugs it needs (its own, and
/// those its items carry), so its cost follows the feed, not the store:
/// what `bantin dump` uses. Gives the same feed as [`load`] with a full
/// catalog, as display names resolve slug by slug (`burst` as `load` does;
/// off for `dump --limit`).
pub fn load_alone(
    snap: &dyn Snapshot,
    site: &Site,
    key: &FeedKey,
    now: DateTime<Utc>,
    limit: usize,
    burst: bool,
) -> Result<Feed, FeedError> {
    let mut catalog = Catalog {
        as_of: now,
        held: Held::read(snap, site, now)?,
        ..Catalog::default()
    };
    let add = |catalog: &mut Catalog, facet: Facet, slug: &str| -> Result<(), StoreError> {
        if catalog.facet(facet).contains_key(slug) {
            return Ok(());
        }
        catalog.put_slug(snap, site, facet, slug)
    };
    match key {
        FeedKey::All | FeedKey::Search(_) => {}
        FeedKey::Category(c) => add(&mut catalog, Facet::Category, c)?,
        FeedKey::Region(r) => add(&mut catalog, Facet::Region, r)?,
        FeedKey::Author(a) => add(&mut catalog, Facet::Author, a)?,
        FeedKey::CategoryRegion(c, r) => {
            add(&mut catalog, Facet::Category, c)?;
            add(&mut catalog, Facet::Region, r)?;
        }
    }
    catalog.knows(key)?;
    let articles = select(snap, site, key, now, limit, burst)?;
    for a in &articles {
        for name in &a.categories {
            add(&mut catalog, Facet::Category, &crate::slug::slugify(name))?;
        }
        for name in &a.regions {
            add(&mut catalog, Facet::Region, &crate::slug::slugify(name))?;
        }
    }
    Ok(shape(site, &catalog, key, articles))
}

/// Shape stored articles (already selected and ordered) into a feed.
pub fn shape(site: &Site, catalog: &Catalog, key: &FeedKey, articles: Vec<Article>) -> Feed {
    let (title, description) = heading(site, catalog, key);
    let mut terms = Terms::default();
    // Each article goes as its item is made: an archive month of thousands
    // holds their text once, not twice (issue 17).
    let items: Vec<Item> = articles
        .into_iter()
        .filter(|a| crate::limits::admitted(a, &site.limits))
        .map(|a| item(site, catalog, &a, &mut terms))
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
        ttl_minutes: site.max_age.div_ceil(60),
        // Items are newest `published` first, so the first one's month is
        // the newest month with articles in this feed.
        // Keyword feeds have no archives to link.
        newest_month: items
            .first()
            .filter(|_| !matches!(key, FeedKey::Search(_)))
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

fn item(site: &Site, catalog: &Catalog, a: &Article, terms: &mut Terms) -> Item {
    let encoded_id: Cow<'_, str> = utf8_percent_encode(&a.id, ID_ENCODE).into();
    let link = match &a.url {
        Some(url) => url.clone(),
        None => format!("{}/articles/{encoded_id}", site.base_url),
    };
    let image = a.image.clone();
    // Plain paragraphs are cheap to write again; sanitized HTML comes from
    // the sanitizer's memo when an earlier render made it.
    let paragraphs;
    let sanitized;
    let body: Option<&str> = match &a.body {
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
    let lede = a
        .summary
        .as_deref()
        .map(clean_line)
        .filter(|s| !s.is_empty());
    let title = clean_line(&a.title);
    let summary = lede
        .or_else(|| body.and_then(|b| excerpt(&html_text(b))))
        .or_else(|| (body.is_some() || image.is_some()).then(|| title.clone()));
    let content_html = (body.is_some() || image.is_some()).then(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(rows: &[(&str, u64)]) -> SlugUse {
        SlugUse {
            names: rows.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            newest: None,
        }
    }

    #[test]
    fn the_most_used_name_wins_a_shared_slug_ties_to_smallest_bytes() {
        let none = BTreeMap::new();
        let e = resolve("kinh-te", &uses(&[("Kinh Tế", 2), ("Kinh tế", 5)]), &none).unwrap();
        assert_eq!(e.name, "Kinh tế");
        assert_eq!(e.articles, 7);
        let e = resolve("xa-hoi", &uses(&[("Xã Hội", 1), ("Xã hội", 1)]), &none).unwrap();
        assert_eq!(e.name, "Xã Hội"); // 'H' < 'h'
        assert_eq!(resolve("x", &uses(&[]), &none), None);
    }

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
    fn months_parse_and_print_as_urls_write_them() {
        let m = Month::parse("2024-11").unwrap();
        assert_eq!((m.year(), m.month()), (2024, 11));
        assert_eq!(m.to_string(), "2024-11");
        assert_eq!(Month::new(7, 1).unwrap().to_string(), "0007-01");
        for bad in [
            "2024-13", "2024-00", "0000-01", "24-11", "2024-1", "2024-011", "2024/11", "+024-11",
            "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        let d = DateTime::parse_from_rfc3339("2024-11-30T23:30:00-01:00").unwrap();
        assert_eq!(Month::of(d).to_string(), "2024-11");
        let in_site = d.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap());
        assert_eq!(Month::of(in_site).to_string(), "2024-12");
        assert!(Month::parse("2024-02") < Month::parse("2024-11"));
        assert!(Month::parse("2023-12") < Month::parse("2024-01"));
    }

    #[test]
    fn the_site_file_name_wins_over_counts() {
        let overrides = BTreeMap::from([(
            "kinh-te".to_string(),
            Named {
                name: "KINH TẾ".into(),
                description: Some("d".into()),
            },
        )]);
        let e = resolve("kinh-te", &uses(&[("Kinh tế", 5)]), &overrides).unwrap();
        assert_eq!(e.name, "KINH TẾ");
        assert_eq!(e.description.as_deref(), Some("d"));
    }
}

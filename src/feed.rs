//! Selecting and shaping one feed: which articles, in which order, under
//! which names, with every date in the site's offset. The result, [`Feed`],
//! is format-neutral; `render` turns it into RSS, Atom or JSON Feed.
//!
//! Nothing here reads the clock except through the `now` it is handed, and
//! nothing iterates a hash map, so the same store gives the same feed.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::Site;
use crate::store::{NameUse, Store, StoreError};
use crate::text::{clean, clean_line, escape_html};

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
/// names resolved. Loading it reads one index per facet; the pairs of a
/// category and a region (a join over the whole store) are read only by the
/// pages that list them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Visible articles in the store.
    pub total: u64,
    /// Newest `published` instant in the store.
    pub newest: Option<DateTime<Utc>>,
    /// Categories by slug.
    pub categories: BTreeMap<String, Entry>,
    /// Regions by slug.
    pub regions: BTreeMap<String, Entry>,
}

impl Catalog {
    /// Read the catalog as of `now`.
    pub fn load(store: &dyn Store, site: &Site, now: DateTime<Utc>) -> Result<Catalog, StoreError> {
        let (total, newest) = store.count(now)?;
        Ok(Catalog {
            total,
            newest,
            categories: resolve(store.names(Facet::Category, now)?, &site.categories),
            regions: resolve(store.names(Facet::Region, now)?, &site.regions),
        })
    }

    /// The entries of a facet.
    pub fn facet(&self, facet: Facet) -> &BTreeMap<String, Entry> {
        match facet {
            Facet::Category => &self.categories,
            Facet::Region => &self.regions,
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
            FeedKey::All => Ok(()),
            FeedKey::Category(c) => check(Facet::Category, c),
            FeedKey::Region(r) => check(Facet::Region, r),
            FeedKey::CategoryRegion(c, r) => check(Facet::Category, c).and(check(Facet::Region, r)),
        }
    }

    /// Every feed key: all, each category, each region, and every pair of a
    /// known category and a known region (the URLs the server answers).
    pub fn keys(&self) -> Vec<FeedKey> {
        let mut keys = vec![FeedKey::All];
        keys.extend(self.categories.keys().map(|c| FeedKey::Category(c.clone())));
        keys.extend(self.regions.keys().map(|r| FeedKey::Region(r.clone())));
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
/// ties to the smallest in byte order.
fn resolve(
    uses: Vec<NameUse>,
    overrides: &BTreeMap<String, crate::config::Named>,
) -> BTreeMap<String, Entry> {
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    let mut best: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for u in uses {
        let name = crate::slug::normalize_name(&u.name);
        let entry = out.entry(u.slug.clone()).or_insert_with(|| Entry {
            slug: u.slug.clone(),
            name: String::new(),
            description: None,
            articles: 0,
            newest: None,
        });
        entry.articles += u.articles;
        entry.newest = entry.newest.max(u.newest);
        let candidate = (u.articles, name);
        match best.get(&u.slug) {
            Some((n, s))
                if (*n, std::cmp::Reverse(s)) >= (candidate.0, std::cmp::Reverse(&candidate.1)) => {
            }
            _ => {
                best.insert(u.slug.clone(), candidate);
            }
        }
    }
    for (slug, entry) in out.iter_mut() {
        match overrides.get(slug) {
            Some(named) => {
                entry.name = named.name.clone();
                entry.description = named.description.clone();
            }
            None => entry.name = best.remove(slug).map(|(_, n)| n).unwrap_or_default(),
        }
    }
    out
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
    /// Plain-text lede.
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
    /// Newest `updated` among items; `None` for an empty feed.
    pub updated: Option<DateTime<FixedOffset>>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: u64,
    /// Newest first.
    pub items: Vec<Item>,
    /// Every date is written in this offset.
    pub offset: FixedOffset,
}

/// Load and shape one feed as of `now`. Fails for slugs the catalog lacks.
pub fn load(
    store: &dyn Store,
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Feed, FeedError> {
    catalog.knows(key)?;
    let articles = store.feed(key, now, limit)?;
    Ok(shape(site, catalog, key, &articles))
}

/// Load one feed with a catalog of just the slugs it needs (its own, and
/// those its items carry), so its cost follows the feed, not the store:
/// what `bantin dump` uses. Gives the same feed as [`load`] with a full
/// catalog, as display names resolve slug by slug.
pub fn load_alone(
    store: &dyn Store,
    site: &Site,
    key: &FeedKey,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Feed, FeedError> {
    let mut catalog = Catalog::default();
    let add = |catalog: &mut Catalog, facet: Facet, slug: &str| -> Result<(), StoreError> {
        if catalog.facet(facet).contains_key(slug) {
            return Ok(());
        }
        let overrides = match facet {
            Facet::Category => &site.categories,
            Facet::Region => &site.regions,
        };
        let entries = resolve(store.names_of(facet, slug, now)?, overrides);
        match facet {
            Facet::Category => catalog.categories.extend(entries),
            Facet::Region => catalog.regions.extend(entries),
        }
        Ok(())
    };
    match key {
        FeedKey::All => {}
        FeedKey::Category(c) => add(&mut catalog, Facet::Category, c)?,
        FeedKey::Region(r) => add(&mut catalog, Facet::Region, r)?,
        FeedKey::CategoryRegion(c, r) => {
            add(&mut catalog, Facet::Category, c)?;
            add(&mut catalog, Facet::Region, r)?;
        }
    }
    catalog.knows(key)?;
    let articles = store.feed(key, now, limit)?;
    for a in &articles {
        for name in &a.categories {
            add(&mut catalog, Facet::Category, &crate::slug::slugify(name))?;
        }
        for name in &a.regions {
            add(&mut catalog, Facet::Region, &crate::slug::slugify(name))?;
        }
    }
    Ok(shape(site, &catalog, key, &articles))
}

/// Shape stored articles (already selected and ordered) into a feed.
pub fn shape(site: &Site, catalog: &Catalog, key: &FeedKey, articles: &[Article]) -> Feed {
    let (title, description) = heading(site, catalog, key);
    let items: Vec<Item> = articles
        .iter()
        .filter(|a| crate::limits::admitted(a, &site.limits))
        .map(|a| item(site, catalog, a))
        .collect();
    Feed {
        key: key.clone(),
        title,
        description,
        language: site.language.clone(),
        home_url: format!("{}/", site.base_url),
        url_stem: format!("{}/feeds/{}", site.base_url, key.path()),
        updated: items.iter().map(|i| i.updated).max(),
        ttl_minutes: site.max_age.div_ceil(60),
        items,
        offset: site.offset,
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
        FeedKey::Category(c) => {
            let (name, d) = described(Facet::Category, c);
            (format!("{} – {name}", site.title), d)
        }
        FeedKey::Region(r) => {
            let (name, d) = described(Facet::Region, r);
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

fn item(site: &Site, catalog: &Catalog, a: &Article) -> Item {
    let encoded_id = utf8_percent_encode(&a.id, ID_ENCODE).to_string();
    let link = a
        .url
        .clone()
        .unwrap_or_else(|| format!("{}/articles/{encoded_id}", site.base_url));
    let image = a.image.clone();
    let body = match &a.body {
        Body::None => None,
        Body::Text(t) => Some(crate::text::paragraphs_to_html(t)),
        Body::Html(h) => Some(crate::sanitize::sanitize_html(h, &site.base)),
    }
    .filter(|h| !h.is_empty());
    let figure = image.as_ref().map(|src| {
        format!(
            "<figure><img src=\"{}\" alt=\"\"></figure>",
            escape_html(src)
        )
    });
    let content_html = match (figure, body) {
        (Some(f), Some(b)) => Some(format!("{f}\n{b}")),
        (f, b) => f.or(b),
    };
    let term = |facet: Facet, name: &String| {
        let slug = crate::slug::slugify(name);
        Term {
            facet,
            name: clean_line(&catalog.name(facet, &slug)),
            slug,
        }
    };
    let mut terms: Vec<Term> = a
        .categories
        .iter()
        .map(|n| term(Facet::Category, n))
        .collect();
    terms.extend(a.regions.iter().map(|n| term(Facet::Region, n)));
    let published = a.published.with_timezone(&site.offset);
    Item {
        guid: format!("{}{encoded_id}", site.id_prefix),
        link,
        title: clean_line(&a.title),
        summary: a
            .summary
            .as_deref()
            .map(clean_line)
            .filter(|s| !s.is_empty()),
        content_html: content_html.map(|h| clean(&h)),
        authors: a
            .authors
            .iter()
            .map(|n| clean_line(n))
            .filter(|n| !n.is_empty())
            .collect(),
        terms,
        published,
        updated: a.updated.with_timezone(&site.offset).max(published),
        image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Named;

    fn uses(rows: &[(&str, &str, u64)]) -> Vec<NameUse> {
        rows.iter()
            .map(|(s, n, c)| NameUse {
                slug: s.to_string(),
                name: n.to_string(),
                articles: *c,
                newest: None,
            })
            .collect()
    }

    #[test]
    fn the_most_used_name_wins_a_shared_slug_ties_to_smallest_bytes() {
        let r = resolve(
            uses(&[
                ("kinh-te", "Kinh Tế", 2),
                ("kinh-te", "Kinh tế", 5),
                ("xa-hoi", "Xã Hội", 1),
                ("xa-hoi", "Xã hội", 1),
            ]),
            &BTreeMap::new(),
        );
        assert_eq!(r["kinh-te"].name, "Kinh tế");
        assert_eq!(r["kinh-te"].articles, 7);
        assert_eq!(r["xa-hoi"].name, "Xã Hội"); // 'H' < 'h'
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
        let r = resolve(uses(&[("kinh-te", "Kinh tế", 5)]), &overrides);
        assert_eq!(r["kinh-te"].name, "KINH TẾ");
        assert_eq!(r["kinh-te"].description.as_deref(), Some("d"));
    }
}

//! The catalog: every category, region and author that visible articles
//! carry, with display names resolved (SPEC's collision rule), their
//! counts and newest dates, and the category/region pairs; read whole at
//! start and in part after each change ([`CatalogTouch`]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::error::FeedError;
use super::held::{Held, newest_unheld};
use crate::article::{Facet, FeedKey};
use crate::config::{Named, Site};
use crate::store::{Pair, SlugUse, Snapshot, StoreError};

/// A category, region or author as feeds show it.
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

/// Every category, region and author that visible articles carry, with
/// display names resolved, and the pairs of a category and a region that share
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
    pub(super) held: Vec<Held>,
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
    pub(super) fn put_slug(
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

    /// Visible articles of `key` published from `from` to `upto` that are
    /// over the site's limits: stored (and counted by the store) but left
    /// out of feeds.
    pub(super) fn held_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> u64 {
        let held = self
            .held
            .iter()
            .filter(|h| (from..=upto).contains(&h.published) && h.in_feed(key));
        held.count() as u64
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

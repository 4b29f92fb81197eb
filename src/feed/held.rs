//! Held rows: visible articles over the site's limits (SPEC "Limits"), and
//! rows the store can't read, stored and counted by the store's catalog
//! tables but left out of feeds, so that the catalog uncounts them.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Utc};

use crate::article::{Facet, FeedKey};
use crate::config::Site;
use crate::store::{Snapshot, StoreError};

/// A visible article over a site limit (SPEC "Limits"), as the catalog
/// needs it to uncount it: which names it carries, and when it was
/// published (a feed's newest article may be it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) id: String,
    pub(super) published: DateTime<Utc>,
    /// (facet, slug, name) for each name it carries.
    names: Vec<(Facet, String, String)>,
}

impl Held {
    /// The visible articles of the store's held list (migration 6) that
    /// are over the site's own limits (the list may name a few that no
    /// longer are, or that another site's stricter limits held), and the
    /// rows the store found it can't read.
    pub(super) fn read(
        snap: &dyn Snapshot,
        site: &Site,
        now: DateTime<Utc>,
    ) -> Result<Vec<Held>, StoreError> {
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
    pub(super) fn name(&self, facet: Facet, slug: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(f, s, _)| *f == facet && s == slug)
            .map(|(_, _, n)| n.as_str())
    }

    /// Whether the feed of `key` would hold it, were it not held.
    pub(super) fn in_feed(&self, key: &FeedKey) -> bool {
        match key {
            FeedKey::All => true,
            FeedKey::Category(c) => self.name(Facet::Category, c).is_some(),
            FeedKey::Region(r) => self.name(Facet::Region, r).is_some(),
            FeedKey::Author(a) => self.name(Facet::Author, a).is_some(),
            FeedKey::CategoryRegion(c, r) => self.pairs().any(|p| p == (c.as_str(), r.as_str())),
            FeedKey::Search(_) => false,
        }
    }

    pub(super) fn slugs(&self) -> impl Iterator<Item = (Facet, &str)> {
        self.names.iter().map(|(f, s, _)| (*f, s.as_str()))
    }

    pub(super) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
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
pub(super) fn newest_unheld(
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

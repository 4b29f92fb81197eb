//! Selecting a feed's articles from a snapshot: the newest ones and the
//! burst window, one month for an archive, or one feed with a catalog of
//! just its own slugs (`bantin dump`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Utc};

use super::catalog::Catalog;
use super::error::FeedError;
use super::held::Held;
use super::month::{Archive, Month};
use super::shape::{Feed, shape};
use crate::article::{Article, Facet, FeedKey};
use crate::config::{MAX_FEED_ITEMS, Site};
use crate::store::{Snapshot, StoreError};

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

//! Selecting a feed's articles from a snapshot: the newest ones and the
//! burst window, one month (or one page of a month over `archive_items`)
//! for an archive, or one feed with a catalog of
//! just its own slugs (`bantin dump`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, Utc};

use super::catalog::Catalog;
use super::error::FeedError;
use super::held::Held;
use super::month::{Archive, ArchivePage, Month};
use super::shape::{Content, Feed, page_heading, shape, shape_with};
use crate::article::{Article, Facet, FeedKey};
use crate::config::{ArchiveContent, MAX_FEED_ITEMS, Site};
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

/// The instants a month of archives covers as of `now`: its first, and its
/// last that has come (`None` for a month not begun).
fn month_span(
    site: &Site,
    month: Month,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let from = month.start(site.offset);
    let end = month.succ().map(|m| m.start(site.offset));
    let last = end.map_or(now, |e| (e - chrono::Duration::microseconds(1)).min(now));
    (last >= from).then_some((from, last))
}

/// How many documents a month of `stored` articles takes, at most `per`
/// articles each (at least one: a month with none has no document, and
/// is not asked for).
fn pages_of(stored: u64, per: usize) -> u32 {
    let per = u64::try_from(per.max(1)).unwrap_or(u64::MAX);
    u32::try_from(stored.div_ceil(per).max(1)).unwrap_or(u32::MAX)
}

/// The pages of one month of a feed as of `now` (1 for a month that fits
/// one document, or has no article): a count of the feed's index over the
/// month, which reads no article.
pub fn month_pages(
    snap: &dyn Snapshot,
    site: &Site,
    key: &FeedKey,
    month: Month,
    now: DateTime<Utc>,
) -> Result<u32, StoreError> {
    match month_span(site, month, now) {
        Some((from, last)) => Ok(pages_of(
            snap.span_count(key, from, last)?,
            site.archive_items,
        )),
        None => Ok(1),
    }
}

/// Load one archive document of a feed (RFC 5005 §4), as of `now`: a
/// month, or one page of a month over `archive_items`. `None` when the
/// feed has no visible article that month, or the month has fewer pages.
///
/// A page's cost is bounded by the page, not by where it lies: the pages
/// before it are skipped by a walk of the feed's index (a count, then a
/// seek to the page's first row), never read or rendered.
pub fn load_archive(
    snap: &dyn Snapshot,
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    page: ArchivePage,
    now: DateTime<Utc>,
) -> Result<Option<Feed>, FeedError> {
    catalog.knows(key)?;
    if !site.archive_feeds.has(key) {
        return Ok(None);
    }
    let month = page.month;
    let Some((from, last)) = month_span(site, month, now) else {
        return Ok(None);
    };
    let per = site.archive_items;
    // Stored rows, those over the site's limits and unreadable ones
    // included: pages are cut in the store's order, so each row is on
    // exactly one page whatever is left out of it.
    let stored = snap.span_count(key, from, last)?;
    let pages = pages_of(stored, per);
    if stored == 0 || page.number > pages {
        return Ok(None);
    }
    let articles = match page.number {
        1 => snap.feed_span(key, from, last, per)?,
        n => {
            let skip = usize::try_from(n - 1)
                .unwrap_or(usize::MAX)
                .saturating_mul(per);
            snap.feed_page(key, from, last, skip, per)?
        }
    };
    if articles.is_empty() && pages == 1 {
        return Ok(None);
    }
    let in_site = |t: DateTime<Utc>| Month::at(t, site.offset);
    let prev = if page.number < pages {
        ArchivePage::new(month, page.number + 1)
    } else {
        snap.newest_before(key, from)?
            .map(in_site)
            .map(ArchivePage::first)
    };
    let end = month.succ().map(|m| m.start(site.offset));
    let next = if page.number > 1 {
        ArchivePage::new(month, page.number - 1)
    } else {
        match end {
            Some(end) if end <= now => match snap.oldest_between(key, end, now)?.map(in_site) {
                // The chain runs newest to oldest through every page: the
                // next month's last page links here.
                Some(m) => ArchivePage::new(m, month_pages(snap, site, key, m, now)?),
                None => None,
            },
            _ => None,
        }
    };
    let content = match site.archive_content {
        ArchiveContent::Summary => Content::Summary,
        ArchiveContent::Full => Content::Full,
    };
    let mut feed = shape_with(site, catalog, key, articles, content).into_archive(Archive {
        month,
        page: page.number,
        pages,
        prev,
        next,
    });
    let articles = stored.saturating_sub(catalog.held_between(key, from, last));
    let (title, description) = page_heading(&feed.title, &feed.description, page, pages, articles);
    feed.title = title;
    feed.description = description;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_takes_as_many_pages_as_its_articles_fill() {
        assert_eq!(pages_of(0, 5), 1);
        assert_eq!(pages_of(5, 5), 1);
        assert_eq!(pages_of(6, 5), 2);
        assert_eq!(pages_of(29_123, 20_000), 2);
        assert_eq!(pages_of(1_000_000, 20_000), 50);
    }
}

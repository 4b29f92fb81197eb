//! Rendering a document: its feed read from one snapshot (or its page made
//! from the catalog), each resource's identity bytes, and what tells
//! whether a later change can touch the rendering ([`Meta`]). The server
//! caches a [`Rendered`]; `bantin build` writes the bytes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::representation::Representation;
use super::resource::Resource;
use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::{Archive, ArchivePage, Catalog, Feed, FeedError};
use crate::render::{Format, render};
use crate::store::Snapshot;

/// What a rendering knows besides its bytes: what a change must reach to
/// touch it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// A feed's oldest item's `published` instant, when the feed is full
    /// (holds as many items as a feed may): an article older than that,
    /// neither in it before nor after a change, cannot change it.
    pub floor: Option<DateTime<Utc>>,
    /// An archive document's month, page and neighbours.
    pub archive: Option<Archive>,
    /// When its oldest item leaves the burst window (it holds more than
    /// `items_per_feed`): from then on it is stale without any write.
    pub expires: Option<DateTime<Utc>>,
}

impl Meta {
    /// What a feed (`month` `None`) or an archive document of it, as
    /// loaded, must be reached by.
    pub fn of(site: &Site, feed: &Feed, month: Option<ArchivePage>) -> Meta {
        let limit = site.items_per_feed;
        let oldest = feed.items.last().filter(|_| month.is_none());
        Meta {
            floor: oldest
                .filter(|_| feed.items.len() >= limit)
                .map(|i| i.published.to_utc()),
            archive: feed.archive,
            // Beyond `items_per_feed`, items are there for the burst window:
            // the oldest leaves it at its published instant plus the window.
            expires: oldest
                .filter(|_| feed.items.len() > limit)
                .and_then(|i| i.published.to_utc().checked_add_signed(site.burst_window)),
        }
    }
}

/// A rendered resource: its bytes and validators, and its [`Meta`].
#[derive(Debug)]
pub struct Rendered {
    /// The bytes and validators.
    pub rep: Representation,
    /// What a change must reach to touch it.
    pub meta: Meta,
}

impl Rendered {
    /// A new rendering, or `previous` when it has the same bytes and meta
    /// (it keeps the codings computed for it).
    pub fn new(rep: Representation, meta: Meta, previous: Option<&Arc<Rendered>>) -> Arc<Rendered> {
        match previous {
            Some(prev) if prev.meta == meta && prev.rep.same_bytes(&rep) => prev.clone(),
            _ => Arc::new(Rendered { rep, meta }),
        }
    }

    /// Whether a change to an article published at `instant` may change
    /// this rendering.
    pub fn reaches(&self, instant: DateTime<Utc>) -> bool {
        self.meta.floor.is_none_or(|floor| instant >= floor)
    }

    /// Whether its oldest item has left the burst window by `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.meta.expires.is_some_and(|t| t <= now)
    }

    /// Compress it in the codings `previous` had been asked for: clients
    /// asked for them before and will again. Blocking (milliseconds).
    pub fn warm_from(&self, previous: &Rendered) {
        for coding in previous.rep.codings() {
            self.rep.body(coding);
        }
    }
}

/// A feed (`month` `None`) or one archive document of it (a month, or a
/// page of one), read from `snap` as of the catalog's instant: `None` when
/// the month has no visible article, or fewer pages.
pub fn load(
    snap: &dyn Snapshot,
    site: &Site,
    catalog: &Catalog,
    key: &FeedKey,
    month: Option<ArchivePage>,
) -> Result<Option<Feed>, FeedError> {
    match month {
        None => crate::feed::load(snap, site, catalog, key, catalog.as_of, site.items_per_feed)
            .map(Some),
        Some(page) => crate::feed::load_archive(snap, site, catalog, key, page, catalog.as_of),
    }
}

/// The representation of a loaded feed in one format.
pub fn feed_representation(feed: &Feed, format: Format) -> Representation {
    Representation::new(format.content_type(), render(feed, format), feed.updated)
}

/// A page's content type and bytes, made from the catalog (and, for the
/// server's `/`, each feed's audience by feed path); `None` for a resource
/// that is not a page.
pub fn page(
    site: &Site,
    catalog: &Catalog,
    resource: &Resource,
    audience: Option<&std::collections::BTreeMap<String, u64>>,
) -> Option<(&'static str, Vec<u8>)> {
    match resource {
        Resource::Index => Some((
            "text/html; charset=utf-8",
            match audience {
                Some(a) => crate::pages::index_html_with_audience(site, catalog, a),
                None => crate::pages::index_html(site, catalog),
            }
            .into_bytes(),
        )),
        Resource::Opml => Some((
            "text/x-opml; charset=utf-8",
            crate::pages::opml(site, catalog).into_bytes(),
        )),
        Resource::Feed(..) | Resource::Archive(..) | Resource::NewsSitemap => None,
    }
}

/// The Google News sitemap as of `now`: the all feed's articles published
/// in the last 48 hours (at most 1,000, newest first; the same query as a
/// feed's, on either store), shaped as that feed shapes them. Its [`Meta`]
/// expires when the oldest listed article leaves the 48 hours, so it is
/// rendered again then without any write.
pub fn news(
    snap: &dyn Snapshot,
    site: &Site,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<(Representation, Meta), crate::store::StoreError> {
    let window = crate::pages::NEWS_WINDOW;
    // Exclusive of its start: an article leaves at the very instant its
    // 48 hours are up, which is when the rendering expires.
    let from = now
        .checked_sub_signed(window - chrono::Duration::microseconds(1))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let articles = snap.feed_span(&FeedKey::All, from, now, crate::pages::NEWS_MAX)?;
    let feed = crate::feed::shape(site, catalog, &FeedKey::All, articles);
    let body = crate::pages::news_sitemap(site, &feed.items).into_bytes();
    let meta = Meta {
        expires: feed
            .items
            .last()
            .and_then(|i| i.published.to_utc().checked_add_signed(window)),
        ..Meta::default()
    };
    let rep = Representation::new("application/xml; charset=utf-8", body, feed.updated);
    Ok((rep, meta))
}

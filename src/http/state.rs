//! The server's shared state: the site, the store, the catalog requests
//! are answered from, the cache of rendered resources and what must be
//! found in it after a change, the store's health, the counters, and the
//! WebSub pings waiting. The render scheduler (`scheduler.rs`), the
//! change-log watcher (`watch.rs`) and requests (`app.rs`) each hold it.
//!
//! The catalog is an immutable snapshot swapped whole ([`ArcSwap`]): a
//! request reads it without a lock.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::cache::Cache;
use super::health::StoreHealth;
use super::metrics::Metrics;
use super::tracked::{Archives, Searches};
use super::websub::Publisher;
use crate::config::Site;
use crate::feed::Catalog;
use crate::store::Store;

/// Shared server state.
pub(crate) struct State {
    /// The validated site file.
    pub(crate) site: Site,
    pub(crate) store: Arc<dyn Store>,
    catalog: ArcSwap<Catalog>,
    pub(crate) cache: Cache,
    pub(crate) health: StoreHealth,
    /// Archive documents rendered, by feed.
    pub(crate) archives: Archives,
    /// Keyword feeds rendered.
    pub(crate) searches: Searches,
    /// Counters for `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// WebSub publish pings waiting to go out (sent by `websub::publish`).
    pub(crate) websub: Arc<Publisher>,
    /// The audience counted, and the counts read back (SPEC "Audience").
    pub(crate) tally: Arc<crate::audience::tally::Tally>,
}

impl State {
    pub(crate) fn new(site: Site, store: Arc<dyn Store>, catalog: Catalog) -> State {
        State {
            cache: Cache::new(site.limits.cache_bytes),
            websub: Arc::new(Publisher::new(site.hubs.clone(), Default::default())),
            site,
            store,
            catalog: ArcSwap::from_pointee(catalog),
            health: StoreHealth::new(),
            archives: Archives::default(),
            searches: Searches::default(),
            metrics: Arc::new(Metrics::default()),
            tally: Arc::new(crate::audience::tally::Tally::new()),
        }
    }

    /// The catalog requests are answered from.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Whether the catalog has this feed (without a copy of its pointer:
    /// every request asks).
    pub(crate) fn knows(
        &self,
        key: &crate::article::FeedKey,
    ) -> Result<(), crate::feed::FeedError> {
        self.catalog.load().knows(key)
    }

    /// The instant the catalog describes.
    pub(crate) fn as_of(&self) -> chrono::DateTime<chrono::Utc> {
        self.catalog.load().as_of
    }

    /// Answer from this catalog from now on.
    pub(crate) fn set_catalog(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
    }
}

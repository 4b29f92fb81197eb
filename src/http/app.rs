//! The server as requests see it: [`App`] holds the shared state
//! (`state.rs`), the render scheduler (`scheduler.rs`) and the change-log
//! watcher (`watch.rs`), and answers the router's few questions: a
//! resource's rendering, its body in a coding, the store's health.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;

use super::cache::CacheError;
use super::metrics::Metrics;
use super::scheduler::Scheduler;
use super::state::State;
use super::watch::Watcher;
use super::websub::Policy;
use crate::config::Site;
use crate::feed::Catalog;
use crate::publish::{Coding, Rendered, Resource};
use crate::store::{Store, StoreError};

pub use super::health::Health;

/// The server.
pub struct App {
    /// The validated site file (the state's, copied for the callers that
    /// read it as a field).
    pub site: Site,
    state: Arc<State>,
    scheduler: Scheduler,
    watcher: Arc<Watcher>,
    /// Polite polling's state, when `polite_polling` is on.
    polite: Option<crate::audience::polite::Polite>,
    cache_controls: super::freshness::CacheControls,
}

impl App {
    /// Build the state: the catalog and the log position, from one snapshot.
    pub fn new(site: Site, store: Box<dyn Store>) -> Result<App, StoreError> {
        let now = Utc::now();
        let (catalog, position, next_due) = {
            let snap = store.log_snapshot()?;
            let position = snap.log_head()?;
            let catalog = Catalog::load(snap.as_ref(), &site, now)?;
            (catalog, position, snap.next_scheduled(now)?)
        };
        let state = Arc::new(State::new(site.clone(), Arc::from(store), catalog));
        state.tally.load(state.store.as_ref());
        let scheduler = Scheduler::new(state.clone());
        let watcher = Watcher::new(state.clone(), scheduler.clone(), position, next_due);
        let polite = site.polite_polling.then(|| {
            crate::audience::polite::Polite::new(std::time::Duration::from_secs(site.max_age))
        });
        Ok(App {
            cache_controls: super::freshness::CacheControls::new(&site),
            site,
            state,
            scheduler,
            watcher: Arc::new(watcher),
            polite,
        })
    }

    /// The same server with another way of sending WebSub pings (tests
    /// shorten the waits).
    pub fn with_ping_policy(self, policy: Policy) -> App {
        self.state.websub.set_policy(policy);
        self
    }

    /// Counters for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// The catalog requests are answered from.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.state.catalog()
    }

    /// A resource, rendered if cold. The render is a task of its own: it
    /// finishes and is cached even if this request goes away.
    pub async fn get(&self, resource: &Resource) -> Result<Arc<Rendered>, CacheError> {
        if let Some(key) = resource.key() {
            // Unknown slugs are answered from the catalog: a flood of bad
            // URLs never reaches the store.
            self.state
                .knows(key)
                .map_err(|e| CacheError::NotFound(e.to_string()))?;
        }
        self.scheduler.get(resource).await
    }

    /// The body of a rendering in a coding, compressing it first (on a
    /// blocking thread) if no client asked for that coding before.
    pub async fn body(
        &self,
        resource: &Resource,
        rendered: &Arc<Rendered>,
        coding: Coding,
    ) -> bytes::Bytes {
        self.scheduler.body(resource, rendered, coding).await
    }

    /// `Cache-Control: max-age` of a resource (`freshness.rs`), as of the
    /// catalog requests are answered from.
    pub fn max_age(&self, resource: &Resource) -> u64 {
        match resource {
            Resource::Archive(..) => {
                super::freshness::max_age(&self.state.site, resource, self.state.as_of())
            }
            _ => self.state.site.max_age,
        }
    }

    /// Polite polling (SPEC "Audience"): `Err(retry_after)` when this
    /// client fetched this subscription feed (in any format) without a
    /// validator less than `max_age` ago and asks again without one; the
    /// refusal is counted. Always `Ok` with `polite_polling` off, and for
    /// anything but a subscription feed.
    pub fn polite(
        &self,
        client: std::net::IpAddr,
        user_agent: &str,
        resource: &Resource,
        conditional: bool,
    ) -> Result<(), u64> {
        let (Some(polite), Resource::Feed(key, _)) = (&self.polite, resource) else {
            return Ok(());
        };
        let feed = match key {
            crate::article::FeedKey::Search(words) => format!("/feeds/search?q={words}"),
            _ => format!("/feeds/{}", key.path()),
        };
        let answer = polite.admit(
            client,
            user_agent,
            &feed,
            conditional,
            std::time::Instant::now(),
        );
        if answer.is_err() {
            self.state.metrics.polite_refusal();
        }
        answer
    }

    /// Count a request for a subscription feed (never waits).
    pub fn count(&self, hit: crate::audience::tally::Hit) {
        self.state.tally.record(hit);
    }

    /// The audience series of `/metrics`.
    pub fn audience_exposition(&self) -> String {
        let tally = &self.state.tally;
        crate::audience::report::exposition(&tally.counts(), tally.dropped())
    }

    /// Write what was counted and not yet written (at shutdown). Blocking.
    pub fn flush_audience(&self) {
        self.state.tally.flush(self.state.store.as_ref());
    }

    /// Audience flushes done so far (tests wait for one).
    pub fn audience_flushes(&self) -> u64 {
        self.state.tally.flushes()
    }

    /// The `Cache-Control` header of a resource.
    pub fn cache_control(&self, resource: &Resource) -> http::HeaderValue {
        self.cache_controls
            .value(&self.site, self.max_age(resource))
    }

    /// Cold keyword feeds waiting for their turn to render.
    pub fn searches_waiting(&self) -> usize {
        self.scheduler.searches_waiting()
    }

    /// Whether the store answered the watcher's last read.
    pub fn health(&self) -> Health {
        self.state.health.get()
    }

    /// Why the store's data is damaged, if a read found it so.
    pub fn damaged(&self) -> Option<String> {
        self.state.health.damaged()
    }

    /// Rows left out of feeds because they can't be read, met so far.
    pub fn unreadable_rows(&self) -> u64 {
        self.state.store.unreadable_rows()
    }

    /// Renderings held, their bytes, and how many were evicted to keep
    /// within `cache_bytes`.
    pub fn cache_size(&self) -> (usize, usize, u64) {
        let (entries, bytes) = self.state.cache.size();
        (entries, bytes, self.state.cache.evictions())
    }

    /// The server's background work, to run until shutdown: the change-log
    /// watcher and the WebSub sender (given only what it needs: the
    /// pings, the counters, and whether this replica leads).
    pub(crate) fn background(
        &self,
    ) -> (
        impl Future<Output = ()> + Send + 'static,
        impl Future<Output = ()> + Send + 'static,
        impl Future<Output = ()> + Send + 'static,
    ) {
        let store = self.state.store.clone();
        let sender = super::websub::publish(
            self.state.websub.clone(),
            self.state.metrics.clone(),
            Arc::new(move || store.lead()),
        );
        // New counts change `/`: rendered again (if cached) at most once a
        // flush, never on a request.
        let (state, scheduler) = (self.state.clone(), self.scheduler.clone());
        let counter = self
            .state
            .tally
            .clone()
            .run(self.state.store.clone(), move || {
                if state.cache.invalidate(&Resource::Index).is_some() {
                    scheduler.rerender(vec![Resource::Index]);
                }
            });
        (self.watcher.clone().run(), sender, counter)
    }
}

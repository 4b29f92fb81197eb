//! The server's state: the store, and a cache of rendered representations
//! grouped in *generations*.
//!
//! A generation is the store as of one instant: its change token, its
//! catalog, and the feeds rendered from it. A request for a cached feed only
//! reads memory. A cold feed renders once, whatever the number of requests
//! waiting for it (a `OnceCell` per key).
//!
//! A watcher polls the store's change token (cheap: SQLite's `data_version`)
//! and the clock. When someone wrote, or a scheduled article came due, it
//! publishes a new generation at once (so the change shows within the poll
//! interval plus one render), then re-renders in it every resource the old
//! one held, through the same single-flight path requests use. A resource
//! whose bytes did not change keeps the old generation's representation
//! (its ETags, and no recompression); the others get new ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::metrics::Metrics;
use super::representation::Representation;
use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::{Catalog, FeedError};
use crate::render::{Format, render};
use crate::store::{Store, StoreError};

/// How often the watcher looks for store changes and due articles. SPEC
/// wants changes visible within 1 s; polling four times a second leaves
/// room for the re-render.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What the cache holds, beyond feeds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A feed in a format.
    Feed(FeedKey, Format),
    /// `/`
    Index,
    /// `/feeds.opml`
    Opml,
}

type Slot = Arc<OnceCell<Arc<Representation>>>;

/// The store as of one instant, and what was rendered from it.
pub struct Generation {
    token: u64,
    as_of: DateTime<Utc>,
    next_due: Option<DateTime<Utc>>,
    /// Slugs and names as of `as_of`.
    pub catalog: Arc<Catalog>,
    slots: Mutex<HashMap<Resource, Slot>>,
    /// The generation this one replaced, until it is warm: its
    /// representations are reused when the bytes come out the same.
    previous: Mutex<Option<Arc<Generation>>>,
}

impl Generation {
    fn slot(&self, r: &Resource) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // Look up before `entry`, which would clone the key on every request.
        if let Some(slot) = slots.get(r) {
            return slot.clone();
        }
        slots.entry(r.clone()).or_default().clone()
    }

    fn rendered_one(&self, r: &Resource) -> Option<Arc<Representation>> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(r).and_then(|slot| slot.get().cloned())
    }

    fn previous_rendering(&self, r: &Resource) -> Option<Arc<Representation>> {
        let previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.as_ref().and_then(|p| p.rendered_one(r))
    }

    fn rendered(&self) -> Vec<(Resource, Arc<Representation>)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .filter_map(|(k, v)| v.get().map(|rep| (k.clone(), rep.clone())))
            .collect()
    }
}

/// Why a resource could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The feed's slugs are unknown: 404.
    #[error("{0}")]
    NotFound(String),
    /// The store failed: 500, detail logged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rendering task died.
    #[error("render task failed: {0}")]
    Task(String),
}

/// Shared server state.
pub struct App {
    /// The validated site file.
    pub site: Site,
    store: Arc<Mutex<Box<dyn Store>>>,
    current: RwLock<Arc<Generation>>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
}

impl App {
    /// Build the state and the first generation.
    pub fn new(site: Site, store: Box<dyn Store>) -> Result<App, StoreError> {
        let store = Arc::new(Mutex::new(store));
        let first = new_generation(&store, &site, Utc::now(), None)?;
        Ok(App {
            site,
            store,
            current: RwLock::new(Arc::new(first)),
            metrics: Metrics::default(),
        })
    }

    /// The current generation.
    pub fn generation(&self) -> Arc<Generation> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A resource from the current generation, rendered if cold.
    pub async fn get(
        self: &Arc<Self>,
        resource: &Resource,
    ) -> Result<Arc<Representation>, CacheError> {
        self.get_in(self.generation(), resource).await
    }

    async fn get_in(
        self: &Arc<Self>,
        generation: Arc<Generation>,
        resource: &Resource,
    ) -> Result<Arc<Representation>, CacheError> {
        if let Resource::Feed(key, _) = resource {
            // Unknown slugs are answered from the catalog: a flood of bad
            // URLs never reaches the store.
            generation
                .catalog
                .knows(key)
                .map_err(|e| CacheError::NotFound(e.to_string()))?;
        }
        let slot = generation.slot(resource);
        let rep = slot
            .get_or_try_init(|| {
                let app = self.clone();
                let generation = generation.clone();
                let resource = resource.clone();
                async move {
                    tokio::task::spawn_blocking(move || {
                        let previous = generation.previous_rendering(&resource);
                        app.produce(&generation, &resource, previous.as_ref())
                    })
                    .await
                    .map_err(|e| CacheError::Task(e.to_string()))?
                }
            })
            .await?;
        Ok(rep.clone())
    }

    /// Render a resource in a generation; reuse `previous` when the bytes
    /// are the same, so unchanged feeds skip compression.
    fn produce(
        &self,
        generation: &Generation,
        resource: &Resource,
        previous: Option<&Arc<Representation>>,
    ) -> Result<Arc<Representation>, CacheError> {
        let started = Instant::now();
        let (content_type, body, updated) = match resource {
            Resource::Feed(key, format) => {
                let feed = {
                    let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
                    crate::feed::load(
                        store.as_ref(),
                        &self.site,
                        &generation.catalog,
                        key,
                        generation.as_of,
                        self.site.items_per_feed,
                    )
                }
                .map_err(|e| match e {
                    FeedError::UnknownSlug { .. } => CacheError::NotFound(e.to_string()),
                    FeedError::Store(s) => CacheError::Store(s),
                })?;
                (format.content_type(), render(&feed, *format), feed.updated)
            }
            Resource::Index | Resource::Opml => {
                let pairs = self
                    .store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pairs(generation.as_of)?;
                let (site, catalog) = (&self.site, &generation.catalog);
                match resource {
                    Resource::Index => (
                        "text/html; charset=utf-8",
                        crate::pages::index_html(site, catalog, &pairs).into_bytes(),
                        None,
                    ),
                    _ => (
                        "text/x-opml; charset=utf-8",
                        crate::pages::opml(site, catalog, &pairs).into_bytes(),
                        None,
                    ),
                }
            }
        };
        if let Some(prev) = previous.filter(|p| p.identity()[..] == body[..]) {
            return Ok(prev.clone());
        }
        let rep = Arc::new(Representation::new(content_type, body, updated));
        self.metrics.render(started.elapsed());
        Ok(rep)
    }

    /// The next generation, if someone wrote or a scheduled article came
    /// due since the current one began.
    fn next_generation(&self) -> Result<Option<Arc<Generation>>, StoreError> {
        let old = self.generation();
        let now = Utc::now();
        let token = self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .change_token()?;
        let due = old.next_due.is_some_and(|t| t <= now);
        if token == old.token && !due {
            return Ok(None);
        }
        let fresh = new_generation(&self.store, &self.site, now, Some(old))?;
        Ok(Some(Arc::new(fresh)))
    }

    /// Check once for a store change or a due article. On one, publish a new
    /// generation, then re-render what the old one held. Returns whether a
    /// new generation started.
    pub async fn refresh(self: &Arc<Self>) -> Result<bool, CacheError> {
        let app = self.clone();
        let fresh = tokio::task::spawn_blocking(move || app.next_generation())
            .await
            .map_err(|e| CacheError::Task(e.to_string()))??;
        let Some(fresh) = fresh else {
            return Ok(false);
        };
        let old = self.generation();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        self.metrics.refresh();
        for (resource, _) in old.rendered() {
            match self.get_in(fresh.clone(), &resource).await {
                Ok(_) | Err(CacheError::NotFound(_)) => {}
                Err(e) => tracing::warn!("re-rendering {resource:?}: {e}"),
            }
        }
        // Warm: let the old generation go.
        *fresh.previous.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(true)
    }

    /// Whether the store answers.
    pub fn healthy(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .change_token()
            .is_ok()
    }

    /// Entries and bytes held by the current generation.
    pub fn cache_size(&self) -> (usize, usize) {
        let rendered = self.generation().rendered();
        (rendered.len(), rendered.iter().map(|(_, r)| r.size()).sum())
    }
}

fn new_generation(
    store: &Mutex<Box<dyn Store>>,
    site: &Site,
    now: DateTime<Utc>,
    previous: Option<Arc<Generation>>,
) -> Result<Generation, StoreError> {
    let store = store.lock().unwrap_or_else(|e| e.into_inner());
    // Token first: a write landing after it is seen by the next poll.
    let token = store.change_token()?;
    let catalog = Catalog::load(store.as_ref(), site, now)?;
    let next_due = store.next_scheduled(now)?;
    Ok(Generation {
        token,
        as_of: now,
        next_due,
        catalog: Arc::new(catalog),
        slots: Mutex::new(HashMap::new()),
        previous: Mutex::new(previous),
    })
}

/// Poll for changes until the app is dropped by everyone else.
pub async fn watch(app: Arc<App>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.refresh().await {
            Ok(true) => tracing::info!("store changed: feeds refreshed"),
            Ok(false) => {}
            Err(e) => tracing::warn!("checking the store for changes: {e}"),
        }
    }
}

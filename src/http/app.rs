//! The server's state: the site, the store, the catalog the server answers
//! from, the cache of rendered resources, and what the watcher knows.
//!
//! The catalog is an immutable snapshot swapped whole ([`ArcSwap`]): a
//! request reads it without a lock. Renders run on blocking threads, each in
//! one read transaction of the store's pool, and outlive the request that
//! started them (see `cache.rs`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::cache::{Cache, CacheError, Claim, Lookup, Rendered, Resource};
use super::invalidation::touched;
use super::metrics::Metrics;
use super::representation::Representation;
use super::websub::{Policy, Publisher};
use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::{Archive, Catalog, FeedError, Month};
use crate::render::{Format, render};
use crate::store::{Changes, LogPosition, Store, StoreError};

/// How often the watcher reads the change log and the clock. SPEC wants
/// changes visible within 1 s; reading four times a second leaves room for
/// the render.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Change-log rows older than this are deleted (by `bantin serve`, once a
/// minute). A server that has not read the log for half of it reloads
/// everything instead of trusting the log.
pub const LOG_RETENTION: Duration = Duration::from_secs(600);

/// How often the server trims the log.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// More log rows than this in one read: reload everything instead (a bulk
/// import is cheaper to treat as one).
const MAX_CHANGES: usize = 20_000;

/// `Cache-Control: max-age` of a past month's archive document: it changes
/// only when one of its articles does.
pub const ARCHIVE_MAX_AGE: u64 = 86_400;

/// Cold archive documents rendered at once, at most. A month of the all
/// feed at a million articles is thousands of articles read and rendered
/// (issue 17: 48 months asked at once peaked at 4.3 GB); more wait their
/// turn, so that archive readers never take the memory and the store's
/// connections that subscription feeds need.
const ARCHIVE_RENDERS: usize = 1;

/// How long an archive render waits for its turn before the request gets
/// 503 with `Retry-After` (the render is not made).
const ARCHIVE_WAIT: Duration = Duration::from_secs(20);

/// Keyword feeds held at once, at most (each its own cached resource).
const MAX_SEARCHES: usize = 512;

/// Cold keyword feeds waiting for their turn to render, at most: more are
/// answered 503 at once, and so is one that waited [`SEARCH_WAIT`]. One
/// renders at a time per [`crate::store::SEARCH_READERS`] connection, each
/// within its budget (`search::Budget`), beside the feed renders, never in
/// their place.
const MAX_SEARCHES_WAITING: usize = 32;

/// How long a cold keyword feed waits for its turn before its 503.
const SEARCH_WAIT: Duration = Duration::from_secs(5);

/// A feed (`None`) or one month of it: what one store read renders, in
/// every format asked for.
type Doc = (FeedKey, Option<Month>);

/// The archive documents rendered, by feed, with their neighbours: what a
/// change in some month of a feed touches.
type ArchiveIndex = BTreeMap<FeedKey, BTreeMap<(Month, Format), Archive>>;

/// Whether the store answers, as the watcher last found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The last read of the change log worked.
    Up,
    /// It failed, for this reason (one line).
    Down(String),
}

/// What the watcher remembers between two reads of the log.
struct WatchState {
    position: LogPosition,
    next_due: Option<DateTime<Utc>>,
    last_read: Instant,
    last_trim: Instant,
    /// The store's count of unreadable rows met, as of the last catalog:
    /// when a render meets a new one, the catalog leaves it out.
    unreadable: u64,
}

/// Shared server state.
pub struct App {
    /// The validated site file.
    pub site: Site,
    store: Box<dyn Store>,
    catalog: ArcSwap<Catalog>,
    cache: Cache,
    watch: Mutex<WatchState>,
    health: Mutex<Health>,
    /// Why the store's data is damaged, once a read found it so
    /// ([`StoreError::is_corruption`]). Unlike an outage it does not pass,
    /// and the watcher's reads of the log may well go on working: it stays
    /// (`/healthz` answers 503) until the store's file is replaced.
    damage: Mutex<Option<String>>,
    archives: Mutex<ArchiveIndex>,
    /// Keyword feeds rendered: any write may change any of them.
    searches: Mutex<BTreeSet<Resource>>,
    /// Renders the watcher asks for run a few at a time, so that a burst of
    /// invalidations leaves cores for the requests.
    background: Arc<Semaphore>,
    /// Turns for cold archive renders ([`ARCHIVE_RENDERS`]).
    archive_renders: Arc<Semaphore>,
    /// Keyword feed renders at once (one per search connection), and how
    /// many wait for a turn.
    search_turns: Arc<Semaphore>,
    searches_waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether keyword-index upkeep (`Store::index_queued`) is running.
    indexing: std::sync::atomic::AtomicBool,
    /// Rung when the store tells of a commit: the watcher reads the log at once.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// WebSub publish pings waiting to go out (sent by `websub::publish`).
    pub websub: Publisher,
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
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let cache_bytes = site.limits.cache_bytes;
        let site_hubs = site.hubs.clone();
        let wake = Arc::new(tokio::sync::Notify::new());
        let ring = wake.clone();
        store.on_commit(Arc::new(move || ring.notify_one()));
        Ok(App {
            wake,
            site,
            store,
            catalog: ArcSwap::from_pointee(catalog),
            cache: Cache::new(cache_bytes),
            watch: Mutex::new(WatchState {
                position,
                next_due,
                last_read: Instant::now(),
                last_trim: Instant::now(),
                unreadable: 0,
            }),
            health: Mutex::new(Health::Up),
            damage: Mutex::new(None),
            archives: Mutex::new(BTreeMap::new()),
            searches: Mutex::new(BTreeSet::new()),
            background: Arc::new(Semaphore::new(workers)),
            archive_renders: Arc::new(Semaphore::new(ARCHIVE_RENDERS)),
            search_turns: Arc::new(Semaphore::new(crate::store::SEARCH_READERS as usize)),
            searches_waiting: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            indexing: std::sync::atomic::AtomicBool::new(false),
            metrics: Metrics::default(),
            websub: Publisher::new(site_hubs, Policy::default()),
        })
    }

    /// The same server with another way of sending WebSub pings (tests
    /// shorten the waits).
    pub fn with_ping_policy(self, policy: Policy) -> App {
        App {
            websub: self.websub.with_policy(policy),
            ..self
        }
    }

    /// Whether this replica sends the WebSub pings (see `Store::lead`).
    /// Blocking.
    pub fn lead(&self) -> bool {
        self.store.lead()
    }

    /// The catalog requests are answered from.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// A resource, rendered if cold. The render is a task of its own: it
    /// finishes and is cached even if this request goes away.
    pub async fn get(self: &Arc<Self>, resource: &Resource) -> Result<Arc<Rendered>, CacheError> {
        if let Some(key) = resource.key() {
            // Unknown slugs are answered from the catalog: a flood of bad
            // URLs never reaches the store.
            self.catalog
                .load()
                .knows(key)
                .map_err(|e| CacheError::NotFound(e.to_string()))?;
        }
        match self.cache.lookup(resource) {
            Lookup::Ready(r) if r.expires.is_some_and(|t| t <= Utc::now()) => {
                // Its oldest item left the burst window: render it again.
                self.cache.invalidate(resource);
                let again = self.cache.lookup(resource);
                self.settle(again).await
            }
            lookup => self.settle(lookup).await,
        }
    }

    /// What a lookup comes to: the rendering, the render in flight, or a
    /// new render (a task of its own) for the claim.
    async fn settle(self: &Arc<Self>, lookup: Lookup) -> Result<Arc<Rendered>, CacheError> {
        match lookup {
            Lookup::Ready(r) => Ok(r),
            Lookup::Pending(wait) => wait.await,
            Lookup::Claimed(claim, wait) if is_search(&claim.resource) => {
                self.clone().render_search(claim);
                wait.await
            }
            Lookup::Claimed(claim, wait) => {
                let app = self.clone();
                tokio::task::spawn_blocking(move || app.render(vec![claim]));
                wait.await
            }
        }
    }

    /// Render a cold keyword feed when its turn comes (a task of its own,
    /// like any render), or answer it 503 when too many wait or it waited
    /// too long: searches queue among themselves, on their own connections,
    /// while feeds render as ever.
    fn render_search(self: Arc<Self>, claim: Claim) {
        use std::sync::atomic::Ordering;
        let busy = |claim: Claim, why: &str| {
            claim.complete(Err(CacheError::Store(Arc::new(StoreError::Unavailable(
                why.to_string(),
            )))));
        };
        if self.searches_waiting.fetch_add(1, Ordering::SeqCst) >= MAX_SEARCHES_WAITING {
            self.searches_waiting.fetch_sub(1, Ordering::SeqCst);
            busy(claim, "too many keyword feeds asked at once");
            return;
        }
        tokio::spawn(async move {
            let turn =
                tokio::time::timeout(SEARCH_WAIT, self.search_turns.clone().acquire_owned()).await;
            self.searches_waiting.fetch_sub(1, Ordering::SeqCst);
            let Ok(Ok(turn)) = turn else {
                busy(claim, "keyword feeds are busy");
                return;
            };
            let app = self.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let _turn = turn;
                app.render(vec![claim]);
            })
            .await;
        });
    }

    /// Cold keyword feeds waiting for their turn to render.
    pub fn searches_waiting(&self) -> usize {
        self.searches_waiting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Index what the triggers queued for the keyword index
    /// (`Store::index_queued`), unless that is running already. Blocking;
    /// the watcher calls it after each read of the log.
    pub fn index_queued(&self) {
        use std::sync::atomic::Ordering;
        if self.indexing.swap(true, Ordering::SeqCst) {
            return;
        }
        match self.store.index_queued() {
            Ok(0) => {}
            Ok(n) => tracing::debug!("keyword index: {n} queued articles indexed"),
            // Keyword feeds read queued articles meanwhile; the next call
            // tries again.
            Err(e) => tracing::debug!("keyword index: indexing queued articles: {e}"),
        }
        self.indexing.store(false, Ordering::SeqCst);
    }

    /// The body of a rendering in a coding, compressing it first (on a
    /// blocking thread) if no client asked for that coding before.
    pub async fn body(
        &self,
        resource: &Resource,
        rendered: &Arc<Rendered>,
        coding: super::encoding::Coding,
    ) -> bytes::Bytes {
        if let Some(b) = rendered.rep.ready(coding) {
            return b;
        }
        let r = rendered.clone();
        let body = tokio::task::spawn_blocking(move || r.rep.body(coding)).await;
        self.cache.reweigh(resource);
        match body {
            Ok(b) => b,
            // Compressing can't panic on any input; if it did, the task's
            // thread is gone and this request gets the coding computed here.
            Err(_) => rendered.rep.body(coding),
        }
    }

    /// Render claimed resources: the formats of one feed (or of one month
    /// of it) from one store read, the pages from the catalog alone.
    /// Blocking.
    fn render(&self, claims: Vec<Claim>) {
        let catalog = self.catalog();
        let mut docs: BTreeMap<Doc, Vec<(Format, Claim)>> = BTreeMap::new();
        for claim in claims {
            match &claim.resource {
                Resource::Feed(key, format) => {
                    let (doc, format) = ((key.clone(), None), *format);
                    docs.entry(doc).or_default().push((format, claim));
                }
                Resource::Archive(key, month, format) => {
                    let (doc, format) = ((key.clone(), Some(*month)), *format);
                    docs.entry(doc).or_default().push((format, claim));
                }
                Resource::Index | Resource::Opml => {
                    let started = Instant::now();
                    let (content_type, body) = if claim.resource == Resource::Index {
                        (
                            "text/html; charset=utf-8",
                            crate::pages::index_html(&self.site, &catalog),
                        )
                    } else {
                        (
                            "text/x-opml; charset=utf-8",
                            crate::pages::opml(&self.site, &catalog),
                        )
                    };
                    let rep = Representation::new(content_type, body.into_bytes(), None);
                    let previous = claim.previous.clone();
                    let rendered = keep_codings(rep, Meta::default(), previous.as_ref());
                    self.metrics.render(1, started.elapsed());
                    let resource = claim.resource.clone();
                    claim.complete(Ok(rendered.clone()));
                    warm_codings(&rendered, previous.as_ref());
                    self.cache.reweigh(&resource);
                }
            }
        }
        for ((key, month), group) in docs {
            let turn = match month {
                Some(_) => match self.archive_turn() {
                    Some(turn) => Some(turn),
                    None => {
                        for (_, claim) in group {
                            claim.complete(Err(CacheError::Busy(
                                "every archive render is taken".into(),
                            )));
                        }
                        continue;
                    }
                },
                None => None,
            };
            let started = Instant::now();
            let (feed, generation) = match self.load(&catalog, &key, month) {
                // WebSub: the read of the change log this snapshot follows.
                Ok(feed) => (feed, self.websub.generation()),
                Err(e) => {
                    for (_, claim) in group {
                        claim.complete(Err(e.clone()));
                    }
                    continue;
                }
            };
            let limit = self.site.items_per_feed;
            let floor = (month.is_none() && feed.items.len() >= limit)
                .then(|| feed.items.last().map(|i| i.published.to_utc()))
                .flatten();
            // Beyond `items_per_feed`, items are there for the burst window:
            // the oldest leaves it at its published instant plus the window.
            let expires = (month.is_none() && feed.items.len() > limit)
                .then(|| feed.items.last())
                .flatten()
                .and_then(|i| {
                    i.published
                        .to_utc()
                        .checked_add_signed(self.site.burst_window)
                });
            // A past month changes only when one of its articles does.
            let current = Month::at(catalog.as_of, self.site.offset);
            let max_age = month.filter(|m| *m < current).map(|_| ARCHIVE_MAX_AGE);
            let done: Vec<(Claim, Arc<Rendered>)> = group
                .into_iter()
                .map(|(format, claim)| {
                    let body = render(&feed, format);
                    let rep = Representation::new(format.content_type(), body, feed.updated);
                    let meta = Meta {
                        floor,
                        archive: feed.archive,
                        max_age,
                        expires,
                    };
                    let rendered = keep_codings(rep, meta, claim.previous.as_ref());
                    // WebSub: a rendering that replaces another with other
                    // bytes is a change to tell the hubs of.
                    self.websub.rendered(&claim.resource, generation);
                    if let Some(prev) = &claim.previous {
                        let same = prev.rep.same_bytes(&rendered.rep);
                        self.websub
                            .replaced(&self.site, &claim.resource, same, &self.metrics);
                    }
                    (claim, rendered)
                })
                .collect();
            // The articles go before the next archive render may start.
            drop(feed);
            drop(turn);
            // Counted before anyone is answered, so that a client that has
            // the response sees the count.
            self.metrics.render(done.len() as u64, started.elapsed());
            let mut warm = Vec::new();
            for (claim, rendered) in done {
                if let (Resource::Archive(key, month, format), Some(a)) =
                    (&claim.resource, rendered.archive)
                {
                    self.archives_index()
                        .entry(key.clone())
                        .or_default()
                        .insert((*month, *format), a);
                }
                if let Resource::Feed(FeedKey::Search(_), _) = &claim.resource {
                    self.remember_search(&claim.resource);
                }
                warm.push((
                    claim.resource.clone(),
                    rendered.clone(),
                    claim.previous.clone(),
                ));
                claim.complete(Ok(rendered));
            }
            for (resource, rendered, previous) in warm {
                if previous.is_some() {
                    warm_codings(&rendered, previous.as_ref());
                    self.cache.reweigh(&resource);
                }
            }
        }
    }

    /// One feed, or one month of it, from one read transaction.
    fn load(
        &self,
        catalog: &Catalog,
        key: &FeedKey,
        month: Option<Month>,
    ) -> Result<crate::feed::Feed, CacheError> {
        // While the store is down (or its file gone), a cold feed is not
        // read from whatever is left of it.
        if let Health::Down(why) = self.health() {
            return Err(CacheError::Store(Arc::new(StoreError::Unavailable(why))));
        }
        let failed = |e: StoreError| {
            self.store_failed(&e);
            CacheError::Store(Arc::new(e))
        };
        let snap = match key {
            FeedKey::Search(_) => self.store.search_snapshot(),
            _ => self.store.snapshot(),
        }
        .map_err(failed)?;
        let loaded = match month {
            None => crate::feed::load(
                snap.as_ref(),
                &self.site,
                catalog,
                key,
                catalog.as_of,
                self.site.items_per_feed,
            )
            .map(Some),
            Some(month) => crate::feed::load_archive(
                snap.as_ref(),
                &self.site,
                catalog,
                key,
                month,
                catalog.as_of,
            ),
        };
        match loaded {
            Ok(Some(feed)) => Ok(feed),
            Ok(None) => Err(CacheError::NotFound(format!(
                "no article in {} in that month",
                key.path()
            ))),
            Err(e @ FeedError::UnknownSlug { .. }) => Err(CacheError::NotFound(e.to_string())),
            Err(FeedError::Store(e)) => Err(failed(e)),
        }
    }

    /// Keep track of a rendered keyword feed, at most [`MAX_SEARCHES`] of
    /// them: past that the oldest are dropped from the cache.
    fn remember_search(&self, resource: &Resource) {
        let mut searches = self.searches.lock().unwrap_or_else(|e| e.into_inner());
        searches.insert(resource.clone());
        while searches.len() > MAX_SEARCHES {
            if let Some(first) = searches.pop_first() {
                self.cache.invalidate(&first);
            }
        }
    }

    /// Drop every cached keyword feed: a write may add or take away any
    /// article from any of them. They are not rendered again in the
    /// background (the next request does), so a write costs no search.
    fn forget_searches(&self) {
        let searches =
            std::mem::take(&mut *self.searches.lock().unwrap_or_else(|e| e.into_inner()));
        for r in searches {
            self.metrics.invalidation();
            self.cache.invalidate(&r);
        }
    }

    /// A turn to render an archive document, waiting up to
    /// [`ARCHIVE_WAIT`] for one; `None` when none came. Blocking: called
    /// from a render's own thread.
    fn archive_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let turns = self.archive_renders.clone();
        let handle = tokio::runtime::Handle::try_current().ok()?;
        handle
            .block_on(tokio::time::timeout(ARCHIVE_WAIT, turns.acquire_owned()))
            .ok()?
            .ok()
    }

    fn archives_index(&self) -> MutexGuard<'_, ArchiveIndex> {
        self.archives.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Render again, in the background, resources a change invalidated:
    /// one task per feed key, a few at a time; each resource is skipped if
    /// a request rendered it first.
    pub fn rerender(self: &Arc<Self>, resources: Vec<Resource>) {
        let mut groups: BTreeMap<Option<(FeedKey, Option<Month>)>, Vec<Resource>> = BTreeMap::new();
        for r in resources {
            let doc = match &r {
                Resource::Feed(key, _) => Some((key.clone(), None)),
                Resource::Archive(key, month, _) => Some((key.clone(), Some(*month))),
                _ => None,
            };
            groups.entry(doc).or_default().push(r);
        }
        for (_, group) in groups {
            let app = self.clone();
            tokio::spawn(async move {
                let Ok(_permit) = app.background.clone().acquire_owned().await else {
                    return;
                };
                let claims: Vec<Claim> = group.iter().filter_map(|r| app.cache.claim(r)).collect();
                if claims.is_empty() {
                    return;
                }
                let a = app.clone();
                let _ = tokio::task::spawn_blocking(move || a.render(claims)).await;
            });
        }
    }

    fn watch_state(&self) -> MutexGuard<'_, WatchState> {
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the change log (and the clock) once; apply what changed to the
    /// catalog and the cache. Returns the resources to render again. Blocking.
    pub fn poll(&self) -> Result<Vec<Resource>, StoreError> {
        let mut state = self.watch_state();
        let generation = self.websub.poll_begins();
        let now = Utc::now();
        // Another file at a SQLite store's path: nothing we knew holds.
        let reopened = self.store.revalidate()?;
        if reopened && let Some(why) = self.damage().take() {
            tracing::info!("the damaged store file was replaced (it said: {why})");
        }
        let snap = self.store.log_snapshot()?;
        let changes = if reopened || state.last_read.elapsed() > LOG_RETENTION / 2 {
            // Rows we never read may be trimmed by now.
            Changes::Everything {
                next: snap.log_head()?,
            }
        } else {
            snap.changes(&state.position, MAX_CHANGES)?
        };
        state.last_read = Instant::now();
        let due_now = state.next_due.is_some_and(|t| t <= now);
        let old = self.catalog();
        let (rows, next) = match changes {
            Changes::Everything { next } => {
                state.unreadable = self.store.unreadable_rows();
                let catalog = Catalog::load(snap.as_ref(), &self.site, now)?;
                state.next_due = snap.next_scheduled(now)?;
                drop(snap);
                state.position = next;
                // Cached feeds are compared when rendered again; the others
                // are pinged if their catalog entry moved.
                self.ping_touched(&super::websub::moved(&old, &catalog), generation);
                self.catalog.store(Arc::new(catalog));
                self.metrics.full_refresh();
                return Ok(self.invalidate_all());
            }
            Changes::Rows { rows, next } => (rows, next),
        };
        let unreadable = self.store.unreadable_rows();
        if rows.is_empty() && !due_now && unreadable == state.unreadable {
            state.position = next;
            return Ok(Vec::new());
        }
        let due = if due_now {
            snap.published_between(old.as_of, now)?
        } else {
            Vec::new()
        };
        let mut ids: Vec<String> = rows
            .iter()
            .map(|c| c.article_id.clone())
            .chain(due.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        // A CMS row that can't be read is out of the lists from its write
        // on, not from the first render that meets it (a bounded number
        // read per poll: a bigger batch is bantin's own import, or is met
        // by renders).
        let checked = ids.get(..crate::store::UNREADABLE_HELD).unwrap_or(&ids);
        snap.left_out(checked, now)?;
        state.unreadable = self.store.unreadable_rows();
        let placed = snap.placements(&ids)?;
        let touched = touched(&rows, &due, &placed, now);
        let (catalog, renamed) = old.update(snap.as_ref(), &self.site, now, &touched.catalog)?;
        state.next_due = snap.next_scheduled(now)?;
        drop(snap);
        state.position = next;
        let pages_changed = !same_listing(&old, &catalog);
        self.catalog.store(Arc::new(catalog));
        self.metrics.refresh();
        if renamed {
            // A display name shows in every item that carries it.
            let keys: Vec<FeedKey> = touched.feeds.keys().cloned().collect();
            self.ping_touched(&keys, generation);
            self.metrics.full_refresh();
            return Ok(self.invalidate_all());
        }
        if !touched.feeds.is_empty() {
            self.forget_searches();
        }
        let mut again = self.invalidate_archives(&touched.feeds);
        for (key, instants) in &touched.feeds {
            for format in Format::ALL {
                let r = Resource::Feed(key.clone(), format);
                if let Some(current) = self.cache.rendered(&r)
                    && !instants.iter().any(|t| current.reaches(*t))
                {
                    continue;
                }
                self.metrics.invalidation();
                let held = self.cache.invalidate(&r).is_some();
                self.websub
                    .touched(&self.site, &r, generation, held, &self.metrics);
                if held {
                    again.push(r);
                }
            }
        }
        if pages_changed {
            for r in [Resource::Index, Resource::Opml] {
                self.metrics.invalidation();
                if self.cache.invalidate(&r).is_some() {
                    again.push(r);
                }
            }
        }
        Ok(again)
    }

    /// Invalidate the archive documents a change touches: those of its
    /// months, and those whose `prev-archive`/`next-archive` may move (the
    /// month lies between them and their neighbour, or is one).
    fn invalidate_archives(&self, feeds: &BTreeMap<FeedKey, Vec<DateTime<Utc>>>) -> Vec<Resource> {
        let mut doomed = Vec::new();
        {
            let mut index = self.archives_index();
            for (key, instants) in feeds {
                let Some(months) = index.get_mut(key) else {
                    continue;
                };
                let changed: BTreeSet<Month> = instants
                    .iter()
                    .map(|t| Month::at(*t, self.site.offset))
                    .collect();
                months.retain(|(month, format), a| {
                    let reached = changed.iter().any(|m| {
                        m == month
                            || (a.prev.is_none_or(|p| p <= *m) && a.next.is_none_or(|n| *m <= n))
                    });
                    if reached {
                        doomed.push(Resource::Archive(key.clone(), *month, *format));
                    }
                    !reached
                });
            }
        }
        let mut again = Vec::new();
        for r in doomed {
            self.metrics.invalidation();
            if self.cache.invalidate(&r).is_some() {
                again.push(r);
            }
        }
        again
    }

    /// WebSub: these feeds are touched, before the cache is invalidated
    /// whole (the renderings it holds are compared when rendered again).
    fn ping_touched(&self, keys: &[FeedKey], generation: u64) {
        for key in keys {
            for format in Format::ALL {
                let r = Resource::Feed(key.clone(), format);
                let held = self.cache.rendered(&r).is_some();
                self.websub
                    .touched(&self.site, &r, generation, held, &self.metrics);
            }
        }
    }

    fn invalidate_all(&self) -> Vec<Resource> {
        self.archives_index().clear();
        self.forget_searches();
        let mut again = Vec::new();
        for (r, _) in self.cache.entries() {
            self.metrics.invalidation();
            let held = self.cache.invalidate(&r).is_some();
            if held && !matches!(r, Resource::Feed(FeedKey::Search(_), _)) {
                again.push(r);
            }
        }
        again
    }

    /// Delete old change-log rows, at most once a minute. Blocking.
    pub fn trim(&self) {
        {
            let mut state = self.watch_state();
            if state.last_trim.elapsed() < TRIM_EVERY {
                return;
            }
            state.last_trim = Instant::now();
        }
        let Some(before) = chrono::Duration::from_std(LOG_RETENTION)
            .ok()
            .and_then(|d| Utc::now().checked_sub_signed(d))
        else {
            return;
        };
        match self.store.trim_log(before) {
            Ok(n) => tracing::debug!("trimmed {n} change-log rows"),
            Err(e) => tracing::debug!("trimming the change log: {e}"),
        }
    }

    /// Record the outcome of a read of the store; log a change of health
    /// once, not once per poll.
    pub fn set_health(&self, health: Health) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if *h != health {
            match &health {
                Health::Up => tracing::info!("the store answers again"),
                Health::Down(why) => tracing::warn!("the store does not answer: {why}"),
            }
            *h = health;
        }
    }

    /// Note a read of the store that failed: damage is logged once (not
    /// once per request that meets it) and kept for `/healthz`.
    pub fn store_failed(&self, e: &StoreError) {
        if !e.is_corruption() {
            return;
        }
        let mut damage = self.damage();
        if damage.is_none() {
            let why = match e {
                StoreError::Backend(inner) => inner.to_string(),
                other => other.to_string(),
            };
            tracing::error!(
                "the store's data is damaged: {why}; /healthz answers 503 until its file is \
                 replaced (`bantin check` runs SQLite's integrity check)"
            );
            *damage = Some(why);
        }
    }

    /// Why the store's data is damaged, if a read found it so.
    pub fn damaged(&self) -> Option<String> {
        self.damage().clone()
    }

    fn damage(&self) -> MutexGuard<'_, Option<String>> {
        self.damage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the store answered the watcher's last read.
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rows left out of feeds because they can't be read, met so far.
    pub fn unreadable_rows(&self) -> u64 {
        self.store.unreadable_rows()
    }

    /// Renderings held, their bytes, and how many were evicted to keep
    /// within `cache_bytes`.
    pub fn cache_size(&self) -> (usize, usize, u64) {
        let (entries, bytes) = self.cache.size();
        (entries, bytes, self.cache.evictions())
    }
}

/// Whether a resource is a keyword feed.
fn is_search(resource: &Resource) -> bool {
    matches!(resource, Resource::Feed(FeedKey::Search(_), _))
}

/// What a rendering knows besides its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Meta {
    floor: Option<DateTime<Utc>>,
    archive: Option<Archive>,
    max_age: Option<u64>,
    expires: Option<DateTime<Utc>>,
}

/// A new rendering, or the previous one when the bytes are the same (it
/// keeps the codings computed for it).
fn keep_codings(
    rep: Representation,
    meta: Meta,
    previous: Option<&Arc<Rendered>>,
) -> Arc<Rendered> {
    if let Some(prev) = previous {
        let same = Meta {
            floor: prev.floor,
            archive: prev.archive,
            max_age: prev.max_age,
            expires: prev.expires,
        } == meta;
        if same && prev.rep.same_bytes(&rep) {
            return prev.clone();
        }
    }
    Arc::new(Rendered {
        rep,
        floor: meta.floor,
        archive: meta.archive,
        max_age: meta.max_age,
        expires: meta.expires,
    })
}

/// Compress a new rendering, after it is answered, in the codings its
/// previous one had been asked for: clients asked for them before and will
/// again. A request that wants one meanwhile waits for that one alone.
fn warm_codings(rendered: &Rendered, previous: Option<&Arc<Rendered>>) {
    if let Some(prev) = previous {
        for coding in prev.rep.codings() {
            rendered.rep.body(coding);
        }
    }
}

/// Whether two catalogs list the same feeds with the same counts, names
/// and dates (what `/` and the OPML list show).
fn same_listing(a: &Catalog, b: &Catalog) -> bool {
    a.total == b.total
        && a.newest == b.newest
        && a.categories == b.categories
        && a.regions == b.regions
        && a.pairs == b.pairs
}

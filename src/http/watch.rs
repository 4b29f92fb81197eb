//! The change-log watcher: reads the store's change log four times a
//! second, and at once when the store tells of a commit (PostgreSQL's
//! `NOTIFY`), and the clock, for scheduled articles; applies what changed
//! to the catalog and the cache (`publish::invalidation` says what a
//! change touches), tells WebSub what was touched, and hands the
//! invalidated resources the cache held to the scheduler to render again.
//! It never waits for those renders: a write made while earlier ones are
//! being rendered is read at the next poll. It also trims the log and
//! keeps the keyword index up.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::health::Health;
use super::scheduler::Scheduler;
use super::state::State;
use crate::article::FeedKey;
use crate::feed::Catalog;
use crate::publish::Resource;
use crate::publish::invalidation::{touched, touches_news};
use crate::render::Format;
use crate::store::{Changes, LogPosition, StoreError};

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

/// What the watcher remembers between two reads of the log.
struct Position {
    position: LogPosition,
    next_due: Option<DateTime<Utc>>,
    last_read: Instant,
    last_trim: Instant,
    /// The store's count of unreadable rows met, as of the last catalog:
    /// when a render meets a new one, the catalog leaves it out.
    unreadable: u64,
}

/// Reads the change log and applies it.
pub(crate) struct Watcher {
    state: Arc<State>,
    scheduler: Scheduler,
    log: Mutex<Position>,
    /// Whether keyword-index upkeep (`Store::index_queued`) is running.
    indexing: AtomicBool,
    /// Rung when the store tells of a commit: the watcher reads the log at once.
    wake: Arc<tokio::sync::Notify>,
}

impl Watcher {
    /// A watcher that goes on from `position` (where the catalog was read)
    /// and next looks at the clock at `next_due`.
    pub(crate) fn new(
        state: Arc<State>,
        scheduler: Scheduler,
        position: LogPosition,
        next_due: Option<DateTime<Utc>>,
    ) -> Watcher {
        let wake = Arc::new(tokio::sync::Notify::new());
        let ring = wake.clone();
        state.store.on_commit(Arc::new(move || ring.notify_one()));
        Watcher {
            state,
            scheduler,
            log: Mutex::new(Position {
                position,
                next_due,
                last_read: Instant::now(),
                last_trim: Instant::now(),
                unreadable: 0,
            }),
            indexing: AtomicBool::new(false),
            wake,
        }
    }

    /// Poll for changes until the task is aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A commit notice (PostgreSQL) wakes us at once; else we poll.
            tokio::select! {
                _ = tick.tick() => {}
                () = self.wake.notified() => {}
            }
            let w = self.clone();
            match tokio::task::spawn_blocking(move || w.poll()).await {
                Ok(Ok(again)) => {
                    self.state.health.set(Health::Up);
                    if !again.is_empty() {
                        tracing::info!("store changed: rendering {} resources again", again.len());
                        self.scheduler.rerender(again);
                    }
                }
                Ok(Err(e)) => {
                    self.state.health.failed(&e);
                    self.state.health.set(Health::Down(e.to_string()));
                }
                Err(e) => tracing::error!("the change-log reader died: {e}"),
            }
            // Not awaited: a trim waiting for a connection (the store down, an
            // import holding SQLite's lock) must not hold the next read; nor
            // the keyword index's upkeep.
            let w = self.clone();
            tokio::task::spawn_blocking(move || w.trim());
            let w = self.clone();
            tokio::task::spawn_blocking(move || w.index_queued());
        }
    }

    fn log(&self) -> MutexGuard<'_, Position> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read the change log (and the clock) once; apply what changed to the
    /// catalog and the cache. Returns the resources to render again. Blocking.
    fn poll(&self) -> Result<Vec<Resource>, StoreError> {
        let state = &self.state;
        let mut log = self.log();
        let generation = state.websub.poll_begins();
        let now = Utc::now();
        // Another file at a SQLite store's path: nothing we knew holds.
        let reopened = state.store.revalidate()?;
        if reopened {
            state.health.replaced();
        }
        let snap = state.store.log_snapshot()?;
        let changes = if reopened || log.last_read.elapsed() > LOG_RETENTION / 2 {
            // Rows we never read may be trimmed by now.
            Changes::Everything {
                next: snap.log_head()?,
            }
        } else {
            snap.changes(&log.position, MAX_CHANGES)?
        };
        log.last_read = Instant::now();
        let due_now = log.next_due.is_some_and(|t| t <= now);
        let old = state.catalog();
        let (rows, next) = match changes {
            Changes::Everything { next } => {
                log.unreadable = state.store.unreadable_rows();
                let catalog = Catalog::load(snap.as_ref(), &state.site, now)?;
                log.next_due = snap.next_scheduled(now)?;
                drop(snap);
                log.position = next;
                // Cached feeds are compared when rendered again; the others
                // are pinged if their catalog entry moved.
                self.ping_touched(&super::websub::moved(&old, &catalog), generation);
                state.set_catalog(catalog);
                state.metrics.full_refresh();
                return Ok(self.invalidate_all());
            }
            Changes::Rows { rows, next } => (rows, next),
        };
        let unreadable = state.store.unreadable_rows();
        if rows.is_empty() && !due_now && unreadable == log.unreadable {
            log.position = next;
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
        log.unreadable = state.store.unreadable_rows();
        let placed = snap.placements(&ids)?;
        let touched = touched(&rows, &due, &placed, now);
        let (catalog, renamed) = old.update(snap.as_ref(), &state.site, now, &touched.catalog)?;
        log.next_due = snap.next_scheduled(now)?;
        drop(snap);
        log.position = next;
        let pages_changed = !same_listing(&old, &catalog);
        state.set_catalog(catalog);
        state.metrics.refresh();
        if renamed {
            // A display name shows in every item that carries it.
            let keys: Vec<FeedKey> = touched.feeds.keys().cloned().collect();
            self.ping_touched(&keys, generation);
            state.metrics.full_refresh();
            return Ok(self.invalidate_all());
        }
        if !touched.feeds.is_empty() {
            state.searches.forget(&state.cache, &state.metrics);
        }
        let mut again = Vec::new();
        for r in state
            .archives
            .take_touched(&touched.feeds, state.site.offset)
        {
            state.metrics.invalidation();
            if state.cache.invalidate(&r).is_some() {
                again.push(r);
            }
        }
        for (key, instants) in &touched.feeds {
            for format in Format::ALL {
                let r = Resource::Feed(key.clone(), format);
                if let Some(current) = state.cache.rendered(&r)
                    && !instants.iter().any(|t| current.reaches(*t))
                {
                    continue;
                }
                state.metrics.invalidation();
                let held = state.cache.invalidate(&r).is_some();
                state
                    .websub
                    .touched(&state.site, &r, generation, held, &state.metrics);
                if held {
                    again.push(r);
                }
            }
        }
        if touches_news(&touched, now) {
            state.metrics.invalidation();
            if state.cache.invalidate(&Resource::NewsSitemap).is_some() {
                again.push(Resource::NewsSitemap);
            }
        }
        if pages_changed {
            for r in [Resource::Index, Resource::Opml] {
                state.metrics.invalidation();
                if state.cache.invalidate(&r).is_some() {
                    again.push(r);
                }
            }
        }
        Ok(again)
    }

    /// WebSub: these feeds are touched, before the cache is invalidated
    /// whole (the renderings it holds are compared when rendered again).
    fn ping_touched(&self, keys: &[FeedKey], generation: u64) {
        let state = &self.state;
        for key in keys {
            for format in Format::ALL {
                let r = Resource::Feed(key.clone(), format);
                let held = state.cache.rendered(&r).is_some();
                state
                    .websub
                    .touched(&state.site, &r, generation, held, &state.metrics);
            }
        }
    }

    /// Invalidate every cached resource; returns those to render again
    /// (all but keyword feeds).
    fn invalidate_all(&self) -> Vec<Resource> {
        let state = &self.state;
        state.archives.clear();
        state.searches.forget(&state.cache, &state.metrics);
        let mut again = Vec::new();
        for (r, _) in state.cache.entries() {
            state.metrics.invalidation();
            let held = state.cache.invalidate(&r).is_some();
            if held && !r.is_search() {
                again.push(r);
            }
        }
        again
    }

    /// Delete old change-log rows, at most once a minute. Blocking.
    fn trim(&self) {
        {
            let mut log = self.log();
            if log.last_trim.elapsed() < TRIM_EVERY {
                return;
            }
            log.last_trim = Instant::now();
        }
        let Some(before) = chrono::Duration::from_std(LOG_RETENTION)
            .ok()
            .and_then(|d| Utc::now().checked_sub_signed(d))
        else {
            return;
        };
        match self.state.store.trim_log(before) {
            Ok(n) => tracing::debug!("trimmed {n} change-log rows"),
            Err(e) => tracing::debug!("trimming the change log: {e}"),
        }
    }

    /// Index what the triggers queued for the keyword index
    /// (`Store::index_queued`), unless that is running already. Blocking;
    /// called after each read of the log.
    fn index_queued(&self) {
        if self.indexing.swap(true, Ordering::SeqCst) {
            return;
        }
        match self.state.store.index_queued() {
            Ok(0) => {}
            Ok(n) => tracing::debug!("keyword index: {n} queued articles indexed"),
            // Keyword feeds read queued articles meanwhile; the next call
            // tries again.
            Err(e) => tracing::debug!("keyword index: indexing queued articles: {e}"),
        }
        self.indexing.store(false, Ordering::SeqCst);
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

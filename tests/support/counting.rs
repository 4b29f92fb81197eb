//! [`CountingStore`]: a real store that counts snapshots and feed queries
//! apart from the change-log watcher's reads, and can be told to fail or to
//! be slow, to see what a request makes the store do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bantin::article::{Article, Facet, FeedKey};
use bantin::store::{
    Changes, LeftOut, LogPosition, Pair, Placement, Problem, SlugUse, Snapshot, Store, StoreError,
    Writer,
};
use chrono::{DateTime, Utc};

/// What the [`CountingStore`] saw.
#[derive(Debug, Default)]
pub struct Calls {
    /// Snapshots and writers asked for, and audits: everything but the
    /// watcher's reads of the change log.
    pub all: AtomicU64,
    /// Feed queries.
    pub feed: AtomicU64,
    /// The watcher's reads of the change log.
    pub log_reads: AtomicU64,
    /// When set, every method fails.
    pub fail: AtomicBool,
    /// Milliseconds every feed query takes on top of its own time.
    pub feed_delay_ms: AtomicU64,
}

impl Calls {
    /// Snapshots and writers asked for, and audits.
    pub fn all(&self) -> u64 {
        self.all.load(Ordering::SeqCst)
    }

    /// Feed queries.
    pub fn feed(&self) -> u64 {
        self.feed.load(Ordering::SeqCst)
    }
}

/// A store that counts what is asked of it (and can be told to fail or to
/// be slow), over a real store.
pub struct CountingStore {
    inner: Box<dyn Store>,
    calls: Arc<Calls>,
}

impl CountingStore {
    /// Wrap a store; the counters are shared with the caller.
    pub fn new(inner: Box<dyn Store>) -> (CountingStore, Arc<Calls>) {
        let calls = Arc::new(Calls::default());
        (
            CountingStore {
                inner,
                calls: calls.clone(),
            },
            calls,
        )
    }

    fn count(&self) -> Result<(), StoreError> {
        self.calls.all.fetch_add(1, Ordering::SeqCst);
        self.check()
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.calls.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Open {
                url: "sqlite:counting".into(),
                reason: "the test made the store fail".into(),
            });
        }
        Ok(())
    }
}

/// A snapshot that counts feed queries.
struct CountingSnapshot<'a> {
    inner: Box<dyn Snapshot + 'a>,
    calls: Arc<Calls>,
}

impl Snapshot for CountingSnapshot<'_> {
    fn feed_span(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        self.calls.feed.fetch_add(1, Ordering::SeqCst);
        let delay = self.calls.feed_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        self.inner.feed_span(key, from, upto, limit)
    }
    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.newest_before(key, before)
    }
    fn oldest_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.oldest_between(key, from, upto)
    }
    fn slugs(&self, facet: Facet) -> Result<Vec<String>, StoreError> {
        self.inner.slugs(facet)
    }
    fn slug_use(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<SlugUse, StoreError> {
        self.inner.slug_use(facet, slug, now)
    }
    fn pair_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.pair_keys()
    }
    fn pair(&self, c: &str, r: &str, now: DateTime<Utc>) -> Result<Option<Pair>, StoreError> {
        self.inner.pair(c, r, now)
    }
    fn total(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        self.inner.total(now)
    }
    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_scheduled(now)
    }
    fn published_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.published_between(after, upto)
    }
    fn log_head(&self) -> Result<LogPosition, StoreError> {
        self.inner.log_head()
    }
    fn changes(&self, since: &LogPosition, max: usize) -> Result<Changes, StoreError> {
        self.inner.changes(since, max)
    }
    fn placements(&self, ids: &[String]) -> Result<Vec<Placement>, StoreError> {
        self.inner.placements(ids)
    }

    fn left_out(&self, ids: &[String], now: DateTime<Utc>) -> Result<Vec<LeftOut>, StoreError> {
        self.inner.left_out(ids, now)
    }
}

impl Store for CountingStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.count()?;
        Ok(Box::new(CountingSnapshot {
            inner: self.inner.snapshot()?,
            calls: self.calls.clone(),
        }))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.calls.log_reads.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.log_snapshot()
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError> {
        self.count()?;
        self.inner.writer()
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        self.count()?;
        self.inner.audit()
    }

    fn trim_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.trim_log(before)
    }
}

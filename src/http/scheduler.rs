//! The render scheduler: who renders a resource, when, and on which
//! thread. A request for a cold resource starts its render (see `cache.rs`
//! for the one-render-per-resource claim); the watcher hands it the
//! resources a change invalidated, rendered again in the background a few
//! at a time. Renders run on blocking threads, each in one read
//! transaction of the store's pool, and outlive the request that started
//! them. Archive documents take turns ([`ARCHIVE_RENDERS`]); keyword feeds
//! queue among themselves on their own connections.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Semaphore;

use super::cache::{CacheError, Claim, Lookup};
use super::health::Health;
use super::state::State;
use crate::article::FeedKey;
use crate::feed::{ArchivePage, Catalog, Feed, FeedError};
use crate::publish::rendering::{self, Meta};
use crate::publish::{Coding, Document, Rendered, Representation, Resource};
use crate::render::Format;
use crate::store::StoreError;

/// Cold archive documents rendered at once, at most. A month of the all
/// feed at a million articles is thousands of articles read and rendered
/// (issue 17: 48 months asked at once peaked at 4.3 GB); more wait their
/// turn, so that archive readers never take the memory and the store's
/// connections that subscription feeds need.
const ARCHIVE_RENDERS: usize = 1;

/// How long an archive render waits for its turn before the request gets
/// 503 with `Retry-After` (the render is not made).
const ARCHIVE_WAIT: Duration = Duration::from_secs(20);

/// Cold keyword feeds waiting for their turn to render, at most: more are
/// answered 503 at once, and so is one that waited [`SEARCH_WAIT`]. One
/// renders at a time per [`crate::store::SEARCH_READERS`] connection, each
/// within its budget (`search::Budget`), beside the feed renders, never in
/// their place.
const MAX_SEARCHES_WAITING: usize = 32;

/// How long a cold keyword feed waits for its turn before its 503.
const SEARCH_WAIT: Duration = Duration::from_secs(5);

/// A feed (`None`) or one archive document of it (a month, or a page of
/// one): what one store read renders, in every format asked for.
type Doc = (FeedKey, Option<ArchivePage>);

/// Starts and runs renders. Cheap to clone: every clone shares the turns.
#[derive(Clone)]
pub(crate) struct Scheduler {
    state: Arc<State>,
    /// Renders the watcher asks for run a few at a time, so that a burst of
    /// invalidations leaves cores for the requests.
    background: Arc<Semaphore>,
    /// Turns for cold archive renders ([`ARCHIVE_RENDERS`]).
    archive_turns: Arc<Semaphore>,
    /// Keyword feed renders at once (one per search connection), and how
    /// many wait for a turn.
    search_turns: Arc<Semaphore>,
    searches_waiting: Arc<AtomicUsize>,
}

impl Scheduler {
    pub(crate) fn new(state: Arc<State>) -> Scheduler {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Scheduler {
            state,
            background: Arc::new(Semaphore::new(workers)),
            archive_turns: Arc::new(Semaphore::new(ARCHIVE_RENDERS)),
            search_turns: Arc::new(Semaphore::new(crate::store::SEARCH_READERS as usize)),
            searches_waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A resource, rendered if cold. The render is a task of its own: it
    /// finishes and is cached even if this request goes away.
    pub(crate) async fn get(&self, resource: &Resource) -> Result<Arc<Rendered>, CacheError> {
        let cache = &self.state.cache;
        match cache.lookup(resource) {
            Lookup::Ready(r) if r.expired(Utc::now()) => {
                // Its oldest item left the burst window: render it again.
                cache.invalidate(resource);
                let again = cache.lookup(resource);
                self.settle(again).await
            }
            lookup => self.settle(lookup).await,
        }
    }

    /// What a lookup comes to: the rendering, the render in flight, or a
    /// new render (a task of its own) for the claim.
    async fn settle(&self, lookup: Lookup) -> Result<Arc<Rendered>, CacheError> {
        match lookup {
            Lookup::Ready(r) => Ok(r),
            Lookup::Pending(wait) => wait.await,
            Lookup::Claimed(claim, wait) if claim.resource.is_search() => {
                self.clone().render_search(claim);
                wait.await
            }
            Lookup::Claimed(claim, wait) => {
                let scheduler = self.clone();
                tokio::task::spawn_blocking(move || scheduler.render(vec![claim]));
                wait.await
            }
        }
    }

    /// Render a cold keyword feed when its turn comes (a task of its own,
    /// like any render), or answer it 503 when too many wait or it waited
    /// too long: searches queue among themselves, on their own connections,
    /// while feeds render as ever.
    fn render_search(self, claim: Claim) {
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
            let _ = tokio::task::spawn_blocking(move || {
                let _turn = turn;
                self.render(vec![claim]);
            })
            .await;
        });
    }

    /// Cold keyword feeds waiting for their turn to render.
    pub(crate) fn searches_waiting(&self) -> usize {
        self.searches_waiting.load(Ordering::SeqCst)
    }

    /// The body of a rendering in a coding, compressing it first (on a
    /// blocking thread) if no client asked for that coding before.
    pub(crate) async fn body(
        &self,
        resource: &Resource,
        rendered: &Arc<Rendered>,
        coding: Coding,
    ) -> bytes::Bytes {
        if let Some(b) = rendered.rep.ready(coding) {
            return b;
        }
        let r = rendered.clone();
        let body = tokio::task::spawn_blocking(move || r.rep.body(coding)).await;
        self.state.cache.reweigh(resource);
        match body {
            Ok(b) => b,
            // Compressing can't panic on any input; if it did, the task's
            // thread is gone and this request gets the coding computed here.
            Err(_) => rendered.rep.body(coding),
        }
    }

    /// Render again, in the background, resources a change invalidated:
    /// one task per document, a few at a time; each resource is skipped if
    /// a request rendered it first.
    pub(crate) fn rerender(&self, resources: Vec<Resource>) {
        let mut groups: BTreeMap<Document, Vec<Resource>> = BTreeMap::new();
        for r in resources {
            groups.entry(r.document()).or_default().push(r);
        }
        for (_, group) in groups {
            let scheduler = self.clone();
            tokio::spawn(async move {
                let Ok(_permit) = scheduler.background.clone().acquire_owned().await else {
                    return;
                };
                let cache = &scheduler.state.cache;
                let claims: Vec<Claim> = group.iter().filter_map(|r| cache.claim(r)).collect();
                if claims.is_empty() {
                    return;
                }
                let s = scheduler.clone();
                let _ = tokio::task::spawn_blocking(move || s.render(claims)).await;
            });
        }
    }

    /// Render claimed resources: the formats of one feed (or of one archive
    /// document of it) from one store read, the pages from the catalog alone.
    /// Blocking.
    fn render(&self, claims: Vec<Claim>) {
        let catalog = self.state.catalog();
        let mut docs: BTreeMap<Doc, Vec<(Format, Claim)>> = BTreeMap::new();
        for claim in claims {
            let (doc, format) = match &claim.resource {
                Resource::Feed(key, format) => ((key.clone(), None), *format),
                Resource::Archive(key, page, format) => ((key.clone(), Some(*page)), *format),
                Resource::Index | Resource::Opml => {
                    self.render_page(&catalog, claim);
                    continue;
                }
                Resource::NewsSitemap => {
                    self.render_news(&catalog, claim);
                    continue;
                }
            };
            docs.entry(doc).or_default().push((format, claim));
        }
        for ((key, month), group) in docs {
            self.render_feed(&catalog, &key, month, group);
        }
    }

    /// Render `/` or the OPML list.
    fn render_page(&self, catalog: &Catalog, claim: Claim) {
        let started = Instant::now();
        let audience = crate::audience::report::totals(&self.state.tally.counts());
        let Some((content_type, body)) =
            rendering::page(&self.state.site, catalog, &claim.resource, Some(&audience))
        else {
            return;
        };
        let rep = Representation::new(content_type, body, None);
        let previous = claim.previous.clone();
        let rendered = Rendered::new(rep, Meta::default(), previous.as_ref());
        self.state.metrics.render(1, started.elapsed());
        let resource = claim.resource.clone();
        claim.complete(Ok(rendered.clone()));
        if let Some(prev) = &previous {
            rendered.warm_from(prev);
        }
        self.state.cache.reweigh(&resource);
    }

    /// Render the Google News sitemap from one snapshot, as of now.
    fn render_news(&self, catalog: &Catalog, claim: Claim) {
        let state = &self.state;
        let started = Instant::now();
        if let Health::Down(why) = state.health.get() {
            claim.complete(Err(CacheError::Store(Arc::new(StoreError::Unavailable(
                why,
            )))));
            return;
        }
        let made = state
            .store
            .snapshot()
            .and_then(|snap| rendering::news(snap.as_ref(), &state.site, catalog, Utc::now()));
        let (rep, meta) = match made {
            Ok(made) => made,
            Err(e) => {
                state.health.failed(&e);
                claim.complete(Err(CacheError::Store(Arc::new(e))));
                return;
            }
        };
        let previous = claim.previous.clone();
        let rendered = Rendered::new(rep, meta, previous.as_ref());
        state.metrics.render(1, started.elapsed());
        let resource = claim.resource.clone();
        claim.complete(Ok(rendered.clone()));
        if let Some(prev) = &previous {
            rendered.warm_from(prev);
        }
        state.cache.reweigh(&resource);
    }

    /// Render the formats of one feed (`month` `None`) or of one archive
    /// document of it, from one store read.
    fn render_feed(
        &self,
        catalog: &Catalog,
        key: &FeedKey,
        month: Option<ArchivePage>,
        group: Vec<(Format, Claim)>,
    ) {
        let state = &self.state;
        let turn = match month {
            Some(_) => match self.archive_turn() {
                Some(turn) => Some(turn),
                None => {
                    for (_, claim) in group {
                        claim.complete(Err(CacheError::Busy(
                            "every archive render is taken".into(),
                        )));
                    }
                    return;
                }
            },
            None => None,
        };
        let started = Instant::now();
        let (feed, generation) = match self.load(catalog, key, month) {
            // WebSub: the read of the change log this snapshot follows.
            Ok(feed) => (feed, state.websub.generation()),
            Err(e) => {
                for (_, claim) in group {
                    claim.complete(Err(e.clone()));
                }
                return;
            }
        };
        let meta = Meta::of(&state.site, &feed, month);
        let done: Vec<(Claim, Arc<Rendered>)> = group
            .into_iter()
            .map(|(format, claim)| {
                let rep = rendering::feed_representation(&feed, format);
                let rendered = Rendered::new(rep, meta, claim.previous.as_ref());
                // WebSub: a rendering that replaces another with other
                // bytes is a change to tell the hubs of.
                state.websub.rendered(&claim.resource, generation);
                if let Some(prev) = &claim.previous {
                    let same = prev.rep.same_bytes(&rendered.rep);
                    state
                        .websub
                        .replaced(&state.site, &claim.resource, same, &state.metrics);
                }
                (claim, rendered)
            })
            .collect();
        // The articles go before the next archive render may start.
        drop(feed);
        drop(turn);
        // Counted before anyone is answered, so that a client that has
        // the response sees the count.
        state.metrics.render(done.len() as u64, started.elapsed());
        let mut warm = Vec::new();
        for (claim, rendered) in done {
            if let Some(a) = rendered.meta.archive {
                state.archives.rendered(&claim.resource, a);
            }
            if claim.resource.is_search() {
                state.searches.remember(&claim.resource, &state.cache);
            }
            warm.push((
                claim.resource.clone(),
                rendered.clone(),
                claim.previous.clone(),
            ));
            claim.complete(Ok(rendered));
        }
        // Compressed after they are answered, in the codings the previous
        // renderings had been asked for: a request that wants one
        // meanwhile waits for that one alone.
        for (resource, rendered, previous) in warm {
            if let Some(prev) = &previous {
                rendered.warm_from(prev);
                state.cache.reweigh(&resource);
            }
        }
    }

    /// One feed, or one archive document of it, from one read transaction.
    fn load(
        &self,
        catalog: &Catalog,
        key: &FeedKey,
        month: Option<ArchivePage>,
    ) -> Result<Feed, CacheError> {
        let state = &self.state;
        // While the store is down (or its file gone), a cold feed is not
        // read from whatever is left of it.
        if let Health::Down(why) = state.health.get() {
            return Err(CacheError::Store(Arc::new(StoreError::Unavailable(why))));
        }
        let failed = |e: StoreError| {
            state.health.failed(&e);
            CacheError::Store(Arc::new(e))
        };
        let snap = match key {
            FeedKey::Search(_) => state.store.search_snapshot(),
            _ => state.store.snapshot(),
        }
        .map_err(failed)?;
        match rendering::load(snap.as_ref(), &state.site, catalog, key, month) {
            Ok(Some(feed)) => Ok(feed),
            Ok(None) => Err(CacheError::NotFound(format!(
                "no article in {} in that month (or no such page of it)",
                key.path()
            ))),
            Err(e @ FeedError::UnknownSlug { .. }) => Err(CacheError::NotFound(e.to_string())),
            Err(FeedError::Store(e)) => Err(failed(e)),
        }
    }

    /// A turn to render an archive document, waiting up to
    /// [`ARCHIVE_WAIT`] for one; `None` when none came. Blocking: called
    /// from a render's own thread.
    fn archive_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let turns = self.archive_turns.clone();
        let handle = tokio::runtime::Handle::try_current().ok()?;
        handle
            .block_on(tokio::time::timeout(ARCHIVE_WAIT, turns.acquire_owned()))
            .ok()?
            .ok()
    }
}

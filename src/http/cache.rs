//! The cache of rendered resources: one slot per resource, bounded in bytes
//! with least-recently-used eviction (`moka`).
//!
//! A slot holds the current rendering, or a render in flight that every
//! request for it waits on (one render however many ask), or nothing. A
//! render is a task of its own: a client that gives up does not cancel it,
//! and the next request finds it done. A failed render is handed to the
//! requests waiting for it, and the next request starts a new one.
//!
//! Invalidation works per slot and is ordered by an epoch: invalidating
//! bumps it, and a render started before that may answer the requests that
//! were already waiting for it but is never stored. So a write that the
//! watcher has seen is in every representation stored after it. The old
//! rendering is kept aside until the new one is made, so that identical
//! bytes keep their computed codings (and their ETags are the same anyway).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::oneshot;

use crate::publish::{Rendered, Resource};

/// Why a resource could not be produced.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The feed's slugs are unknown: 404.
    #[error("{0}")]
    NotFound(String),
    /// The store failed: 500 (503 when it is unavailable), detail logged.
    #[error("{0}")]
    Store(Arc<crate::store::StoreError>),
    /// Too many renders of its kind are waiting: 503, try again later.
    #[error("{0}")]
    Busy(String),
    /// A rendering task died.
    #[error("render task failed: {0}")]
    Task(String),
}

type Outcome = Result<Arc<Rendered>, CacheError>;
type Pending = Shared<BoxFuture<'static, Outcome>>;

/// One resource's place in the cache.
#[derive(Default)]
pub struct Slot {
    inner: Mutex<SlotInner>,
}

#[derive(Default)]
struct SlotInner {
    epoch: u64,
    ready: Option<Arc<Rendered>>,
    pending: Option<Pending>,
    /// The rendering an invalidation took away, until a new one is stored.
    previous: Option<Arc<Rendered>>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current rendering, if any.
    pub fn ready(&self) -> Option<Arc<Rendered>> {
        self.lock().ready.clone()
    }

    /// Forget the current rendering and any render in flight. Returns the
    /// rendering it had, or the one before it if a render was in flight:
    /// what was cached, and so is worth rendering again.
    fn invalidate(&self) -> Option<Arc<Rendered>> {
        let mut s = self.lock();
        s.epoch += 1;
        s.pending = None;
        if let Some(r) = s.ready.take() {
            s.previous = Some(r);
        }
        s.previous.clone()
    }

    fn weight(&self) -> u32 {
        let size = self.lock().ready.as_ref().map_or(0, |r| r.rep.size());
        // A slot costs something even empty: bookkeeping, the key.
        u32::try_from(size.saturating_add(256)).unwrap_or(u32::MAX)
    }
}

/// The right to render one resource for its slot's current epoch. Dropped
/// without [`Claim::complete`] (a render that panicked), it frees the slot
/// for the next request.
pub struct Claim {
    /// The resource to render.
    pub resource: Resource,
    /// The rendering the slot had before it was invalidated.
    pub previous: Option<Arc<Rendered>>,
    slot: Arc<Slot>,
    epoch: u64,
    done: Option<oneshot::Sender<Outcome>>,
    cache: moka::sync::Cache<Resource, Arc<Slot>>,
}

impl Claim {
    /// Store the outcome (if the slot was not invalidated meanwhile) and
    /// hand it to everyone waiting.
    pub fn complete(mut self, outcome: Outcome) {
        let stored = {
            let mut s = self.slot.lock();
            if s.epoch == self.epoch {
                s.pending = None;
                if let Ok(r) = &outcome {
                    s.ready = Some(r.clone());
                    s.previous = None;
                }
                outcome.is_ok()
            } else {
                false
            }
        };
        if stored {
            // Weigh it again now that it holds bytes.
            self.cache.insert(self.resource.clone(), self.slot.clone());
        }
        if let Some(tx) = self.done.take() {
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.done.is_some() {
            let mut s = self.slot.lock();
            if s.epoch == self.epoch {
                s.pending = None;
            }
        }
    }
}

/// Where a request stands with a resource.
pub enum Lookup {
    /// Rendered: here it is.
    Ready(Arc<Rendered>),
    /// Being rendered: wait for this.
    Pending(BoxFuture<'static, Outcome>),
    /// Nobody renders it: the caller now must, with this claim.
    Claimed(Claim, BoxFuture<'static, Outcome>),
}

/// Rendered resources, at most a number of bytes of them.
#[derive(Clone)]
pub struct Cache {
    slots: moka::sync::Cache<Resource, Arc<Slot>>,
    evictions: Arc<std::sync::atomic::AtomicU64>,
}

impl Cache {
    /// A cache holding at most `max_bytes` of rendered bytes (all codings).
    pub fn new(max_bytes: u64) -> Cache {
        let evictions = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = evictions.clone();
        Cache {
            slots: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, slot: &Arc<Slot>| slot.weight())
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .eviction_listener(move |_, _, cause| {
                    if cause == moka::notification::RemovalCause::Size {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .build(),
            evictions,
        }
    }

    /// Resources evicted so far to keep within the size.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn slot(&self, resource: &Resource) -> Arc<Slot> {
        if let Some(slot) = self.slots.get(resource) {
            return slot;
        }
        self.slots
            .entry(resource.clone())
            .or_insert_with(|| Arc::new(Slot::default()))
            .into_value()
    }

    /// The resource's rendering, the render to wait for, or a claim to
    /// render it.
    pub fn lookup(&self, resource: &Resource) -> Lookup {
        let slot = self.slot(resource);
        let mut s = slot.lock();
        if let Some(r) = &s.ready {
            return Lookup::Ready(r.clone());
        }
        if let Some(p) = &s.pending {
            return Lookup::Pending(p.clone().boxed());
        }
        let (claim, wait) = self.claim_locked(resource, &slot, &mut s);
        Lookup::Claimed(claim, wait)
    }

    /// Claim a resource for a render unless it is rendered or being
    /// rendered already (then `None`).
    pub fn claim(&self, resource: &Resource) -> Option<Claim> {
        let slot = self.slot(resource);
        let mut s = slot.lock();
        if s.ready.is_some() || s.pending.is_some() {
            return None;
        }
        Some(self.claim_locked(resource, &slot, &mut s).0)
    }

    fn claim_locked(
        &self,
        resource: &Resource,
        slot: &Arc<Slot>,
        s: &mut SlotInner,
    ) -> (Claim, BoxFuture<'static, Outcome>) {
        let (tx, rx) = oneshot::channel();
        let pending: Pending = async move {
            rx.await
                .unwrap_or_else(|_| Err(CacheError::Task("the render was abandoned".into())))
        }
        .boxed()
        .shared();
        s.pending = Some(pending.clone());
        let claim = Claim {
            resource: resource.clone(),
            previous: s.previous.clone(),
            slot: slot.clone(),
            epoch: s.epoch,
            done: Some(tx),
            cache: self.slots.clone(),
        };
        (claim, pending.boxed())
    }

    /// Invalidate one resource; returns what it held (worth rendering again).
    pub fn invalidate(&self, resource: &Resource) -> Option<Arc<Rendered>> {
        self.slots.get(resource).and_then(|slot| slot.invalidate())
    }

    /// The resources held, with their current renderings.
    pub fn entries(&self) -> Vec<(Resource, Option<Arc<Rendered>>)> {
        self.slots
            .iter()
            .map(|(k, slot)| ((*k).clone(), slot.ready()))
            .collect()
    }

    /// The current renderings of a feed's formats, for deciding what a
    /// change touches.
    pub fn rendered(&self, resource: &Resource) -> Option<Arc<Rendered>> {
        self.slots.get(resource).and_then(|s| s.ready())
    }

    /// Weigh a resource again (after a coding was computed for it).
    pub fn reweigh(&self, resource: &Resource) {
        if let Some(slot) = self.slots.get(resource) {
            self.slots.insert(resource.clone(), slot);
        }
    }

    /// Renderings held and their bytes, all codings.
    pub fn size(&self) -> (usize, usize) {
        // Evictions are done lazily by moka: settle them before counting.
        self.slots.run_pending_tasks();
        let mut entries = 0;
        let mut bytes = 0;
        for (_, slot) in self.slots.iter() {
            if let Some(r) = slot.ready() {
                entries += 1;
                bytes += r.rep.size();
            }
        }
        (entries, bytes)
    }
}

//! What the cache holds that a change must find without reading the store:
//! the archive documents rendered, with their neighbours (a change in a
//! month touches every page of it and the documents that link across it),
//! and the keyword
//! feeds rendered (any write may change any of them).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset, Utc};

use super::cache::Cache;
use super::metrics::Metrics;
use crate::article::FeedKey;
use crate::feed::{Archive, ArchivePage, Month};
use crate::publish::Resource;
use crate::render::Format;

/// Keyword feeds held at once, at most (each its own cached resource).
const MAX_SEARCHES: usize = 512;

/// A feed's archive documents rendered, by month and page and format,
/// with their neighbours.
type Months = BTreeMap<(ArchivePage, Format), Archive>;

/// The archive documents rendered, by feed, with their neighbours.
#[derive(Debug, Default)]
pub(crate) struct Archives {
    index: Mutex<BTreeMap<FeedKey, Months>>,
}

impl Archives {
    fn index(&self) -> MutexGuard<'_, BTreeMap<FeedKey, Months>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An archive resource was rendered with these neighbours.
    pub(crate) fn rendered(&self, resource: &Resource, archive: Archive) {
        if let Resource::Archive(key, page, format) = resource {
            self.index()
                .entry(key.clone())
                .or_default()
                .insert((*page, *format), archive);
        }
    }

    /// The archive documents a change touches, forgotten here: every page
    /// of its months (a month's count cuts its pages, and each names it),
    /// and those whose `prev-archive`/`next-archive` may move (the month
    /// lies between them and the month they link, or is it: a first page
    /// links the next month's last page, which moves with that month's
    /// count).
    pub(crate) fn take_touched(
        &self,
        feeds: &BTreeMap<FeedKey, Vec<DateTime<Utc>>>,
        offset: FixedOffset,
    ) -> Vec<Resource> {
        let mut doomed = Vec::new();
        let mut index = self.index();
        for (key, instants) in feeds {
            let Some(months) = index.get_mut(key) else {
                continue;
            };
            let changed: BTreeSet<Month> = instants.iter().map(|t| Month::at(*t, offset)).collect();
            months.retain(|(page, format), a| {
                let reached = changed.iter().any(|m| {
                    *m == page.month
                        || (a.prev.is_none_or(|p| p.month <= *m)
                            && a.next.is_none_or(|n| *m <= n.month))
                });
                if reached {
                    doomed.push(Resource::Archive(key.clone(), *page, *format));
                }
                !reached
            });
        }
        doomed
    }

    /// Forget every archive document (the cache is invalidated whole).
    pub(crate) fn clear(&self) {
        self.index().clear();
    }
}

/// The keyword feeds rendered.
#[derive(Debug, Default)]
pub(crate) struct Searches {
    held: Mutex<BTreeSet<Resource>>,
}

impl Searches {
    fn held(&self) -> MutexGuard<'_, BTreeSet<Resource>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep track of a rendered keyword feed, at most [`MAX_SEARCHES`] of
    /// them: past that the oldest are dropped from the cache.
    pub(crate) fn remember(&self, resource: &Resource, cache: &Cache) {
        let mut held = self.held();
        held.insert(resource.clone());
        while held.len() > MAX_SEARCHES {
            if let Some(first) = held.pop_first() {
                cache.invalidate(&first);
            }
        }
    }

    /// Drop every cached keyword feed: a write may add or take away any
    /// article from any of them. They are not rendered again in the
    /// background (the next request does), so a write costs no search.
    pub(crate) fn forget(&self, cache: &Cache, metrics: &Metrics) {
        let held = std::mem::take(&mut *self.held());
        for r in held {
            metrics.invalidation();
            cache.invalidate(&r);
        }
    }
}

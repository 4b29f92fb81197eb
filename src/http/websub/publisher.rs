//! What tells a feed's change to its hubs: the poll generations, the feeds
//! rendered lately and those pinged when touched (see the module doc of
//! `websub`), and the queue the pings wait in.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::links::topic;
use super::queue::{Policy, Queue};
use crate::article::FeedKey;
use crate::config::Site;
use crate::http::metrics::Metrics;
use crate::publish::Resource;

/// The publish pings of one server: the site's hubs and the queue, and
/// what tells a change (see the module doc).
pub struct Publisher {
    pub(super) hubs: Vec<String>,
    /// Set once at start (tests shorten the waits): a lock read per ping.
    policy: Mutex<Policy>,
    queue: Mutex<Queue>,
    /// Reads of the change log begun ([`Publisher::poll_begins`]).
    generation: AtomicU64,
    /// Feeds rendered lately, with the generation seen after their store
    /// snapshot was taken; older ones are forgotten at each poll.
    fresh: Mutex<HashMap<Resource, u64>>,
    /// Feeds pinged when touched at this poll: their re-render is the one
    /// the ping announced.
    announced: Mutex<HashSet<Resource>>,
}

impl Publisher {
    /// A publisher for these hubs (none: it never pings).
    pub fn new(hubs: Vec<String>, policy: Policy) -> Publisher {
        Publisher {
            hubs,
            policy: Mutex::new(policy),
            queue: Mutex::new(Queue::default()),
            generation: AtomicU64::new(0),
            fresh: Mutex::new(HashMap::new()),
            announced: Mutex::new(HashSet::new()),
        }
    }

    /// Send and retry pings by another policy from now on.
    pub fn set_policy(&self, policy: Policy) {
        *lock(&self.policy) = policy;
    }

    pub(super) fn policy(&self) -> Policy {
        *lock(&self.policy)
    }

    pub(super) fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pings queued or on the wire.
    pub fn len(&self) -> usize {
        self.queue().entries.len()
    }

    /// Whether no ping is queued or on the wire.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether hubs hear of this resource: subscription feeds do; keyword
    /// feeds (anyone's query), archives and pages never.
    fn pinged(&self, resource: &Resource) -> bool {
        !self.hubs.is_empty()
            && matches!(resource, Resource::Feed(key, _) if !matches!(key, FeedKey::Search(_)))
    }

    /// A read of the change log begins: returns its generation. Called
    /// before the log snapshot is taken.
    pub fn poll_begins(&self) -> u64 {
        let poll = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.hubs.is_empty() {
            lock(&self.fresh).retain(|_, g| *g + 1 >= poll);
            lock(&self.announced).clear();
        }
        poll
    }

    /// The generation now: a render notes it after taking its snapshot.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// A render of `resource` that took its snapshot before `generation`
    /// was read has completed.
    pub fn rendered(&self, resource: &Resource, generation: u64) {
        if self.pinged(resource) {
            let mut fresh = lock(&self.fresh);
            let g = fresh.entry(resource.clone()).or_default();
            *g = (*g).max(generation);
        }
    }

    /// The poll `poll` found `resource` touched by a write; `cached` says
    /// whether the cache held a rendering of it (which is then rendered
    /// again and compared). Pings now what cannot be compared.
    pub fn touched(
        &self,
        site: &Site,
        resource: &Resource,
        poll: u64,
        cached: bool,
        metrics: &Metrics,
    ) {
        if !self.pinged(resource) {
            return;
        }
        if cached {
            // Rendered since the previous poll read the log: it may hold
            // this write already, and its re-render would compare equal.
            let recent = lock(&self.fresh)
                .get(resource)
                .is_some_and(|g| *g + 1 >= poll);
            if !recent {
                return;
            }
            lock(&self.announced).insert(resource.clone());
        }
        self.changed(site, resource, metrics);
    }

    /// A rendering replaced another (after an invalidation); `same` says
    /// whether the bytes are the same. Different bytes are a change, unless
    /// the touch that led here pinged already.
    pub fn replaced(&self, site: &Site, resource: &Resource, same: bool, metrics: &Metrics) {
        if !self.pinged(resource) || lock(&self.announced).remove(resource) || same {
            return;
        }
        self.changed(site, resource, metrics);
    }

    /// Queue a ping of every hub for a subscription feed.
    fn changed(&self, site: &Site, resource: &Resource, metrics: &Metrics) {
        let Resource::Feed(key, format) = resource else {
            return;
        };
        let url = topic(site, key, *format);
        let now = Instant::now();
        let mut queue = self.queue();
        for hub in 0..self.hubs.len() {
            if !queue.push((hub, url.clone()), now, self.policy().capacity) {
                metrics.ping_dropped();
            }
        }
        metrics.set_ping_queue(queue.entries.len());
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Format;

    fn queued(p: &Publisher) -> Vec<String> {
        p.queue()
            .entries
            .keys()
            .map(|(_, url)| url.clone())
            .collect()
    }

    #[test]
    fn touched_feeds_are_pinged_once_whether_cached_or_not() {
        let site = Site::parse(
            "title = \"T\"\nbase_url = \"http://n.example\"\nhubs = [\"http://hub.example/\"]\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        let m = Metrics::default();
        let p = Publisher::new(site.hubs.clone(), Policy::default());
        let feed = |slug: &str| Resource::Feed(FeedKey::Category(slug.into()), Format::Rss);
        let url = |slug: &str| format!("http://n.example/feeds/category/{slug}.rss");
        let (old, fresh, cold) = (feed("old"), feed("fresh"), feed("cold"));

        // Rendered long ago, cached: compared when rendered again.
        let first = p.poll_begins();
        p.rendered(&old, p.generation());
        p.poll_begins();
        let poll = p.poll_begins();
        assert!(first + 2 <= poll);
        p.touched(&site, &old, poll, true, &m);
        assert!(queued(&p).is_empty());
        p.replaced(&site, &old, true, &m);
        assert!(queued(&p).is_empty(), "same bytes: no ping");
        p.replaced(&site, &old, false, &m);
        assert_eq!(queued(&p), [url("old")]);

        // Rendered since the last poll: it may hold the write already, so
        // it is pinged when touched, and not again when rendered anew.
        p.rendered(&fresh, p.generation());
        let poll = p.poll_begins();
        p.touched(&site, &fresh, poll, true, &m);
        p.replaced(&site, &fresh, false, &m);
        assert_eq!(queued(&p), [url("fresh"), url("old")]);
        p.queue().entries.clear();
        // A later change is compared again as usual.
        let poll = p.poll_begins();
        p.poll_begins();
        p.touched(&site, &fresh, poll + 1, true, &m);
        p.replaced(&site, &fresh, false, &m);
        assert_eq!(queued(&p), [url("fresh")]);

        // Not cached: nothing to compare with, so being touched is the change.
        let poll = p.poll_begins();
        p.touched(&site, &cold, poll, false, &m);
        assert_eq!(queued(&p), [url("cold"), url("fresh")]);

        // Keyword feeds and archives are never pinged.
        p.queue().entries.clear();
        let search = Resource::Feed(FeedKey::Search("bao".into()), Format::Rss);
        p.touched(&site, &search, poll, false, &m);
        p.replaced(&site, &search, false, &m);
        assert!(queued(&p).is_empty());
    }
}

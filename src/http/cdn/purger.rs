//! Which documents' keys to purge after a change (see the module doc of
//! `cdn`): the renderings made lately, those purged when touched, and the
//! backlog the sender takes from.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::backlog::{Backlog, Policy};
use crate::config::Purge;
use crate::http::metrics::Metrics;
use crate::publish::Resource;

/// The API token (`BANTIN_CDN_TOKEN`): sent, never printed.
#[derive(Clone, Default)]
pub struct Token(pub(super) String);

impl Token {
    /// A token as read from the environment.
    pub fn new(token: String) -> Token {
        Token(token)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The purges of one server: where they go, what tells a change, and the
/// keys waiting.
pub struct Purger {
    pub(super) target: Purge,
    pub(super) token: Mutex<Token>,
    policy: Mutex<Policy>,
    backlog: Mutex<Backlog>,
    /// Renderings made lately, with the poll generation seen after their
    /// store snapshot was taken (`websub::Publisher::generation`).
    fresh: Mutex<HashMap<Resource, u64>>,
    /// Purged when touched at this poll: their re-render is covered.
    announced: Mutex<HashSet<Resource>>,
}

impl Purger {
    /// A purger for `target` (`Purge::None`: it never purges).
    pub fn new(target: Purge) -> Purger {
        Purger {
            target,
            token: Mutex::new(Token::default()),
            policy: Mutex::new(Policy::default()),
            backlog: Mutex::new(Backlog::default()),
            fresh: Mutex::new(HashMap::new()),
            announced: Mutex::new(HashSet::new()),
        }
    }

    /// Whether it purges at all (`[cdn] purge` is not `none`).
    pub fn is_on(&self) -> bool {
        self.target != Purge::None
    }

    /// Send and retry purges by another policy from now on.
    pub fn set_policy(&self, policy: Policy) {
        *lock(&self.policy) = policy;
    }

    pub(super) fn policy(&self) -> Policy {
        *lock(&self.policy)
    }

    /// Send this API token with each purge.
    pub fn set_token(&self, token: Token) {
        *lock(&self.token) = token;
    }

    pub(super) fn backlog(&self) -> MutexGuard<'_, Backlog> {
        lock(&self.backlog)
    }

    /// A read of the change log begins (`poll` is its generation): forget
    /// the renderings older than the poll before.
    pub fn poll_begins(&self, poll: u64) {
        if self.is_on() {
            lock(&self.fresh).retain(|_, g| *g + 1 >= poll);
            lock(&self.announced).clear();
        }
    }

    /// A rendering of `resource` whose snapshot followed the read of the
    /// log of generation `generation` was made.
    pub fn rendered(&self, resource: &Resource, generation: u64) {
        if self.is_on() {
            let mut fresh = lock(&self.fresh);
            let g = fresh.entry(resource.clone()).or_default();
            *g = (*g).max(generation);
        }
    }

    /// The poll `poll` found `resource` touched by a write; `cached` says
    /// whether the cache held a rendering of it (rendered again and
    /// compared: [`Purger::replaced`]). Purges now what cannot be compared:
    /// what bantin does not hold may be held in front all the same.
    pub fn touched(&self, resource: &Resource, poll: u64, cached: bool, metrics: &Metrics) {
        if !self.is_on() {
            return;
        }
        if cached {
            // Rendered since the previous poll read the log: it may hold
            // this write already, and its re-render would compare equal
            // while the copy in front is older.
            let recent = lock(&self.fresh)
                .get(resource)
                .is_some_and(|g| *g + 1 >= poll);
            if !recent {
                return;
            }
            lock(&self.announced).insert(resource.clone());
        }
        self.purge(resource.cdn_key(), metrics);
    }

    /// A rendering replaced another after an invalidation; `same` says
    /// whether the bytes are the same. Other bytes are purged, unless the
    /// touch that led here purged already.
    pub fn replaced(&self, resource: &Resource, same: bool, metrics: &Metrics) {
        if !self.is_on() || lock(&self.announced).remove(resource) || same {
            return;
        }
        self.purge(resource.cdn_key(), metrics);
    }

    /// Queue a key for purging.
    pub fn purge(&self, key: String, metrics: &Metrics) {
        if self.is_on() {
            let capacity = self.policy().capacity;
            let mut backlog = self.backlog();
            backlog.push(key, capacity);
            metrics.set_cdn_backlog(backlog.len(), backlog.overflows);
        }
    }

    /// Queue a purge of everything (a change touched every document).
    pub fn purge_all(&self, metrics: &Metrics) {
        if self.is_on() {
            let mut backlog = self.backlog();
            backlog.purge_all();
            metrics.set_cdn_backlog(backlog.len(), backlog.overflows);
        }
    }

    /// Keys waiting.
    pub fn waiting(&self) -> usize {
        self.backlog().len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::FeedKey;
    use crate::render::Format;

    fn keys(p: &Purger) -> Vec<String> {
        p.backlog().take(1000)
    }

    #[test]
    fn what_can_not_be_compared_is_purged_when_touched_and_the_rest_when_it_differs() {
        let m = Metrics::default();
        let p = Purger::new(Purge::Varnish {
            url: "http://v.example".into(),
        });
        let feed = |slug: &str| Resource::Feed(FeedKey::Category(slug.into()), Format::Rss);
        let (old, fresh, cold) = (feed("old"), feed("fresh"), feed("cold"));
        p.poll_begins(1);
        p.rendered(&old, 1);
        p.poll_begins(2);
        p.poll_begins(3);
        // Not held: the copy in front can't be compared.
        p.touched(&cold, 3, false, &m);
        assert_eq!(keys(&p), ["/feeds/category/cold"]);
        // Held long enough: compared when rendered again.
        p.touched(&old, 3, true, &m);
        p.replaced(&old, true, &m);
        assert!(keys(&p).is_empty(), "same bytes: no purge");
        p.replaced(&old, false, &m);
        assert_eq!(keys(&p), ["/feeds/category/old"]);
        // Rendered since the last poll: purged when touched, once.
        p.rendered(&fresh, 3);
        p.poll_begins(4);
        p.touched(&fresh, 4, true, &m);
        p.replaced(&fresh, false, &m);
        assert_eq!(keys(&p), ["/feeds/category/fresh"]);
        assert!(keys(&p).is_empty());
        // Without a purge target nothing is queued.
        let off = Purger::new(Purge::None);
        off.touched(&cold, 1, false, &m);
        off.purge_all(&m);
        assert_eq!(off.waiting(), 0);
    }

    #[test]
    fn the_token_is_never_printed() {
        let t = Token::new("s3cr3t".into());
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}

//! WebSub publishing (W3C Recommendation, 2018; SPEC "WebSub"): the
//! `Link` headers a subscription feed's response carries, and the publish
//! pings `bantin serve` sends its hubs when a feed's bytes change.
//!
//! A ping is `POST {hub}` with the form `hub.mode=publish&hub.url={feed
//! URL}`. The Recommendation leaves publishing to each hub; this is the
//! form PubSubHubbub 0.4 named and public hubs accept. The hub then fetches
//! the feed and sends it to its subscribers, so a ping carries no content
//! and one ping covers any number of changes made before the hub fetches.
//!
//! Pings go through a bounded queue keyed by (hub, feed URL): a feed that
//! changes again before its ping goes out is pinged once, and a change
//! made while its ping is on the wire gets a ping of its own afterwards
//! (the hub may have fetched before it). Once a second the sender takes
//! the pings that are due, a few at a time, each a task of its own so that
//! a slow hub holds no one else up. A ping that fails (no connection, a
//! timeout, an answer other than 2xx) is tried again after 2 s, 4 s, 8 s…
//! (at most 5 minutes apart), and given up after [`Policy::max_tries`].
//! Logs stay quiet while a hub is down: one warning when it stops
//! answering, one line when it answers again, and one per ping given up;
//! the retries in between are at debug level. `/metrics` counts the rest.
//!
//! What changed: the watcher invalidates the feeds a write touches and
//! renders again those the cache held; a new rendering whose bytes differ
//! from the one it replaces is a change ([`Publisher::replaced`]). A feed
//! the cache did not hold has nothing to compare with, so being touched is
//! its change ([`Publisher::touched`]). One case needs care: a feed
//! rendered between a commit and the poll that reads it may already hold
//! the write, and its re-render would then compare equal. Renders note the
//! poll generation after taking their store snapshot; a touched feed
//! rendered since the poll before this one is pinged when touched, and its
//! re-render is not pinged again.
//!
//! With several replicas on one PostgreSQL store, only the one holding the
//! store's lead ([`crate::store::Store::lead`]) sends; the others drop
//! their pings. Every replica renders the same bytes from the same store,
//! so the leader's pings are the ones all of them would send.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::sync::Semaphore;

use super::metrics::Metrics;
use crate::article::FeedKey;
use crate::config::Site;
use crate::feed::Catalog;
use crate::publish::Resource;
use crate::render::Format;

/// How pings are sent and retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How often the sender takes the pings that are due: changes made
    /// within one period share a ping.
    pub every: Duration,
    /// Pings on the wire at once, at most.
    pub concurrency: usize,
    /// The wait before the second try; it doubles with each failure.
    pub first_retry: Duration,
    /// The longest wait between two tries.
    pub max_retry: Duration,
    /// Tries of one ping before it is given up.
    pub max_tries: u32,
    /// Pings queued (or on the wire) at once; past that new ones are dropped.
    pub capacity: usize,
    /// One ping's deadline, connection and answer included.
    pub timeout: Duration,
}

impl Default for Policy {
    /// Eight tries over about four minutes (2 + 4 + … + 128 s of waiting):
    /// long enough to ride out a hub's restart, short enough that a hub
    /// that stays down does not fill the queue.
    fn default() -> Policy {
        Policy {
            every: Duration::from_secs(1),
            concurrency: 4,
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(300),
            max_tries: 8,
            capacity: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Policy {
    /// The wait after the `failures`-th failed try of a ping.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_retry
            .saturating_mul(1u32 << doublings)
            .min(self.max_retry)
    }
}

/// One ping: a hub (its index in the site's `hubs`) and a feed URL.
type Ping = (usize, String);

/// A queued ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Failed tries so far.
    failures: u32,
    /// When it may be sent (again).
    due: Instant,
    /// On the wire now.
    sending: bool,
    /// The feed changed again while the ping was on the wire: ping once
    /// more when it is back.
    again: bool,
}

/// What became of a ping on the wire, for the queue to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The hub took it.
    Sent,
    /// It failed and will be tried again after this wait.
    Retry(Duration),
    /// It failed for the last time and was dropped.
    GaveUp,
}

/// The pings waiting to go out (or on the wire), and which hubs are down.
#[derive(Debug, Default)]
struct Queue {
    entries: BTreeMap<Ping, Entry>,
    /// Hubs whose last ping failed: further failures are logged quietly.
    down: BTreeSet<usize>,
}

impl Queue {
    /// Queue a ping; `false` when it had to be dropped (the queue is full).
    fn push(&mut self, ping: Ping, now: Instant, capacity: usize) -> bool {
        if let Some(e) = self.entries.get_mut(&ping) {
            if e.sending {
                e.again = true;
            }
            // Waiting already (maybe for a retry): it will carry this change.
            return true;
        }
        if self.entries.len() >= capacity {
            return false;
        }
        self.entries.insert(
            ping,
            Entry {
                failures: 0,
                due: now,
                sending: false,
                again: false,
            },
        );
        true
    }

    /// Whether any ping is due at `now`.
    fn any_due(&self, now: Instant) -> bool {
        self.entries.values().any(|e| !e.sending && e.due <= now)
    }

    /// Mark up to `max` due pings as on the wire and return them, the
    /// longest waiting first.
    fn take_due(&mut self, now: Instant, max: usize) -> Vec<Ping> {
        let mut due: Vec<(Instant, &Ping)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.sending && e.due <= now)
            .map(|(p, e)| (e.due, p))
            .collect();
        due.sort();
        let taken: Vec<Ping> = due.into_iter().take(max).map(|(_, p)| p.clone()).collect();
        for p in &taken {
            if let Some(e) = self.entries.get_mut(p) {
                e.sending = true;
            }
        }
        taken
    }

    /// Record what the hub made of a ping.
    fn settle(&mut self, ping: &Ping, ok: bool, now: Instant, policy: &Policy) -> Settled {
        let Some(e) = self.entries.get_mut(ping) else {
            return Settled::Sent;
        };
        e.sending = false;
        if ok {
            self.down.remove(&ping.0);
            if e.again {
                // A change came while this ping was on the wire.
                *e = Entry {
                    failures: 0,
                    due: now,
                    sending: false,
                    again: false,
                };
            } else {
                self.entries.remove(ping);
            }
            return Settled::Sent;
        }
        e.again = false;
        e.failures += 1;
        if e.failures >= policy.max_tries {
            self.entries.remove(ping);
            return Settled::GaveUp;
        }
        let wait = policy.backoff(e.failures);
        e.due = now + wait;
        Settled::Retry(wait)
    }

    /// Drop every ping that is not on the wire; returns how many.
    fn clear_waiting(&mut self) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.sending);
        before - self.entries.len()
    }
}

/// The publish pings of one server: the site's hubs and the queue, and
/// what tells a change (see the module doc).
pub struct Publisher {
    hubs: Vec<String>,
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

    fn policy(&self) -> Policy {
        *lock(&self.policy)
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
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

/// The URL a feed is known by (its `rel="self"`, the `hub.url` of its
/// pings): `{base_url}/feeds/{path}.{ext}`, and a keyword feed's `?q=`, as
/// `render::feed_url` writes it in the feed.
pub fn topic(site: &Site, key: &FeedKey, format: Format) -> String {
    match key {
        FeedKey::Search(words) => format!(
            "{}/feeds/search.{}?q={}",
            site.base_url,
            format.ext(),
            words.replace(' ', "+")
        ),
        _ => format!("{}/feeds/{}.{}", site.base_url, key.path(), format.ext()),
    }
}

/// What a URL may not hold as is in a `Link` header's `<…>` (RFC 8288
/// §3: a URI-Reference): controls, non-ASCII (a keyword feed's words in
/// other scripts), space and the delimiters around it. Percent-encoding
/// them turns the IRI the feed carries into the same resource's URI.
const LINK_UNSAFE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>');

/// The `Link` header values of a subscription feed's response: one
/// `<hub>; rel="hub"` per hub, then `<self>; rel="self"`. None without hubs.
pub fn links(site: &Site, key: &FeedKey, format: Format) -> Vec<HeaderValue> {
    if site.hubs.is_empty() {
        return Vec::new();
    }
    let link = |url: &str, rel: &str| {
        let url = utf8_percent_encode(url, LINK_UNSAFE);
        HeaderValue::try_from(format!("<{url}>; rel=\"{rel}\"")).ok()
    };
    site.hubs
        .iter()
        .filter_map(|hub| link(hub, "hub"))
        .chain(link(&topic(site, key, format), "self"))
        .collect()
}

/// The feeds (all but keyword feeds) whose catalog entry differs between
/// two catalogs, or that only `new` lists: after a reload of everything,
/// the feeds that most likely changed. A feed gone from `new` is left out
/// (it is a 404 now: there is nothing for a hub to fetch).
pub fn moved(old: &Catalog, new: &Catalog) -> Vec<FeedKey> {
    let mut keys = Vec::new();
    if (old.total, old.newest) != (new.total, new.newest) {
        keys.push(FeedKey::All);
    }
    let facets = [
        (
            &old.categories,
            &new.categories,
            FeedKey::Category as fn(String) -> FeedKey,
        ),
        (&old.regions, &new.regions, FeedKey::Region),
        (&old.authors, &new.authors, FeedKey::Author),
    ];
    for (was, now, key) in facets {
        for (slug, entry) in now {
            if was.get(slug) != Some(entry) {
                keys.push(key(slug.clone()));
            }
        }
    }
    for ((c, r), pair) in &new.pairs {
        if old.pairs.get(&(c.clone(), r.clone())) != Some(pair) {
            keys.push(FeedKey::CategoryRegion(c.clone(), r.clone()));
        }
    }
    keys
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type HttpClient = Client<Connector, Full<Bytes>>;

/// An HTTP/1.1 client for http and https hubs: rustls with *ring* and the
/// system's CA certificates. Without any (a bare container), https hubs
/// fail their handshake and say so in the log.
fn http_client() -> Result<HttpClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("WebSub: no CA certificates ({e}): pings to https hubs will fail");
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The ping's body: `hub.mode=publish&hub.url={url}`, form-encoded.
fn form(url: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", url)
        .finish()
}

/// Send one ping; `Err` says why it failed, in one line.
async fn ping(client: &HttpClient, hub: &str, url: &str, timeout: Duration) -> Result<(), String> {
    let request = http::Request::post(hub)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::USER_AGENT,
            concat!("bantin/", env!("CARGO_PKG_VERSION"), " (WebSub publisher)"),
        )
        .body(Full::new(Bytes::from(form(url))))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::store::causes(&e))?;
        let status = response.status();
        // Read the answer so the connection can be reused; a hub says
        // little, and one that says more is not read past 64 KiB.
        let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the hub answered {status}"))
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

/// Whether this replica sends the WebSub pings (`Store::lead`). Blocking.
pub type Lead = Arc<dyn Fn() -> bool + Send + Sync>;

/// Send the queued pings until the task is aborted, counting them in
/// `metrics`, while `lead` says this replica is the one to send. Returns
/// at once when the site names no hub.
pub async fn publish(publisher: Arc<Publisher>, metrics: Arc<Metrics>, lead: Lead) {
    if publisher.hubs.is_empty() {
        return;
    }
    let client = match http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("WebSub: no HTTP client, no pings will be sent: {e}");
            return;
        }
    };
    let policy = publisher.policy();
    let wire = Arc::new(Semaphore::new(policy.concurrency.max(1)));
    let mut tick = tokio::time::interval(policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if !publisher.queue().any_due(now) {
            continue;
        }
        // Asked only when there is something to send: an idle server
        // makes no query for it.
        let asked = lead.clone();
        let leads = tokio::task::spawn_blocking(move || asked())
            .await
            .unwrap_or(false);
        metrics.set_leader(leads);
        if !leads {
            let dropped = publisher.queue().clear_waiting();
            metrics.pings_not_leader(dropped as u64);
            metrics.set_ping_queue(publisher.len());
            continue;
        }
        let taken = publisher.queue().take_due(now, wire.available_permits());
        for (hub, url) in taken {
            // Free: no more were taken than there were permits, and only
            // this loop acquires them.
            let Ok(permit) = wire.clone().acquire_owned().await else {
                return;
            };
            let (publisher, metrics) = (publisher.clone(), metrics.clone());
            let client = client.clone();
            tokio::spawn(async move {
                let address = publisher.hubs.get(hub).cloned().unwrap_or_default();
                let outcome = ping(&client, &address, &url, policy.timeout).await;
                drop(permit);
                publisher.report(hub, &address, &url, outcome, &metrics);
            });
        }
    }
}

impl Publisher {
    /// Settle a ping that came back, count it and log what is worth a line.
    fn report(
        &self,
        hub: usize,
        address: &str,
        url: &str,
        outcome: Result<(), String>,
        metrics: &Metrics,
    ) {
        let ping = (hub, url.to_string());
        let mut queue = self.queue();
        let was_down = queue.down.contains(&hub);
        let settled = queue.settle(&ping, outcome.is_ok(), Instant::now(), &self.policy());
        if outcome.is_err() {
            queue.down.insert(hub);
        }
        metrics.set_ping_queue(queue.entries.len());
        drop(queue);
        match (settled, outcome) {
            (_, Ok(())) => {
                metrics.ping_sent();
                if was_down {
                    tracing::info!("WebSub hub {address} answers again");
                }
                tracing::debug!("WebSub: pinged {address} for {url}");
            }
            (Settled::GaveUp, Err(why)) => {
                metrics.ping_failed();
                metrics.ping_given_up();
                tracing::warn!(
                    "WebSub: gave up pinging {address} for {url} after {} tries: {why}",
                    self.policy().max_tries
                );
            }
            (settled, Err(why)) => {
                metrics.ping_failed();
                let wait = match settled {
                    Settled::Retry(w) => w,
                    _ => Duration::ZERO,
                };
                if was_down {
                    tracing::debug!(
                        "WebSub: ping to {address} for {url} failed again: {why}; next try in {} s",
                        wait.as_secs()
                    );
                } else {
                    tracing::warn!(
                        "WebSub hub {address} failed a ping for {url}: {why}; retrying with \
                         backoff (its further failures are logged at debug level until it answers)"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(5),
            max_tries: 4,
            capacity: 3,
            ..Policy::default()
        }
    }

    fn ping(url: &str) -> Ping {
        (0, url.to_string())
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy();
        let waits: Vec<u64> = (1..=6).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5, 5]);
        assert_eq!(
            Policy::default().backoff(u32::MAX),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn a_feed_changed_twice_before_its_ping_is_pinged_once() {
        let (mut q, now, p) = (Queue::default(), Instant::now(), policy());
        assert!(q.push(ping("a"), now, p.capacity));
        assert!(q.push(ping("a"), now, p.capacity));
        assert_eq!(q.take_due(now, 10), [ping("a")]);
        assert_eq!(q.settle(&ping("a"), true, now, &p), Settled::Sent);
        assert!(q.entries.is_empty());
    }

    #[test]
    fn a_change_while_the_ping_is_on_the_wire_gets_a_ping_of_its_own() {
        let (mut q, now, p) = (Queue::default(), Instant::now(), policy());
        q.push(ping("a"), now, p.capacity);
        assert_eq!(q.take_due(now, 10).len(), 1);
        q.push(ping("a"), now, p.capacity);
        // Nothing more to send while it is on the wire.
        assert!(q.take_due(now, 10).is_empty());
        q.settle(&ping("a"), true, now, &p);
        assert_eq!(q.take_due(now, 10), [ping("a")]);
    }

    #[test]
    fn failures_wait_longer_each_time_then_give_up() {
        let (mut q, start, p) = (Queue::default(), Instant::now(), policy());
        q.push(ping("a"), start, p.capacity);
        let mut now = start;
        let mut waits = Vec::new();
        loop {
            assert_eq!(q.take_due(now, 10), [ping("a")]);
            match q.settle(&ping("a"), false, now, &p) {
                Settled::Retry(w) => {
                    // Not due before its time.
                    assert!(
                        q.take_due(now + w - Duration::from_millis(1), 10)
                            .is_empty()
                    );
                    waits.push(w.as_secs());
                    now += w;
                }
                Settled::GaveUp => break,
                Settled::Sent => panic!("a failure is not a success"),
            }
        }
        assert_eq!(waits, [1, 2, 4]);
        assert!(q.entries.is_empty());
    }

    #[test]
    fn a_full_queue_drops_new_pings_but_absorbs_repeats() {
        let (mut q, now, p) = (Queue::default(), Instant::now(), policy());
        for url in ["a", "b", "c"] {
            assert!(q.push(ping(url), now, p.capacity));
        }
        assert!(!q.push(ping("d"), now, p.capacity));
        assert!(q.push(ping("a"), now, p.capacity));
        assert_eq!(q.entries.len(), 3);
    }

    #[test]
    fn a_non_leader_drops_what_waits_but_not_what_is_on_the_wire() {
        let (mut q, now, p) = (Queue::default(), Instant::now(), policy());
        q.push(ping("a"), now, p.capacity);
        q.take_due(now, 10);
        q.push(ping("b"), now, p.capacity);
        assert_eq!(q.clear_waiting(), 1);
        assert_eq!(q.entries.len(), 1);
    }

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

    #[test]
    fn the_ping_is_the_publish_form() {
        assert_eq!(
            form("http://x.example/feeds/category/kinh-te.rss"),
            "hub.mode=publish&hub.url=http%3A%2F%2Fx.example%2Ffeeds%2Fcategory%2Fkinh-te.rss"
        );
    }

    #[test]
    fn links_name_each_hub_then_the_feed_as_the_feed_does() {
        let mut site = Site::parse(
            "title = \"T\"\nbase_url = \"http://n.example\"\n\
             hubs = [\"https://hub.example/\", \"http://h2.example/p?x=1\"]\n",
            "s.toml",
            std::path::PathBuf::new(),
        )
        .unwrap();
        let catalog = Catalog::default();
        for key in [
            FeedKey::All,
            FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into()),
            FeedKey::Search("bao lu".into()),
        ] {
            for format in Format::ALL {
                let feed = crate::feed::shape(&site, &catalog, &key, Vec::new());
                assert_eq!(
                    topic(&site, &key, format),
                    crate::render::feed_url(&feed, format)
                );
            }
        }
        let values: Vec<String> = links(&site, &FeedKey::Search("bao 北京".into()), Format::Rss)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            values,
            [
                "<https://hub.example/>; rel=\"hub\"",
                "<http://h2.example/p?x=1>; rel=\"hub\"",
                "<http://n.example/feeds/search.rss?q=bao+%E5%8C%97%E4%BA%AC>; rel=\"self\"",
            ]
        );
        site.hubs.clear();
        assert!(links(&site, &FeedKey::All, Format::Rss).is_empty());
    }
}

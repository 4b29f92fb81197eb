//! Counting the audience off the request path (SPEC "Audience"). A request
//! for a subscription feed hands a [`Hit`] to a bounded queue without
//! waiting ([`Tally::record`]: a full queue drops the hit, counted); a
//! background task ([`Tally::run`]) takes them every [`FLUSH_EVERY`],
//! gathers them into one batch (the last count each aggregator reported
//! per feed, each reader's salted hash, requests and poll intervals per
//! fetcher and hour), writes it to the store in one transaction, and reads
//! the counts back: all replicas' counts, which `/metrics` and `/` show.
//! A batch the store refused waits for the next flush, merged.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, DurationRound, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::agents::{fetcher_name, reported};
use crate::store::Store;
use crate::store::audience::{AudienceBatch, AudienceCounts, Fetches};

/// How often a replica writes what it counted: at most one write per
/// flush, so a store with many replicas sees a few writes a second.
pub const FLUSH_EVERY: Duration = Duration::from_secs(3);

/// Hits waiting for the next flush, at most: past that they are dropped
/// (a request never waits), and counted in `/metrics`.
const QUEUE: usize = 65_536;

/// Clients whose last fetch of a feed is remembered for the poll
/// intervals, at most (per replica, the least recently seen forgotten).
const CLIENTS: u64 = 100_000;

/// One request for a subscription feed, as counted.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The feed: its URL path without extension (`/feeds/all`).
    pub feed: String,
    /// The client's address (hashed with the day's salt at the flush; it
    /// is never stored).
    pub client: IpAddr,
    /// Its User-Agent, at most [`super::agents::MAX_AGENT_BYTES`].
    pub user_agent: Option<String>,
    /// Whether it sent `If-None-Match` or `If-Modified-Since`.
    pub conditional: bool,
    /// The status it was answered (200, 304, 429).
    pub status: u16,
    /// When.
    pub at: DateTime<Utc>,
}

/// What has been gathered and not yet written.
#[derive(Default)]
struct Pending {
    subscribers: BTreeMap<(String, String), (u64, DateTime<Utc>)>,
    /// (feed, client, User-Agent) → last fetch; hashed when written.
    readers: BTreeMap<(String, IpAddr, String), DateTime<Utc>>,
    fetches: BTreeMap<(String, DateTime<Utc>), Fetches>,
    intervals: BTreeMap<(String, DateTime<Utc>, u8), u64>,
}

/// The audience counter of one server.
pub struct Tally {
    tx: mpsc::Sender<Hit>,
    rx: Mutex<mpsc::Receiver<Hit>>,
    pending: Mutex<Pending>,
    /// The last fetch of each (client, User-Agent, feed), by a hash under
    /// a per-process key.
    last: moka::sync::Cache<u64, DateTime<Utc>>,
    keys: RandomState,
    counts: ArcSwap<AudienceCounts>,
    dropped: AtomicU64,
    flushes: AtomicU64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

impl Tally {
    /// A counter with nothing counted.
    pub fn new() -> Tally {
        let (tx, rx) = mpsc::channel(QUEUE);
        Tally {
            tx,
            rx: Mutex::new(rx),
            pending: Mutex::new(Pending::default()),
            last: moka::sync::Cache::builder()
                .max_capacity(CLIENTS)
                .time_to_idle(Duration::from_secs(86_400))
                .build(),
            keys: RandomState::new(),
            counts: ArcSwap::from_pointee(AudienceCounts::default()),
            dropped: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
        }
    }

    /// Read the counts the store holds (at start, before serving: `/`
    /// shows them from its first render). Blocking; a failure is logged
    /// and the next flush reads them again.
    pub fn load(&self, store: &dyn Store) {
        match store.audience(Utc::now()) {
            Ok(counts) => self.counts.store(Arc::new(counts)),
            Err(e) => tracing::warn!("reading the audience counts: {e}"),
        }
    }

    /// Count a request; never waits.
    pub fn record(&self, hit: Hit) {
        if self.tx.try_send(hit).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts read back at the last flush (every replica's).
    pub fn counts(&self) -> Arc<AudienceCounts> {
        self.counts.load_full()
    }

    /// Hits dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Flushes done (written and read back).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flush every [`FLUSH_EVERY`] until the task is aborted; `changed` is
    /// called after a flush that changed the counts (to render `/` again).
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        changed: impl Fn() + Send + Sync + 'static,
    ) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (tally, store) = (self.clone(), store.clone());
            let flushed = tokio::task::spawn_blocking(move || tally.flush(store.as_ref())).await;
            if matches!(flushed, Ok(true)) {
                changed();
            }
        }
    }

    /// Take the hits queued, write what is pending, read the counts back.
    /// Blocking; `true` when the counts changed.
    pub fn flush(&self, store: &dyn Store) -> bool {
        let mut hits = Vec::new();
        {
            let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
            while let Ok(hit) = rx.try_recv() {
                hits.push(hit);
            }
        }
        self.gather(hits);
        let now = Utc::now();
        if let Err(e) = self.write(store, now) {
            tracing::warn!("audience counts not written (kept for the next try): {e}");
            return false;
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        match store.audience(now) {
            Ok(counts) => {
                let changed = *self.counts.load_full() != counts;
                self.counts.store(Arc::new(counts));
                changed
            }
            Err(e) => {
                tracing::warn!("reading the audience counts: {e}");
                false
            }
        }
    }

    fn gather(&self, hits: Vec<Hit>) {
        let mut p = self.pending();
        for hit in hits {
            let agent = hit.user_agent.as_deref();
            let fetcher = fetcher_name(agent).into_owned();
            let hour = hit
                .at
                .duration_trunc(chrono::Duration::hours(1))
                .unwrap_or(hit.at);
            let f = p
                .fetches
                .entry((fetcher.clone(), hour))
                .or_insert_with(|| Fetches {
                    fetcher: fetcher.clone(),
                    hour,
                    ..Fetches::default()
                });
            f.requests += 1;
            f.conditional += u64::from(hit.conditional);
            f.not_modified += u64::from(hit.status == 304);
            f.refused += u64::from(hit.status == 429);
            let key = self
                .keys
                .hash_one((hit.client, agent.unwrap_or(""), &hit.feed));
            if let Some(before) = self.last.get(&key)
                && let Ok(gap) = (hit.at - before).to_std()
            {
                *p.intervals
                    .entry((fetcher.clone(), hour, bucket(gap)))
                    .or_default() += 1;
            }
            self.last.insert(key, hit.at);
            match agent.and_then(reported) {
                Some(r) => {
                    let slot = p
                        .subscribers
                        .entry((hit.feed, r.fetcher.into_owned()))
                        .or_insert((r.subscribers, hit.at));
                    if hit.at >= slot.1 {
                        *slot = (r.subscribers, hit.at);
                    }
                }
                None => {
                    let at = p
                        .readers
                        .entry((hit.feed, hit.client, agent.unwrap_or("").to_string()))
                        .or_insert(hit.at);
                    *at = (*at).max(hit.at);
                }
            }
        }
    }

    /// Write what is pending in one transaction; kept on failure.
    fn write(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<(), crate::store::StoreError> {
        let mut p = self.pending();
        let day = now.format("%Y-%m-%d").to_string();
        let salt = if p.readers.is_empty() {
            String::new()
        } else {
            store.audience_salt(&day, &fresh_salt())?
        };
        let batch = AudienceBatch {
            subscribers: p
                .subscribers
                .iter()
                .map(|((feed, fetcher), (n, at))| (feed.clone(), fetcher.clone(), *n, *at))
                .collect(),
            readers: p
                .readers
                .iter()
                .map(|((feed, client, agent), at)| {
                    (feed.clone(), reader_hash(&salt, *client, agent), *at)
                })
                .collect(),
            fetches: p.fetches.values().cloned().collect(),
            intervals: p
                .intervals
                .iter()
                .map(|((fetcher, hour, b), n)| (fetcher.clone(), *hour, *b, *n))
                .collect(),
        };
        // Nothing counted: no write, and no connection asked for (what no
        // longer counts is forgotten with the next write, and never read).
        if batch.is_empty() {
            return Ok(());
        }
        store.record_audience(&batch, now)?;
        *p = Pending::default();
        Ok(())
    }
}

/// A reader as stored: the hex of SHA-256 over the day's salt, its
/// address and its User-Agent, cut to 128 bits. Without the salt (dropped
/// with its day) nothing leads back to the address.
fn reader_hash(salt: &str, client: IpAddr, agent: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(client.to_string().as_bytes());
    h.update([0]);
    h.update(agent.as_bytes());
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// A new random salt: 16 bytes from the system's generator, or (where
/// there is none) from the clock and a per-process random key.
fn fresh_salt() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let a = RandomState::new().hash_one(Utc::now().timestamp_nanos_opt());
        let b = RandomState::new().hash_one(std::process::id());
        bytes = [a.to_le_bytes(), b.to_le_bytes()]
            .concat()
            .try_into()
            .unwrap_or([0; 16]);
    }
    hex::encode(bytes)
}

/// The interval histogram's bucket of a gap between two fetches: 0 under
/// 15 s, then each bucket twice as wide (15–30 s, 30–60 s, …), the last
/// (15) from about 68 hours on.
pub fn bucket(gap: Duration) -> u8 {
    let secs = gap.as_secs();
    if secs < 15 {
        return 0;
    }
    let doublings = (secs / 15).ilog2();
    u8::try_from(doublings + 1).unwrap_or(15).min(15)
}

/// A bucket's upper bound in seconds (`None` for the last, unbounded).
pub fn bucket_limit(b: u8) -> Option<u64> {
    (b < 15).then(|| 15u64 << b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double() {
        assert_eq!(bucket(Duration::from_secs(0)), 0);
        assert_eq!(bucket(Duration::from_secs(14)), 0);
        assert_eq!(bucket(Duration::from_secs(15)), 1);
        assert_eq!(bucket(Duration::from_secs(29)), 1);
        assert_eq!(bucket(Duration::from_secs(30)), 2);
        assert_eq!(bucket(Duration::from_secs(300)), 5);
        assert_eq!(bucket_limit(5), Some(480));
        assert_eq!(bucket(Duration::from_secs(u64::MAX)), 15);
        for s in [1u64, 20, 59, 61, 299, 3_599, 86_399] {
            let b = bucket(Duration::from_secs(s));
            assert!(bucket_limit(b).is_none_or(|l| s < l), "{s}");
            assert!(b == 0 || bucket_limit(b - 1).is_some_and(|l| s >= l), "{s}");
        }
    }

    #[test]
    fn reader_hashes_depend_on_the_salt_and_name_no_address() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a = reader_hash("s1", ip, "curl/8");
        assert_eq!(a.len(), 32);
        assert_ne!(a, reader_hash("s2", ip, "curl/8"));
        assert_ne!(a, reader_hash("s1", ip, "curl/9"));
        assert!(!a.contains("192"));
        assert_ne!(fresh_salt(), fresh_salt());
    }
}

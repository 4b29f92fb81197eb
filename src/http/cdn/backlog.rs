//! The keys waiting to be purged, and how purges are sent and retried
//! ([`Policy`]). Keys wait in a set, so a document changed twice before
//! its purge goes out is purged once; a purge takes at most
//! [`Policy::batch`] of them. A failed batch goes back into the set and
//! the next try waits longer each time. The set is bounded: when it would
//! pass [`Policy::capacity`], it is replaced by one purge of `bantin`
//! (every response's key), which covers whatever it held.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The key every response carries: purging it purges everything.
pub const ALL: &str = "bantin";

/// How purges are sent and retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How often the sender looks at the backlog: the keys of the changes
    /// made within one period go out together.
    pub every: Duration,
    /// Keys in one purge request, at most (SPEC: 256).
    pub batch: usize,
    /// The wait before the second try; it doubles with each failure.
    pub first_retry: Duration,
    /// The longest wait between two tries.
    pub max_retry: Duration,
    /// Keys waiting at once, at most; past that one purge of `bantin`
    /// replaces them.
    pub capacity: usize,
    /// One request's deadline, connection and answer included.
    pub timeout: Duration,
}

impl Default for Policy {
    /// Twice a second at most, each time every waiting key in batches: a
    /// burst of writes costs a few requests a second. A CDN that is down
    /// is tried again after 1, 2, 4 … 60 s, for as long as it is down.
    fn default() -> Policy {
        Policy {
            every: Duration::from_millis(500),
            batch: 256,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            capacity: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Policy {
    /// The wait after the `failures`-th failure in a row.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_retry
            .saturating_mul(1u32 << doublings)
            .min(self.max_retry)
    }
}

/// The keys waiting, and when the next purge may go out.
#[derive(Debug)]
pub(super) struct Backlog {
    keys: BTreeSet<String>,
    /// Everything is to be purged (the backlog overflowed, or a change
    /// touched everything): one purge of [`ALL`] goes first.
    all: bool,
    /// Failures in a row.
    pub(super) failures: u32,
    due: Instant,
    /// Times the backlog overflowed.
    pub(super) overflows: u64,
}

impl Default for Backlog {
    fn default() -> Backlog {
        Backlog {
            keys: BTreeSet::new(),
            all: false,
            failures: 0,
            due: Instant::now(),
            overflows: 0,
        }
    }
}

impl Backlog {
    /// Keys waiting (a purge of everything counts as one).
    pub(super) fn len(&self) -> usize {
        self.keys.len() + usize::from(self.all)
    }

    /// Queue a key for purging.
    pub(super) fn push(&mut self, key: String, capacity: usize) {
        if self.all {
            return;
        }
        if key == ALL {
            self.purge_all();
            return;
        }
        self.keys.insert(key);
        if self.keys.len() > capacity {
            self.overflows += 1;
            self.purge_all();
        }
    }

    /// Purge everything: whatever waits is covered by it.
    pub(super) fn purge_all(&mut self) {
        self.keys.clear();
        self.all = true;
    }

    /// Whether a purge is due at `now`.
    pub(super) fn due(&self, now: Instant) -> bool {
        self.len() > 0 && self.due <= now
    }

    /// The next batch to send: a purge of everything alone, or up to
    /// `max` keys, taken out of the backlog.
    pub(super) fn take(&mut self, max: usize) -> Vec<String> {
        if std::mem::take(&mut self.all) {
            self.keys.clear();
            return vec![ALL.to_string()];
        }
        let mut batch = Vec::new();
        while batch.len() < max.max(1) {
            match self.keys.pop_first() {
                Some(k) => batch.push(k),
                None => break,
            }
        }
        batch
    }

    /// A batch went through: the next may go at once.
    pub(super) fn sent(&mut self, now: Instant) {
        self.failures = 0;
        self.due = now;
    }

    /// A batch failed: its keys wait again (merged with those queued
    /// meanwhile), and the next try waits for the backoff, returned.
    pub(super) fn failed(&mut self, batch: Vec<String>, now: Instant, policy: &Policy) -> Duration {
        for key in batch {
            self.push(key, policy.capacity);
        }
        self.failures = self.failures.saturating_add(1);
        let wait = policy.backoff(self.failures);
        self.due = now + wait;
        wait
    }

    /// Drop everything waiting (another replica purges); returns how many
    /// keys were dropped.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.len();
        self.keys.clear();
        self.all = false;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            batch: 2,
            capacity: 3,
            ..Policy::default()
        }
    }

    #[test]
    fn keys_go_once_in_batches() {
        let (mut b, p) = (Backlog::default(), policy());
        for k in ["/b", "/a", "/b", "/c"] {
            b.push(k.into(), p.capacity);
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.take(p.batch), ["/a", "/b"]);
        assert_eq!(b.take(p.batch), ["/c"]);
        assert!(b.take(p.batch).is_empty());
    }

    #[test]
    fn an_overflow_becomes_one_purge_of_everything() {
        let (mut b, p) = (Backlog::default(), policy());
        for k in ["/a", "/b", "/c", "/d"] {
            b.push(k.into(), p.capacity);
        }
        assert_eq!(b.len(), 1);
        assert_eq!(b.overflows, 1);
        b.push("/e".into(), p.capacity);
        assert_eq!(b.take(p.batch), [ALL]);
        assert_eq!(b.len(), 0);
        // After it went out, keys queue again.
        b.push("/f".into(), p.capacity);
        assert_eq!(b.take(p.batch), ["/f"]);
    }

    #[test]
    fn a_failed_batch_waits_again_with_backoff() {
        let (mut b, p) = (Backlog::default(), policy());
        let now = Instant::now();
        b.push("/a".into(), p.capacity);
        let batch = b.take(p.batch);
        b.push("/b".into(), p.capacity);
        assert_eq!(b.failed(batch, now, &p), Duration::from_secs(1));
        assert!(!b.due(now));
        assert!(b.due(now + Duration::from_secs(1)));
        let batch = b.take(p.batch);
        assert_eq!(batch, ["/a", "/b"]);
        assert_eq!(b.failed(batch, now, &p), Duration::from_secs(2));
        b.take(p.batch);
        b.sent(now);
        assert_eq!(b.failures, 0);
        assert_eq!(
            (1..=8).map(|n| p.backoff(n).as_secs()).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 60, 60]
        );
    }
}

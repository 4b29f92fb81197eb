//! The queue of publish pings, keyed by (hub, feed URL), and how pings are
//! sent and retried ([`Policy`]): a feed that changes again before its
//! ping goes out is pinged once; one that changes while its ping is on the
//! wire gets a ping of its own afterwards; failures back off.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

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
pub(super) type Ping = (usize, String);

/// A queued ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
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
pub(super) struct Queue {
    pub(super) entries: BTreeMap<Ping, Entry>,
    /// Hubs whose last ping failed: further failures are logged quietly.
    pub(super) down: BTreeSet<usize>,
}

impl Queue {
    /// Queue a ping; `false` when it had to be dropped (the queue is full).
    pub(super) fn push(&mut self, ping: Ping, now: Instant, capacity: usize) -> bool {
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
    pub(super) fn any_due(&self, now: Instant) -> bool {
        self.entries.values().any(|e| !e.sending && e.due <= now)
    }

    /// Mark up to `max` due pings as on the wire and return them, the
    /// longest waiting first.
    pub(super) fn take_due(&mut self, now: Instant, max: usize) -> Vec<Ping> {
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
    pub(super) fn settle(
        &mut self,
        ping: &Ping,
        ok: bool,
        now: Instant,
        policy: &Policy,
    ) -> Settled {
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
    pub(super) fn clear_waiting(&mut self) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.sending);
        before - self.entries.len()
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
}

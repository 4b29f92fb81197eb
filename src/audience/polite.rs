//! Polite polling (SPEC "Audience"): with `polite_polling = true`, a client
//! (address and User-Agent) that fetches the same feed again without a
//! validator within `max_age` of its last such fetch is refused (429 with
//! `Retry-After`). A conditional request is always answered: that is the
//! polite way to poll, and it costs a 304.
//!
//! The state is one entry per (client, feed) of the last unconditional
//! fetch, at most [`CLIENTS`] of them, the least recently seen forgotten
//! first (moka, as the feed cache), each forgotten anyway once `max_age`
//! has passed. Keys are hashes under a per-process key: the state holds
//! no address.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Clients (each with a feed) remembered at most: some megabytes.
pub const CLIENTS: u64 = 100_000;

/// Who fetched which feed, last, without a validator.
pub struct Polite {
    last: moka::sync::Cache<u64, Instant>,
    max_age: Duration,
    keys: RandomState,
}

impl Polite {
    /// The state for feeds cached `max_age` long.
    pub fn new(max_age: Duration) -> Polite {
        Polite::bounded(max_age, CLIENTS)
    }

    fn bounded(max_age: Duration, clients: u64) -> Polite {
        Polite {
            last: moka::sync::Cache::builder()
                .max_capacity(clients)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .time_to_live(max_age.max(Duration::from_secs(1)))
                .build(),
            max_age,
            keys: RandomState::new(),
        }
    }

    /// Whether to answer this fetch of `feed` (its URL path without
    /// extension: every format is one feed) at `now`: `Err(retry_after)`
    /// when the client fetched it without a validator less than `max_age`
    /// ago, in whole seconds (at least 1).
    pub fn admit(
        &self,
        client: IpAddr,
        user_agent: &str,
        feed: &str,
        conditional: bool,
        now: Instant,
    ) -> Result<(), u64> {
        if conditional {
            return Ok(());
        }
        let key = self.keys.hash_one((client, user_agent, feed));
        if let Some(last) = self.last.get(&key) {
            let since = now.saturating_duration_since(last);
            if since < self.max_age {
                let wait = self.max_age - since;
                return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            }
        }
        self.last.insert(key, now);
        Ok(())
    }

    /// Clients remembered now (after pending evictions).
    pub fn remembered(&self) -> u64 {
        self.last.run_pending_tasks();
        self.last.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_refetch_without_validators_within_max_age_waits_its_turn() {
        let p = Polite::new(Duration::from_secs(300));
        let t = Instant::now();
        assert_eq!(p.admit(A, "curl/8", "/feeds/all", false, t), Ok(()));
        let later = t + Duration::from_millis(100_500);
        assert_eq!(p.admit(A, "curl/8", "/feeds/all", false, later), Err(200));
        // Conditional: always answered, and it does not move the clock.
        assert_eq!(p.admit(A, "curl/8", "/feeds/all", true, later), Ok(()));
        // Another feed, another agent, another address: their own turns.
        assert_eq!(
            p.admit(A, "curl/8", "/feeds/category/kinh-te", false, later),
            Ok(())
        );
        assert_eq!(p.admit(A, "Wget/1.21", "/feeds/all", false, later), Ok(()));
        assert_eq!(p.admit(B, "curl/8", "/feeds/all", false, later), Ok(()));
        // Retry-After honoured: answered.
        let after = t + Duration::from_secs(300);
        assert_eq!(p.admit(A, "curl/8", "/feeds/all", false, after), Ok(()));
    }

    #[test]
    fn the_state_is_bounded_and_keeps_the_recent() {
        let p = Polite::bounded(Duration::from_secs(300), 1_000);
        let t = Instant::now();
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            assert_eq!(p.admit(ip, "r", "/feeds/all", false, t), Ok(()));
        }
        assert!(p.remembered() <= 1_000, "{}", p.remembered());
        let recent = IpAddr::V4(std::net::Ipv4Addr::from(9_999u32));
        assert!(p.admit(recent, "r", "/feeds/all", false, t).is_err());
    }
}

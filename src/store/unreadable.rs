//! Rows bantin can't read (text that is not UTF-8, a date or JSON column
//! that does not parse): left out of every feed like a row over a limit,
//! counted for `/metrics`, and named once in the server's log.
//!
//! Every render that meets such a row leaves it out again, so a warning
//! per render would repeat the same line at every poll of every feed the
//! row is in. A store remembers which rows it has warned about instead: a
//! hash of (id, reason), so a row that breaks again in another way is named
//! again, in a set of bounded size, so a CMS that writes a million such
//! rows costs a fixed few hundred KiB. Past the bound one line says so and
//! `bantin check` is the place to list them all.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Rows remembered (and so warned about and counted) at most.
const REMEMBERED: usize = 65_536;

/// The unreadable rows a store has met.
#[derive(Debug, Default)]
pub(crate) struct Unreadable {
    seen: Mutex<HashSet<u64>>,
    /// Distinct rows met, for `/metrics`.
    count: AtomicU64,
    /// Whether the "too many to remember" line was written.
    full: AtomicBool,
}

impl Unreadable {
    /// A row left out of a feed because it can't be read: warn and count it
    /// the first time.
    pub fn left_out(&self, id: &str, reason: &str) {
        if self.first_time(id, reason) {
            tracing::warn!(
                article = %id,
                "left out of every feed: {reason} (`bantin check` lists such rows)"
            );
        }
    }

    /// Whether (`id`, `reason`) is new: remembered and counted now.
    fn first_time(&self, id: &str, reason: &str) -> bool {
        let mut h = DefaultHasher::new();
        (id, reason).hash(&mut h);
        let key = h.finish();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&key) {
            return false;
        }
        if seen.len() >= REMEMBERED {
            drop(seen);
            if !self.full.swap(true, Relaxed) {
                tracing::warn!(
                    "more than {REMEMBERED} unreadable rows: no more are named here \
                     (`bantin check` lists them all)"
                );
            }
            return false;
        }
        seen.insert(key);
        self.count.fetch_add(1, Relaxed);
        true
    }

    /// Distinct unreadable rows met so far (at most [`REMEMBERED`]).
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_counted_once_per_reason() {
        let u = Unreadable::default();
        assert!(u.first_time("a", "bad date"));
        assert!(!u.first_time("a", "bad date"));
        assert!(u.first_time("b", "bad date"));
        assert!(u.first_time("a", "bad JSON"));
        assert_eq!(u.count(), 3);
    }

    #[test]
    fn memory_is_bounded() {
        let u = Unreadable::default();
        for i in 0..REMEMBERED + 10 {
            u.first_time(&i.to_string(), "r");
        }
        assert_eq!(u.count(), REMEMBERED as u64);
        assert!(!u.first_time("another", "r"));
    }
}

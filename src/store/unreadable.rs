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
//!
//! The ids of the first [`HELD`] such rows are kept too, so that the
//! catalog can leave them out of `/` and the OPML list as it leaves out a
//! row over a limit (see [`crate::store::Snapshot::left_out`]).

use std::collections::{BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Rows remembered (and so warned about and counted) at most.
const REMEMBERED: usize = 65_536;

/// Rows whose ids are kept for the catalog to leave out at most: each is
/// read again at every catalog update, so the bound is what that costs.
/// Past it a row is still out of every feed, but counted on `/`.
pub(crate) const HELD: usize = 1_024;

/// The unreadable rows a store has met.
#[derive(Debug, Default)]
pub(crate) struct Unreadable {
    seen: Mutex<HashSet<u64>>,
    /// Distinct rows met, for `/metrics`.
    count: AtomicU64,
    /// Whether the "too many to remember" line was written.
    full: AtomicBool,
    /// Ids of unreadable rows, for the catalog (at most [`HELD`]).
    held: Mutex<BTreeSet<String>>,
}

impl Unreadable {
    /// A row left out of a feed because it can't be read: warn and count it
    /// the first time.
    pub fn left_out(&self, id: &str, reason: &str) {
        {
            let mut held = self.held();
            if held.len() < HELD && !held.contains(id) {
                held.insert(id.to_string());
            }
        }
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

    /// A row read fine again (a CMS rewrote it) or deleted: the catalog
    /// counts it as any other row from now on.
    pub fn readable_again(&self, id: &str) {
        self.held().remove(id);
    }

    /// The ids of the unreadable rows met so far (at most [`HELD`]).
    pub fn held_ids(&self) -> Vec<String> {
        self.held().iter().cloned().collect()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
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
    fn ids_are_kept_for_the_catalog_until_read_again() {
        let u = Unreadable::default();
        u.left_out("b", "bad date");
        u.left_out("a", "bad JSON");
        u.left_out("a", "bad JSON");
        assert_eq!(u.held_ids(), ["a", "b"]);
        u.readable_again("a");
        assert_eq!(u.held_ids(), ["b"]);
        for i in 0..HELD + 10 {
            u.left_out(&format!("x{i}"), "r");
        }
        assert_eq!(u.held_ids().len(), HELD);
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

//! Whether the store answers, as the watcher last found it, and whether a
//! read found its data damaged: what `/healthz` says, and what keeps cold
//! renders from reading a store that is down.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Mutex, MutexGuard};

use crate::store::StoreError;

/// Whether the store answers, as the watcher last found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The last read of the change log worked.
    Up,
    /// It failed, for this reason (one line).
    Down(String),
}

/// The store's health and damage, shared by the watcher (which sets them)
/// and requests (which read them).
#[derive(Debug)]
pub(crate) struct StoreHealth {
    health: Mutex<Health>,
    /// Why the store's data is damaged, once a read found it so
    /// ([`StoreError::is_corruption`]). Unlike an outage it does not pass,
    /// and the watcher's reads of the log may well go on working: it stays
    /// (`/healthz` answers 503) until the store's file is replaced.
    damage: Mutex<Option<String>>,
}

impl StoreHealth {
    pub(crate) fn new() -> StoreHealth {
        StoreHealth {
            health: Mutex::new(Health::Up),
            damage: Mutex::new(None),
        }
    }

    /// Record the outcome of a read of the store; log a change of health
    /// once, not once per poll.
    pub(crate) fn set(&self, health: Health) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if *h != health {
            match &health {
                Health::Up => tracing::info!("the store answers again"),
                Health::Down(why) => tracing::warn!("the store does not answer: {why}"),
            }
            *h = health;
        }
    }

    /// Whether the store answered the watcher's last read.
    pub(crate) fn get(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Note a read of the store that failed: damage is logged once (not
    /// once per request that meets it) and kept for `/healthz`.
    pub(crate) fn failed(&self, e: &StoreError) {
        if !e.is_corruption() {
            return;
        }
        let mut damage = self.damage();
        if damage.is_none() {
            let why = match e {
                StoreError::Backend(inner) => inner.to_string(),
                other => other.to_string(),
            };
            tracing::error!(
                "the store's data is damaged: {why}; /healthz answers 503 until its file is \
                 replaced (`bantin check` runs SQLite's integrity check)"
            );
            *damage = Some(why);
        }
    }

    /// Another file is at the store's path: the damage, if any, is gone.
    pub(crate) fn replaced(&self) {
        if let Some(why) = self.damage().take() {
            tracing::info!("the damaged store file was replaced (it said: {why})");
        }
    }

    /// Why the store's data is damaged, if a read found it so.
    pub(crate) fn damaged(&self) -> Option<String> {
        self.damage().clone()
    }

    fn damage(&self) -> MutexGuard<'_, Option<String>> {
        self.damage.lock().unwrap_or_else(|e| e.into_inner())
    }
}

//! The watcher: reads the store's change log four times a second, and at
//! once when the store tells of a commit (PostgreSQL's `NOTIFY`), and the
//! clock, for scheduled articles; applies what changed to the catalog and
//! the cache, and hands the invalidated resources to background renders.
//! It never waits for those renders: a write made while earlier ones are
//! being rendered is read at the next poll.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use super::app::{App, Health, POLL_INTERVAL};

/// Poll for changes until the task is aborted.
pub async fn watch(app: Arc<App>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A commit notice (PostgreSQL) wakes us at once; else we poll.
        tokio::select! {
            _ = tick.tick() => {}
            () = app.wake.notified() => {}
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.poll()).await {
            Ok(Ok(again)) => {
                app.set_health(Health::Up);
                if !again.is_empty() {
                    tracing::info!("store changed: rendering {} resources again", again.len());
                    app.rerender(again);
                }
            }
            Ok(Err(e)) => {
                app.store_failed(&e);
                app.set_health(Health::Down(e.to_string()));
            }
            Err(e) => tracing::error!("the change-log reader died: {e}"),
        }
        // Not awaited: a trim waiting for a connection (the store down, an
        // import holding SQLite's lock) must not hold the next read; nor
        // the keyword index's upkeep.
        let a = app.clone();
        tokio::task::spawn_blocking(move || a.trim());
        let a = app.clone();
        tokio::task::spawn_blocking(move || a.index_queued());
    }
}

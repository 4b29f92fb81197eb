//! Commit notices: `LISTEN bantin` on a connection of its own, so that a
//! server re-renders within moments of another process's write.

use std::sync::{Arc, Weak};
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use postgres::NoTls;

use super::pool::reason;

/// `LISTEN bantin` on a connection of its own and call `wake` for each
/// notification (the triggers send one per transaction that wrote), until
/// the store is dropped. A lost connection is made again after a second;
/// meanwhile the server's polling carries on alone.
pub(super) fn listen(config: postgres::Config, alive: Weak<()>, wake: Arc<dyn Fn() + Send + Sync>) {
    while alive.upgrade().is_some() {
        let mut client = match config.connect(NoTls) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("listening for commits: {}", reason(&e));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = client.batch_execute("LISTEN bantin") {
            tracing::debug!("listening for commits: {}", reason(&e));
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        // Whatever happened while we were not listening.
        wake();
        'connected: while alive.upgrade().is_some() {
            let mut notifications = client.notifications();
            let mut iter = notifications.timeout_iter(Duration::from_secs(1));
            // One second at most, then look whether the store still lives.
            loop {
                match iter.next() {
                    Ok(Some(_)) => wake(),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("listening for commits: {}", reason(&e));
                        break 'connected;
                    }
                }
            }
            drop(iter);
            drop(notifications);
            if client.is_closed() {
                break;
            }
        }
    }
}

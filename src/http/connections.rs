//! The connections open now, oldest first, so that a full house makes room
//! for a newcomer instead of leaving it in the kernel's backlog.
//!
//! The connection cap follows the open-file limit. Under a low one (a
//! `ulimit -n 64` leaves 32 connections), a few hundred keep-alive clients
//! hold every place, and a new connection waited in the backlog until one
//! of them happened to close: over 15 s for one in sixty. Now a newcomer
//! that finds no place asks the oldest connection with no request in
//! flight to close (a keep-alive connection between requests, or one that
//! never sent a request), and failing that the oldest one to close after
//! its response; it is served as soon as that one is gone, or refused with
//! a 503 if no place frees within [`ADMIT_WAIT`]. Closing an idle
//! keep-alive connection is what HTTP expects of a server (RFC 9112 §9.5);
//! clients open another.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// How long a newcomer waits for a place before it is refused.
pub(super) const ADMIT_WAIT: Duration = Duration::from_secs(2);

/// Newcomers waiting for a place at once, at most: each holds an open
/// file of the reserve the cap leaves (a quarter of the limit).
pub(super) fn max_waiting(max_connections: usize) -> usize {
    (max_connections / 8).clamp(1, 64)
}

/// The open connections, by the order they were accepted in.
#[derive(Debug)]
pub(super) struct Registry {
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    /// How many are open; watched by shutdown, which waits for zero.
    count: watch::Sender<usize>,
    stopping: AtomicBool,
}

/// What the registry knows of one connection.
#[derive(Debug, Default)]
pub(super) struct Conn {
    /// Requests started on it.
    started: AtomicU64,
    /// Requests being handled now.
    in_flight: AtomicUsize,
    /// Whether it was asked to close.
    asked: AtomicBool,
    close: Notify,
}

impl Conn {
    /// A request starts; it is in flight until the guard is dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, SeqCst);
        self.in_flight.fetch_add(1, SeqCst);
        InFlight(self.clone())
    }

    /// Resolves once the connection is asked to close.
    pub async fn asked_to_close(&self) {
        self.close.notified().await;
    }

    /// Whether it never started a request: nothing was read of it that a
    /// client waits an answer for, so it can simply be dropped (asking it
    /// to close would wait out its header read timeout).
    pub fn never_used(&self) -> bool {
        self.started.load(SeqCst) == 0
    }

    fn ask(&self) {
        if !self.asked.swap(true, SeqCst) {
            // Stored if the connection's task is not waiting yet.
            self.close.notify_one();
        }
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

/// A connection's place in the registry, given up when dropped.
#[derive(Debug)]
pub(super) struct Place {
    id: u64,
    pub conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.registry.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&self.id);
        self.registry.count.send_replace(open.len());
    }
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry {
            open: Mutex::default(),
            next: AtomicU64::new(0),
            count: watch::Sender::new(0),
            stopping: AtomicBool::new(false),
        })
    }

    /// Register a connection just accepted (asked to close at once if the
    /// server is stopping).
    pub fn enter(self: &Arc<Self>) -> Place {
        let id = self.next.fetch_add(1, SeqCst);
        let conn = Arc::new(Conn::default());
        if self.stopping.load(SeqCst) {
            conn.ask();
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.insert(id, conn.clone());
        self.count.send_replace(open.len());
        Place {
            id,
            conn,
            registry: self.clone(),
        }
    }

    /// Ask one connection to close to make room: the oldest with no
    /// request in flight, else the oldest of all (after its response).
    /// `false` when every one was asked already.
    pub fn make_room(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let candidates = || open.values().filter(|c| !c.asked.load(SeqCst));
        let pick = candidates()
            .find(|c| c.in_flight.load(SeqCst) == 0)
            .or_else(|| candidates().next());
        match pick {
            Some(c) => {
                c.ask();
                true
            }
            None => false,
        }
    }

    /// Ask every connection to close, and any accepted from now on.
    pub fn stop(&self) {
        self.stopping.store(true, SeqCst);
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for c in open.values() {
            c.ask();
        }
    }

    /// Whether [`Registry::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(SeqCst)
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_made_by_the_oldest_idle_connection_then_the_oldest_busy_one() {
        let r = Registry::new();
        let (a, b, c) = (r.enter(), r.enter(), r.enter());
        let _busy_a = a.conn.request();
        let done_b = b.conn.request();
        drop(done_b);
        assert!(r.make_room());
        assert!(b.conn.asked.load(SeqCst), "b is the oldest idle one");
        assert!(r.make_room());
        assert!(c.conn.asked.load(SeqCst), "then c, idle too");
        assert!(r.make_room());
        assert!(a.conn.asked.load(SeqCst), "then the oldest busy one");
        assert!(!r.make_room(), "every one was asked");
        assert!(!a.conn.never_used() && c.conn.never_used());
        drop((a, b, c));
        assert_eq!(*r.count.borrow(), 0);
    }
}

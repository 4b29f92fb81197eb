//! The connections open now, oldest first, so that a full house makes room
//! for a newcomer instead of leaving it in the kernel's backlog.
//!
//! The connection cap follows the open-file limit. Under a low one (a
//! `ulimit -n 64` leaves 32 connections), a few hundred keep-alive clients
//! hold every place, and a new connection waited in the backlog until one
//! of them happened to close: over 15 s for one in sixty. Now a newcomer
//! that finds no place asks the oldest connection with no request in
//! flight to close (a keep-alive connection between requests, or one that
//! sent no request in its first second), and failing that the oldest one
//! to close after its response; it is served as soon as that one is gone, or refused with
//! a 503 if no place frees within [`ADMIT_WAIT`]. Closing an idle
//! keep-alive connection is what HTTP expects of a server (RFC 9112 §9.5);
//! clients open another.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// How long a newcomer waits for a place before it is refused.
pub(super) const ADMIT_WAIT: Duration = Duration::from_secs(2);

/// How long a new connection has to start its first request before it
/// counts as idle: a client sends its request right after connecting, so
/// a connection this young is one whose request is on its way, not one to
/// drop.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

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
#[derive(Debug)]
pub(super) struct Conn {
    accepted: Instant,
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

    fn new() -> Conn {
        Conn {
            accepted: Instant::now(),
            started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            asked: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    /// Whether it sent no request in its first second: no client waits an
    /// answer on it, so it can simply be dropped (asking it to close would
    /// wait out its header read timeout).
    pub fn unused(&self) -> bool {
        self.started.load(SeqCst) == 0 && self.accepted.elapsed() >= FIRST_REQUEST_GRACE
    }

    /// Whether its first request is on its way: it is never asked to make
    /// room, as hyper closes a connection that has read nothing at once
    /// when asked, request in the socket or not.
    fn arriving(&self) -> bool {
        self.started.load(SeqCst) == 0 && !self.unused()
    }

    /// Whether it can close now: no request in flight.
    fn idle(&self) -> bool {
        self.in_flight.load(SeqCst) == 0
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
        let conn = Arc::new(Conn::new());
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

    /// Ask one connection to close to make room: the oldest idle one, else
    /// the oldest of all (after its response). `false` when every one was
    /// asked already.
    pub fn make_room(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let candidates = || {
            open.values()
                .filter(|c| !c.asked.load(SeqCst) && !c.arriving())
        };
        let pick = candidates()
            .find(|c| c.idle())
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
    fn room_is_made_by_the_oldest_idle_connection_then_the_oldest_of_all() {
        let r = Registry::new();
        let (a, b, c, d) = (r.enter(), r.enter(), r.enter(), r.enter());
        let _busy_a = a.conn.request();
        drop(b.conn.request());
        drop(d.conn.request());
        // c just connected: its first request is on its way; never asked.
        assert!(r.make_room());
        assert!(b.conn.asked.load(SeqCst), "b is the oldest idle one");
        assert!(r.make_room());
        assert!(d.conn.asked.load(SeqCst), "then d, idle too");
        assert!(r.make_room());
        assert!(a.conn.asked.load(SeqCst), "then the oldest of all");
        assert!(!r.make_room(), "every other one was asked");
        assert!(!c.conn.asked.load(SeqCst));
        assert!(!a.conn.unused() && !c.conn.unused());
        drop((a, b, c, d));
        assert_eq!(*r.count.borrow(), 0);
    }
}

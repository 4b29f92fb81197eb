//! A SQLite file's connections: how each is opened (busy timeout, foreign
//! keys, never creating the file) and the deadline a keyword feed's
//! connection is interrupted at.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a statement waits for another connection's lock. Writers queue
/// behind an import; readers never wait in WAL mode.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes the pool's connections: each with the busy timeout and foreign
/// keys on (both are per connection in SQLite).
#[derive(Debug)]
pub(super) struct Manager {
    pub(super) path: PathBuf,
}

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    // Never create the file here: only `SqliteStore::open` may, once.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        connect(&self.path)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

/// The instant past which the progress handler of a keyword feed's
/// connection interrupts its statement (the error is then
/// [`StoreError::is_timeout`]): nanoseconds from `base`, `u64::MAX` for
/// none. Set by the search, read by the handler every thousand steps of
/// SQLite's machine.
#[derive(Clone)]
pub(super) struct Deadline {
    base: std::time::Instant,
    at: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Deadline {
    pub(super) fn new() -> Deadline {
        Deadline {
            base: std::time::Instant::now(),
            at: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
        }
    }

    pub(super) fn set(&self, after: Option<Duration>) {
        let at = after.map_or(u64::MAX, |d| {
            let at = self.base.elapsed().saturating_add(d).as_nanos();
            u64::try_from(at).unwrap_or(u64::MAX)
        });
        self.at.store(at, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn passed(&self) -> bool {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        now > self.at.load(std::sync::atomic::Ordering::Relaxed)
    }
}

//! A SQLite file's connections: how each is opened (busy timeout, foreign
//! keys, never creating the file; read only for the commands that only
//! read) and the deadline a keyword feed's
//! connection is interrupted at.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::Access;

/// How long a statement waits for another connection's lock. Writers queue
/// behind an import; readers never wait in WAL mode.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes the pool's connections: each with the busy timeout and foreign
/// keys on (both are per connection in SQLite).
#[derive(Debug)]
pub(super) struct Manager {
    pub(super) path: PathBuf,
    pub(super) access: Access,
}

/// A connection to the file at `path`. Read only, SQLite itself refuses
/// every write ("attempt to write a readonly database"), whoever runs
/// bantin: root ignores file modes, SQLite's flag does not.
pub(super) fn connect(path: &Path, access: Access) -> Result<Connection, rusqlite::Error> {
    // Never create the file here: only `SqliteStore::open` may, once.
    let mode = match access {
        Access::Migrate => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    let mut conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    if access == Access::ReadOnly && !readable_in_place(&conn, path) {
        conn = open_immutable(path)?;
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Whether a read-only connection can read the file: in WAL mode SQLite
/// needs the `-shm` file, and can't make it where bantin may not write (a
/// file and folder of another user's, read-only media), when no process
/// has the store open.
fn readable_in_place(conn: &Connection, path: &Path) -> bool {
    let read = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    });
    read.is_ok() || wal_path(path).exists()
}

/// `PATH-wal`.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// The file opened `immutable` (SQLite's URI parameter): read without the
/// `-shm` file or locks. Only where [`readable_in_place`] says no: no
/// `-wal` file, so no process writes the store now, and a command that
/// reads for a moment (`dump`, `check`, `build`) reads it whole.
fn open_immutable(path: &Path) -> Result<Connection, rusqlite::Error> {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        // Escaped: what a URI gives a meaning, and every byte past ASCII
        // (SQLite decodes `%XX` back to the byte).
        match b {
            b'?' | b'#' | b'%' | 0..=0x20 | 0x7f.. => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(*b)),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        std::ffi::OsStr::new(&uri),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        connect(&self.path, self.access)
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

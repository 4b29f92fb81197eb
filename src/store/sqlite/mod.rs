//! The embedded store: one SQLite file (bundled SQLite, WAL mode).
//!
//! This file opens the file and hands out its connections: a pool of
//! readers, one for the change log's reader, one for keyword feeds, one
//! writer; it watches the file being replaced, and implements [`Store`] by
//! handing each call to the room that owns it. Every SQL statement of the
//! SQLite backend lives in this folder, beside the SQL both backends share
//! (`store::sql`):
//! - `migrate`: the schema brought up to date at open (or, opened read
//!   only, what it lacks); `schema`: the
//!   current triggers and the catalog's rebuild;
//! - `read`: snapshots and their queries; `search`: keyword feeds' read of
//!   the FTS5 index;
//! - `write`: the writer; `index` and `fold`: the keyword index's rows;
//! - `upkeep`: what `bantin check` asks; `text`: TEXT values as strings.

use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use self::fold::Folder;
use self::pool::{BUSY_TIMEOUT, Manager, connect};
use self::read::SqliteSnapshot;
use self::write::SqliteWriter;
use super::unreadable::Unreadable;
use super::{
    Access, Dialect, Problem, REHOLD_SQL, Snapshot, Store, StoreError, Writer, adopt_limits_sql,
    limit_columns, micros,
};
use crate::article::Article;
use crate::limits::SiteLimits;

mod audience;
mod fold;
mod index;
mod migrate;
mod pool;
mod read;
mod schema;
mod search;
mod text;
mod upkeep;
mod write;

pub(crate) use upkeep::is_corruption;

/// A SQLite article store.
///
/// The file is watched: if it is deleted, renamed or replaced under a
/// running server, [`Store::revalidate`] says so (readers would otherwise go
/// on reading the unlinked file), and once a file is back at the path, the
/// store opens it afresh.
pub struct SqliteStore {
    path: PathBuf,
    readers: u32,
    access: Access,
    pools: ArcSwap<Pools>,
    /// Rows left out because they can't be read, met by any snapshot.
    unreadable: Arc<Unreadable>,
    budget: std::sync::Mutex<crate::search::Budget>,
    /// The server's folder for [`Store::index_queued`], made when first
    /// needed.
    folder: std::sync::Mutex<Option<Folder>>,
}

/// The connections to one file: readers, the change-log reader, keyword
/// feeds' readers, the writer.
struct Pools {
    readers: r2d2::Pool<Manager>,
    log_reader: r2d2::Pool<Manager>,
    searchers: r2d2::Pool<Manager>,
    writer: r2d2::Pool<Manager>,
    /// The file they opened: (device, inode).
    file: (u64, u64),
}

/// The identity of the file at `path` now.
fn file_id(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

impl SqliteStore {
    /// Open the file at `path`, creating it and its schema if missing, with
    /// one read connection.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, crate::store::CLI_READERS)
    }

    /// Open the file at `path` with at most `readers` read connections.
    pub fn open_with(path: &Path, readers: u32) -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore::open_as(path, readers, Access::Migrate)?.0)
    }

    /// Open the file at `path` as `access` says, with at most `readers`
    /// read connections; with what was migrated (`migrate::prepare`).
    pub fn open_as(
        path: &Path,
        readers: u32,
        access: Access,
    ) -> Result<(SqliteStore, Vec<&'static str>), StoreError> {
        let (pools, applied) = Pools::open(path, readers, access)?;
        let store = SqliteStore {
            path: path.to_path_buf(),
            readers,
            access,
            pools: ArcSwap::from_pointee(pools),
            unreadable: Arc::default(),
            budget: std::sync::Mutex::new(crate::search::Budget::default()),
            folder: std::sync::Mutex::new(None),
        };
        Ok((store, applied))
    }

    /// The file this store reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn search_budget(&self) -> crate::search::Budget {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pools {
    /// Create (if missing) and migrate the file, or (read only) check it
    /// needs no migration, and pool connections to it.
    fn open(
        path: &Path,
        readers: u32,
        access: Access,
    ) -> Result<(Pools, Vec<&'static str>), StoreError> {
        let url = format!("sqlite:{}", path.display());
        let open_err = |reason: String| StoreError::Open {
            url: url.clone(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(open_err(format!("folder {} does not exist", dir.display())));
        }
        let applied = match access {
            Access::Migrate => {
                let first = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
                migrate::prepare(&first).map_err(|e| open_err(e.to_string()))?
            }
            Access::ReadOnly => {
                if !path.exists() {
                    return Err(open_err(
                        "no such file (`bantin import` or `bantin migrate` makes it)".into(),
                    ));
                }
                let first = connect(path, access).map_err(|e| open_err(e.to_string()))?;
                if let Some(reason) =
                    migrate::behind(&first).map_err(|e| open_err(e.to_string()))?
                {
                    return Err(StoreError::Behind { url, reason });
                }
                Vec::new()
            }
        };
        let file = file_id(path).map_err(|e| open_err(e.to_string()))?;
        let pool = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(30))
                .build_unchecked(Manager {
                    path: path.to_path_buf(),
                    access,
                })
        };
        let pools = Pools {
            readers: pool(readers),
            log_reader: pool(1),
            searchers: pool(crate::store::SEARCH_READERS),
            writer: pool(1),
            file,
        };
        Ok((pools, applied))
    }
}

impl Store for SqliteStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(SqliteSnapshot::begin(
            self.pools.load().readers.get()?,
            self.unreadable.clone(),
            self.search_budget(),
        )?))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(SqliteSnapshot::begin(
            self.pools.load().log_reader.get()?,
            self.unreadable.clone(),
            self.search_budget(),
        )?))
    }

    fn search_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(SqliteSnapshot::begin_search(
            self.pools.load().searchers.get()?,
            self.unreadable.clone(),
            self.search_budget(),
        )?))
    }

    fn set_search_budget(&self, budget: crate::search::Budget) {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner()) = budget;
    }

    fn index_queued(&self) -> Result<usize, StoreError> {
        let pools = self.pools.load();
        let mut conn = pools.writer.get()?;
        // Read first, outside a transaction: usually nothing is queued, and
        // a read never waits for a CMS's write lock.
        let mut done = 0;
        loop {
            let queued: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM bantin_search_queue)",
                [],
                |r| r.get(0),
            )?;
            if !queued {
                return Ok(done);
            }
            let mut folder = self.folder.lock().unwrap_or_else(|e| e.into_inner());
            let folder = match &mut *folder {
                Some(f) => f,
                None => folder.insert(Folder::new()?),
            };
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let n = index::index_queued(&tx, folder, index::INDEX_BATCH)?;
            tx.commit()?;
            done += n;
            if n < index::INDEX_BATCH {
                return Ok(done);
            }
        }
    }

    fn revalidate(&self) -> Result<bool, StoreError> {
        let gone = |reason: String| {
            StoreError::Unavailable(format!("the store file {} {reason}", self.path.display()))
        };
        match file_id(&self.path) {
            Ok(id) if id == self.pools.load().file => Ok(false),
            Ok(_) => {
                // Another file at the path: a restored backup, a new import.
                let (pools, _) = Pools::open(&self.path, self.readers, self.access)?;
                self.pools.store(std::sync::Arc::new(pools));
                tracing::warn!(
                    "the store file {} was replaced: reopened",
                    self.path.display()
                );
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(gone("was deleted or renamed".into()))
            }
            Err(e) => Err(gone(format!("can't be read: {e}"))),
        }
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError> {
        let conn = self.pools.load().writer.get()?;
        Ok(Box::new(SqliteWriter::begin(conn)?))
    }

    fn adopt_limits(&self, limits: &SiteLimits) -> Result<bool, StoreError> {
        let mut conn = self.pools.load().writer.get()?;
        // Read first: the usual answer is "the same", and a reader never
        // waits behind an import holding the write lock.
        if write::stored_limits(&conn)? == limit_columns(limits) {
            return Ok(false);
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            &adopt_limits_sql(Dialect::Sqlite),
            rusqlite::params_from_iter(limit_columns(limits)),
        )? > 0;
        if changed {
            tx.execute_batch(REHOLD_SQL)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        let mut problems = Vec::new();
        self.audit_with(&|_| None, &mut |p| problems.push(p))?;
        Ok(problems)
    }

    fn audit_with(
        &self,
        admit: &dyn Fn(&Article) -> Option<String>,
        report: &mut dyn FnMut(Problem),
    ) -> Result<(), StoreError> {
        let snap = SqliteSnapshot::begin(
            self.pools.load().readers.get()?,
            Arc::default(),
            self.search_budget(),
        )?;
        upkeep::audit(&snap, admit, report)
    }

    fn integrity(&self) -> Result<Option<Vec<String>>, StoreError> {
        let conn = self.pools.load().readers.get()?;
        Ok(Some(upkeep::quick_check(&conn)?))
    }

    fn repair(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pools.load().writer.get()?;
        Ok(upkeep::repair(&mut conn)?)
    }

    fn unreadable_rows(&self) -> u64 {
        self.unreadable.count()
    }

    fn record_audience(
        &self,
        batch: &super::audience::AudienceBatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pools.load().writer.get()?;
        audience::record(&mut conn, batch, now)
    }

    fn audience_salt(&self, day: &str, fresh: &str) -> Result<String, StoreError> {
        let mut conn = self.pools.load().writer.get()?;
        audience::salt(&mut conn, day, fresh)
    }

    fn audience(&self, now: DateTime<Utc>) -> Result<super::audience::AudienceCounts, StoreError> {
        let conn = self.pools.load().readers.get()?;
        audience::counts(&conn, now)
    }

    fn reader_report(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<super::audience::FetcherReport>, StoreError> {
        let conn = self.pools.load().readers.get()?;
        audience::report(&conn, now)
    }

    fn trim_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // The writer connection: a short transaction of its own. If an
        // import holds the lock, give up quickly and trim next time.
        let conn = self.pools.load().writer.get()?;
        conn.busy_timeout(Duration::from_millis(200))?;
        let n = conn.execute("DELETE FROM bantin_log WHERE at_us < ?1", [micros(before)]);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(n? as u64)
    }
}

//! The embedded store: one SQLite file (bundled SQLite, WAL mode).
//!
//! Every SQL statement of the SQLite backend lives here. Feed queries walk an
//! index from `now` downwards and stop at the limit, so a feed's cost depends
//! on the rows it returns, not on the size of the store (see the query-plan
//! test at the bottom). Reads go through a pool of connections, each read in
//! its own transaction (WAL readers never block the writer nor each other);
//! writes go through one connection, one transaction at a time.

use arc_swap::ArcSwap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::fts_queue;
use super::fts_text::Folder;
use super::row::{ARTICLE_COLUMNS, RawArticle, RawLink, audit_row, table};
use super::sqlite_text::{Columns, lossy, valid};
use super::staging::{Preparing, Staged, sqlite_rows};
use super::unreadable::Unreadable;
use super::{
    Change, Changes, LeftOut, LogPosition, Pair, Placement, Position, Problem, SlugUse, Snapshot,
    Store, StoreError, Writer, facet_code, instant, logged_facet, micros,
};
use crate::article::{Article, Facet, FeedKey};
use crate::limits::SiteLimits;

mod upkeep;
pub(crate) use upkeep::is_corruption;

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/001_init.sql"),
    include_str!("../../migrations/sqlite/002_change_log.sql"),
    include_str!("../../migrations/sqlite/003_authors.sql"),
    include_str!("../../migrations/sqlite/004_search.sql"),
    include_str!("../../migrations/sqlite/005_search_own.sql"),
    include_str!("../../migrations/sqlite/006_limits.sql"),
    include_str!("../../migrations/sqlite/007_search_by_date.sql"),
    include_str!("../../migrations/sqlite/008_delete_cleanup.sql"),
    include_str!("../../migrations/sqlite/009_names_capped.sql"),
    SEARCH_VISIBLE,
];

/// The migration after which bantin fills the keyword index again with
/// the visible text of every article ([`fts_queue::reindex`]).
const SEARCH_VISIBLE: &str = include_str!("../../migrations/sqlite/010_search_visible_text.sql");

/// Queued numbers of the keyword index made per transaction by the server
/// ([`Store::index_queued`]): a CMS waiting for the write lock waits for
/// at most one batch.
const INDEX_BATCH: usize = 256;

/// The catalog tables made again from the article tables, and "everything
/// changed" logged: the end of a bulk write.
const REBUILD: &str = "DELETE FROM bantin_names;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'c', slug, name, count(*) FROM article_categories GROUP BY slug, name;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'u', slug, name, count(*) FROM article_authors GROUP BY slug, name;
    DELETE FROM bantin_pairs;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT c.slug, r.slug, count(*) FROM article_categories c
        JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug;
    UPDATE bantin_totals SET articles = (SELECT count(*) FROM articles);
    INSERT INTO bantin_log (at_us, article_id, facet)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), '', '*');";

/// A writer that has put more articles than this (or a quarter of the
/// store, if more) stops logging row by row: past that point one "everything
/// changed" row and a rebuilt catalog cost less than a log row per link.
const BULK_AFTER: u64 = 10_000;

/// How long a statement waits for another connection's lock. Writers queue
/// behind an import; readers never wait in WAL mode.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite article store.
///
/// The file is watched: if it is deleted, renamed or replaced under a
/// running server, [`Store::revalidate`] says so (readers would otherwise go
/// on reading the unlinked file), and once a file is back at the path, the
/// store opens it afresh.
pub struct SqliteStore {
    path: PathBuf,
    readers: u32,
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

/// Makes the pool's connections: each with the busy timeout and foreign
/// keys on (both are per connection in SQLite).
#[derive(Debug)]
struct Manager {
    path: PathBuf,
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

impl SqliteStore {
    /// Open the file at `path`, creating it and its schema if missing, with
    /// one read connection.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, super::CLI_READERS)
    }

    /// Open the file at `path` with at most `readers` read connections.
    pub fn open_with(path: &Path, readers: u32) -> Result<SqliteStore, StoreError> {
        let pools = Pools::open(path, readers)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            readers,
            pools: ArcSwap::from_pointee(pools),
            unreadable: Arc::default(),
            budget: std::sync::Mutex::new(crate::search::Budget::default()),
            folder: std::sync::Mutex::new(None),
        })
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
    /// Create (if missing) and migrate the file, and pool connections to it.
    fn open(path: &Path, readers: u32) -> Result<Pools, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            url: format!("sqlite:{}", path.display()),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(open_err(format!("folder {} does not exist", dir.display())));
        }
        let first = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        prepare(&first).map_err(|e| open_err(e.to_string()))?;
        let file = file_id(path).map_err(|e| open_err(e.to_string()))?;
        let pool = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(30))
                .build_unchecked(Manager {
                    path: path.to_path_buf(),
                })
        };
        Ok(Pools {
            readers: pool(readers),
            log_reader: pool(1),
            searchers: pool(super::SEARCH_READERS),
            writer: pool(1),
            file,
        })
    }
}

/// WAL mode, and the migrations not applied yet, each in its own transaction.
fn prepare(conn: &Connection) -> Result<(), rusqlite::Error> {
    // Readers (the server) and writers (import, a CMS) in other processes:
    // WAL lets them run at once; the busy timeout rides out the short
    // exclusive moments of a commit.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        if i + 1 == 3 {
            backfill_authors(&tx)?;
        }
        if *sql == SEARCH_VISIBLE {
            let started = std::time::Instant::now();
            let n = fts_queue::reindex(&tx)?;
            tracing::info!(
                "keyword index made again from the visible text of {n} articles in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Migration 3: the `article_authors` rows of the articles already stored,
/// from their `authors` lists (slugs need SPEC's transliteration, which SQL
/// lacks), in bulk mode, then the catalog rebuilt.
fn backfill_authors(tx: &rusqlite::Transaction<'_>) -> Result<(), rusqlite::Error> {
    tx.execute("INSERT OR IGNORE INTO bantin_bulk (one) VALUES (1)", [])?;
    {
        let mut read = tx.prepare("SELECT id, authors, published_us FROM articles")?;
        let mut link = tx.prepare(
            "INSERT OR IGNORE INTO article_authors (article_id, slug, name, position, published_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let (id, authors, published_us): (String, String, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            // A row whose list does not parse is `check`'s to report.
            let names: Vec<String> = serde_json::from_str(&authors).unwrap_or_default();
            for (position, (slug, name)) in author_links(&names).into_iter().enumerate() {
                link.execute(params![id, slug, name, position as i64, published_us])?;
            }
        }
    }
    tx.execute_batch(REBUILD)?;
    tx.execute("DELETE FROM bantin_bulk", [])?;
    Ok(())
}

/// The link rows of an author list: normalized names with a slug, the
/// first of names sharing a slug.
pub(crate) fn author_links(names: &[String]) -> Vec<(String, String)> {
    // A set of the slugs seen, not a scan of `out`: a CMS's byline may
    // hold thousands of names, and a scan per name made it quadratic.
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for name in names {
        let name = crate::slug::normalize_name(name);
        let slug = crate::slug::slugify(&name);
        if !slug.is_empty() && seen.insert(slug.clone()) {
            out.push((slug, name));
        }
    }
    out
}

/// Read a row of `SELECT {ARTICLE_COLUMNS}`; a column that is not UTF-8
/// makes the row unreadable, not the statement fail.
fn raw_article(r: &Row<'_>) -> Result<RawArticle, rusqlite::Error> {
    let mut c = Columns::of(r);
    let mut raw = RawArticle {
        id: c.required(0, "id")?,
        title: c.required(1, "title")?,
        summary: c.optional(2, "summary")?,
        body: c.optional(3, "body")?,
        content_html: c.optional(4, "content_html")?,
        authors: c.required(5, "authors")?,
        published: c.required(6, "published")?,
        updated: c.optional(7, "updated")?,
        url: c.optional(8, "url")?,
        image: c.optional(9, "image")?,
        unreadable: None,
    };
    raw.unreadable = c.unreadable;
    Ok(raw)
}

/// The SQL for one feed between two instants; parameters are `?1` the
/// newest instant (now), `?2` the oldest, `?3` the limit, then slugs.
fn feed_sql(key: &FeedKey) -> String {
    let cols = ARTICLE_COLUMNS;
    match key {
        FeedKey::All => format!(
            "SELECT {cols} FROM articles a WHERE a.published_us <= ?1 AND a.published_us >= ?2
             ORDER BY a.published_us DESC, a.id DESC LIMIT ?3"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            format!(
                "SELECT {cols} FROM {t} f JOIN articles a ON a.id = f.article_id
                 WHERE f.slug = ?4 AND f.published_us <= ?1 AND f.published_us >= ?2
                 ORDER BY f.published_us DESC, f.article_id DESC LIMIT ?3"
            )
        }
        // Walk the category's index in feed order and keep the rows that
        // also carry the region (a primary-key probe each).
        FeedKey::CategoryRegion(..) => format!(
            "SELECT {cols} FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = ?5
             JOIN articles a ON a.id = f.article_id
             WHERE f.slug = ?4 AND f.published_us <= ?1 AND f.published_us >= ?2
             ORDER BY f.published_us DESC, f.article_id DESC LIMIT ?3"
        ),
        // One article by id (keyword feeds find ids first: `search_ids`).
        FeedKey::Search(_) => format!("SELECT {cols} FROM articles a WHERE a.id = ?1"),
    }
}

/// The FTS row number of the first article of the hour holding `?1` (µs):
/// hours from year 1, times 2^16 (see migration 007).
const SEARCH_HOUR: &str = "((?1 + 62135596800000000) / 3600000000) * 65536";

/// A keyword feed's matches among the numbers from `?4` up to `?5`
/// (excluded), newest number first: `?2` the FTS5 query, `?1` now (µs),
/// `?3` how many. FTS5 walks its doclists by number from the top of the
/// range, seeking to it, and stops at the limit.
const SEARCH_SQL: &str = "SELECT i.article_id, i.published_us FROM bantin_search s
    JOIN bantin_search_ids i ON i.n = s.rowid
    WHERE bantin_search MATCH ?2 AND s.rowid >= ?4 AND s.rowid < ?5
      AND i.published_us <= ?1
    ORDER BY s.rowid DESC LIMIT ?3";

/// The numbers of one hour (migration 007).
const HOUR_NUMBERS: i64 = 65_536;

/// The first window of a keyword feed's walk of the index, in numbers: 30
/// days, which fill the feed of a common word or of common words together
/// in one statement (each statement costs FTS5 a seek into every word's
/// list: a day at a time, 16 common words took three times as long). A
/// window that meets no match makes the next one four times as wide, one
/// that meets some as wide as their density says the feed needs, up to
/// [`MAX_SEARCH_WINDOW`].
const FIRST_SEARCH_WINDOW: i64 = 30 * 24 * HOUR_NUMBERS;

/// The widest window: a year. FTS5 merges the lists of a query's words
/// inside one step of SQLite's machine, where no progress handler can stop
/// it, so a window bounds the work between two looks at the clock (16
/// words that seldom meet took 195 ms in one statement at a million
/// articles, from the top to the end of the store).
const MAX_SEARCH_WINDOW: i64 = 365 * 24 * HOUR_NUMBERS;

/// The number of the first article of the hour holding `us`.
fn hour_number(us: i64) -> i64 {
    (us.saturating_add(62_135_596_800_000_000) / 3_600_000_000).saturating_mul(HOUR_NUMBERS)
}

/// The articles queued for the keyword index (migration 10) up to `?1`
/// (µs) numbered from `?2` on, highest number first, at most `?3`: a
/// keyword feed's candidates besides the index's matches, whatever their
/// words, until bantin has indexed them.
const QUEUED_SQL: &str = "SELECT i.article_id, i.published_us FROM bantin_search_queue q
    JOIN bantin_search_ids i ON i.n = q.n
    WHERE q.n >= ?2 AND i.published_us <= ?1
    ORDER BY q.n DESC LIMIT ?3";

/// The matches of one hour (`?1`, µs, any instant in it) for `?2`: to
/// order a feed's last hour exactly (by instant, then id) whatever order
/// the articles of that hour were numbered in.
fn search_hour_sql() -> String {
    format!(
        "SELECT i.article_id, i.published_us FROM bantin_search s
         JOIN bantin_search_ids i ON i.n = s.rowid
         WHERE bantin_search MATCH ?2
           AND s.rowid >= {SEARCH_HOUR} AND s.rowid < {SEARCH_HOUR} + 65536"
    )
}

/// The `published_us` of a feed's newest article before `?1`
/// (`newest = true`), or of its oldest from `?1` to `?2`; slugs follow.
fn edge_sql(key: &FeedKey, newest: bool) -> String {
    let (range, order) = if newest {
        ("< ?1", "DESC")
    } else {
        ("BETWEEN ?1 AND ?2", "ASC")
    };
    match key {
        FeedKey::All => format!(
            "SELECT published_us FROM articles WHERE published_us {range}
             ORDER BY published_us {order} LIMIT 1"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            format!(
                "SELECT published_us FROM {t} WHERE slug = ?3 AND published_us {range}
                 ORDER BY published_us {order} LIMIT 1"
            )
        }
        FeedKey::CategoryRegion(..) => format!(
            "SELECT f.published_us FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = ?4
             WHERE f.slug = ?3 AND f.published_us {range}
             ORDER BY f.published_us {order} LIMIT 1"
        ),
        // Keyword feeds have no archives.
        FeedKey::Search(_) => "SELECT NULL WHERE 0".to_string(),
    }
}

/// The newest visible article of a slug: one seek into its feed index.
fn newest_sql(facet: Facet) -> String {
    format!(
        "SELECT published_us FROM {} WHERE slug = ?1 AND published_us <= ?2
         ORDER BY published_us DESC LIMIT 1",
        table(facet)
    )
}

/// A slug's scheduled articles by name: a range of its feed index above
/// now. Left to itself SQLite walks the names index instead (no sort for
/// the GROUP BY), which reads every article of the slug.
fn scheduled_names_sql(facet: Facet) -> String {
    let t = table(facet);
    format!(
        "SELECT name, count(*) FROM {t} INDEXED BY {t}_feed
         WHERE slug = ?1 AND published_us > ?2 GROUP BY name"
    )
}

/// A read transaction on a pooled connection. Ends (rolls back: it wrote
/// nothing) when dropped.
struct SqliteSnapshot {
    conn: r2d2::PooledConnection<Manager>,
    unreadable: Arc<Unreadable>,
    budget: crate::search::Budget,
    /// A keyword feed's snapshot: when its statements must stop.
    clock: Option<Deadline>,
}

/// The instant past which the progress handler of a keyword feed's
/// connection interrupts its statement (the error is then
/// [`StoreError::is_timeout`]): nanoseconds from `base`, `u64::MAX` for
/// none. Set by the search, read by the handler every thousand steps of
/// SQLite's machine.
#[derive(Clone)]
struct Deadline {
    base: std::time::Instant,
    at: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Deadline {
    fn new() -> Deadline {
        Deadline {
            base: std::time::Instant::now(),
            at: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
        }
    }

    fn set(&self, after: Option<Duration>) {
        let at = after.map_or(u64::MAX, |d| {
            let at = self.base.elapsed().saturating_add(d).as_nanos();
            u64::try_from(at).unwrap_or(u64::MAX)
        });
        self.at.store(at, std::sync::atomic::Ordering::Relaxed);
    }

    fn passed(&self) -> bool {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        now > self.at.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for SqliteSnapshot {
    fn drop(&mut self) {
        if self.clock.is_some()
            && let Err(e) = self.conn.progress_handler(0, None::<fn() -> bool>)
        {
            tracing::debug!("removing a progress handler: {e}");
        }
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::debug!("ending a read transaction: {e}");
        }
    }
}

impl SqliteSnapshot {
    fn begin(
        conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
    ) -> Result<SqliteSnapshot, StoreError> {
        SqliteSnapshot::begin_with(conn, unreadable, budget, None)
    }

    /// A keyword feed's snapshot: its statements stop past the budget's
    /// time.
    fn begin_search(
        mut conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
    ) -> Result<SqliteSnapshot, StoreError> {
        let clock = Deadline::new();
        let stop = clock.clone();
        conn.progress_handler(1_000, Some(move || stop.passed()))?;
        SqliteSnapshot::begin_with(conn, unreadable, budget, Some(clock))
    }

    fn begin_with(
        conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
        clock: Option<Deadline>,
    ) -> Result<SqliteSnapshot, StoreError> {
        // A deferred transaction takes its snapshot at the first read, and
        // every later read in it sees that same snapshot.
        conn.execute_batch("BEGIN DEFERRED")?;
        let snap = SqliteSnapshot {
            conn,
            unreadable,
            budget,
            clock,
        };
        // Take the snapshot now, so that "now" means when this was asked for.
        snap.conn
            .query_row("SELECT 1 FROM bantin_totals LIMIT 1", [], |_| Ok(()))
            .optional()?;
        Ok(snap)
    }

    /// An article's `column` of a facet's link rows, in stored order; text
    /// that is not UTF-8 read lossily (slugs only look feeds up).
    fn links(&self, facet: Facet, id: &str, column: &str) -> Result<Vec<String>, rusqlite::Error> {
        let sql = format!(
            "SELECT {column} FROM {} WHERE article_id = ?1 ORDER BY position, slug",
            table(facet)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        stmt.query_map([id], |r| lossy(r, 0))?.collect()
    }

    /// An article's names of a facet, for its feeds: a name that is not
    /// UTF-8 makes the article unreadable.
    fn names(&self, facet: Facet, id: &str) -> Result<Vec<String>, String> {
        let sql = format!(
            "SELECT name FROM {} WHERE article_id = ?1 ORDER BY position, slug",
            table(facet)
        );
        let read = || -> Result<Vec<Result<String, String>>, rusqlite::Error> {
            let mut stmt = self.conn.prepare_cached(&sql)?;
            stmt.query_map([id], |r| {
                let mut c = Columns::of(r);
                let name = c.required(0, "name")?;
                Ok(match c.unreadable {
                    Some(why) => Err(format!("{}: {why}", table(facet))),
                    None => Ok(name),
                })
            })?
            .collect()
        };
        read().map_err(|e| e.to_string())?.into_iter().collect()
    }

    fn decode(&self, raw: RawArticle) -> Result<Article, String> {
        raw.decode(|facet, id| self.names(facet, id))
    }

    /// Decode `raw`, or leave it out (named in the log once).
    fn decoded(&self, raw: RawArticle) -> Option<Article> {
        let id = raw.id.clone();
        self.decode(raw)
            .map_err(|reason| self.unreadable.left_out(&id, &reason))
            .ok()
    }

    /// The ids of the newest `limit` articles up to `upto` whose index
    /// rows hold every word of `words` (folded, space-separated), newest
    /// first (ties by id, descending), and of the queued articles among or
    /// above them; and whether the index had no more, or the walk of the
    /// index ran past the budget's time: then the matches it met so far,
    /// the newest, are all the feed gets (FTS5 walks every list of a query
    /// of many words that seldom meet: 195 ms for 16 words at a million).
    fn search_ids(
        &self,
        words: &str,
        upto: i64,
        limit: i64,
    ) -> Result<(Vec<String>, bool), rusqlite::Error> {
        // Each word a quoted FTS5 string: the words are letters and digits,
        // but quoting keeps FTS5's own operators (AND, NEAR) plain words.
        let query: Vec<String> = words.split(' ').map(|w| format!("\"{w}\"")).collect();
        let query = query.join(" ");
        // An id that is not UTF-8 finds no article: its row is left out.
        let row = |r: &Row<'_>| Ok((lossy(r, 0)?, r.get::<_, i64>(1)?));
        let mut found: Vec<(String, i64)> = Vec::new();
        let mut cut = false;
        // Windows of numbers from the top down, the clock looked at between
        // two (and by the progress handler between two rows).
        let bottom: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(min(n), 0) FROM bantin_search_ids")?
            .query_row([], |r| r.get(0))?;
        let top = hour_number(upto).saturating_add(HOUR_NUMBERS);
        let mut high = top;
        let mut width = FIRST_SEARCH_WINDOW;
        'windows: while high > bottom && (found.len() as i64) < limit {
            let low = high.saturating_sub(width).max(bottom);
            let mut stmt = self.conn.prepare_cached(SEARCH_SQL)?;
            let wanted = limit - found.len() as i64;
            let mut rows = stmt.query(params![upto, query, wanted, low, high])?;
            loop {
                match rows.next() {
                    Ok(Some(r)) => found.push(row(r)?),
                    Ok(None) => break,
                    Err(e)
                        if e.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::OperationInterrupted) =>
                    {
                        cut = true;
                        break 'windows;
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.clock.as_ref().is_some_and(Deadline::passed) {
                cut = true;
                break;
            }
            // None met yet: four times as wide; else as wide as the density
            // met so far says the rest of the feed needs, a quarter more.
            let seen = top.saturating_sub(low);
            let met = found.len() as i64;
            width = if met == 0 {
                width.saturating_mul(4)
            } else {
                (limit - met).saturating_mul(seen / met).saturating_mul(5) / 4
            }
            .clamp(24 * HOUR_NUMBERS, MAX_SEARCH_WINDOW);
            high = low;
        }
        if cut {
            tracing::debug!("keyword feed `{words}` over its time budget");
            // The rows found are read whole, as the budget's rows allow.
            if let Some(clock) = &self.clock {
                clock.set(None);
            }
        }
        let exhausted = cut || (found.len() as i64) < limit;
        // Numbers order hours; within the last hour, take all its matches
        // and order them as SPEC does.
        let mut from = i64::MIN;
        if let Some(&(_, last)) = found.last()
            && !exhausted
        {
            from = hour_number(last);
            let hour: Vec<(String, i64)> = self
                .conn
                .prepare_cached(&search_hour_sql())?
                .query_map(params![last, query], row)?
                .collect::<Result<_, _>>()?;
            found.extend(hour.into_iter().filter(|hit| hit.1 <= upto));
        }
        // Queued articles: any of them may hold the words (a stale row of
        // the index says nothing either way). The number an article
        // queued stands for its date as any other's does.
        let rows = i64::try_from(self.budget.rows).unwrap_or(i64::MAX);
        let queued: Vec<(String, i64)> = self
            .conn
            .prepare_cached(QUEUED_SQL)?
            .query_map(params![upto, from, rows], row)?
            .collect::<Result<_, _>>()?;
        found.extend(queued);
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok((found.into_iter().map(|(id, _)| id).collect(), exhausted))
    }

    fn head_seq(&self) -> Result<i64, rusqlite::Error> {
        self.conn
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'bantin_log'")?
            .query_row([], |r| r.get(0))
            .optional()
            .map(|s| s.unwrap_or(0))
    }
}

fn seq_of(p: &LogPosition) -> Option<i64> {
    match &p.0 {
        Position::Seq(s) => Some(*s),
        Position::Snapshot(_) => None,
    }
}

impl Snapshot for SqliteSnapshot {
    fn feed_span(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        let sql = feed_sql(key);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let (upto, from) = (micros(upto), micros(from));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<RawArticle> = match key {
            FeedKey::All => stmt
                .query_map(params![upto, from, limit], raw_article)?
                .collect::<Result<_, _>>()?,
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => stmt
                .query_map(params![upto, from, limit, s], raw_article)?
                .collect::<Result<_, _>>()?,
            FeedKey::CategoryRegion(c, r) => stmt
                .query_map(params![upto, from, limit, c, r], raw_article)?
                .collect::<Result<_, _>>()?,
            FeedKey::Search(words) => {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                if let Some(clock) = &self.clock {
                    clock.set(Some(self.budget.time));
                }
                let found = super::verified_search(words, limit, self.budget, |ask| {
                    let ask = i64::try_from(ask).unwrap_or(i64::MAX);
                    let (ids, exhausted) = self.search_ids(words, upto, ask)?;
                    let mut articles = Vec::new();
                    for id in ids {
                        if let Some(raw) = stmt.query_row([id], raw_article).optional()? {
                            articles.extend(self.decoded(raw));
                        }
                    }
                    Ok(super::Candidates {
                        articles,
                        exhausted,
                    })
                });
                if let Some(clock) = &self.clock {
                    clock.set(None);
                }
                return found;
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|raw| self.decoded(raw))
            .collect())
    }

    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if matches!(key, FeedKey::Search(_)) {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(&edge_sql(key, true))?;
        let before = micros(before);
        let found = match key {
            FeedKey::All => stmt.query_row(params![before], |r| r.get::<_, i64>(0)),
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                stmt.query_row(params![before, 0i64, s], |r| r.get(0))
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_row(params![before, 0i64, c, r], |row| row.get(0))
            }
            FeedKey::Search(_) => return Ok(None),
        }
        .optional()?;
        Ok(found.and_then(instant))
    }

    fn oldest_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if matches!(key, FeedKey::Search(_)) {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(&edge_sql(key, false))?;
        let (from, upto) = (micros(from), micros(upto));
        let found = match key {
            FeedKey::All => stmt.query_row(params![from, upto], |r| r.get::<_, i64>(0)),
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                stmt.query_row(params![from, upto, s], |r| r.get(0))
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_row(params![from, upto, c, r], |row| row.get(0))
            }
            FeedKey::Search(_) => return Ok(None),
        }
        .optional()?;
        Ok(found.and_then(instant))
    }

    fn slugs(&self, facet: Facet) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT slug FROM bantin_names WHERE facet = ?1 ORDER BY slug",
        )?;
        // A slug that is not UTF-8 names no feed anyone can ask for.
        let rows = stmt.query_map([facet_code(facet)], |r| valid(r, 0))?;
        Ok(rows
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?)
    }

    fn slug_use(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<SlugUse, StoreError> {
        let now_us = micros(now);
        let mut names: Vec<(String, u64)> = self
            .conn
            .prepare_cached(
                "SELECT name, articles FROM bantin_names WHERE facet = ?1 AND slug = ?2 ORDER BY name",
            )?
            .query_map(params![facet_code(facet), slug], |r| {
                // A name that is not UTF-8 is an unreadable article's: not
                // listed.
                let n = r.get::<_, i64>(1)?.max(0) as u64;
                Ok(valid(r, 0)?.map(|name| (name, n)))
            })?
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare_cached(&scheduled_names_sql(facet))?;
        let scheduled = stmt.query_map(params![slug, now_us], |r| {
            Ok((lossy(r, 0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        for row in scheduled {
            let (name, n) = row?;
            if let Some(entry) = names.iter_mut().find(|(m, _)| *m == name) {
                entry.1 = entry.1.saturating_sub(n);
            }
        }
        names.retain(|(_, n)| *n > 0);
        let newest = self
            .conn
            .prepare_cached(&newest_sql(facet))?
            .query_row(params![slug, now_us], |r| r.get::<_, i64>(0))
            .optional()?
            .and_then(instant);
        Ok(SlugUse { names, newest })
    }

    fn pair_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT category, region FROM bantin_pairs ORDER BY category, region",
        )?;
        let rows = stmt.query_map([], |r| Ok(valid(r, 0)?.zip(valid(r, 1)?)))?;
        Ok(rows
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?)
    }

    fn pair(
        &self,
        category: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pair>, StoreError> {
        let now_us = micros(now);
        let stored: i64 = self
            .conn
            .prepare_cached(
                "SELECT articles FROM bantin_pairs WHERE category = ?1 AND region = ?2",
            )?
            .query_row(params![category, region], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let scheduled: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM article_categories c
                 JOIN article_regions r ON r.article_id = c.article_id AND r.slug = ?2
                 WHERE c.slug = ?1 AND c.published_us > ?3",
            )?
            .query_row(params![category, region, now_us], |r| r.get(0))?;
        let articles = (stored - scheduled).max(0) as u64;
        if articles == 0 {
            return Ok(None);
        }
        // The category's index in feed order, probing the region: stops at
        // the first shared article.
        let newest = self
            .conn
            .prepare_cached(
                "SELECT c.published_us FROM article_categories c
                 JOIN article_regions r ON r.article_id = c.article_id AND r.slug = ?2
                 WHERE c.slug = ?1 AND c.published_us <= ?3
                 ORDER BY c.published_us DESC LIMIT 1",
            )?
            .query_row(params![category, region, now_us], |r| r.get::<_, i64>(0))
            .optional()?
            .and_then(instant);
        Ok(Some(Pair {
            category: category.to_string(),
            region: region.to_string(),
            articles,
            newest,
        }))
    }

    fn total(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let now_us = micros(now);
        let stored: i64 = self
            .conn
            .prepare_cached("SELECT articles FROM bantin_totals")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let scheduled: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM articles WHERE published_us > ?1")?
            .query_row([now_us], |r| r.get(0))?;
        let newest = self
            .conn
            .prepare_cached(
                "SELECT published_us FROM articles WHERE published_us <= ?1
                 ORDER BY published_us DESC LIMIT 1",
            )?
            .query_row([now_us], |r| r.get::<_, i64>(0))
            .optional()?
            .and_then(instant);
        Ok(((stored - scheduled).max(0) as u64, newest))
    }

    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let us: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT published_us FROM articles WHERE published_us > ?1 ORDER BY published_us LIMIT 1",
            )?
            .query_row([micros(now)], |r| r.get(0))
            .optional()?;
        Ok(us.and_then(instant))
    }

    fn published_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM articles WHERE published_us > ?1 AND published_us <= ?2",
        )?;
        let rows = stmt.query_map(params![micros(after), micros(upto)], |r| lossy(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn log_head(&self) -> Result<LogPosition, StoreError> {
        Ok(LogPosition(Position::Seq(self.head_seq()?)))
    }

    fn changes(&self, since: &LogPosition, max: usize) -> Result<Changes, StoreError> {
        let head = self.head_seq()?;
        let next = LogPosition(Position::Seq(head));
        let Some(since) = seq_of(since) else {
            return Ok(Changes::Everything { next });
        };
        if head == since {
            return Ok(Changes::Rows { rows: vec![], next });
        }
        if head < since {
            // The log went backwards: another file, or a restored backup.
            return Ok(Changes::Everything { next });
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, article_id, facet, slug, published_us FROM bantin_log
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1);
        let rows = stmt.query_map(params![since, limit], |r| {
            // Copies of what a CMS wrote: ids and slugs that are not UTF-8
            // touch no feed anyone can ask for, read lossily.
            let slug = match r.get_ref(3)? {
                rusqlite::types::ValueRef::Null => None,
                _ => Some(lossy(r, 3)?),
            };
            Ok((
                r.get::<_, i64>(0)?,
                lossy(r, 1)?,
                lossy(r, 2)?,
                slug,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut expected = since + 1;
        for row in rows {
            let (seq, article_id, facet, slug, published_us) = row?;
            // AUTOINCREMENT never skips a number that was committed: a gap
            // means rows were trimmed before we read them.
            if seq != expected || out.len() >= max {
                return Ok(Changes::Everything { next });
            }
            expected += 1;
            let Ok(facet) = logged_facet(&facet) else {
                return Ok(Changes::Everything { next });
            };
            out.push(Change {
                article_id,
                facet,
                slug,
                published: published_us.and_then(instant),
            });
        }
        if expected != head + 1 {
            return Ok(Changes::Everything { next });
        }
        Ok(Changes::Rows { rows: out, next })
    }

    fn placements(&self, ids: &[String]) -> Result<Vec<Placement>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let published: Option<i64> = self
                .conn
                .prepare_cached("SELECT published_us FROM articles WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(published) = published.and_then(instant) else {
                continue;
            };
            out.push(Placement {
                id: id.clone(),
                published,
                categories: self.links(Facet::Category, id, "slug")?,
                regions: self.links(Facet::Region, id, "slug")?,
                authors: self.links(Facet::Author, id, "slug")?,
            });
        }
        Ok(out)
    }

    fn held(&self) -> Result<Vec<Article>, StoreError> {
        // CROSS JOIN fixes the order: the few held rows first. Left to
        // itself, the planner walks every article in id order to skip a
        // sort (measured: 70 ms of CPU per change at 1M).
        let sql = format!(
            "SELECT {ARTICLE_COLUMNS} FROM bantin_held h CROSS JOIN articles a ON a.id = h.article_id
             ORDER BY h.article_id"
        );
        let raws: Vec<RawArticle> = self
            .conn
            .prepare_cached(&sql)?
            .query_map([], raw_article)?
            .collect::<Result<_, _>>()?;
        // A row that doesn't decode is already out of every feed.
        Ok(raws
            .into_iter()
            .filter_map(|raw| self.decoded(raw))
            .collect())
    }

    fn left_out(&self, ids: &[String], now: DateTime<Utc>) -> Result<Vec<LeftOut>, StoreError> {
        let mut check: BTreeSet<String> = self.unreadable.held_ids().into_iter().collect();
        check.extend(ids.iter().cloned());
        let sql =
            format!("SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a WHERE a.id = ?1");
        let mut out = Vec::new();
        for id in check {
            let row = self
                .conn
                .prepare_cached(&sql)?
                .query_row([&id], |r| {
                    Ok((raw_article(r)?, r.get::<_, Option<i64>>(10)?))
                })
                .optional()?;
            let Some((raw, published)) = row else {
                self.unreadable.readable_again(&id);
                continue;
            };
            if self.decoded(raw).is_some() {
                self.unreadable.readable_again(&id);
                continue;
            }
            let Some(published) = published.and_then(instant).filter(|p| *p <= now) else {
                continue;
            };
            let mut names = Vec::new();
            for facet in Facet::ALL {
                let slugs = self.links(facet, &id, "slug")?;
                let named = self.links(facet, &id, "name")?;
                names.extend(slugs.into_iter().zip(named).map(|(s, n)| (facet, s, n)));
            }
            out.push(LeftOut {
                id,
                published,
                names,
            });
        }
        Ok(out)
    }
}

/// Articles a writer stages before writing them in one go. Each statement
/// that writes the article tables ends with FTS5 flushing what it indexed
/// so far to a new segment (its xSavepoint), so a statement per article
/// makes a segment per article and endless merging; a batch makes one.
/// At a million articles, batches of 500 spent 42 s in FTS5 (most of it
/// merging 2,000 segments) and 124.6 s in all; of 5,000, 39 s and 114.8 s
/// (205 MB peak RSS against 171 MB); of 20,000, 112.8 s but 406 MB.
const STAGE_ARTICLES: usize = 5_000;

/// Staged text that ends a batch early (large articles): what bounds the
/// staging tables' memory.
const STAGE_BYTES: usize = 32 << 20;

/// The writer connection's page cache, in KiB, while it writes: a long
/// import keeps the hot pages of every index (the ends the rows go to) in
/// memory instead of spilling them to the WAL again and again.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// The staging tables: the puts of one batch, the last put of an id
/// winning. Temporary (in memory: `temp_store`), one pair per connection.
const STAGE_TABLES: &str = "CREATE TEMP TABLE IF NOT EXISTS bantin_stage (
        id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, summary TEXT, body TEXT,
        content_html TEXT, authors TEXT NOT NULL, published TEXT NOT NULL, updated TEXT,
        published_us INTEGER NOT NULL, url TEXT, image TEXT, words TEXT NOT NULL);
    CREATE TEMP TABLE IF NOT EXISTS bantin_stage_links (
        facet TEXT NOT NULL, article_id TEXT NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL,
        position INTEGER NOT NULL, PRIMARY KEY (facet, article_id, slug)) WITHOUT ROWID;
    CREATE TEMP TABLE IF NOT EXISTS bantin_stage_new (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;";

/// A batch's articles into `articles`, in the order put. An unchanged
/// article is not rewritten: it would log a change for nothing and make
/// every server re-render its feeds.
const MERGE_ARTICLES: &str = "INSERT INTO articles (id, title, summary, body, content_html, authors,
        published, updated, published_us, url, image)
    SELECT id, title, summary, body, content_html, authors, published, updated, published_us, url, image
    FROM temp.bantin_stage WHERE true ORDER BY rowid
    ON CONFLICT (id) DO UPDATE SET
      title = excluded.title, summary = excluded.summary, body = excluded.body,
      content_html = excluded.content_html, authors = excluded.authors,
      published = excluded.published, updated = excluded.updated,
      published_us = excluded.published_us, url = excluded.url, image = excluded.image
    WHERE (title, summary, body, content_html, authors, published, updated, published_us, url, image)
      IS NOT (excluded.title, excluded.summary, excluded.body, excluded.content_html,
              excluded.authors, excluded.published, excluded.updated, excluded.published_us,
              excluded.url, excluded.image)";

/// A batch's link rows of one facet that the articles no longer have.
/// `{t}` is the link table, `{f}` the facet's letter.
const UNLINK: &str = "DELETE FROM {t} WHERE article_id IN (SELECT id FROM temp.bantin_stage)
    AND NOT EXISTS (SELECT 1 FROM temp.bantin_stage_links s
                    WHERE s.facet = '{f}' AND s.article_id = {t}.article_id AND s.slug = {t}.slug)";

/// A batch's link rows of one facet, written only where they differ, so
/// that an unchanged link logs nothing.
const LINK: &str = "INSERT INTO {t} (article_id, slug, name, position, published_us)
    SELECT s.article_id, s.slug, s.name, s.position, a.published_us
    FROM temp.bantin_stage_links s JOIN temp.bantin_stage a ON a.id = s.article_id
    WHERE s.facet = '{f}' ORDER BY s.article_id, s.slug
    ON CONFLICT (article_id, slug) DO UPDATE SET name = excluded.name, position = excluded.position
    WHERE name IS NOT excluded.name OR position IS NOT excluded.position";

/// The batch's new articles (migration 5: bantin's writer indexes what it
/// inserts; updates are the triggers'): those without a `bantin_search_ids`
/// row yet, asked before the batch's own rows are numbered.
const SEARCH_NEW: &str = "INSERT INTO temp.bantin_stage_new (id)
    SELECT s.id FROM temp.bantin_stage s
    WHERE NOT EXISTS (SELECT 1 FROM bantin_search_ids i WHERE i.article_id = s.id)";

/// Their numbers, by date as the triggers number (migration 7): the
/// article's hour times 2^16, then the next free rank in that hour (by id
/// among the batch's articles of one hour).
const SEARCH_IDS: &str = "INSERT INTO bantin_search_ids (n, article_id, published_us)
    SELECT b.base + b.rank - 1 + coalesce(
               (SELECT max(i.n) + 1 - b.base FROM bantin_search_ids i
                WHERE i.n >= b.base AND i.n < b.base + 65536), 0),
           b.id, b.published_us
    FROM (SELECT s.id, s.published_us,
                 ((s.published_us + 62135596800000000) / 3600000000) * 65536 AS base,
                 row_number() OVER (PARTITION BY (s.published_us + 62135596800000000) / 3600000000
                                    ORDER BY s.id) AS rank
          FROM temp.bantin_stage s JOIN temp.bantin_stage_new f ON f.id = s.id) b
    ORDER BY b.base, b.rank";

/// Their words, in number order: FTS5 writes its pending words out
/// whenever a number comes lower than the one before. CROSS JOIN keeps the
/// batch's few rows outermost: left to itself, SQLite walks the whole of
/// `bantin_search_ids` in number order to skip the sort (a pass over the
/// store per batch: 1.8× the time of a 1M import).
const SEARCH_WORDS: &str = "INSERT INTO bantin_search (rowid, words)
    SELECT i.n, s.words FROM temp.bantin_stage_new f
    CROSS JOIN bantin_search_ids i ON i.article_id = f.id
    CROSS JOIN temp.bantin_stage s ON s.id = f.id
    ORDER BY i.n";

/// The row of `bantin_limits`, in [`super::limit_columns`]' order.
fn stored_limits(conn: &Connection) -> Result<[i64; 5], rusqlite::Error> {
    conn.query_row(super::STORE_LIMITS_SQL, [], |r| {
        Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
    })
}

/// A write transaction on the store's one writer connection. Puts are
/// staged ([`STAGE_ARTICLES`] at a time) and written set-wise: the same
/// statements, triggers and results as a row at a time, far fewer FTS5
/// segments.
struct SqliteWriter {
    conn: r2d2::PooledConnection<Manager>,
    /// Articles put so far.
    puts: u64,
    /// Past this many puts, switch to bulk mode.
    bulk_after: u64,
    bulk: bool,
    /// Ids staged in the current batch.
    staged: std::collections::HashSet<String>,
    /// Bytes of text staged in the current batch.
    staged_bytes: usize,
    /// The connection's page cache size to restore, in its pragma's terms.
    cache_size: i64,
    /// The thread making staging rows, from the first put on.
    preparing: Option<Preparing<Staged>>,
    /// The store's limits (`bantin_limits`): an article over them (within
    /// the importer's own) is listed in `bantin_held` by the writer.
    limits: SiteLimits,
    /// For the rows the triggers queued for the keyword index (migration
    /// 10), made when first needed.
    folder: Option<Folder>,
    done: bool,
}

impl SqliteWriter {
    /// Begin a write transaction on `conn`.
    fn begin(conn: r2d2::PooledConnection<Manager>) -> Result<SqliteWriter, rusqlite::Error> {
        let cache_size: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // The staging tables live in memory; the statement cache holds every
        // statement of a batch.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(64);
        // IMMEDIATE: take the write lock now, so that two writers queue at
        // the start instead of failing at their first write.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut w = SqliteWriter {
            conn,
            puts: 0,
            bulk_after: BULK_AFTER,
            bulk: false,
            staged: std::collections::HashSet::new(),
            staged_bytes: 0,
            cache_size,
            preparing: None,
            limits: SiteLimits::default(),
            folder: None,
            done: false,
        };
        w.limits = super::limits_of_columns(stored_limits(&w.conn)?);
        w.conn.execute_batch(STAGE_TABLES)?;
        // New articles are indexed by this writer (migration 5).
        w.conn.execute(
            "INSERT OR IGNORE INTO bantin_search_own (one) VALUES (1)",
            [],
        )?;
        let stored: i64 = w
            .conn
            .query_row("SELECT articles FROM bantin_totals", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        w.bulk_after = BULK_AFTER.max(stored.max(0) as u64 / 4);
        Ok(w)
    }

    /// Stop logging row by row: the triggers check `bantin_bulk`.
    fn enter_bulk(&mut self) -> Result<(), rusqlite::Error> {
        self.conn
            .execute("INSERT OR IGNORE INTO bantin_bulk (one) VALUES (1)", [])?;
        self.bulk = true;
        Ok(())
    }

    /// Rebuild the catalog from the article tables and log "everything".
    fn leave_bulk(&mut self) -> Result<(), rusqlite::Error> {
        self.conn.execute_batch(REBUILD)?;
        self.conn.execute_batch("DELETE FROM bantin_bulk")?;
        self.bulk = false;
        Ok(())
    }

    /// Stage an article and its link rows; write the batch when it is full.
    fn stage(&mut self, a: Staged) -> Result<(), StoreError> {
        if !self.staged.insert(a.id.clone()) {
            // Put twice in one batch: the last put wins, links included.
            self.conn
                .prepare_cached("DELETE FROM temp.bantin_stage_links WHERE article_id = ?1")?
                .execute([&a.id])?;
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO temp.bantin_stage (id, title, summary, body, content_html,
                     authors, published, updated, published_us, url, image, words)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                a.id,
                a.title,
                a.summary,
                a.body,
                a.content_html,
                a.authors,
                a.published,
                a.updated,
                a.published_us,
                a.url,
                a.image,
                a.words,
            ])?;
        let mut link = self.conn.prepare_cached(
            "INSERT INTO temp.bantin_stage_links (facet, article_id, slug, name, position)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (facet, slug, name, position) in &a.links {
            link.execute(params![facet, a.id, slug, name, position])?;
        }
        drop(link);
        self.staged_bytes += a.bytes();
        if self.staged.len() >= STAGE_ARTICLES || self.staged_bytes >= STAGE_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Make the keyword index's rows the triggers queued: the articles this
    /// writer changed or deleted, and any a CMS wrote before.
    fn index_queued(&mut self) -> Result<(), rusqlite::Error> {
        let folder = match &mut self.folder {
            Some(f) => f,
            None => self.folder.insert(Folder::new()?),
        };
        while fts_queue::index_queued(&self.conn, folder, INDEX_BATCH)? == INDEX_BATCH {}
        Ok(())
    }

    /// Stage every article still being prepared, and write them all.
    fn flush_all(&mut self) -> Result<(), StoreError> {
        if let Some(mut preparing) = self.preparing.take() {
            let drained = preparing.drain(|a| self.stage(a));
            self.preparing = Some(preparing);
            drained?;
        }
        Ok(self.flush()?)
    }

    /// Write the staged batch into the article tables, set-wise.
    fn flush(&mut self) -> Result<(), rusqlite::Error> {
        if self.staged.is_empty() {
            return Ok(());
        }
        if !self.bulk && self.puts > self.bulk_after {
            self.enter_bulk()?;
        }
        self.conn.prepare_cached(SEARCH_NEW)?.execute([])?;
        self.conn.prepare_cached(MERGE_ARTICLES)?.execute([])?;
        // Before the new articles take their numbers: a number freed by a
        // delete may be taken again, and its stale row must go first.
        self.index_queued()?;
        self.conn.prepare_cached(SEARCH_IDS)?.execute([])?;
        self.conn.prepare_cached(SEARCH_WORDS)?.execute([])?;
        for facet in Facet::ALL {
            for sql in [UNLINK, LINK] {
                let sql = sql
                    .replace("{t}", table(facet))
                    .replace("{f}", facet_code(facet));
                self.conn.prepare_cached(&sql)?.execute([])?;
            }
        }
        self.conn
            .prepare_cached("DELETE FROM temp.bantin_stage_new")?
            .execute([])?;
        self.conn
            .prepare_cached("DELETE FROM temp.bantin_stage")?
            .execute([])?;
        self.conn
            .prepare_cached("DELETE FROM temp.bantin_stage_links")?
            .execute([])?;
        self.staged.clear();
        self.staged_bytes = 0;
        Ok(())
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!("rolling back a write: {e}");
        }
        if let Err(e) = self.conn.pragma_update(None, "cache_size", self.cache_size) {
            tracing::debug!("restoring the writer's cache size: {e}");
        }
    }
}

impl Writer for SqliteWriter {
    fn put(&mut self, a: &Article) -> Result<(), StoreError> {
        self.puts += 1;
        if crate::limits::exceeded(a, &self.limits).is_some() {
            self.conn.execute(
                "INSERT OR IGNORE INTO bantin_held (article_id) VALUES (?1)",
                [&a.id],
            )?;
        }
        let mut preparing = match self.preparing.take() {
            Some(p) => p,
            None => sqlite_rows()?,
        };
        let done = preparing.pass(a.clone(), |row| self.stage(row));
        self.preparing = Some(preparing);
        done
    }

    fn delete(&mut self, id: &str) -> Result<bool, StoreError> {
        // What was put before must be in before it can be deleted.
        self.flush_all()?;
        let n = self
            .conn
            .prepare_cached("DELETE FROM articles WHERE id = ?1")?
            .execute([id])?;
        Ok(n > 0)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.flush_all()?;
        // Deletes since the last batch.
        self.index_queued()?;
        if self.bulk {
            self.leave_bulk()?;
        }
        // Never committed: other connections' inserts keep their trigger.
        self.conn
            .execute_batch("DELETE FROM bantin_search_own; COMMIT")?;
        self.done = true;
        Ok(())
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
            let n = fts_queue::index_queued(&tx, folder, INDEX_BATCH)?;
            tx.commit()?;
            done += n;
            if n < INDEX_BATCH {
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
                let pools = Pools::open(&self.path, self.readers)?;
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
        if stored_limits(&conn)? == super::limit_columns(limits) {
            return Ok(false);
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            &super::adopt_limits_sql('?'),
            rusqlite::params_from_iter(super::limit_columns(limits)),
        )? > 0;
        if changed {
            tx.execute_batch(super::REHOLD_SQL)?;
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
        let conn = &snap.conn;
        // SQLite steps through the rows one at a time: nothing piles up.
        let mut stmt = conn.prepare(&format!(
            "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a ORDER BY a.id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((raw_article(r)?, r.get::<_, i64>(10)?)))?;
        for row in rows {
            let (raw, published_us) = row?;
            let id = raw.id.clone();
            let decoded = snap.decode(raw);
            let stored = |id: &str| snap.links(Facet::Author, id, "slug");
            audit_row(id, decoded, published_us, stored, admit, report)?;
        }
        for facet in Facet::ALL {
            let sql = format!(
                "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
                 JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
                table(facet)
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                let mut c = Columns::of(r);
                let link = RawLink {
                    article_id: lossy(r, 0)?,
                    // Read lossily: a slug that is not UTF-8 is reported as
                    // not the name's.
                    slug: lossy(r, 1)?,
                    name: c.required(2, "name")?,
                    published_us: r.get(3)?,
                    article_published_us: r.get(4)?,
                };
                Ok((link, c.unreadable))
            })?;
            for row in rows {
                // A name that is not UTF-8 makes its article unreadable,
                // which the article's own line above reports.
                if let (link, None) = row? {
                    link.audit(facet, report);
                }
            }
        }
        let orphans = upkeep::orphans(conn)?;
        let skewed = !orphans.is_empty();
        for p in orphans.into_iter().chain(audit_catalog(conn, skewed)?) {
            report(p);
        }
        Ok(())
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

/// The catalog tables against counts made from the article tables: a CMS
/// that turned the triggers off (or wrote in bulk mode and forgot to
/// rebuild) shows here, and so do orphan link rows (`skewed`: some were
/// found), which the triggers could not count right either.
fn audit_catalog(conn: &Connection, skewed: bool) -> Result<Vec<Problem>, rusqlite::Error> {
    let mut problems = Vec::new();
    let checks = [
        (
            "bantin_names",
            "SELECT facet || ' ' || slug || ' ' || name, articles FROM bantin_names",
            "SELECT 'c ' || slug || ' ' || name, count(*) FROM article_categories GROUP BY slug, name
             UNION ALL SELECT 'r ' || slug || ' ' || name, count(*) FROM article_regions GROUP BY slug, name
             UNION ALL SELECT 'u ' || slug || ' ' || name, count(*) FROM article_authors GROUP BY slug, name",
        ),
        (
            "bantin_pairs",
            "SELECT category || ' ' || region, articles FROM bantin_pairs",
            "SELECT c.slug || ' ' || r.slug, count(*) FROM article_categories c
             JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug",
        ),
        (
            "bantin_totals",
            "SELECT 'articles', articles FROM bantin_totals",
            "SELECT 'articles', count(*) FROM articles",
        ),
    ];
    for (table, stored, actual) in checks {
        let read = |sql: &str| -> Result<std::collections::BTreeMap<String, i64>, rusqlite::Error> {
            conn.prepare(sql)?
                .query_map([], |r| Ok((lossy(r, 0)?, r.get(1)?)))?
                .collect()
        };
        let (stored, actual) = (read(stored)?, read(actual)?);
        if stored != actual {
            let differ = actual
                .iter()
                .filter(|(k, v)| stored.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .chain(stored.keys().filter(|k| !actual.contains_key(*k)).cloned())
                .next()
                .unwrap_or_default();
            let cause = if skewed {
                "the orphan rows above skew it; `bantin check --repair` rebuilds it"
            } else {
                "were the triggers bypassed?"
            };
            problems.push(Problem {
                id: String::new(),
                reason: format!(
                    "{table} is out of step with the article tables (first difference: {differ:?}); \
                     {cause}"
                ),
            });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of every feed query must be an index search, never a scan of
    /// a whole table or a temporary sort: that is what keeps a feed's cost
    /// independent of the store's size.
    #[test]
    fn feed_queries_search_indexes_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let conn = store.pools.load().writer.get().unwrap();
        for key in [
            FeedKey::All,
            FeedKey::Category("c".into()),
            FeedKey::Region("r".into()),
            FeedKey::CategoryRegion("c".into(), "r".into()),
        ] {
            let sql = format!("EXPLAIN QUERY PLAN {}", feed_sql(&key));
            let mut stmt = conn.prepare(&sql).unwrap();
            let all: [&dyn rusqlite::ToSql; 5] = [&0i64, &0i64, &50i64, &"c", &"r"];
            let params = &all[..stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(params, |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let text = plan.join(" | ");
            assert!(!text.contains("TEMP B-TREE"), "{key:?} sorts: {text}");
            assert!(!text.contains("SCAN "), "{key:?} scans: {text}");
            assert!(text.contains("USING"), "{key:?} uses no index: {text}");
        }
        // Keyword feeds: FTS5 hands matches over newest number first (no
        // sort of every match), each joined by primary key.
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SEARCH_SQL}"))
            .unwrap()
            .query_map(params![0i64, "\"x\"", 50i64, 0i64, 1i64], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let text = plan.join(" | ");
        assert!(!text.contains("TEMP B-TREE"), "keyword feeds sort: {text}");
        assert!(text.contains("INTEGER PRIMARY KEY"), "{text}");
        for facet in [Facet::Category, Facet::Region] {
            for sql in [newest_sql(facet), scheduled_names_sql(facet)] {
                let plan: Vec<String> = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .unwrap()
                    .query_map(params!["c", 0i64], |r| r.get::<_, String>(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let text = plan.join(" | ");
                // A range on the instant, not a walk of the whole slug.
                assert!(
                    text.contains("SEARCH")
                        && text.contains("published_us")
                        && !text.contains("SCAN "),
                    "{facet:?}: {text}"
                );
            }
        }
    }
}

//! The article store: the interface every backend implements, so the rest of
//! bantin never sees SQL. SQLite is the embedded default
//! ([`sqlite::SqliteStore`]); [`postgres::PostgresStore`] is the one several
//! replicas share.
//!
//! Three roles:
//! - [`Snapshot`]: one consistent view of the store (one read transaction),
//!   for a render, a catalog load or a read of the change log. A backend
//!   hands out several at once from a pool of connections, so cold renders
//!   use every core and never see an article half written.
//! - [`Writer`]: one write transaction, a record at a time.
//! - the change log ([`Changes`]), written by triggers whoever writes the
//!   article tables, read by the server from its last [`LogPosition`].
//!
//! This file holds the traits, [`StoreError`] and [`open`]; beside it the
//! change log's types (`log`), the row mapping both backends share
//! (`row`), the SQL both run (`sql`), keyword feeds' check of their
//! candidates (`keyword`), the staging thread of writers (`staging`), and
//! one folder or file per backend.

pub mod audience;
mod keyword;
mod log;
pub mod postgres;
mod row;
mod sql;
pub mod sqlite;
mod staging;
mod unreadable;

pub(crate) use keyword::{Candidates, verified_search};
pub use log::{Change, Changes, LogPosition, Placement};
pub(crate) use log::{Position, logged_facet};
pub(crate) use sql::{
    Dialect, REHOLD_SQL, STORE_LIMITS_SQL, adopt_limits_sql, limit_columns, limits_of_columns,
};

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::article::{Article, Facet, FeedKey};
use crate::config::StoreUrl;
use crate::limits::SiteLimits;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store can't be opened or created at that location.
    #[error("cannot open store {url}: {reason}")]
    Open {
        /// The store URL, password redacted.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The SQLite backend reported an error. Shown with its causes in one
    /// line, and not as a `source`: rusqlite both prints its cause and
    /// hands it on as a source (a conversion error, SQLite's own code), so
    /// a cause chain would name it two or three times.
    #[error("store: {}", causes(.0))]
    Backend(rusqlite::Error),
    /// The PostgreSQL backend reported an error (a lost connection, a
    /// failed statement). Shown with its causes in one line, and not as a
    /// `source`: postgres says only "db error" and keeps the server's
    /// message in its source, which the cause chain would then repeat.
    #[error("store: {}", postgres::reason(.0))]
    Postgres(::postgres::Error),
    /// No connection could be had from the pool in time: the store is down
    /// or every connection is busy.
    #[error("{0}")]
    Unavailable(String),
    /// Opened read only, the store's schema lacks migrations (or triggers)
    /// this bantin has: a read-only command does not apply them.
    #[error("{url}: {reason}: run `bantin migrate`")]
    Behind {
        /// The store URL, password redacted.
        url: String,
        /// What is missing.
        reason: String,
    },
}

impl StoreError {
    /// Whether the store could not be reached (no connection could be had,
    /// or the one in use broke, or the server is shutting down) rather than
    /// a statement failing: worth a retry by the client.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Postgres(e) => {
                let code = e.code().map_or("", |c| c.code());
                e.is_closed()
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            StoreError::Open { .. } | StoreError::Backend(_) | StoreError::Behind { .. } => false,
        }
    }

    /// Whether a statement was stopped for running past a keyword feed's
    /// time budget (SQLite: interrupted by the progress handler;
    /// PostgreSQL: `statement_timeout`, 57014).
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            StoreError::Backend(e) => {
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
            }
            StoreError::Postgres(e) => e.code().is_some_and(|c| c.code() == "57014"),
            StoreError::Open { .. } | StoreError::Unavailable(_) | StoreError::Behind { .. } => {
                false
            }
        }
    }

    /// Whether the store's data is damaged (SQLite: `SQLITE_CORRUPT`,
    /// `SQLITE_NOTADB`; PostgreSQL: `data_corrupted`, `index_corrupted`):
    /// unlike an outage it does not pass, so the server says so on
    /// `/healthz` until the file is replaced.
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Backend(e) => sqlite::is_corruption(e),
            StoreError::Postgres(e) => {
                matches!(e.code().map(|c| c.code()), Some("XX001" | "XX002"))
            }
            StoreError::Open { .. } | StoreError::Unavailable(_) | StoreError::Behind { .. } => {
                false
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(e)
    }
}

/// An error and its sources on one line, each cause once: drivers print a
/// source in their own message, or keep the why in it, or both (hyper
/// says "client error (Connect)" and keeps "Connection refused" in its
/// sources).
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        StoreError::Postgres(e)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> StoreError {
        StoreError::Unavailable(format!("no connection to the store: {e}"))
    }
}

/// The display names one slug has among visible articles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlugUse {
    /// Each name as written, with the number of visible articles carrying
    /// it, in byte order of the name.
    pub names: Vec<(String, u64)>,
    /// The newest `published` instant among those articles.
    pub newest: Option<DateTime<Utc>>,
}

impl SlugUse {
    /// Visible articles carrying the slug under any name.
    pub fn articles(&self) -> u64 {
        self.names.iter().map(|(_, n)| n).sum()
    }
}

/// A category and region that share visible articles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Category slug.
    pub category: String,
    /// Region slug.
    pub region: String,
    /// Visible articles in both.
    pub articles: u64,
    /// The newest `published` instant among them.
    pub newest: Option<DateTime<Utc>>,
}

/// A problem `bantin check` reports about a stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The article's id.
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Unreadable rows the catalog leaves out at most (more are still out of
/// every feed); also how many written rows a server reads at once to find them.
pub const UNREADABLE_HELD: usize = unreadable::HELD;

/// A row left out of every feed because it can't be read, placed by its
/// link rows: what the catalog uncounts, so that `/` and the OPML list
/// leave it out as they leave out a row over a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The article's id.
    pub id: String,
    /// Its `published_us` instant.
    pub published: DateTime<Utc>,
    /// (facet, slug, name as stored) of each of its link rows.
    pub names: Vec<(Facet, String, String)>,
}

/// One consistent view of the store: every read through one snapshot sees
/// the store as of one instant (one read transaction), whatever writers do
/// meanwhile. Reads take `now` so that scheduled articles (published in the
/// future) stay out until their time without any write.
pub trait Snapshot {
    /// The newest `limit` articles of a feed published from `from` to
    /// `upto` (both included), newest `published` instant first, ties by id
    /// in descending byte order. Rows that can't be decoded are left out
    /// (and logged); `check` reports them.
    fn feed_span(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError>;

    /// The newest `limit` visible articles of a feed as of `now`.
    fn feed(
        &self,
        key: &FeedKey,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        self.feed_span(key, DateTime::<Utc>::MIN_UTC, now, limit)
    }

    /// How many articles of a feed were published from `from` to `upto`
    /// (both included), every stored row counted (rows over the site's
    /// limits and rows that can't be decoded too): an archive month's
    /// pages. A walk of the feed's index, which reads no article.
    fn span_count(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // Test doubles: correct, if not cheap; the backends count the index.
        let all = self.feed_span(key, from, upto, usize::MAX)?;
        Ok(all.len() as u64)
    }

    /// [`Snapshot::feed_span`] past its first `skip` rows: one page of an
    /// archive month over the cap. The backends skip by a walk of the
    /// feed's index to the page's first row, then read `limit` articles
    /// from there, so page 50 costs one page's articles, not fifty.
    fn feed_page(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        // Test doubles only (it reads what it skips).
        let mut all = self.feed_span(key, from, upto, skip.saturating_add(limit))?;
        Ok(all.split_off(skip.min(all.len())))
    }

    /// The `published` instant of the feed's newest article before `before`.
    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// The `published` instant of the feed's oldest article from `from` to
    /// `upto` (both included).
    fn oldest_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Every slug of a facet the catalog tables hold (scheduled articles'
    /// slugs included), in byte order.
    fn slugs(&self, facet: Facet) -> Result<Vec<String>, StoreError>;

    /// One slug's names among visible articles, and its newest article.
    fn slug_use(&self, facet: Facet, slug: &str, now: DateTime<Utc>)
    -> Result<SlugUse, StoreError>;

    /// Every category/region pair the catalog tables hold, in byte order.
    fn pair_keys(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// A pair's visible articles; `None` when it has none.
    fn pair(
        &self,
        category: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pair>, StoreError>;

    /// Number of visible articles, and the newest `published` instant among them.
    fn total(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError>;

    /// The earliest `published` instant after `now`, if any: when the next
    /// scheduled article becomes visible.
    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Ids of the articles published after `after` and at or before `upto`:
    /// the scheduled articles that came due in between.
    fn published_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;

    /// The log position this snapshot stands at: reading the log from it
    /// later gives exactly the writes this snapshot does not see.
    fn log_head(&self) -> Result<LogPosition, StoreError>;

    /// The log rows this snapshot sees and `since` did not, at most `max`
    /// of them (more is [`Changes::Everything`]).
    fn changes(&self, since: &LogPosition, max: usize) -> Result<Changes, StoreError>;

    /// Where each of `ids` stands now; ids not in the store are left out.
    fn placements(&self, ids: &[String]) -> Result<Vec<Placement>, StoreError>;

    /// The rows that can't be read among `ids` and among those this store
    /// met before (at most [`UNREADABLE_HELD`]), each read again: a new one
    /// is named in the log and remembered, one read fine again or deleted
    /// is forgotten. Rows published after `now` are left out.
    fn left_out(&self, ids: &[String], now: DateTime<Utc>) -> Result<Vec<LeftOut>, StoreError>;

    /// The articles the store's triggers found over its limits
    /// (`bantin_held`, migration 6), decoded, in id order: every stored
    /// article over them and perhaps a few that no longer are, which the
    /// caller tells apart with the site's own limits. Rows that don't
    /// decode are left out.
    fn held(&self) -> Result<Vec<Article>, StoreError> {
        Ok(Vec::new())
    }
}

/// One write transaction. Dropped without [`Writer::commit`], it writes
/// nothing.
pub trait Writer {
    /// Insert or replace an article by id.
    fn put(&mut self, article: &Article) -> Result<(), StoreError>;
    /// Delete an article; `false` if it was not there.
    fn delete(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Make every change visible at once.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// An article store.
pub trait Store: Send + Sync {
    /// A consistent view, from the pool of read connections.
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError>;

    /// A consistent view from a connection of its own, for the server's
    /// reader of the change log: it never waits behind renders for a
    /// connection of the pool.
    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.snapshot()
    }

    /// A consistent view for a keyword feed, from a small pool of its own
    /// ([`SEARCH_READERS`] connections): searches queue there, never for
    /// the connections feed renders need.
    fn search_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        self.snapshot()
    }

    /// Make `budget` what each keyword feed may cost from now on (default
    /// [`crate::search::Budget::default`]).
    fn set_search_budget(&self, budget: crate::search::Budget) {
        let _ = budget;
    }

    /// Bring the keyword index up to date with articles others wrote since
    /// (SQLite: the rows its triggers queued, indexed here with bantin's
    /// own text extraction, a batch per transaction); returns how many.
    /// Keyword feeds find queued articles meanwhile. Where the database
    /// indexes every row itself (PostgreSQL), nothing to do.
    fn index_queued(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// Whether the store is still the one opened. SQLite: `Err` while its
    /// file is gone (deleted or renamed), `Ok(true)` when another file
    /// appeared at its path and was opened (nothing read before holds);
    /// `Ok(false)` as long as it is the same file.
    fn revalidate(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Call `wake` whenever someone commits a write, where the backend can
    /// tell (PostgreSQL's `LISTEN`/`NOTIFY`), for as long as the store lives;
    /// `false` where it can't, and the log is only polled.
    fn on_commit(&self, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        let _ = wake;
        false
    }

    /// Whether this process leads the servers sharing the store: the one
    /// that sends WebSub publish pings (the others drop theirs). Blocking;
    /// asked at most once a second, and only when a ping waits. A backend
    /// one server reads at a time (SQLite) always leads; PostgreSQL hands
    /// the lead to one session at a time, and to another when it ends.
    fn lead(&self) -> bool {
        true
    }

    /// Begin a write transaction. Writers queue (one at a time).
    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError>;

    /// Rows that break the documented schema rules (bad dates, slugs, JSON,
    /// catalog counts out of step), all at once.
    fn audit(&self) -> Result<Vec<Problem>, StoreError>;

    /// Every row checked against the schema rules and, for articles that
    /// decode, `admit` (the site's limits: `Some(reason)` for one over a
    /// limit), each problem handed to `report` as it is found. The backends
    /// read a page of rows at a time, so memory stays the same whatever the
    /// store holds; this default (for test doubles) checks no limit.
    fn audit_with(
        &self,
        admit: &dyn Fn(&Article) -> Option<String>,
        report: &mut dyn FnMut(Problem),
    ) -> Result<(), StoreError> {
        let _ = admit;
        for p in self.audit()? {
            report(p);
        }
        Ok(())
    }

    /// Make `limits` the ones the store's triggers test rows a CMS writes
    /// against (`bantin_limits`); when they differ from the stored ones,
    /// every article is tested again (a scan of the store, once). Returns
    /// whether they differed.
    fn adopt_limits(&self, limits: &SiteLimits) -> Result<bool, StoreError> {
        let _ = limits;
        Ok(false)
    }

    /// The backend's own check of its files (SQLite's `PRAGMA
    /// quick_check`), for `bantin check`: one line per fault, none when
    /// sound; `None` where there is no such check (PostgreSQL has none
    /// that needs no extension).
    fn integrity(&self) -> Result<Option<Vec<String>>, StoreError> {
        Ok(None)
    }

    /// `bantin check --repair`: remove the link rows whose article is gone
    /// (SQLite deletes made with foreign keys off, before migration 8) and
    /// rebuild the catalog counts they skewed. A line per thing done; none
    /// when there was nothing to do (PostgreSQL always enforces its
    /// foreign keys).
    fn repair(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// Distinct rows left out of feeds so far because they can't be read
    /// (text that is not UTF-8, a date or JSON column that does not parse),
    /// each counted the first time a read met it.
    fn unreadable_rows(&self) -> u64 {
        0
    }

    /// Write a batch of audience counts (`bantin serve`, every few
    /// seconds) and forget what no longer counts as of `now` (SPEC
    /// "Audience"). A store without the tables writes nothing.
    fn record_audience(
        &self,
        batch: &audience::AudienceBatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _ = (batch, now);
        Ok(())
    }

    /// The salt readers are hashed with on `day` (`YYYY-MM-DD`, UTC): the
    /// one a replica stored first, or `fresh`, stored; other days' salts
    /// are dropped.
    fn audience_salt(&self, day: &str, fresh: &str) -> Result<String, StoreError> {
        let _ = day;
        Ok(fresh.to_string())
    }

    /// The subscriber and reader counts that stand at `now`.
    fn audience(&self, now: DateTime<Utc>) -> Result<audience::AudienceCounts, StoreError> {
        let _ = now;
        Ok(audience::AudienceCounts::default())
    }

    /// Each fetcher's requests over the 24 hours before `now`.
    fn reader_report(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<audience::FetcherReport>, StoreError> {
        let _ = now;
        Ok(Vec::new())
    }

    /// Delete change-log rows written before `before`; returns how many.
    fn trim_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Insert or replace `articles` by id, all in one transaction.
    fn upsert(&self, articles: &[Article]) -> Result<(), StoreError> {
        let mut w = self.writer()?;
        for a in articles {
            w.put(a)?;
        }
        w.commit()
    }

    /// Delete `ids` in one transaction; returns the ids that were not there,
    /// in the order given.
    fn remove(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        // In ascending id order whatever the order given, as a CMS must
        // write (docs/postgresql.md "What a CMS must and must not do"): each delete keeps its rows locked until commit,
        // and two transactions that lock rows in one order never wait on
        // each other in a cycle.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
        let mut w = self.writer()?;
        let mut missing = vec![false; ids.len()];
        for i in order {
            missing[i] = !w.delete(&ids[i])?;
        }
        w.commit()?;
        Ok(ids
            .iter()
            .zip(missing)
            .filter(|(_, m)| *m)
            .map(|(id, _)| id.clone())
            .collect())
    }
}

/// How many read connections a store opened for one command keeps: enough
/// for a `dump` or `check`; the server asks for more.
pub const CLI_READERS: u32 = 1;

/// The read connections keyword feeds have, apart from the others: one
/// search at a time per store (the server also lets one render at a time,
/// see `http::app`), so that searches, however many are asked, leave the
/// cores and connections to the feeds.
pub const SEARCH_READERS: u32 = 1;

/// How a command opens the store (SPEC "Command line").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Create it if needed and apply pending migrations first (`serve`,
    /// `import`, `remove`, `migrate`).
    Migrate,
    /// Change nothing (`dump`, `check`, `build`, `stats`): a SQLite file
    /// opened read only, no statement but reads on PostgreSQL (a role with
    /// SELECT only will do); a schema that is behind is
    /// [`StoreError::Behind`].
    ReadOnly,
}

/// Open (creating if needed) the store a URL names, with at most `readers`
/// read connections at once.
pub fn open(url: &StoreUrl, readers: u32) -> Result<Box<dyn Store>, StoreError> {
    Ok(open_as(url, readers, Access::Migrate)?.0)
}

/// Open the store a URL names as `access` says; with the names of the
/// migrations applied (and "triggers" where only SQLite's triggers were
/// replaced).
pub fn open_as(
    url: &StoreUrl,
    readers: u32,
    access: Access,
) -> Result<(Box<dyn Store>, Vec<&'static str>), StoreError> {
    Ok(match url {
        StoreUrl::Sqlite(path) => {
            let (store, applied) = sqlite::SqliteStore::open_as(path, readers, access)?;
            (Box::new(store), applied)
        }
        StoreUrl::Postgres(u) => {
            let (store, applied) = postgres::PostgresStore::open_as(u, readers, access)?;
            (Box::new(store), applied)
        }
    })
}

/// Microseconds since the Unix epoch: the stored sort key of an instant.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of a stored `published_us`.
pub(crate) fn instant(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// The link-table letter of a facet in the log and catalog tables.
pub(crate) fn facet_code(facet: Facet) -> &'static str {
    match facet {
        Facet::Category => "c",
        Facet::Region => "r",
        Facet::Author => "u",
    }
}

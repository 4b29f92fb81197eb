//! The shared store: one PostgreSQL database that several `bantin` replicas
//! (and a CMS) read and write at once. This module holds [`PostgresStore`]
//! (its connections, and the [`Store`] methods that are one statement or a
//! call into a room below); every SQL statement of the PostgreSQL backend
//! lives in this folder, besides the SQL both backends share (`store/`):
//!
//! - `pool`: a connection and its prepared statements; the pools;
//! - `migrate`: the numbered migrations, then `replaceable.sql` (the
//!   current functions and triggers);
//! - `leader`, `listen`: the sessions of their own (the WebSub lead, LISTEN);
//! - `read`: a snapshot's feeds, counts and change log;
//! - `search`: keyword feeds' planner; `words`: an article's words made as
//!   the database would; `common`: the store's common words;
//! - `write`, `stage`: the writer (COPY into staging tables, merge);
//! - `audit`: `check`'s reading of every row.
//!
//! The schema (`migrations/postgres/`) mirrors SQLite's table for table,
//! with `COLLATE "C"` on ids, slugs and names so that ordering and grouping
//! go by bytes as in SQLite: both stores give byte-identical feeds. Rows
//! become articles through [`super::row`], the same code the SQLite store
//! uses.
//!
//! Reads run in `REPEATABLE READ READ ONLY` transactions on pooled
//! connections: one snapshot per render. Connections fail fast (a connect
//! timeout, TCP keepalives and a user timeout so a dead peer is noticed, a
//! statement timeout on readers) so that an unreachable database answers
//! with an error in about a second instead of holding a request.

mod audience;
mod audit;
mod common;
mod leader;
mod listen;
mod migrate;
mod pool;
mod read;
mod search;
mod stage;
mod value;
mod words;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::NoTls;
use postgres::types::ToSql;

use self::leader::Leader;
pub(crate) use self::pool::reason;
use self::pool::{Manager, Pool, drop_client};
use self::read::PgSnapshot;
use self::write::PgWriter;
use super::unreadable::Unreadable;
use super::{Access, Problem, Snapshot, Store, StoreError, Writer, micros};
use crate::article::Article;
use crate::config::StoreUrl;
use crate::limits::SiteLimits;

/// Reads on behalf of a request give up after this: a stuck database must
/// not hold a request for minutes.
const READ_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a read waits for a connection of the pool. While the database
/// refuses connections the pool keeps trying until then, so this bounds
/// what a request for a cold feed waits before its 503.
const READ_WAIT: Duration = Duration::from_millis(1500);

/// The same for the watcher's connection, which no one else uses: a
/// database gone shows on `/healthz` within a second.
const LOG_READ_WAIT: Duration = Duration::from_millis(750);

/// A PostgreSQL article store.
pub struct PostgresStore {
    config: postgres::Config,
    leader: Leader,
    /// Listener threads stop once this is gone (the store is dropped).
    alive: Arc<()>,
    readers: Pool,
    log_reader: Pool,
    /// Keyword feeds' own connections (see [`super::SEARCH_READERS`]).
    searchers: Pool,
    writers: Pool,
    /// Rows left out because they can't be read, met by any snapshot.
    unreadable: Arc<Unreadable>,
    budget: std::sync::Mutex<crate::search::Budget>,
}

impl PostgresStore {
    fn budget(&self) -> crate::search::Budget {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read transaction on a connection of `pool`.
    fn begin(&self, pool: &Pool) -> Result<PgSnapshot, StoreError> {
        PgSnapshot::begin(pool.get()?, self.unreadable.clone(), self.budget())
    }

    /// Connect to the database at `url` (`postgres://USER@HOST:PORT/DB`)
    /// and bring its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, super::CLI_READERS)
    }

    /// Connect with at most `readers` read connections.
    pub fn open_with(url: &str, readers: u32) -> Result<PostgresStore, StoreError> {
        Ok(PostgresStore::open_as(url, readers, Access::Migrate)?.0)
    }

    /// Connect as `access` says (migrating first, or checking no migration
    /// is missing), with at most `readers` read connections; with the
    /// migrations applied.
    pub fn open_as(
        url: &str,
        readers: u32,
        access: Access,
    ) -> Result<(PostgresStore, Vec<&'static str>), StoreError> {
        let open_err = |reason: String| StoreError::Open {
            // StoreUrl's Display redacts the password.
            url: StoreUrl::Postgres(url.to_string()).to_string(),
            reason,
        };
        let mut config = postgres::Config::from_str(url).map_err(|e| open_err(reason(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(1));
        }
        if config.get_application_name().is_none() {
            config.application_name("bantin");
        }
        // A peer that vanished (a half-open connection) is noticed in
        // seconds, not after the kernel's two hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(5));
        // No JIT: compiling a plan costs 10-100 ms, and bantin's
        // statements are short. A plan misjudged as big (a table without
        // statistics) paid it on every call: 12 ms an article, in a
        // trigger, of a 10,000-article import.
        let options = format!("{} -c jit=off", config.get_options().unwrap_or(""));
        config.options(options.trim_start());
        let mut client = config.connect(NoTls).map_err(|e| open_err(reason(&e)))?;
        let applied = match access {
            Access::Migrate => migrate::migrate(&mut client).map_err(|e| open_err(reason(&e)))?,
            Access::ReadOnly => {
                if let Some(why) = migrate::behind(&mut client).map_err(|e| open_err(reason(&e)))? {
                    drop_client(client);
                    return Err(StoreError::Behind {
                        url: StoreUrl::Postgres(url.to_string()).to_string(),
                        reason: why,
                    });
                }
                Vec::new()
            }
        };
        drop_client(client);
        let mut read_config = config.clone();
        read_config.options(&format!(
            "{options} -c statement_timeout={}",
            READ_STATEMENT_TIMEOUT.as_millis()
        ));
        // The leader's session must end soon after its host vanishes, so
        // that another replica takes the lead: the server probes it (by
        // default it would wait two hours of silence).
        let mut lead_config = config.clone();
        lead_config.options(&format!(
            "{options} -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3"
        ));
        let pool = |config: postgres::Config, size: u32, wait: Duration| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(wait)
                .build_unchecked(Manager { config })
        };
        let store = PostgresStore {
            leader: Leader::new(lead_config),
            alive: Arc::new(()),
            config: config.clone(),
            readers: Pool(Some(pool(read_config.clone(), readers, READ_WAIT))),
            searchers: Pool(Some(pool(
                read_config.clone(),
                super::SEARCH_READERS,
                READ_WAIT,
            ))),
            log_reader: Pool(Some(pool(read_config, 1, LOG_READ_WAIT))),
            writers: Pool(Some(pool(config, 2, Duration::from_secs(2)))),
            unreadable: Arc::default(),
            budget: std::sync::Mutex::new(crate::search::Budget::default()),
        };
        Ok((store, applied))
    }
}

impl Store for PostgresStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(self.begin(&self.readers)?))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(self.begin(&self.log_reader)?))
    }

    fn search_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(self.begin(&self.searchers)?))
    }

    fn set_search_budget(&self, budget: crate::search::Budget) {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner()) = budget;
    }

    fn on_commit(&self, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        let config = self.config.clone();
        let alive = Arc::downgrade(&self.alive);
        std::thread::Builder::new()
            .name("bantin-listen".into())
            .spawn(move || listen::listen(config, alive, wake))
            .is_ok()
    }

    fn lead(&self) -> bool {
        self.leader.lead()
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError> {
        Ok(Box::new(PgWriter::begin(
            self.writers.get()?,
            self.config.clone(),
        )?))
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        let mut problems = Vec::new();
        self.audit_with(&|_| None, &mut |p| problems.push(p))?;
        Ok(problems)
    }

    fn unreadable_rows(&self) -> u64 {
        self.unreadable.count()
    }

    fn audit_with(
        &self,
        admit: &dyn Fn(&Article) -> Option<String>,
        report: &mut dyn FnMut(Problem),
    ) -> Result<(), StoreError> {
        let snap = PgSnapshot::begin(self.writers.get()?, Arc::default(), self.budget())?;
        audit::audit(&snap, admit, report)
    }

    fn adopt_limits(&self, limits: &SiteLimits) -> Result<bool, StoreError> {
        let mut conn = self.writers.get()?;
        if write::stored_limits(&mut conn)? == Some(super::limit_columns(limits)) {
            return Ok(false);
        }
        let mut tx = conn.client.transaction()?;
        // A scan of every article when the limits changed: not a request's
        // read, so not under its timeout.
        tx.batch_execute("SET LOCAL statement_timeout = 0")?;
        let values = super::limit_columns(limits);
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let changed = tx.execute(&super::adopt_limits_sql(super::Dialect::Postgres), &params)? > 0;
        if changed {
            tx.batch_execute(super::REHOLD_SQL)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn record_audience(
        &self,
        batch: &super::audience::AudienceBatch,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        audience::record(&mut *self.writers.get()?, batch, now)
    }

    fn audience_salt(&self, day: &str, fresh: &str) -> Result<String, StoreError> {
        audience::salt(&mut *self.writers.get()?, day, fresh)
    }

    fn audience(&self, now: DateTime<Utc>) -> Result<super::audience::AudienceCounts, StoreError> {
        audience::counts(&mut *self.readers.get()?, now)
    }

    fn reader_report(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<super::audience::FetcherReport>, StoreError> {
        audience::report(&mut *self.readers.get()?, now)
    }

    fn trim_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.writers.get()?;
        let trimmed = conn.execute(
            "DELETE FROM bantin_log WHERE at_us < $1",
            &[&micros(before)],
        )?;
        // Fold the count deltas into one row per key, unless another
        // replica (or a rebuild) is at it.
        let mut tx = conn.client.transaction()?;
        let got: bool = tx
            .query_one(
                "SELECT pg_try_advisory_xact_lock($1)",
                &[&migrate::COUNTS_LOCK],
            )?
            .try_get(0)?;
        if got {
            tx.batch_execute(
                "WITH gone AS (DELETE FROM bantin_counts RETURNING kind, a, b, delta)
                 INSERT INTO bantin_counts (kind, a, b, delta)
                     SELECT kind, a, b, sum(delta) FROM gone GROUP BY kind, a, b HAVING sum(delta) <> 0",
            )?;
        }
        tx.commit()?;
        Ok(trimmed)
    }
}

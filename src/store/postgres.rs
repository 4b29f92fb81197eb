//! The shared store: one PostgreSQL database that several `bantin` replicas
//! (and a CMS) read and write at once.
//!
//! Every SQL statement of the PostgreSQL backend lives here. The schema
//! (`migrations/postgres/`) mirrors SQLite's table for table, with `COLLATE
//! "C"` on ids, slugs and names so that ordering and grouping go by bytes as
//! in SQLite: both stores give byte-identical feeds. Rows become articles
//! through [`super::row`], the same code the SQLite store uses.
//!
//! Reads run in `REPEATABLE READ READ ONLY` transactions on pooled
//! connections: one snapshot per render. Connections fail fast (a connect
//! timeout, TCP keepalives and a user timeout so a dead peer is noticed, a
//! statement timeout on readers) so that an unreachable database answers
//! with an error in about a second instead of holding a request.

use std::borrow::Cow;
use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::convert::Infallible;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::row::{ARTICLE_COLUMNS, RawArticle, RawLink, audit_article, table};
use super::{
    Change, Changes, LogPosition, Pair, Placement, Position, Problem, SlugUse, Snapshot, Store,
    StoreError, Writer, facet_code, instant, logged_facet, micros,
};
use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::StoreUrl;

/// Schema migrations, applied in order; `bantin_migrations` lists the
/// versions applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_init.sql"),
    include_str!("../../migrations/postgres/002_change_log.sql"),
];

/// The advisory lock that migrations run under ("bantin" in ASCII), so that
/// replicas starting together apply each migration exactly once.
const MIGRATION_LOCK: i64 = 0x6261_6e74_696e;

/// The advisory lock of `bantin_counts` maintenance ("bantinc"), taken by
/// `bantin_rebuild()` in SQL too, so that a rebuild and a fold never run at
/// once.
const COUNTS_LOCK: i64 = 0x6261_6e74_696e_6300;

/// A writer that has put more articles than this (or a quarter of the store,
/// if more) stops logging row by row (see the SQLite store).
const BULK_AFTER: u64 = 10_000;

/// Reads on behalf of a request give up after this: a stuck database must
/// not hold a request for minutes.
const READ_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection and its prepared statements.
pub(crate) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A row's id and what decoding it gave.
type Decoded = (String, Result<Article, String>);

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Run a statement, preparing its SQL once per connection.
    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.query(&stmt, params)
    }

    fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.execute(&stmt, params)
    }

    fn one_i64(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<i64>, postgres::Error> {
        Ok(match self.query(sql, params)?.first() {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// The names of `facet` of every article in `ids` (all articles when
    /// `ids` is `None`), each article's in stored order: one query instead of
    /// one per article.
    fn links(
        &mut self,
        facet: Facet,
        column: &str,
        ids: Option<&[&str]>,
    ) -> Result<HashMap<String, Vec<String>>, postgres::Error> {
        let t = table(facet);
        let rows = match ids {
            Some(ids) => self.query(
                &format!(
                    "SELECT article_id, {column} FROM {t} WHERE article_id = ANY($1)
                     ORDER BY article_id, position, slug"
                ),
                &[&ids],
            )?,
            None => self.query(
                &format!(
                    "SELECT article_id, {column} FROM {t} ORDER BY article_id, position, slug"
                ),
                &[],
            )?,
        };
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            out.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
        }
        Ok(out)
    }

    /// Decode `raws`, reading their categories and regions in two queries.
    fn decode_all(
        &mut self,
        raws: Vec<RawArticle>,
        ids: Option<&[&str]>,
    ) -> Result<Vec<Decoded>, postgres::Error> {
        let mut categories = self.links(Facet::Category, "name", ids)?;
        let mut regions = self.links(Facet::Region, "name", ids)?;
        Ok(raws
            .into_iter()
            .map(|raw| {
                let id = raw.id.clone();
                let decoded = raw.decode(|facet, id| {
                    let links = match facet {
                        Facet::Category => &mut categories,
                        Facet::Region => &mut regions,
                    };
                    Ok::<_, Infallible>(links.remove(id).unwrap_or_default())
                });
                (id, decoded)
            })
            .collect())
    }
}

/// Makes the pool's connections.
#[derive(Debug)]
struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// A pool whose connections are closed off the async runtime:
/// `postgres::Client` closes by blocking on a runtime of its own, which
/// panics on a thread already driving tokio (the server may drop its store
/// there).
struct Pool(Option<r2d2::Pool<Manager>>);

impl Pool {
    fn get(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        match &self.0 {
            Some(p) => Ok(p.get()?),
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// A PostgreSQL article store.
pub struct PostgresStore {
    readers: Pool,
    log_reader: Pool,
    writers: Pool,
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://USER@HOST:PORT/DB`)
    /// and bring its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, super::CLI_READERS)
    }

    /// Connect with at most `readers` read connections.
    pub fn open_with(url: &str, readers: u32) -> Result<PostgresStore, StoreError> {
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
        let mut client = config.connect(NoTls).map_err(|e| open_err(reason(&e)))?;
        migrate(&mut client).map_err(|e| open_err(reason(&e)))?;
        drop_client(client);
        let mut read_config = config.clone();
        read_config.options(&format!(
            "-c statement_timeout={}",
            READ_STATEMENT_TIMEOUT.as_millis()
        ));
        let pool = |config: postgres::Config, size: u32| {
            r2d2::Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(2))
                .build_unchecked(Manager { config })
        };
        Ok(PostgresStore {
            readers: Pool(Some(pool(read_config.clone(), readers))),
            log_reader: Pool(Some(pool(read_config, 1))),
            writers: Pool(Some(pool(config, 2))),
        })
    }
}

fn drop_client(client: Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::spawn(move || drop(client)).join();
    }
}

/// The error with its causes: postgres shows "error connecting to server"
/// and keeps the why ("Connection refused") in its source.
pub(crate) fn reason(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// Apply the migrations not applied yet, all in one transaction under an
/// advisory lock: a replica starting at the same moment waits, then finds
/// them applied.
fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS bantin_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let applied: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM bantin_migrations",
            &[],
        )?
        .try_get(0)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO bantin_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()
}

/// Read a row of `SELECT {ARTICLE_COLUMNS}`.
fn raw_article(r: &Row) -> Result<RawArticle, postgres::Error> {
    Ok(RawArticle {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        summary: r.try_get(2)?,
        body: r.try_get(3)?,
        content_html: r.try_get(4)?,
        authors: r.try_get(5)?,
        published: r.try_get(6)?,
        updated: r.try_get(7)?,
        url: r.try_get(8)?,
        image: r.try_get(9)?,
    })
}

/// The SQL for one feed; parameters are `$1` now, `$2` limit, then slugs.
/// The same plans as SQLite's: walk a `_feed` index from now downwards.
fn feed_sql(key: &FeedKey) -> String {
    let cols = ARTICLE_COLUMNS;
    match key {
        FeedKey::All => format!(
            "SELECT {cols} FROM articles a WHERE a.published_us <= $1
             ORDER BY a.published_us DESC, a.id DESC LIMIT $2"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) => {
            let t = table(if matches!(key, FeedKey::Category(_)) {
                Facet::Category
            } else {
                Facet::Region
            });
            format!(
                "SELECT {cols} FROM {t} f JOIN articles a ON a.id = f.article_id
                 WHERE f.slug = $3 AND f.published_us <= $1
                 ORDER BY f.published_us DESC, f.article_id DESC LIMIT $2"
            )
        }
        FeedKey::CategoryRegion(..) => format!(
            "SELECT {cols} FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = $4
             JOIN articles a ON a.id = f.article_id
             WHERE f.slug = $3 AND f.published_us <= $1
             ORDER BY f.published_us DESC, f.article_id DESC LIMIT $2"
        ),
    }
}

/// `s` without U+0000, which PostgreSQL text cannot hold (SQLite can).
/// Feeds drop every control character on output, NUL included, so the
/// feeds stay the same; ids keep theirs (a NUL in an id is refused by the
/// server, as changing the id would change the article's guid).
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', ""))
    } else {
        Cow::Borrowed(s)
    }
}

/// A `REPEATABLE READ READ ONLY` transaction on a pooled connection.
struct PgSnapshot {
    conn: RefCell<r2d2::PooledConnection<Manager>>,
}

impl PgSnapshot {
    fn begin(mut conn: r2d2::PooledConnection<Manager>) -> Result<PgSnapshot, StoreError> {
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1")?;
        Ok(PgSnapshot {
            conn: RefCell::new(conn),
        })
    }

    fn conn(&self) -> RefMut<'_, r2d2::PooledConnection<Manager>> {
        self.conn.borrow_mut()
    }
}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        let conn = self.conn.get_mut();
        if !conn.client.is_closed()
            && let Err(e) = conn.client.batch_execute("COMMIT")
        {
            tracing::debug!("ending a read transaction: {}", reason(&e));
        }
    }
}

impl Snapshot for PgSnapshot {
    fn feed(
        &self,
        key: &FeedKey,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        let mut conn = self.conn();
        let sql = feed_sql(key);
        let now_us = micros(now);
        // SQLite reads a negative limit as none; PostgreSQL refuses it.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match key {
            FeedKey::All => conn.query(&sql, &[&now_us, &limit])?,
            FeedKey::Category(s) | FeedKey::Region(s) => conn.query(&sql, &[&now_us, &limit, s])?,
            FeedKey::CategoryRegion(c, r) => conn.query(&sql, &[&now_us, &limit, c, r])?,
        };
        let raws: Vec<RawArticle> = rows.iter().map(raw_article).collect::<Result<_, _>>()?;
        let ids: Vec<String> = raws.iter().map(|r| r.id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut out = Vec::with_capacity(raws.len());
        for (id, decoded) in conn.decode_all(raws, Some(&ids))? {
            match decoded {
                Ok(a) => out.push(a),
                Err(reason) => tracing::warn!(article = %id, "skipping a stored article: {reason}"),
            }
        }
        Ok(out)
    }

    fn slugs(&self, facet: Facet) -> Result<Vec<String>, StoreError> {
        let rows = self.conn().query(
            "SELECT a FROM bantin_counts WHERE kind = $1 GROUP BY a HAVING sum(delta) > 0 ORDER BY a",
            &[&facet_code(facet)],
        )?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn slug_use(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<SlugUse, StoreError> {
        let mut conn = self.conn();
        let now_us = micros(now);
        let mut names: Vec<(String, u64)> = conn
            .query(
                "SELECT b, sum(delta)::bigint FROM bantin_counts WHERE kind = $1 AND a = $2
                 GROUP BY b HAVING sum(delta) > 0 ORDER BY b",
                &[&facet_code(facet), &slug],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)?.max(0) as u64)))
            .collect::<Result<_, postgres::Error>>()?;
        let t = table(facet);
        let scheduled = conn.query(
            &format!(
                "SELECT name, count(*) FROM {t} WHERE slug = $1 AND published_us > $2 GROUP BY name"
            ),
            &[&slug, &now_us],
        )?;
        for r in scheduled {
            let (name, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
            if let Some(entry) = names.iter_mut().find(|(m, _)| *m == name) {
                entry.1 = entry.1.saturating_sub(n.max(0) as u64);
            }
        }
        names.retain(|(_, n)| *n > 0);
        let newest = conn
            .one_i64(
                &format!(
                    "SELECT published_us FROM {t} WHERE slug = $1 AND published_us <= $2
                     ORDER BY published_us DESC LIMIT 1"
                ),
                &[&slug, &now_us],
            )?
            .and_then(instant);
        Ok(SlugUse { names, newest })
    }

    fn pair_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.conn().query(
            "SELECT a, b FROM bantin_counts WHERE kind = 'p' GROUP BY a, b HAVING sum(delta) > 0
             ORDER BY a, b",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()?)
    }

    fn pair(
        &self,
        category: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pair>, StoreError> {
        let mut conn = self.conn();
        let now_us = micros(now);
        let stored = conn
            .one_i64(
                "SELECT coalesce(sum(delta), 0)::bigint FROM bantin_counts
                 WHERE kind = 'p' AND a = $1 AND b = $2",
                &[&category, &region],
            )?
            .unwrap_or(0);
        let scheduled = conn
            .one_i64(
                "SELECT count(*) FROM article_categories c
                 JOIN article_regions r ON r.article_id = c.article_id AND r.slug = $2
                 WHERE c.slug = $1 AND c.published_us > $3",
                &[&category, &region, &now_us],
            )?
            .unwrap_or(0);
        let articles = (stored - scheduled).max(0) as u64;
        if articles == 0 {
            return Ok(None);
        }
        let newest = conn
            .one_i64(
                "SELECT c.published_us FROM article_categories c
                 JOIN article_regions r ON r.article_id = c.article_id AND r.slug = $2
                 WHERE c.slug = $1 AND c.published_us <= $3
                 ORDER BY c.published_us DESC LIMIT 1",
                &[&category, &region, &now_us],
            )?
            .and_then(instant);
        Ok(Some(Pair {
            category: category.to_string(),
            region: region.to_string(),
            articles,
            newest,
        }))
    }

    fn total(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let mut conn = self.conn();
        let now_us = micros(now);
        let stored = conn
            .one_i64(
                "SELECT coalesce(sum(delta), 0)::bigint FROM bantin_counts WHERE kind = 't'",
                &[],
            )?
            .unwrap_or(0);
        let scheduled = conn
            .one_i64(
                "SELECT count(*) FROM articles WHERE published_us > $1",
                &[&now_us],
            )?
            .unwrap_or(0);
        let newest = conn
            .one_i64(
                "SELECT published_us FROM articles WHERE published_us <= $1
                 ORDER BY published_us DESC LIMIT 1",
                &[&now_us],
            )?
            .and_then(instant);
        Ok(((stored - scheduled).max(0) as u64, newest))
    }

    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .conn()
            .one_i64(
                "SELECT published_us FROM articles WHERE published_us > $1
                 ORDER BY published_us LIMIT 1",
                &[&micros(now)],
            )?
            .and_then(instant))
    }

    fn published_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self.conn().query(
            "SELECT id FROM articles WHERE published_us > $1 AND published_us <= $2",
            &[&micros(after), &micros(upto)],
        )?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn log_head(&self) -> Result<LogPosition, StoreError> {
        let rows = self
            .conn()
            .query("SELECT pg_current_snapshot()::text", &[])?;
        let snapshot: String = match rows.first() {
            Some(r) => r.try_get(0)?,
            None => return Err(StoreError::Unavailable("no snapshot".into())),
        };
        Ok(LogPosition(Position::Snapshot(snapshot)))
    }

    fn changes(&self, since: &LogPosition, max: usize) -> Result<Changes, StoreError> {
        let next = self.log_head()?;
        let Position::Snapshot(since) = &since.0 else {
            return Ok(Changes::Everything { next });
        };
        let limit = i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1);
        // The rows of every transaction that committed after `since` was
        // taken: not visible then, visible now. Transactions that ended
        // before its xmin were visible in it (or aborted), so the xid index
        // bounds the search.
        let rows = self.conn().query(
            "SELECT article_id, facet, slug, published_us FROM bantin_log
             WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot)
               AND NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot)
             ORDER BY seq LIMIT $2",
            &[since, &limit],
        )?;
        if rows.len() > max {
            return Ok(Changes::Everything { next });
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let facet: String = r.try_get(1)?;
            let Ok(facet) = logged_facet(&facet) else {
                return Ok(Changes::Everything { next });
            };
            out.push(Change {
                article_id: r.try_get(0)?,
                facet,
                slug: r.try_get(2)?,
                published: r.try_get::<_, Option<i64>>(3)?.and_then(instant),
            });
        }
        Ok(Changes::Rows { rows: out, next })
    }

    fn placements(&self, ids: &[String]) -> Result<Vec<Placement>, StoreError> {
        let mut conn = self.conn();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let rows = conn.query(
            "SELECT id, published_us FROM articles WHERE id = ANY($1) ORDER BY id",
            &[&refs],
        )?;
        let mut categories = conn.links(Facet::Category, "slug", Some(&refs))?;
        let mut regions = conn.links(Facet::Region, "slug", Some(&refs))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0)?;
            let Some(published) = instant(r.try_get(1)?) else {
                continue;
            };
            out.push(Placement {
                categories: categories.remove(&id).unwrap_or_default(),
                regions: regions.remove(&id).unwrap_or_default(),
                id,
                published,
            });
        }
        Ok(out)
    }
}

/// A write transaction on a pooled connection.
struct PgWriter {
    conn: r2d2::PooledConnection<Manager>,
    puts: u64,
    bulk_after: u64,
    bulk: bool,
    done: bool,
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if !self.done
            && !self.conn.client.is_closed()
            && let Err(e) = self.conn.client.batch_execute("ROLLBACK")
        {
            tracing::warn!("rolling back a write: {}", reason(&e));
        }
    }
}

impl PgWriter {
    /// See the SQLite store: bring an article's link rows of one facet to
    /// `names`, touching only the rows that differ.
    fn relink(
        &mut self,
        facet: Facet,
        id: &str,
        names: &[String],
        published_us: i64,
    ) -> Result<(), postgres::Error> {
        let t = table(facet);
        let mut want: Vec<(String, Cow<'_, str>)> = Vec::with_capacity(names.len());
        for name in names {
            let slug = crate::slug::slugify(name);
            if !want.iter().any(|(s, _)| *s == slug) {
                want.push((slug, text(name)));
            }
        }
        let have: Vec<(String, String, i32)> = self
            .conn
            .query(
                &format!("SELECT slug, name, position FROM {t} WHERE article_id = $1"),
                &[&id],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, postgres::Error>>()?;
        for (slug, _, _) in &have {
            if !want.iter().any(|(s, _)| s == slug) {
                self.conn.execute(
                    &format!("DELETE FROM {t} WHERE article_id = $1 AND slug = $2"),
                    &[&id, slug],
                )?;
            }
        }
        let link = format!(
            "INSERT INTO {t} (article_id, slug, name, position, published_us) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (article_id, slug) DO UPDATE SET name = excluded.name, position = excluded.position
             WHERE ({t}.name, {t}.position) IS DISTINCT FROM (excluded.name, excluded.position)"
        );
        for (position, (slug, name)) in want.iter().enumerate() {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            let same = have
                .iter()
                .any(|(s, n, p)| s == slug && n == name && *p == position);
            if !same {
                self.conn.execute(
                    &link,
                    &[&id, slug, &name.as_ref(), &position, &published_us],
                )?;
            }
        }
        Ok(())
    }
}

impl Writer for PgWriter {
    fn put(&mut self, a: &Article) -> Result<(), StoreError> {
        self.puts += 1;
        if !self.bulk && self.puts > self.bulk_after {
            self.conn
                .client
                .batch_execute("SET LOCAL bantin.bulk = 'on'")?;
            self.bulk = true;
        }
        let (body, html) = match &a.body {
            Body::None => (None, None),
            Body::Text(t) => (Some(text(t)), None),
            Body::Html(h) => (None, Some(text(h))),
        };
        let authors = serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".to_string());
        let published_us = micros(a.published.to_utc());
        let updated = (a.updated != a.published).then(|| a.updated.to_rfc3339());
        let (title, summary) = (text(&a.title), a.summary.as_deref().map(text));
        self.conn.execute(
            "INSERT INTO articles (id, title, summary, body, content_html, authors, published, updated,
                                   published_us, url, image)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET
               title = excluded.title, summary = excluded.summary, body = excluded.body,
               content_html = excluded.content_html, authors = excluded.authors,
               published = excluded.published, updated = excluded.updated,
               published_us = excluded.published_us, url = excluded.url, image = excluded.image
             WHERE (articles.title, articles.summary, articles.body, articles.content_html, articles.authors,
                    articles.published, articles.updated, articles.published_us, articles.url, articles.image)
               IS DISTINCT FROM (excluded.title, excluded.summary, excluded.body, excluded.content_html,
                    excluded.authors, excluded.published, excluded.updated, excluded.published_us,
                    excluded.url, excluded.image)",
            &[
                &a.id,
                &title.as_ref(),
                &summary.as_deref(),
                &body.as_deref(),
                &html.as_deref(),
                &authors,
                &a.published.to_rfc3339(),
                &updated,
                &published_us,
                &a.url,
                &a.image,
            ],
        )?;
        self.relink(Facet::Category, &a.id, &a.categories, published_us)?;
        self.relink(Facet::Region, &a.id, &a.regions, published_us)?;
        Ok(())
    }

    fn delete(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM articles WHERE id = $1", &[&id])?
            > 0)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.bulk {
            self.conn
                .client
                .batch_execute("SET LOCAL bantin.bulk = 'off'; SELECT bantin_rebuild();")?;
        }
        self.conn.client.batch_execute("COMMIT")?;
        self.done = true;
        Ok(())
    }
}

impl Store for PostgresStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(PgSnapshot::begin(self.readers.get()?)?))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(PgSnapshot::begin(self.log_reader.get()?)?))
    }

    fn writer(&self) -> Result<Box<dyn Writer + '_>, StoreError> {
        let mut conn = self.writers.get()?;
        conn.client.batch_execute("BEGIN")?;
        let mut w = PgWriter {
            conn,
            puts: 0,
            bulk_after: BULK_AFTER,
            bulk: false,
            done: false,
        };
        let stored = w
            .conn
            .one_i64(
                "SELECT coalesce(sum(delta), 0)::bigint FROM bantin_counts WHERE kind = 't'",
                &[],
            )?
            .unwrap_or(0);
        w.bulk_after = BULK_AFTER.max(stored.max(0) as u64 / 4);
        Ok(Box::new(w))
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        let snap = PgSnapshot::begin(self.writers.get()?)?;
        let mut conn = snap.conn();
        let rows = conn.query(
            &format!("SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a ORDER BY a.id"),
            &[],
        )?;
        let mut problems = Vec::new();
        let mut raws = Vec::with_capacity(rows.len());
        let mut published = HashMap::new();
        for r in &rows {
            let raw = raw_article(r)?;
            published.insert(raw.id.clone(), r.try_get::<_, i64>(10)?);
            raws.push(raw);
        }
        for (id, decoded) in conn.decode_all(raws, None)? {
            let published_us = published.get(&id).copied().unwrap_or_default();
            problems.extend(audit_article(id, decoded, published_us));
        }
        for facet in [Facet::Category, Facet::Region] {
            let sql = format!(
                "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
                 JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
                table(facet)
            );
            for r in conn.query(&sql, &[])? {
                RawLink {
                    article_id: r.try_get(0)?,
                    slug: r.try_get(1)?,
                    name: r.try_get(2)?,
                    published_us: r.try_get(3)?,
                    article_published_us: r.try_get(4)?,
                }
                .audit(facet, &mut problems);
            }
        }
        let stale = conn.query(
            "WITH stored AS (
                 SELECT kind, a, b, sum(delta)::bigint AS n FROM bantin_counts GROUP BY kind, a, b
                 HAVING sum(delta) <> 0),
             actual AS (
                 SELECT 'c' AS kind, slug AS a, name AS b, count(*) AS n FROM article_categories GROUP BY slug, name
                 UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
                 UNION ALL SELECT 'p', c.slug, r.slug, count(*) FROM article_categories c
                           JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug
                 UNION ALL SELECT 't', '', '', count(*) FROM articles HAVING count(*) > 0)
             SELECT coalesce(s.kind, t.kind) || ' ' || coalesce(s.a, t.a) || ' ' || coalesce(s.b, t.b)
             FROM stored s FULL JOIN actual t ON (s.kind, s.a, s.b) = (t.kind, t.a, t.b)
             WHERE s.n IS DISTINCT FROM t.n LIMIT 1",
            &[],
        )?;
        if let Some(r) = stale.first() {
            let differ: String = r.try_get(0)?;
            problems.push(Problem {
                id: String::new(),
                reason: format!(
                    "bantin_counts is out of step with the article tables (first difference: {differ:?}); \
                     were the triggers bypassed?"
                ),
            });
        }
        Ok(problems)
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
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&COUNTS_LOCK])?
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

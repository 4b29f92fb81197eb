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
use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::pg_words::{WordMap, Words};
use super::row::{ARTICLE_COLUMNS, RawArticle, RawLink, audit_row, table};
use super::staging::{Preparing, link_rows};
use super::unreadable::Unreadable;
use super::{
    Change, Changes, LeftOut, LogPosition, Pair, Placement, Position, Problem, SlugUse, Snapshot,
    Store, StoreError, Writer, facet_code, instant, logged_facet, micros,
};
use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::StoreUrl;
use crate::limits::SiteLimits;

/// Schema migrations, applied in order; `bantin_migrations` lists the
/// versions applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_init.sql"),
    include_str!("../../migrations/postgres/002_change_log.sql"),
    include_str!("../../migrations/postgres/003_authors.sql"),
    include_str!("../../migrations/postgres/004_search.sql"),
    include_str!("../../migrations/postgres/005_search_words.sql"),
    include_str!("../../migrations/postgres/006_limits.sql"),
    include_str!("../../migrations/postgres/007_search_spans.sql"),
    include_str!("../../migrations/postgres/008_common_words.sql"),
    include_str!("../../migrations/postgres/009_names_capped.sql"),
    include_str!("../../migrations/postgres/010_search_visible_text.sql"),
];

/// The advisory lock that migrations run under ("bantin" in ASCII), so that
/// replicas starting together apply each migration exactly once.
const MIGRATION_LOCK: i64 = 0x6261_6e74_696e;

/// The advisory lock of `bantin_counts` maintenance ("bantinc"), taken by
/// `bantin_rebuild()` in SQL too, so that a rebuild and a fold never run at
/// once.
const COUNTS_LOCK: i64 = 0x6261_6e74_696e_6300;

/// The advisory lock the WebSub leader holds ("bantinw"), for as long as
/// its session lives: one replica pings the hubs (see [`Leader`]).
const LEAD_LOCK: i64 = 0x6261_6e74_696e_7700;

/// A writer that has put more articles than this (or a quarter of the store,
/// if more) stops logging row by row (see the SQLite store).
const BULK_AFTER: u64 = 10_000;

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
                        // Authors are read from the article row.
                        Facet::Author => return Ok::<_, Infallible>(Vec::new()),
                    };
                    Ok(links.remove(id).unwrap_or_default())
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

/// The session that holds (or tries for) [`LEAD_LOCK`]: a connection of
/// its own, since a session lock lives as long as the session and pooled
/// connections come and go. When the leader's process dies its session
/// ends (at once when its socket closes; when its host vanishes, after the
/// server's keepalive probes go unanswered, about ten seconds), the lock is
/// free, and the next replica that asks takes it.
struct Leader {
    config: postgres::Config,
    session: std::sync::Mutex<Option<LeadSession>>,
}

struct LeadSession {
    client: Client,
    /// Whether this session holds the lock.
    holds: bool,
}

impl Leader {
    /// Whether we hold the lock, taking it if it is free. A lost session
    /// is made again (once per call); any failure means "not leading".
    fn lead(&self) -> bool {
        let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            let session = match slot.as_mut() {
                Some(s) => s,
                None => match self.config.connect(NoTls) {
                    Ok(client) => slot.insert(LeadSession {
                        client,
                        holds: false,
                    }),
                    Err(e) => {
                        tracing::debug!("leading (WebSub pings): {}", reason(&e));
                        return false;
                    }
                },
            };
            let asked = if session.holds {
                // A live session still holds its lock: one round trip.
                session.client.simple_query("").map(|_| true)
            } else {
                session
                    .client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK])
                    .and_then(|row| row.try_get::<_, bool>(0))
            };
            match asked {
                Ok(holds) => {
                    if holds && !session.holds {
                        tracing::info!("this replica now sends the WebSub pings");
                    }
                    session.holds = holds;
                    return holds;
                }
                Err(e) => {
                    if session.holds {
                        tracing::warn!(
                            "lost the session that held the WebSub lead: {}",
                            reason(&e)
                        );
                    } else {
                        tracing::debug!("leading (WebSub pings): {}", reason(&e));
                    }
                    if let Some(s) = slot.take() {
                        drop_client(s.client);
                    }
                }
            }
        }
        false
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let slot = self.session.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.take() {
            drop_client(s.client);
        }
    }
}

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
        // No JIT: compiling a plan costs 10-100 ms, and bantin's
        // statements are short. A plan misjudged as big (a table without
        // statistics) paid it on every call: 12 ms an article, in a
        // trigger, of a 10,000-article import.
        let options = format!("{} -c jit=off", config.get_options().unwrap_or(""));
        config.options(options.trim_start());
        let mut client = config.connect(NoTls).map_err(|e| open_err(reason(&e)))?;
        migrate(&mut client).map_err(|e| open_err(reason(&e)))?;
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
        Ok(PostgresStore {
            leader: Leader {
                config: lead_config,
                session: std::sync::Mutex::new(None),
            },
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
        })
    }
}

/// `LISTEN bantin` on a connection of its own and call `wake` for each
/// notification (the triggers send one per transaction that wrote), until
/// the store is dropped. A lost connection is made again after a second;
/// meanwhile the server's polling carries on alone.
fn listen(config: postgres::Config, alive: Weak<()>, wake: Arc<dyn Fn() + Send + Sync>) {
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

fn drop_client(client: Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::spawn(move || drop(client)).join();
    }
}

/// The error with its causes: postgres shows "error connecting to server"
/// and keeps the why ("Connection refused") in its source.
pub(crate) fn reason(e: &postgres::Error) -> String {
    super::causes(e)
}

/// Apply the migrations not applied yet, all in one transaction under an
/// advisory lock: a replica starting at the same moment waits, then finds
/// them applied.
fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    // Up to date, the usual case: nothing to create or lock. A runtime role
    // without CREATE on the schema (README "Several replicas") can only
    // open the store this way: `CREATE TABLE IF NOT EXISTS` below checks
    // the privilege before it finds the table there.
    let listed: bool = client
        .query_one("SELECT to_regclass('bantin_migrations') IS NOT NULL", &[])?
        .try_get(0)?;
    if listed {
        let applied: i32 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM bantin_migrations",
                &[],
            )?
            .try_get(0)?;
        if applied as usize >= MIGRATIONS.len() {
            return Ok(());
        }
    }
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
        if i + 1 == 3 {
            backfill_authors(&mut tx)?;
        }
        tx.execute(
            "INSERT INTO bantin_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()
}

/// Migration 3: the `article_authors` rows of the articles already stored
/// (see the SQLite store), in bulk mode, then the counts rebuilt.
fn backfill_authors(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    tx.batch_execute("SET LOCAL bantin.bulk = 'on'")?;
    let rows = tx.query("SELECT id, authors, published_us FROM articles", &[])?;
    let link = tx.prepare(
        "INSERT INTO article_authors (article_id, slug, name, position, published_us)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )?;
    for row in rows {
        let (id, authors, published_us): (String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let names: Vec<String> = serde_json::from_str(&authors).unwrap_or_default();
        for (position, (slug, name)) in super::sqlite::author_links(&names).into_iter().enumerate()
        {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            tx.execute(
                &link,
                &[&id, &slug, &text(&name).as_ref(), &position, &published_us],
            )?;
        }
    }
    tx.batch_execute("SET LOCAL bantin.bulk = 'off'; SELECT bantin_rebuild();")
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
        // A UTF8 database holds nothing else.
        unreadable: None,
    })
}

/// The SQL for one feed between two instants; parameters are `$1` the
/// newest instant (now), `$2` the oldest, `$3` the limit, then slugs. The
/// same plans as SQLite's: walk a `_feed` index from now downwards.
fn feed_sql(key: &FeedKey) -> String {
    let cols = ARTICLE_COLUMNS;
    match key {
        FeedKey::All => format!(
            "SELECT {cols} FROM articles a WHERE a.published_us <= $1 AND a.published_us >= $2
             ORDER BY a.published_us DESC, a.id DESC LIMIT $3"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            format!(
                "SELECT {cols} FROM {t} f JOIN articles a ON a.id = f.article_id
                 WHERE f.slug = $4 AND f.published_us <= $1 AND f.published_us >= $2
                 ORDER BY f.published_us DESC, f.article_id DESC LIMIT $3"
            )
        }
        FeedKey::CategoryRegion(..) => format!(
            "SELECT {cols} FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = $5
             JOIN articles a ON a.id = f.article_id
             WHERE f.slug = $4 AND f.published_us <= $1 AND f.published_us >= $2
             ORDER BY f.published_us DESC, f.article_id DESC LIMIT $3"
        ),
        // See `Wanted`.
        FeedKey::Search(_) => String::new(),
    }
}

/// The words of a keyword feed as the store indexes them (migration 8):
/// those not listed as common, which the GIN index holds, and those
/// listed, with their bits.
struct Wanted<'a> {
    all: Vec<&'a str>,
    keyed: Vec<&'a str>,
    listed: Vec<(&'a str, u32)>,
}

impl<'a> Wanted<'a> {
    fn ask(conn: &mut PgConn, words: &'a str) -> Result<Wanted<'a>, StoreError> {
        let all: Vec<&str> = words.split(' ').collect();
        let bits: Vec<Option<i32>> = conn
            .query("SELECT bantin_bits($1::text[])", &[&all])?
            .first()
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or_default();
        let mut wanted = Wanted {
            all,
            keyed: Vec::new(),
            listed: Vec::new(),
        };
        for (i, w) in wanted.all.iter().enumerate() {
            match bits
                .get(i)
                .copied()
                .flatten()
                .and_then(|b| u32::try_from(b).ok())
            {
                Some(b) => wanted.listed.push((w, b)),
                None => wanted.keyed.push(w),
            }
        }
        Ok(wanted)
    }

    /// Whether article `a` holds every word, as SQL: the unlisted ones
    /// (`$4`) in `words`, each listed one (`$5`, in order) in `words`
    /// (rows written before it was listed) or its bit set. Written out
    /// rather than called (`bantin_holds`): a function per row cost 20 µs,
    /// and a keyword feed tests hundreds of rows.
    fn holds_sql(&self) -> String {
        let mut sql = String::from("a.words @> $4::text[]");
        for (i, (_, bit)) in self.listed.iter().enumerate() {
            let (byte, mask) = (bit / 8, 1u32 << (bit % 8));
            sql.push_str(&format!(
                " AND (CASE WHEN octet_length(a.common_bits) > {byte}
                       THEN get_byte(a.common_bits, {byte}) & {mask} <> 0 ELSE false END
                      OR a.words @> ARRAY[($5::text[])[{}]])",
                i + 1
            ));
        }
        sql
    }

    fn listed_words(&self) -> Vec<&'a str> {
        self.listed.iter().map(|(w, _)| *w).collect()
    }

    /// A keyword feed's first step: the newest articles through the feed
    /// index ([`SEARCH_PROBE`]); then, with only listed words, the same
    /// walk on ([`Wanted::walk`]); else the GIN index ([`search_sql`]).
    fn probe_sql(&self) -> String {
        let (cols, holds) = (ARTICLE_COLUMNS, self.holds_sql());
        format!(
            "SELECT {cols} FROM (
                 SELECT * FROM articles a
                 WHERE a.published_us <= $1 AND a.published_us >= $2
                 ORDER BY a.published_us DESC, a.id DESC LIMIT {SEARCH_PROBE}) a
             WHERE {holds}
             ORDER BY a.published_us DESC, a.id DESC LIMIT $3"
        )
    }

    /// Only listed words: no index holds them (the common words of the
    /// store), and the newest articles do (a listed word is in a fifth of
    /// them), so the feed index is walked from the newest, a window of
    /// [`WALK_WINDOW`] rows per statement, until `ask` match, the store
    /// ends, or `budget`'s time (from `started`) is spent: common words
    /// that seldom meet would otherwise walk the whole store (1.0 s at a
    /// million). The matches of the windows walked are the candidates.
    fn walk(
        &self,
        conn: &mut PgConn,
        params: &[&(dyn ToSql + Sync)],
        ask: usize,
        budget: crate::search::Budget,
        started: std::time::Instant,
    ) -> Result<Vec<Row>, StoreError> {
        let cols = ARTICLE_COLUMNS;
        let holds = self.holds_sql();
        let mut found: Vec<Row> = Vec::new();
        // The newest key not walked yet, exclusive: none, the top.
        let mut above: Option<(i64, String)> = None;
        loop {
            let below = |n: usize| {
                above.as_ref().map_or(String::new(), |_| {
                    format!(
                        " AND (a.published_us, a.id) < (${n}::bigint, ${}::text)",
                        n + 1
                    )
                })
            };
            let mut args: Vec<&(dyn ToSql + Sync)> = params[..2].to_vec();
            if let Some((us, id)) = &above {
                args.push(us);
                args.push(id);
            }
            let edge: Option<(i64, String)> = conn
                .query(
                    &format!(
                        "SELECT a.published_us, a.id FROM articles a
                         WHERE a.published_us <= $1 AND a.published_us >= $2{}
                         ORDER BY a.published_us DESC, a.id DESC
                         OFFSET {} LIMIT 1",
                        below(3),
                        WALK_WINDOW - 1
                    ),
                    &args,
                )?
                .first()
                .map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?;
            // The window as a subquery stopped by its LIMIT: with the
            // bounds and the words as conditions of one query, the planner
            // read the whole range through a bitmap and sorted it (290 ms
            // for a window it walks in 8).
            let mut args: Vec<&(dyn ToSql + Sync)> = params.to_vec();
            if let Some((us, id)) = &above {
                args.push(us);
                args.push(id);
            }
            let sql = format!(
                "SELECT {cols} FROM (
                     SELECT * FROM articles a
                     WHERE a.published_us <= $1 AND a.published_us >= $2{}
                     ORDER BY a.published_us DESC, a.id DESC LIMIT {WALK_WINDOW}) a
                 WHERE {holds}
                 ORDER BY a.published_us DESC, a.id DESC LIMIT $3",
                below(6)
            );
            found.extend(conn.query(&sql, &args)?);
            if found.len() >= ask || edge.is_none() || started.elapsed() >= budget.time {
                found.truncate(ask);
                return Ok(found);
            }
            above = edge;
        }
    }
}

/// Rows of `articles` one statement of a walk reads ([`Wanted::walk`]):
/// about 25 ms, so that the budget's time is looked at often.
const WALK_WINDOW: usize = 5_000;

/// How many of the newest articles a keyword feed probes before it asks
/// the GIN index: a common word fills the feed there. Each row probed costs
/// its `words` decompressed (about 5 µs), so this is what a rarer word pays
/// before the index; a word in one article of every 8 or so fills a feed
/// (of 50, 58 asked) here.
const SEARCH_PROBE: usize = 500;

/// A keyword feed's second step, when the probe found too few: the matches
/// of the newest spans of time that hold enough of them, from the GIN index
/// of migration 7 (`bantin_search`), then sorted. What it reads is about the
/// feed's own rows, not every match: a word in 8,000 articles of a million
/// cost 68 ms when every match was read and sorted.
fn search_sql() -> String {
    let cols = ARTICLE_COLUMNS;
    format!(
        "SELECT {cols} FROM (
             SELECT m.id, m.published_us FROM bantin_search($4::text[], $1, $2, $3) m
             ORDER BY m.published_us DESC, m.id COLLATE \"C\" DESC LIMIT $3) m
         JOIN articles a ON a.id = m.id COLLATE \"C\"
         ORDER BY m.published_us DESC, m.id COLLATE \"C\" DESC"
    )
}

/// See the SQLite store: a feed's newest article before `$1`, or its oldest
/// from `$1` to `$2`; slugs follow as `$3`, `$4`.
fn edge_sql(key: &FeedKey, newest: bool) -> String {
    let (range, order) = if newest {
        ("< $1", "DESC")
    } else {
        ("BETWEEN $1 AND $2", "ASC")
    };
    let (s1, s2) = if newest { ("$2", "$3") } else { ("$3", "$4") };
    match key {
        FeedKey::All => format!(
            "SELECT published_us FROM articles WHERE published_us {range}
             ORDER BY published_us {order} LIMIT 1"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            format!(
                "SELECT published_us FROM {t} WHERE slug = {s1} AND published_us {range}
                 ORDER BY published_us {order} LIMIT 1"
            )
        }
        FeedKey::CategoryRegion(..) => format!(
            "SELECT f.published_us FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = {s2}
             WHERE f.slug = {s1} AND f.published_us {range}
             ORDER BY f.published_us {order} LIMIT 1"
        ),
        // Keyword feeds have no archives.
        FeedKey::Search(_) => "SELECT NULL::bigint WHERE false".to_string(),
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
    unreadable: Arc<Unreadable>,
    budget: crate::search::Budget,
}

impl PgSnapshot {
    fn begin(
        mut conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
    ) -> Result<PgSnapshot, StoreError> {
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1")?;
        Ok(PgSnapshot {
            conn: RefCell::new(conn),
            unreadable,
            budget,
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

impl PgSnapshot {
    /// Articles from rows of `SELECT {ARTICLE_COLUMNS}`, in order; rows that
    /// don't decode are left out (and named in the log once).
    fn decode_rows(&self, conn: &mut PgConn, rows: &[Row]) -> Result<Vec<Article>, StoreError> {
        let raws: Vec<RawArticle> = rows.iter().map(raw_article).collect::<Result<_, _>>()?;
        let ids: Vec<String> = raws.iter().map(|r| r.id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut out = Vec::with_capacity(raws.len());
        for (id, decoded) in conn.decode_all(raws, Some(&ids))? {
            match decoded {
                Ok(a) => out.push(a),
                Err(reason) => self.unreadable.left_out(&id, &reason),
            }
        }
        Ok(out)
    }
}

impl Snapshot for PgSnapshot {
    fn feed_span(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        let mut conn = self.conn();
        let sql = feed_sql(key);
        let (upto, from) = (micros(upto), micros(from));
        // SQLite reads a negative limit as none; PostgreSQL refuses it.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match key {
            FeedKey::All => conn.query(&sql, &[&upto, &from, &limit])?,
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.query(&sql, &[&upto, &from, &limit, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.query(&sql, &[&upto, &from, &limit, c, r])?,
            FeedKey::Search(words) => {
                let wanted = Wanted::ask(&mut conn, words)?;
                // Each statement of the search stops past the budget's
                // time; the savepoint keeps the transaction usable after.
                conn.client.batch_execute(&format!(
                    "SAVEPOINT bantin_search; SET LOCAL statement_timeout = {}",
                    self.budget.time.as_millis().max(1)
                ))?;
                drop(conn);
                let (keyed, listed) = (&wanted.keyed, wanted.listed_words());
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let budget = self.budget;
                let started = std::time::Instant::now();
                let found = super::verified_search(words, limit, budget, |ask| {
                    let ask_sql = i64::try_from(ask).unwrap_or(i64::MAX);
                    let mut conn = self.conn();
                    let all: [&(dyn ToSql + Sync); 5] = [&upto, &from, &ask_sql, keyed, &listed];
                    // (`$5` is in the SQL only with listed words.)
                    let params = &all[..if listed.is_empty() { 4 } else { 5 }];
                    let mut rows = conn.query(&wanted.probe_sql(), params)?;
                    if rows.len() < ask {
                        rows = if keyed.is_empty() {
                            wanted.walk(&mut conn, params, ask, budget, started)?
                        } else {
                            conn.query(&search_sql(), &[&upto, &from, &ask_sql, &wanted.all])?
                        };
                    }
                    Ok(super::Candidates {
                        exhausted: rows.len() < ask,
                        articles: self.decode_rows(&mut conn, &rows)?,
                    })
                });
                self.conn().client.batch_execute(
                    "ROLLBACK TO SAVEPOINT bantin_search; RELEASE SAVEPOINT bantin_search",
                )?;
                return found;
            }
        };
        self.decode_rows(&mut conn, &rows)
    }

    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn();
        let sql = edge_sql(key, true);
        let before = micros(before);
        let found = match key {
            FeedKey::All => conn.one_i64(&sql, &[&before])?,
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.one_i64(&sql, &[&before, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.one_i64(&sql, &[&before, c, r])?,
            FeedKey::Search(_) => None,
        };
        Ok(found.and_then(instant))
    }

    fn oldest_between(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn();
        let sql = edge_sql(key, false);
        let (from, upto) = (micros(from), micros(upto));
        let found = match key {
            FeedKey::All => conn.one_i64(&sql, &[&from, &upto])?,
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.one_i64(&sql, &[&from, &upto, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.one_i64(&sql, &[&from, &upto, c, r])?,
            FeedKey::Search(_) => None,
        };
        Ok(found.and_then(instant))
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
        let mut authors = conn.links(Facet::Author, "slug", Some(&refs))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0)?;
            let Some(published) = instant(r.try_get(1)?) else {
                continue;
            };
            out.push(Placement {
                categories: categories.remove(&id).unwrap_or_default(),
                regions: regions.remove(&id).unwrap_or_default(),
                authors: authors.remove(&id).unwrap_or_default(),
                id,
                published,
            });
        }
        Ok(out)
    }

    fn held(&self) -> Result<Vec<Article>, StoreError> {
        let mut conn = self.conn();
        let rows = conn.query(
            &format!(
                "SELECT {ARTICLE_COLUMNS} FROM bantin_held h JOIN articles a ON a.id = h.article_id
                 ORDER BY h.article_id"
            ),
            &[],
        )?;
        self.decode_rows(&mut conn, &rows)
    }

    fn left_out(&self, ids: &[String], now: DateTime<Utc>) -> Result<Vec<LeftOut>, StoreError> {
        let mut check: BTreeSet<String> = self.unreadable.held_ids().into_iter().collect();
        check.extend(ids.iter().cloned());
        if check.is_empty() {
            return Ok(Vec::new());
        }
        let check: Vec<&str> = check.iter().map(String::as_str).collect();
        let mut conn = self.conn();
        let rows = conn.query(
            &format!(
                "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a WHERE a.id = ANY($1)"
            ),
            &[&check],
        )?;
        let mut published = HashMap::new();
        let mut raws = Vec::with_capacity(rows.len());
        for r in &rows {
            let raw = raw_article(r)?;
            published.insert(raw.id.clone(), r.try_get::<_, Option<i64>>(10)?);
            raws.push(raw);
        }
        let mut unread = Vec::new();
        for id in &check {
            if !published.contains_key(*id) {
                self.unreadable.readable_again(id);
            }
        }
        for (id, decoded) in conn.decode_all(raws, Some(&check))? {
            match decoded {
                Ok(_) => self.unreadable.readable_again(&id),
                Err(reason) => {
                    self.unreadable.left_out(&id, &reason);
                    let at = published.get(&id).copied().flatten().and_then(instant);
                    if let Some(at) = at.filter(|at| *at <= now) {
                        unread.push((id, at));
                    }
                }
            }
        }
        let ids: Vec<&str> = unread.iter().map(|(id, _)| id.as_str()).collect();
        let mut links = Vec::new();
        for facet in Facet::ALL {
            let slugs = conn.links(facet, "slug", Some(&ids))?;
            let named = conn.links(facet, "name", Some(&ids))?;
            links.push((facet, slugs, named));
        }
        Ok(unread
            .into_iter()
            .map(|(id, published)| {
                let mut names = Vec::new();
                for (facet, slugs, named) in &mut links {
                    let s = slugs.remove(&id).unwrap_or_default();
                    let n = named.remove(&id).unwrap_or_default();
                    names.extend(s.into_iter().zip(n).map(|(s, n)| (*facet, s, n)));
                }
                LeftOut {
                    id,
                    published,
                    names,
                }
            })
            .collect())
    }
}

/// Articles `check` reads at a time.
const AUDIT_PAGE: usize = 1000;

/// Records a writer keeps in memory before copying them to the server.
const COPY_BATCH: usize = 1000;

/// How long one statement of a merge may wait for a row another
/// transaction holds before the merge gives way (rolls back to its
/// savepoint, releasing every row it took) and tries again. Shorter than
/// PostgreSQL's `deadlock_timeout` (1 s): a CMS transaction waiting on us
/// is never the one a deadlock check aborts.
const LOCK_TIMEOUT: Duration = Duration::from_millis(200);

/// How long a merge keeps giving way before the write fails.
const MERGE_PATIENCE: Duration = Duration::from_secs(60);

/// A record waiting to be copied: the article's columns.
struct StagedArticle {
    seq: i64,
    id: String,
    title: String,
    summary: Option<String>,
    body: Option<String>,
    content_html: Option<String>,
    authors: String,
    published: String,
    updated: Option<String>,
    published_us: i64,
    url: Option<String>,
    image: Option<String>,
    /// The article's words (migration 5) that the keyword index holds,
    /// `None` for the database to make (both columns).
    words: Option<Vec<String>>,
    /// Its words that the store lists as common (migration 8), as a
    /// bitmap of their numbers.
    common_bits: Option<Vec<u8>>,
}

/// A link row waiting to be copied.
struct StagedLink {
    seq: i64,
    facet: &'static str,
    article_id: String,
    slug: String,
    name: String,
    position: i32,
}

/// A write transaction. Articles are copied (binary `COPY`, a thousand at
/// a time) into temporary tables, and merged into the article tables in a
/// few set-wise statements at commit, in id order, under a savepoint: if a
/// row stays locked by someone else for [`LOCK_TIMEOUT`], the merge gives
/// way and tries again, so an import never deadlocks with a CMS.
struct PgWriter {
    conn: r2d2::PooledConnection<Manager>,
    /// How to connect, for the staging thread's questions.
    config: postgres::Config,
    articles: Vec<StagedArticle>,
    links: Vec<StagedLink>,
    /// Articles put since the last merge.
    staged: u64,
    /// Rows taken back from the staging thread since the last merge: the
    /// next row's `seq` (rows come back in the order put).
    taken: i64,
    bulk_after: u64,
    /// What `bantin_words` makes of each character, learned as met, while
    /// the rows are made on the writer's thread.
    words: Option<Words>,
    /// The thread making the rows, once the import is past its sample.
    preparing: Option<Preparing<PgStaged>>,
    /// The first articles put, before any of their rows is made: the
    /// sample the store's common words are learned from.
    sample: Vec<Article>,
    /// In how many of the sample's articles each word is, and how many
    /// articles had words.
    counts: (WordMap<usize>, usize),
    /// Whether the sample was taken: rows are made on the thread since.
    sampled: bool,
    /// The store's common words (migration 8), as this transaction sees
    /// them: the rows it makes keep them out of the keyword index.
    common: Common,
    /// The store's limits, as in the SQLite writer.
    limits: SiteLimits,
    done: bool,
}

/// An article's rows as the staging tables take them; `seq` is set when
/// the writer takes them back.
struct PgStaged {
    article: StagedArticle,
    links: Vec<StagedLink>,
}

/// Articles in the staging thread's pipe, at most: two `COPY` batches, so
/// that the thread makes the next batch while the database takes one.
const PG_IN_FLIGHT: usize = 2 * COPY_BATCH;

/// A writer holds its first this many articles, counting their words
/// (made on its own thread, asking over its own connection), as a sample
/// of the words of what it writes, before it makes their rows (folding
/// their words again: 0.31 s with their rows, where keeping the words
/// took 50 MB); past them, rows are made on a thread (with a connection
/// of its own). A small import pays for neither. 5,000 articles: weeks of a busy newsroom, so
/// that a story of the week does not make its words common.
const COMMON_SAMPLE: usize = 5_000;

/// A word in at least one in this many of the sample's articles is common:
/// its feed fills from the newest articles (a feed of 50 within about 250
/// rows) without the keyword index. On the bench corpus the words this
/// common hold 97% of the index's entries.
const COMMON_SHARE: usize = 5;

/// The store's common words (migration 8), with their bits.
type Common = Arc<WordMap<u32>>;

/// The store's common words with their bits, as this transaction sees
/// them.
fn common_words(conn: &mut PgConn) -> Result<WordMap<u32>, postgres::Error> {
    conn.query("SELECT word, bit FROM bantin_common_words", &[])?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                u32::try_from(r.try_get::<_, i32>(1)?).unwrap_or(0),
            ))
        })
        .collect()
}

/// The words of a sample common enough to list (see [`COMMON_SHARE`]) and
/// not listed yet, sorted: `counts` says in how many of its `articles`
/// each word is. A word with a digit is never listed: years and numbers
/// are common for a while and then rare, and a listed word's feed walks
/// the articles back to where it was common.
fn common_in(counts: &WordMap<usize>, articles: usize, listed: &WordMap<u32>) -> Vec<String> {
    let mut common: Vec<String> = counts
        .iter()
        .filter(|(w, n)| {
            **n * COMMON_SHARE >= articles
                && !w.chars().any(char::is_numeric)
                && !listed.contains_key(*w)
        })
        .map(|(w, _)| w.clone())
        .collect();
    common.sort_unstable();
    common
}

/// The staging thread's connection for asking `bantin_words` about the
/// characters it has not met (a few dozen questions an import). Made when
/// first needed; if it cannot be made, the articles that needed it go
/// without words and the database's trigger computes them (slower, the
/// same words).
struct Probe {
    config: postgres::Config,
    client: Option<PgConn>,
    failed: bool,
}

impl Probe {
    fn ask(&mut self, probes: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        if self.failed {
            return Err(StoreError::Unavailable("no connection to ask".into()));
        }
        let client = match &mut self.client {
            Some(c) => c,
            None => match self.config.connect(NoTls) {
                Ok(client) => self.client.insert(PgConn {
                    client,
                    statements: HashMap::new(),
                }),
                Err(e) => {
                    self.failed = true;
                    return Err(e.into());
                }
            },
        };
        ask_over(client, probes)
    }
}

/// The staging thread of a PostgreSQL writer, going on with what `words`
/// learned so far.
fn pg_rows(
    config: postgres::Config,
    mut words: Words,
    common: Common,
) -> Result<Preparing<PgStaged>, StoreError> {
    Preparing::start(PG_IN_FLIGHT, move || {
        let mut probe = Probe {
            config,
            client: None,
            failed: false,
        };
        Ok(move |a: Article| {
            // Its own connection: a question that failed harms no
            // transaction, and the database's trigger makes those words.
            let words = match fold_words(&a, &mut words, &mut |p| probe.ask(p)) {
                Ok(w) => w,
                Err(e) => {
                    tracing::debug!("the database makes the words of {}: {e}", a.id);
                    None
                }
            };
            Ok(pg_row(&a, words, &common))
        })
    })
}

/// Ask over the writer's own connection what `bantin_words` makes of each
/// probe.
fn ask_over(conn: &mut PgConn, probes: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
    Ok(conn
        .query(
            "SELECT bantin_words(p, NULL, NULL, NULL) FROM unnest($1::text[])
             WITH ORDINALITY AS x (p, i) ORDER BY i",
            &[&probes],
        )?
        .iter()
        .map(|r| Ok(r.try_get::<_, Option<Vec<String>>>(0)?.unwrap_or_default()))
        .collect::<Result<_, postgres::Error>>()?)
}

/// The words of `a`'s visible text (migration 10): title, summary and
/// `search::visible_body`, the text `bantin_visible` takes out of HTML in
/// the trigger. `None`: the database's.
fn fold_words(
    a: &Article,
    words: &mut Words,
    ask: &mut super::pg_words::Ask<'_>,
) -> Result<Option<Vec<String>>, StoreError> {
    let body = crate::search::visible_body(&a.body);
    words.of(
        [
            &text(&a.title),
            &a.summary.as_deref().map(text).unwrap_or_default(),
            &text(&body),
        ],
        ask,
    )
}

/// The staging rows of `a`, with its words split by `common`.
fn pg_row(a: &Article, words: Option<Vec<String>>, common: &WordMap<u32>) -> PgStaged {
    let (words, common_bits) = match words {
        Some(mut words) => {
            let mut bits = Vec::new();
            words.retain(|w| match common.get(w) {
                Some(&bit) => {
                    let (byte, bit) = (bit as usize / 8, bit % 8);
                    if bits.len() <= byte {
                        bits.resize(byte + 1, 0);
                    }
                    // `get_bit`'s order: bit 0 is a byte's lowest.
                    bits[byte] |= 1 << bit;
                    false
                }
                None => true,
            });
            (Some(words), Some(bits))
        }
        None => (None, None),
    };
    let (body, html) = match &a.body {
        Body::None => (None, None),
        Body::Text(t) => (Some(text(t).into_owned()), None),
        Body::Html(h) => (None, Some(text(h).into_owned())),
    };
    let title = text(&a.title).into_owned();
    let summary = a.summary.as_deref().map(|s| text(s).into_owned());
    let links = link_rows(a)
        .into_iter()
        .map(|(facet, slug, name, position)| StagedLink {
            seq: 0,
            facet,
            article_id: a.id.clone(),
            slug,
            name: text(name).into_owned(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
        })
        .collect();
    PgStaged {
        article: StagedArticle {
            seq: 0,
            id: a.id.clone(),
            title,
            summary,
            body,
            content_html: html,
            authors: serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".to_string()),
            published: a.published.to_rfc3339(),
            updated: (a.updated != a.published).then(|| a.updated.to_rfc3339()),
            published_us: micros(a.published.to_utc()),
            url: a.url.clone(),
            image: a.image.clone(),
            words,
            common_bits,
        },
        links,
    }
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

/// The row of `bantin_limits`, in [`super::limit_columns`]' order.
fn stored_limits(conn: &mut PgConn) -> Result<Option<[i64; 5]>, postgres::Error> {
    let rows = conn.query(super::STORE_LIMITS_SQL, &[])?;
    rows.first()
        .map(|r| {
            Ok([
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ])
        })
        .transpose()
}

/// Whether an error is a lock wait that gave up (our `lock_timeout`) or a
/// deadlock PostgreSQL broke by aborting our statement: worth a retry.
fn gave_way(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl PgWriter {
    fn begin(
        mut conn: r2d2::PooledConnection<Manager>,
        config: postgres::Config,
    ) -> Result<PgWriter, postgres::Error> {
        conn.client.batch_execute(
            "BEGIN;
             SET LOCAL bantin.words = 'given';
             CREATE TEMP TABLE bantin_stage (
                 seq BIGINT, id TEXT COLLATE \"C\", title TEXT, summary TEXT, body TEXT,
                 content_html TEXT, authors TEXT, published TEXT, updated TEXT,
                 published_us BIGINT, url TEXT, image TEXT, words TEXT[],
                 common_bits BYTEA) ON COMMIT DROP;
             CREATE TEMP TABLE bantin_stage_links (
                 seq BIGINT, facet TEXT, article_id TEXT COLLATE \"C\", slug TEXT COLLATE \"C\",
                 name TEXT COLLATE \"C\", position INTEGER) ON COMMIT DROP;
             ALTER TABLE bantin_stage ALTER COLUMN body SET STORAGE EXTERNAL,
                 ALTER COLUMN content_html SET STORAGE EXTERNAL;",
        )?;
        // Staged rows are read once: compressing their bodies (pglz, on
        // every 3 KB body) would be spent for nothing. Stored ones are
        // compressed with LZ4 where the server has it, several times
        // faster than pglz; reading either needs nothing of the reader.
        if let Err(e) = conn
            .client
            .batch_execute("SAVEPOINT bantin_lz4; SET LOCAL default_toast_compression = 'lz4'")
        {
            tracing::debug!("no LZ4 compression here: {}", reason(&e));
            conn.client
                .batch_execute("ROLLBACK TO SAVEPOINT bantin_lz4")?;
        }
        conn.client.batch_execute("RELEASE SAVEPOINT bantin_lz4")?;
        let stored = conn
            .one_i64(
                "SELECT coalesce(sum(delta), 0)::bigint FROM bantin_counts WHERE kind = 't'",
                &[],
            )?
            .unwrap_or(0);
        let limits =
            stored_limits(&mut conn)?.map_or_else(SiteLimits::default, super::limits_of_columns);
        let common = common_words(&mut conn)?;
        Ok(PgWriter {
            limits,
            conn,
            config,
            articles: Vec::new(),
            links: Vec::new(),
            staged: 0,
            taken: 0,
            bulk_after: BULK_AFTER.max(stored.max(0) as u64 / 4),
            words: Some(Words::default()),
            preparing: None,
            sample: Vec::new(),
            counts: (WordMap::default(), 0),
            sampled: false,
            common: Arc::new(common),
            done: false,
        })
    }

    /// Copy the records in memory to the staging tables.
    fn flush(&mut self) -> Result<(), postgres::Error> {
        use postgres::binary_copy::BinaryCopyInWriter;
        use postgres::types::Type;
        if !self.articles.is_empty() {
            let sink = self.conn.client.copy_in(
                "COPY bantin_stage (seq, id, title, summary, body, content_html, authors, published,
                                    updated, published_us, url, image, words, common_bits)
                 FROM STDIN (FORMAT binary)",
            )?;
            let t = Type::TEXT;
            let types = [
                Type::INT8,
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                t.clone(),
                Type::INT8,
                t.clone(),
                t,
                Type::TEXT_ARRAY,
                Type::BYTEA,
            ];
            let mut copy = BinaryCopyInWriter::new(sink, &types);
            for a in self.articles.drain(..) {
                copy.write(&[
                    &a.seq,
                    &a.id,
                    &a.title,
                    &a.summary,
                    &a.body,
                    &a.content_html,
                    &a.authors,
                    &a.published,
                    &a.updated,
                    &a.published_us,
                    &a.url,
                    &a.image,
                    &a.words,
                    &a.common_bits,
                ])?;
            }
            copy.finish()?;
        }
        if !self.links.is_empty() {
            let sink = self.conn.client.copy_in(
                "COPY bantin_stage_links (seq, facet, article_id, slug, name, position)
                 FROM STDIN (FORMAT binary)",
            )?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT4,
            ];
            let mut copy = BinaryCopyInWriter::new(sink, &types);
            for l in self.links.drain(..) {
                copy.write(&[
                    &l.seq,
                    &l.facet,
                    &l.article_id,
                    &l.slug,
                    &l.name,
                    &l.position,
                ])?;
            }
            copy.finish()?;
        }
        Ok(())
    }

    /// Run `statements` under a savepoint, giving way and trying again
    /// while they wait too long on rows others hold.
    fn yielding(
        &mut self,
        mut statements: impl FnMut(&mut PgConn) -> Result<(), postgres::Error>,
    ) -> Result<(), postgres::Error> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        self.conn.client.batch_execute(&format!(
            "SET LOCAL lock_timeout = {}",
            LOCK_TIMEOUT.as_millis()
        ))?;
        loop {
            self.conn.client.batch_execute("SAVEPOINT bantin_merge")?;
            match statements(&mut self.conn) {
                Ok(()) => break,
                Err(e) if gave_way(&e) && started.elapsed() < MERGE_PATIENCE => {
                    self.conn
                        .client
                        .batch_execute("ROLLBACK TO SAVEPOINT bantin_merge")?;
                    tracing::debug!("a write gave way to another transaction: {}", reason(&e));
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
        self.conn
            .client
            .batch_execute("RELEASE SAVEPOINT bantin_merge; SET LOCAL lock_timeout = 0")
    }

    /// Merge the staged records into the article tables: the last record of
    /// each id wins; an unchanged article or link is not rewritten (it would
    /// log a change for nothing).
    fn merge(&mut self) -> Result<(), StoreError> {
        // Too few to learn from: their rows, with the words as listed.
        self.settle(false)?;
        if let Some(mut preparing) = self.preparing.take() {
            let drained = preparing.drain(|row| self.take(row));
            self.preparing = Some(preparing);
            drained?;
        }
        self.flush()?;
        if self.staged == 0 {
            return Ok(());
        }
        let bulk = self.staged > self.bulk_after;
        // `bantin_last`: the last record of each id. Where no id was put
        // twice (most imports), it is the staging table itself: copying
        // every body once more cost 35.6 s of a 1M import; asking costs a
        // pass over the ids.
        let repeated = self
            .conn
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM bantin_stage GROUP BY id HAVING count(*) > 1)",
                &[],
            )?
            .try_get::<_, bool>(0)?;
        self.conn.client.batch_execute(if repeated {
            "CREATE TEMP TABLE bantin_last ON COMMIT DROP AS
                 SELECT DISTINCT ON (id) * FROM bantin_stage ORDER BY id, seq DESC;
             ANALYZE bantin_last;"
        } else {
            "CREATE TEMP VIEW bantin_last AS SELECT * FROM bantin_stage; ANALYZE bantin_stage;"
        })?;
        self.conn.client.batch_execute(
            "CREATE INDEX ON bantin_stage_links (seq, facet, slug); ANALYZE bantin_stage_links;",
        )?;
        if bulk {
            // (A larger GIN pending list for the bulk only defers the
            // index's work: the same 100k import took 8.2 s to insert and
            // 8.1 s more to clean the list, against 13.3 s with the
            // default.)
            self.conn
                .client
                .batch_execute("SET LOCAL bantin.bulk = 'on'")?;
        }
        let mut sql = String::from(
            "INSERT INTO articles (id, title, summary, body, content_html, authors, published, updated,
                                   published_us, url, image, words, common_bits)
                 SELECT id, title, summary, body, content_html, authors, published, updated,
                        published_us, url, image, words, common_bits FROM bantin_last ORDER BY id
             ON CONFLICT (id) DO UPDATE SET
               title = excluded.title, summary = excluded.summary, body = excluded.body,
               content_html = excluded.content_html, authors = excluded.authors,
               published = excluded.published, updated = excluded.updated,
               published_us = excluded.published_us, url = excluded.url, image = excluded.image,
               words = excluded.words, common_bits = excluded.common_bits
             WHERE (articles.title, articles.summary, articles.body, articles.content_html, articles.authors,
                    articles.published, articles.updated, articles.published_us, articles.url, articles.image)
               IS DISTINCT FROM (excluded.title, excluded.summary, excluded.body, excluded.content_html,
                    excluded.authors, excluded.published, excluded.updated, excluded.published_us,
                    excluded.url, excluded.image);",
        );
        for facet in Facet::ALL {
            let (t, f) = (table(facet), facet_code(facet));
            sql.push_str(&format!(
                "DELETE FROM {t} x USING bantin_last l
                 WHERE x.article_id = l.id AND NOT EXISTS (
                     SELECT 1 FROM bantin_stage_links s
                     WHERE s.seq = l.seq AND s.facet = '{f}' AND s.slug = x.slug);
                 INSERT INTO {t} (article_id, slug, name, position, published_us)
                     SELECT s.article_id, s.slug, s.name, s.position, l.published_us
                     FROM bantin_stage_links s JOIN bantin_last l ON l.seq = s.seq
                     WHERE s.facet = '{f}' ORDER BY s.article_id, s.slug
                 ON CONFLICT (article_id, slug) DO UPDATE SET name = excluded.name, position = excluded.position
                 WHERE ({t}.name, {t}.position) IS DISTINCT FROM (excluded.name, excluded.position);"
            ));
        }
        // One statement at a time: a slow one shows by itself in the
        // server's log (`log_min_duration_statement`).
        self.yielding(|conn| {
            sql.split_terminator(';')
                .filter(|s| !s.trim().is_empty())
                .try_for_each(|s| conn.client.batch_execute(s))
        })?;
        if bulk {
            self.conn
                .client
                .batch_execute("SET LOCAL bantin.bulk = 'off'; SELECT bantin_rebuild();")?;
            self.analyze()?;
        }
        self.conn.client.batch_execute(if repeated {
            "DROP TABLE bantin_last; TRUNCATE bantin_stage, bantin_stage_links;"
        } else {
            "DROP VIEW bantin_last; TRUNCATE bantin_stage, bantin_stage_links;"
        })?;
        self.staged = 0;
        self.taken = 0;
        Ok(())
    }

    /// After a bulk, committed with it: the article tables' statistics and
    /// the keyword index's pending list moved into the index (migration
    /// 8's `bantin_settle`, which says why). 1.0 s at a million. If it
    /// cannot (another import analyzing the tables holds them until it
    /// commits; a database that refuses), autovacuum does it later.
    fn analyze(&mut self) -> Result<(), postgres::Error> {
        self.optional(
            "the article tables' statistics",
            Duration::from_secs(1),
            |conn| conn.client.batch_execute("SELECT bantin_settle()"),
        )
        .map(drop)
    }

    /// Run `statement`, which the write can do without, under a savepoint
    /// and `lock_timeout`: if the server refuses it or it waits too long on
    /// another transaction, its effects are undone, the log says why
    /// (`what`), and the write goes on. `Ok(false)` then.
    fn optional(
        &mut self,
        what: &str,
        lock_timeout: Duration,
        statement: impl FnOnce(&mut PgConn) -> Result<(), postgres::Error>,
    ) -> Result<bool, postgres::Error> {
        self.conn.client.batch_execute(&format!(
            "SAVEPOINT bantin_optional; SET LOCAL lock_timeout = {}",
            lock_timeout.as_millis()
        ))?;
        let done = match statement(&mut self.conn) {
            Ok(()) => true,
            Err(e) if e.code().is_some() => {
                if gave_way(&e) {
                    tracing::debug!("{what}: {}", reason(&e));
                } else {
                    tracing::warn!("{what}: {}", reason(&e));
                }
                self.conn
                    .client
                    .batch_execute("ROLLBACK TO SAVEPOINT bantin_optional")?;
                false
            }
            Err(e) => return Err(e),
        };
        self.conn
            .client
            .batch_execute("RELEASE SAVEPOINT bantin_optional; SET LOCAL lock_timeout = 0")?;
        Ok(done)
    }

    /// Make the rows of the sampled articles, after learning the common
    /// words of the sample if `learn`.
    fn settle(&mut self, learn: bool) -> Result<(), StoreError> {
        if self.sample.is_empty() {
            return Ok(());
        }
        let sample = std::mem::take(&mut self.sample);
        let (counts, articles) = std::mem::take(&mut self.counts);
        if learn {
            self.learn(&counts, articles)?;
        }
        let common = Arc::clone(&self.common);
        let mut words = self.words.take().unwrap_or_default();
        for a in sample {
            // (Every character is known by now: nothing is asked.)
            let folded = fold_words(&a, &mut words, &mut |p| ask_over(&mut self.conn, p));
            self.take(pg_row(&a, folded?, &common))?;
        }
        self.words = Some(words);
        Ok(())
    }

    /// List the words common in `sample`, in this transaction, so that a
    /// reader sees the list with the rows made by it. If the list cannot
    /// take them (another import listing the same words holds them until it
    /// commits; a role without the grant), it stays as it is and the words
    /// go in the index as before: slower to import, the same feeds.
    fn learn(&mut self, counts: &WordMap<usize>, articles: usize) -> Result<(), StoreError> {
        let new = common_in(counts, articles, &self.common);
        if new.is_empty() {
            return Ok(());
        }
        let listed = self.optional(
            "the store's common words stay as they are",
            LOCK_TIMEOUT,
            |conn| {
                conn.execute(
                    "INSERT INTO bantin_common_words (word) SELECT unnest($1::text[])
                     ON CONFLICT DO NOTHING",
                    &[&new],
                )
                .map(drop)
            },
        )?;
        if listed {
            tracing::debug!("{} more common words: {}", new.len(), new.join(" "));
            self.common = Arc::new(common_words(&mut self.conn)?);
        }
        Ok(())
    }

    /// Take an article's rows back from the staging thread, numbered in
    /// the order put; copy a full batch.
    fn take(&mut self, row: PgStaged) -> Result<(), StoreError> {
        self.taken += 1;
        let mut article = row.article;
        article.seq = self.taken;
        self.articles.push(article);
        self.links.extend(row.links.into_iter().map(|mut l| {
            l.seq = self.taken;
            l
        }));
        if self.articles.len() >= COPY_BATCH {
            self.flush()?;
        }
        Ok(())
    }
}

impl Writer for PgWriter {
    fn put(&mut self, a: &Article) -> Result<(), StoreError> {
        self.staged += 1;
        if crate::limits::exceeded(a, &self.limits).is_some() {
            self.conn.execute(
                "INSERT INTO bantin_held (article_id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&a.id],
            )?;
        }
        let mut preparing = match (self.preparing.take(), self.words.take()) {
            (Some(p), _) => p,
            (None, Some(mut words)) if !self.sampled => {
                let folded = fold_words(a, &mut words, &mut |p| ask_over(&mut self.conn, p));
                self.words = Some(words);
                if let Some(folded) = folded? {
                    // (Each article's words are distinct: see `Words::of`.)
                    for w in folded {
                        *self.counts.0.entry(w).or_default() += 1;
                    }
                    self.counts.1 += 1;
                }
                self.sample.push(a.clone());
                if self.sample.len() >= COMMON_SAMPLE {
                    self.sampled = true;
                    self.settle(true)?;
                }
                return Ok(());
            }
            (None, words) => pg_rows(
                self.config.clone(),
                words.unwrap_or_default(),
                Arc::clone(&self.common),
            )?,
        };
        let done = preparing.pass(a.clone(), |row| self.take(row));
        self.preparing = Some(preparing);
        done
    }

    fn delete(&mut self, id: &str) -> Result<bool, StoreError> {
        // What was put before must be in before it can be deleted.
        self.merge()?;
        let before = self
            .conn
            .one_i64("SELECT count(*) FROM articles WHERE id = $1", &[&id])?
            .unwrap_or(0);
        if before == 0 {
            return Ok(false);
        }
        self.yielding(|conn| {
            conn.execute("DELETE FROM articles WHERE id = $1", &[&id])
                .map(drop)
        })?;
        Ok(true)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.merge()?;
        self.conn.client.batch_execute("COMMIT")?;
        self.done = true;
        Ok(())
    }
}

impl Store for PostgresStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(PgSnapshot::begin(
            self.readers.get()?,
            self.unreadable.clone(),
            self.budget(),
        )?))
    }

    fn log_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(PgSnapshot::begin(
            self.log_reader.get()?,
            self.unreadable.clone(),
            self.budget(),
        )?))
    }

    fn search_snapshot(&self) -> Result<Box<dyn Snapshot + '_>, StoreError> {
        Ok(Box::new(PgSnapshot::begin(
            self.searchers.get()?,
            self.unreadable.clone(),
            self.budget(),
        )?))
    }

    fn set_search_budget(&self, budget: crate::search::Budget) {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner()) = budget;
    }

    fn on_commit(&self, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        let config = self.config.clone();
        let alive = Arc::downgrade(&self.alive);
        std::thread::Builder::new()
            .name("bantin-listen".into())
            .spawn(move || listen(config, alive, wake))
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
        let mut conn = snap.conn();
        // A page of articles at a time, in id order, each page's links in
        // two queries: memory stays bounded however many articles there are.
        let mut after = String::new();
        loop {
            let rows = conn.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a
                     WHERE a.id > $1 ORDER BY a.id LIMIT {AUDIT_PAGE}"
                ),
                &[&after],
            )?;
            let Some(last) = rows.last() else { break };
            after = last.try_get(0)?;
            let mut raws = Vec::with_capacity(rows.len());
            let mut published = HashMap::new();
            for r in &rows {
                let raw = raw_article(r)?;
                published.insert(raw.id.clone(), r.try_get::<_, i64>(10)?);
                raws.push(raw);
            }
            let ids: Vec<String> = raws.iter().map(|r| r.id.clone()).collect();
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut authors = conn.links(Facet::Author, "slug", Some(&refs))?;
            for (id, decoded) in conn.decode_all(raws, Some(&refs))? {
                let published_us = published.get(&id).copied().unwrap_or_default();
                let stored = |id: &str| Ok::<_, StoreError>(authors.remove(id).unwrap_or_default());
                audit_row(id, decoded, published_us, stored, admit, report)?;
            }
        }
        for facet in Facet::ALL {
            let sql = format!(
                "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
                 JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
                table(facet)
            );
            // Streamed as the server sends them, not collected.
            let stmt = conn.statement(&sql)?;
            let no_params: [&(dyn ToSql + Sync); 0] = [];
            let mut rows = conn.client.query_raw(&stmt, no_params)?;
            while let Some(r) = rows.next()? {
                RawLink {
                    article_id: r.try_get(0)?,
                    slug: r.try_get(1)?,
                    name: r.try_get(2)?,
                    published_us: r.try_get(3)?,
                    article_published_us: r.try_get(4)?,
                }
                .audit(facet, report);
            }
        }
        let stale = conn.query(
            "WITH stored AS (
                 SELECT kind, a, b, sum(delta)::bigint AS n FROM bantin_counts GROUP BY kind, a, b
                 HAVING sum(delta) <> 0),
             actual AS (
                 SELECT 'c' AS kind, slug AS a, name AS b, count(*) AS n FROM article_categories GROUP BY slug, name
                 UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
                 UNION ALL SELECT 'u', slug, name, count(*) FROM article_authors GROUP BY slug, name
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
            report(Problem {
                id: String::new(),
                reason: format!(
                    "bantin_counts is out of step with the article tables (first difference: {differ:?}); \
                     were the triggers bypassed?"
                ),
            });
        }
        Ok(())
    }

    fn adopt_limits(&self, limits: &SiteLimits) -> Result<bool, StoreError> {
        let mut conn = self.writers.get()?;
        if stored_limits(&mut conn)? == Some(super::limit_columns(limits)) {
            return Ok(false);
        }
        let mut tx = conn.client.transaction()?;
        // A scan of every article when the limits changed: not a request's
        // read, so not under its timeout.
        tx.batch_execute("SET LOCAL statement_timeout = 0")?;
        let values = super::limit_columns(limits);
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let changed = tx.execute(&super::adopt_limits_sql('$'), &params)? > 0;
        if changed {
            tx.batch_execute(super::REHOLD_SQL)?;
        }
        tx.commit()?;
        Ok(changed)
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

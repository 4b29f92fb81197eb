//! The shared store: one PostgreSQL database that several `bantin` replicas
//! (and a CMS) read and write at once.
//!
//! Every SQL statement of the PostgreSQL backend lives here. The schema
//! (`migrations/postgres/`) mirrors SQLite's table for table, with `COLLATE
//! "C"` on ids, slugs and names so that ordering and grouping go by bytes as
//! in SQLite: both stores give byte-identical feeds. Rows become articles
//! through [`super::row`], the same code the SQLite store uses.
//!
//! Changes are seen through a one-row `bantin_changes` table that statement
//! triggers bump on every write to the article tables, whoever makes it.

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
use super::{NameUse, Pair, Problem, Store, StoreError, micros};
use crate::article::{Article, Body, Facet, FeedKey};
use crate::config::StoreUrl;

/// Schema migrations, applied in order; `bantin_migrations` lists the
/// versions applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/postgres/001_init.sql")];

/// The advisory lock that migrations run under ("bantin" in ASCII), so that
/// replicas starting together apply each migration exactly once.
const MIGRATION_LOCK: i64 = 0x6261_6e74_696e;

/// A PostgreSQL article store.
///
/// `postgres::Client` needs `&mut` for every query while [`Store`] reads
/// take `&self`; the client sits in a `RefCell`. The store is `Send` but not
/// `Sync`, which is all the trait asks (the server keeps it in a `Mutex`).
pub struct PostgresStore {
    /// Always `Some` until dropped (see the `Drop` impl).
    conn: RefCell<Option<Conn>>,
}

/// The connection, what is needed to make it again, and its prepared
/// statements.
struct Conn {
    config: postgres::Config,
    client: Client,
    statements: HashMap<String, Statement>,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A row's id and what decoding it gave.
type Decoded = (String, Result<Article, String>);

impl Conn {
    /// The client, reconnected first if the server closed the connection
    /// (a restart or failover): a long-running server must not stay broken.
    fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.is_closed() {
            self.client = self.config.connect(NoTls)?;
            self.statements.clear();
        }
        Ok(&mut self.client)
    }

    /// Run a read, preparing its SQL once per connection.
    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        self.client()?;
        let stmt = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql)?;
                self.statements.insert(sql.to_string(), s.clone());
                s
            }
        };
        self.client.query(&stmt, params)
    }

    /// The names of `facet` of every article in `ids` (all articles when
    /// `ids` is `None`), each article's in stored order: one query instead of
    /// one per article.
    fn links(
        &mut self,
        facet: Facet,
        ids: Option<&[&str]>,
    ) -> Result<HashMap<String, Vec<String>>, postgres::Error> {
        let t = table(facet);
        let rows = match ids {
            Some(ids) => self.query(
                &format!(
                    "SELECT article_id, name FROM {t} WHERE article_id = ANY($1)
                     ORDER BY article_id, position, slug"
                ),
                &[&ids],
            )?,
            None => self.query(
                &format!("SELECT article_id, name FROM {t} ORDER BY article_id, position, slug"),
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
        let mut categories = self.links(Facet::Category, ids)?;
        let mut regions = self.links(Facet::Region, ids)?;
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

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://USER@HOST:PORT/DB`)
    /// and bring its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            // StoreUrl's Display redacts the password.
            url: StoreUrl::Postgres(url.to_string()).to_string(),
            reason,
        };
        let mut config = postgres::Config::from_str(url).map_err(|e| open_err(reason(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("bantin");
        }
        let mut client = config.connect(NoTls).map_err(|e| open_err(reason(&e)))?;
        migrate(&mut client).map_err(|e| open_err(reason(&e)))?;
        Ok(PostgresStore {
            conn: RefCell::new(Some(Conn {
                config,
                client,
                statements: HashMap::new(),
            })),
        })
    }

    fn conn(&self) -> RefMut<'_, Conn> {
        RefMut::map(self.conn.borrow_mut(), |c| {
            c.as_mut().expect("the connection is there until drop")
        })
    }

    fn conn_mut(&mut self) -> &mut Conn {
        self.conn
            .get_mut()
            .as_mut()
            .expect("the connection is there until drop")
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // postgres::Client closes by blocking on its own runtime, which
        // panics inside an async task (the server drops its store there).
        // Close it on a thread of its own then.
        if let Some(conn) = self.conn.get_mut().take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::spawn(move || drop(conn)).join();
        }
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

fn name_use(r: &Row) -> Result<NameUse, postgres::Error> {
    Ok(NameUse {
        slug: r.try_get(0)?,
        name: r.try_get(1)?,
        articles: r.try_get::<_, i64>(2)? as u64,
        newest: r
            .try_get::<_, Option<i64>>(3)?
            .and_then(DateTime::from_timestamp_micros),
    })
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

/// Take the lock on the change row first in every write transaction of
/// ours. Its trigger would take it anyway, but only after the first row
/// lock; two imports of the same ids could then deadlock. Taken first, it
/// queues writers the way SQLite's single writer does.
fn lock_changes(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    tx.execute("SELECT version FROM bantin_changes FOR UPDATE", &[])?;
    Ok(())
}

impl Store for PostgresStore {
    fn upsert(&mut self, articles: &[Article]) -> Result<(), StoreError> {
        let conn = self.conn_mut();
        let mut tx = conn.client()?.transaction()?;
        lock_changes(&mut tx)?;
        let put = tx.prepare(
            "INSERT INTO articles (id, title, summary, body, content_html, authors, published, updated,
                                   published_us, url, image)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET
               title = excluded.title, summary = excluded.summary, body = excluded.body,
               content_html = excluded.content_html, authors = excluded.authors,
               published = excluded.published, updated = excluded.updated,
               published_us = excluded.published_us, url = excluded.url, image = excluded.image",
        )?;
        let unlink = [
            tx.prepare("DELETE FROM article_categories WHERE article_id = $1")?,
            tx.prepare("DELETE FROM article_regions WHERE article_id = $1")?,
        ];
        let link = |facet| {
            format!(
                "INSERT INTO {} (article_id, slug, name, position, published_us)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (article_id, slug) DO NOTHING",
                table(facet)
            )
        };
        let link = [
            tx.prepare(&link(Facet::Category))?,
            tx.prepare(&link(Facet::Region))?,
        ];
        for a in articles {
            let (body, html) = match &a.body {
                Body::None => (None, None),
                Body::Text(t) => (Some(text(t)), None),
                Body::Html(h) => (None, Some(text(h))),
            };
            let authors =
                serde_json::to_string(&a.authors).expect("a list of strings always serializes");
            let published_us = micros(a.published.to_utc());
            let updated = (a.updated != a.published).then(|| a.updated.to_rfc3339());
            let (title, summary) = (text(&a.title), a.summary.as_deref().map(text));
            tx.execute(
                &put,
                &[
                    &a.id,
                    &title,
                    &summary,
                    &body,
                    &html,
                    &authors,
                    &a.published.to_rfc3339(),
                    &updated,
                    &published_us,
                    &a.url,
                    &a.image,
                ],
            )?;
            for stmt in &unlink {
                tx.execute(stmt, &[&a.id])?;
            }
            for (stmt, names) in link.iter().zip([&a.categories, &a.regions]) {
                for (position, name) in names.iter().enumerate() {
                    let slug = crate::slug::slugify(name);
                    let position = i32::try_from(position).unwrap_or(i32::MAX);
                    let name = text(name);
                    tx.execute(stmt, &[&a.id, &slug, &name, &position, &published_us])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn remove(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let conn = self.conn_mut();
        let mut tx = conn.client()?.transaction()?;
        lock_changes(&mut tx)?;
        let del = tx.prepare("DELETE FROM articles WHERE id = $1")?;
        let mut missing = Vec::new();
        for id in ids {
            if tx.execute(&del, &[id])? == 0 {
                missing.push(id.clone());
            }
        }
        tx.commit()?;
        Ok(missing)
    }

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

    fn names(&self, facet: Facet, now: DateTime<Utc>) -> Result<Vec<NameUse>, StoreError> {
        let sql = format!(
            "SELECT slug, name, count(*), max(published_us) FROM {} WHERE published_us <= $1
             GROUP BY slug, name ORDER BY slug, name",
            table(facet)
        );
        let rows = self.conn().query(&sql, &[&micros(now)])?;
        Ok(rows.iter().map(name_use).collect::<Result<_, _>>()?)
    }

    fn names_of(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<NameUse>, StoreError> {
        let sql = format!(
            "SELECT slug, name, count(*), max(published_us) FROM {}
             WHERE slug = $1 AND published_us <= $2
             GROUP BY slug, name ORDER BY name",
            table(facet)
        );
        let rows = self.conn().query(&sql, &[&slug, &micros(now)])?;
        Ok(rows.iter().map(name_use).collect::<Result<_, _>>()?)
    }

    fn pairs(&self, now: DateTime<Utc>) -> Result<Vec<Pair>, StoreError> {
        let rows = self.conn().query(
            "SELECT c.slug, r.slug, count(*), max(c.published_us) FROM article_categories c
             JOIN article_regions r ON r.article_id = c.article_id
             WHERE c.published_us <= $1
             GROUP BY c.slug, r.slug ORDER BY c.slug, r.slug",
            &[&micros(now)],
        )?;
        let pair = |r: &Row| -> Result<Pair, postgres::Error> {
            Ok(Pair {
                category: r.try_get(0)?,
                region: r.try_get(1)?,
                articles: r.try_get::<_, i64>(2)? as u64,
                newest: r
                    .try_get::<_, Option<i64>>(3)?
                    .and_then(DateTime::from_timestamp_micros),
            })
        };
        Ok(rows.iter().map(pair).collect::<Result<_, _>>()?)
    }

    fn count(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let rows = self.conn().query(
            "SELECT count(*), max(published_us) FROM articles WHERE published_us <= $1",
            &[&micros(now)],
        )?;
        let (n, newest): (i64, Option<i64>) = match rows.first() {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, None),
        };
        Ok((n as u64, newest.and_then(DateTime::from_timestamp_micros)))
    }

    fn change_token(&self) -> Result<u64, StoreError> {
        // One indexed row; its version moves with every committed write.
        let rows = self
            .conn()
            .query("SELECT version FROM bantin_changes", &[])?;
        let v: i64 = match rows.first() {
            Some(r) => r.try_get(0)?,
            None => 0,
        };
        Ok(v as u64)
    }

    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let rows = self.conn().query(
            "SELECT published_us FROM articles WHERE published_us > $1
             ORDER BY published_us LIMIT 1",
            &[&micros(now)],
        )?;
        let us: Option<i64> = rows.first().map(|r| r.try_get(0)).transpose()?;
        Ok(us.and_then(DateTime::from_timestamp_micros))
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        let mut conn = self.conn();
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
            let published_us = published[&id];
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
        Ok(problems)
    }
}

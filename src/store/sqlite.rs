//! The embedded store: one SQLite file (bundled SQLite, WAL mode).
//!
//! Every SQL statement of the SQLite backend lives here. Feed queries walk an
//! index from `now` downwards and stop at the limit, so a feed's cost depends
//! on the rows it returns, not on the size of the store (see the query-plan
//! test at the bottom).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::row::{ARTICLE_COLUMNS, RawArticle, RawLink, audit_article, table};
use super::{NameUse, Pair, Problem, Store, StoreError, micros};
use crate::article::{Article, Body, Facet, FeedKey};

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/sqlite/001_init.sql")];

/// A SQLite article store.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Open the file at `path`, creating it and its schema if missing.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            url: format!("sqlite:{}", path.display()),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(open_err(format!("folder {} does not exist", dir.display())));
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let store = SqliteStore { conn };
        store.prepare().map_err(|e| open_err(e.to_string()))?;
        Ok(store)
    }

    fn prepare(&self) -> Result<(), rusqlite::Error> {
        // Readers (the server) and writers (import, a CMS) in other
        // processes: WAL lets them run at once; the busy timeout rides out
        // the short exclusive moments of a commit.
        self.conn.busy_timeout(Duration::from_secs(5))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn links(&self, table: &str, id: &str) -> Result<Vec<String>, rusqlite::Error> {
        let sql = format!("SELECT name FROM {table} WHERE article_id = ?1 ORDER BY position, slug");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        stmt.query_map([id], |r| r.get(0))?.collect()
    }

    fn decode(&self, raw: RawArticle) -> Result<Article, String> {
        raw.decode(|facet, id| self.links(table(facet), id))
    }
}

/// Read a row of `SELECT {ARTICLE_COLUMNS}`.
fn raw_article(r: &Row<'_>) -> Result<RawArticle, rusqlite::Error> {
    Ok(RawArticle {
        id: r.get(0)?,
        title: r.get(1)?,
        summary: r.get(2)?,
        body: r.get(3)?,
        content_html: r.get(4)?,
        authors: r.get(5)?,
        published: r.get(6)?,
        updated: r.get(7)?,
        url: r.get(8)?,
        image: r.get(9)?,
    })
}

/// The SQL for one feed; parameters are `?1` now, `?2` limit, then slugs.
fn feed_sql(key: &FeedKey) -> String {
    let cols = ARTICLE_COLUMNS;
    match key {
        FeedKey::All => format!(
            "SELECT {cols} FROM articles a WHERE a.published_us <= ?1
             ORDER BY a.published_us DESC, a.id DESC LIMIT ?2"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) => {
            let t = if matches!(key, FeedKey::Category(_)) {
                "article_categories"
            } else {
                "article_regions"
            };
            format!(
                "SELECT {cols} FROM {t} f JOIN articles a ON a.id = f.article_id
                 WHERE f.slug = ?3 AND f.published_us <= ?1
                 ORDER BY f.published_us DESC, f.article_id DESC LIMIT ?2"
            )
        }
        // Walk the category's index in feed order and keep the rows that
        // also carry the region (a primary-key probe each).
        FeedKey::CategoryRegion(..) => format!(
            "SELECT {cols} FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = ?4
             JOIN articles a ON a.id = f.article_id
             WHERE f.slug = ?3 AND f.published_us <= ?1
             ORDER BY f.published_us DESC, f.article_id DESC LIMIT ?2"
        ),
    }
}

/// One slug's names: a range of the names index, never the whole table.
fn names_of_sql(facet: Facet) -> String {
    format!(
        "SELECT slug, name, count(*), max(published_us) FROM {} WHERE slug = ?1 AND published_us <= ?2
         GROUP BY name ORDER BY name",
        table(facet)
    )
}

fn name_use(r: &Row<'_>) -> Result<NameUse, rusqlite::Error> {
    Ok(NameUse {
        slug: r.get(0)?,
        name: r.get(1)?,
        articles: r.get::<_, i64>(2)? as u64,
        newest: r
            .get::<_, Option<i64>>(3)?
            .and_then(DateTime::from_timestamp_micros),
    })
}

fn insert_links(
    tx: &rusqlite::Transaction<'_>,
    facet: Facet,
    article: &Article,
    published_us: i64,
) -> Result<(), rusqlite::Error> {
    let names = match facet {
        Facet::Category => &article.categories,
        Facet::Region => &article.regions,
    };
    let sql = format!(
        "INSERT INTO {} (article_id, slug, name, position, published_us) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (article_id, slug) DO NOTHING",
        table(facet)
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    for (position, name) in names.iter().enumerate() {
        let slug = crate::slug::slugify(name);
        stmt.execute(params![
            article.id,
            slug,
            name,
            position as i64,
            published_us
        ])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn upsert(&mut self, articles: &[Article]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO articles (id, title, summary, body, content_html, authors, published, updated,
                                       published_us, url, image)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET
                   title = excluded.title, summary = excluded.summary, body = excluded.body,
                   content_html = excluded.content_html, authors = excluded.authors,
                   published = excluded.published, updated = excluded.updated,
                   published_us = excluded.published_us, url = excluded.url, image = excluded.image",
            )?;
            let mut unlink_c =
                tx.prepare_cached("DELETE FROM article_categories WHERE article_id = ?1")?;
            let mut unlink_r =
                tx.prepare_cached("DELETE FROM article_regions WHERE article_id = ?1")?;
            for a in articles {
                let (body, html) = match &a.body {
                    Body::None => (None, None),
                    Body::Text(t) => (Some(t.as_str()), None),
                    Body::Html(h) => (None, Some(h.as_str())),
                };
                let authors =
                    serde_json::to_string(&a.authors).expect("a list of strings always serializes");
                let published_us = micros(a.published.to_utc());
                let updated = (a.updated != a.published).then(|| a.updated.to_rfc3339());
                put.execute(params![
                    a.id,
                    a.title,
                    a.summary,
                    body,
                    html,
                    authors,
                    a.published.to_rfc3339(),
                    updated,
                    published_us,
                    a.url,
                    a.image
                ])?;
                unlink_c.execute([&a.id])?;
                unlink_r.execute([&a.id])?;
                insert_links(&tx, Facet::Category, a, published_us)?;
                insert_links(&tx, Facet::Region, a, published_us)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn remove(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut missing = Vec::new();
        {
            let mut del = tx.prepare_cached("DELETE FROM articles WHERE id = ?1")?;
            for id in ids {
                if del.execute([id])? == 0 {
                    missing.push(id.clone());
                }
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
        let sql = feed_sql(key);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let now_us = micros(now);
        let limit = limit as i64;
        let rows: Vec<RawArticle> = match key {
            FeedKey::All => stmt.query_map(params![now_us, limit], raw_article)?,
            FeedKey::Category(s) | FeedKey::Region(s) => {
                stmt.query_map(params![now_us, limit, s], raw_article)?
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_map(params![now_us, limit, c, r], raw_article)?
            }
        }
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for raw in rows {
            let id = raw.id.clone();
            match self.decode(raw) {
                Ok(a) => out.push(a),
                Err(reason) => tracing::warn!(article = %id, "skipping a stored article: {reason}"),
            }
        }
        Ok(out)
    }

    fn names(&self, facet: Facet, now: DateTime<Utc>) -> Result<Vec<NameUse>, StoreError> {
        let sql = format!(
            "SELECT slug, name, count(*), max(published_us) FROM {} WHERE published_us <= ?1
             GROUP BY slug, name ORDER BY slug, name",
            table(facet)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([micros(now)], name_use)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn names_of(
        &self,
        facet: Facet,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<NameUse>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&names_of_sql(facet))?;
        let rows = stmt.query_map(params![slug, micros(now)], name_use)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn pairs(&self, now: DateTime<Utc>) -> Result<Vec<Pair>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.slug, r.slug, count(*), max(c.published_us) FROM article_categories c
             JOIN article_regions r ON r.article_id = c.article_id
             WHERE c.published_us <= ?1
             GROUP BY c.slug, r.slug ORDER BY c.slug, r.slug",
        )?;
        let rows = stmt.query_map([micros(now)], |r| {
            Ok(Pair {
                category: r.get(0)?,
                region: r.get(1)?,
                articles: r.get::<_, i64>(2)? as u64,
                newest: r
                    .get::<_, Option<i64>>(3)?
                    .and_then(DateTime::from_timestamp_micros),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, now: DateTime<Utc>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let (n, newest): (i64, Option<i64>) = self
            .conn
            .prepare_cached(
                "SELECT count(*), max(published_us) FROM articles WHERE published_us <= ?1",
            )?
            .query_row([micros(now)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((n as u64, newest.and_then(DateTime::from_timestamp_micros)))
    }

    fn change_token(&self) -> Result<u64, StoreError> {
        // data_version changes whenever another connection commits, which is
        // exactly "someone else wrote": import, remove, or a CMS.
        let v: i64 = self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?;
        Ok(v as u64)
    }

    fn next_scheduled(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let us: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT published_us FROM articles WHERE published_us > ?1 ORDER BY published_us LIMIT 1",
            )?
            .query_row([micros(now)], |r| r.get(0))
            .optional()?;
        Ok(us.and_then(DateTime::from_timestamp_micros))
    }

    fn audit(&self) -> Result<Vec<Problem>, StoreError> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a ORDER BY a.id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((raw_article(r)?, r.get::<_, i64>(10)?)))?;
        for row in rows {
            let (raw, published_us) = row?;
            let id = raw.id.clone();
            problems.extend(audit_article(id, self.decode(raw), published_us));
        }
        for facet in [Facet::Category, Facet::Region] {
            let sql = format!(
                "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
                 JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
                table(facet)
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(RawLink {
                    article_id: r.get(0)?,
                    slug: r.get(1)?,
                    name: r.get(2)?,
                    published_us: r.get(3)?,
                    article_published_us: r.get(4)?,
                })
            })?;
            for row in rows {
                row?.audit(facet, &mut problems);
            }
        }
        Ok(problems)
    }
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
        for key in [
            FeedKey::All,
            FeedKey::Category("c".into()),
            FeedKey::Region("r".into()),
            FeedKey::CategoryRegion("c".into(), "r".into()),
        ] {
            let sql = format!("EXPLAIN QUERY PLAN {}", feed_sql(&key));
            let mut stmt = store.conn.prepare(&sql).unwrap();
            let all: [&dyn rusqlite::ToSql; 4] = [&0i64, &50i64, &"c", &"r"];
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
        for facet in [Facet::Category, Facet::Region] {
            let sql = format!("EXPLAIN QUERY PLAN {}", names_of_sql(facet));
            let plan: Vec<String> = store
                .conn
                .prepare(&sql)
                .unwrap()
                .query_map(params!["c", 0i64], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let text = plan.join(" | ");
            assert!(
                text.contains("SEARCH") && text.contains("_names (slug=?)"),
                "{facet:?}: {text}"
            );
            assert!(!text.contains("TEMP B-TREE"), "{facet:?} sorts: {text}");
        }
    }
}

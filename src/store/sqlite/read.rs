//! Reads: a snapshot (one read transaction on a pooled connection) and
//! every query of [`Snapshot`] but keyword feeds' (`search`): feeds and
//! their archive edges, the catalog, the change log, held articles. Feed
//! queries walk an index from `now` downwards and stop at the limit, so a
//! feed's cost depends on the rows it returns, not on the size of the store
//! (see the query-plan test at the bottom). WAL readers never block the
//! writer nor each other.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::pool::{Deadline, Manager};
use super::text::{Columns, lossy, valid};
use crate::article::{Article, Facet, FeedKey};
use crate::store::row::{ARTICLE_COLUMNS, RawArticle, table};
use crate::store::sql::{Dialect, edge_sql, feed_sql, page_sql, page_start_sql, span_count_sql};
use crate::store::unreadable::Unreadable;
use crate::store::{
    Change, Changes, LeftOut, LogPosition, Pair, Placement, Position, SlugUse, Snapshot,
    StoreError, facet_code, instant, logged_facet, micros,
};

/// Read a row of `SELECT {ARTICLE_COLUMNS}`; a column that is not UTF-8
/// makes the row unreadable, not the statement fail.
pub(super) fn raw_article(r: &Row<'_>) -> Result<RawArticle, rusqlite::Error> {
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
pub(super) struct SqliteSnapshot {
    pub(super) conn: r2d2::PooledConnection<Manager>,
    unreadable: Arc<Unreadable>,
    pub(super) budget: crate::search::Budget,
    /// A keyword feed's snapshot: when its statements must stop.
    pub(super) clock: Option<Deadline>,
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
    pub(super) fn begin(
        conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
    ) -> Result<SqliteSnapshot, StoreError> {
        SqliteSnapshot::begin_with(conn, unreadable, budget, None)
    }

    pub(super) fn begin_with(
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
    pub(super) fn links(
        &self,
        facet: Facet,
        id: &str,
        column: &str,
    ) -> Result<Vec<String>, rusqlite::Error> {
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

    pub(super) fn decode(&self, raw: RawArticle) -> Result<Article, String> {
        raw.decode(|facet, id| self.names(facet, id))
    }

    /// Decode `raw`, or leave it out (named in the log once).
    pub(super) fn decoded(&self, raw: RawArticle) -> Option<Article> {
        let id = raw.id.clone();
        self.decode(raw)
            .map_err(|reason| self.unreadable.left_out(&id, &reason))
            .ok()
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
        let mut stmt = self.conn.prepare_cached(&feed_sql(Dialect::Sqlite, key))?;
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
            // Candidates from the keyword index, each read by id.
            FeedKey::Search(words) => return self.search(words, upto, limit, &mut stmt),
        };
        Ok(rows
            .into_iter()
            .filter_map(|raw| self.decoded(raw))
            .collect())
    }

    fn span_count(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&span_count_sql(Dialect::Sqlite, key))?;
        let (upto, from) = (micros(upto), micros(from));
        let n: i64 = match key {
            FeedKey::All | FeedKey::Search(_) => stmt.query_row(params![upto, from], |r| r.get(0)),
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                stmt.query_row(params![upto, from, s], |r| r.get(0))
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_row(params![upto, from, c, r], |row| row.get(0))
            }
        }?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn feed_page(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        if matches!(key, FeedKey::Search(_)) {
            return Ok(Vec::new());
        }
        let (upto_us, from_us) = (micros(upto), micros(from));
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(&page_start_sql(Dialect::Sqlite, key))?;
        // The page's first row: read from the index, and as bytes (an id
        // that is not UTF-8 still marks the place).
        let first = |r: &Row<'_>| {
            let id = match r.get_ref(1)? {
                rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                    b.to_vec()
                }
                _ => Vec::new(),
            };
            Ok((r.get::<_, i64>(0)?, id))
        };
        let start = match key {
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                stmt.query_row(params![upto_us, from_us, skip, s], first)
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_row(params![upto_us, from_us, skip, c, r], first)
            }
            FeedKey::All | FeedKey::Search(_) => {
                stmt.query_row(params![upto_us, from_us, skip], first)
            }
        }
        .optional()?;
        let Some((at, id)) = start else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(&page_sql(Dialect::Sqlite, key))?;
        let rows: Vec<RawArticle> = match key {
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => stmt
                .query_map(params![at, from_us, limit, id, s], raw_article)?
                .collect::<Result<_, _>>()?,
            FeedKey::CategoryRegion(c, r) => stmt
                .query_map(params![at, from_us, limit, id, c, r], raw_article)?
                .collect::<Result<_, _>>()?,
            FeedKey::All | FeedKey::Search(_) => stmt
                .query_map(params![at, from_us, limit, id], raw_article)?
                .collect::<Result<_, _>>()?,
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
        let mut stmt = self
            .conn
            .prepare_cached(&edge_sql(Dialect::Sqlite, key, true))?;
        let before = micros(before);
        let found = match key {
            FeedKey::All => stmt.query_row(params![before], |r| r.get::<_, i64>(0)),
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                stmt.query_row(params![before, s], |r| r.get(0))
            }
            FeedKey::CategoryRegion(c, r) => {
                stmt.query_row(params![before, c, r], |row| row.get(0))
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
        let mut stmt = self
            .conn
            .prepare_cached(&edge_sql(Dialect::Sqlite, key, false))?;
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
                let sql = format!(
                    "SELECT slug, name FROM {} WHERE article_id = ?1 ORDER BY position, slug",
                    table(facet)
                );
                let mut stmt = self.conn.prepare_cached(&sql)?;
                let rows = stmt.query_map([&id], |r| Ok((lossy(r, 0)?, lossy(r, 1)?)))?;
                for row in rows {
                    let (slug, name) = row?;
                    names.push((facet, slug, name));
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::sqlite::search::SEARCH_SQL;

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
            let sql = format!("EXPLAIN QUERY PLAN {}", feed_sql(Dialect::Sqlite, &key));
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

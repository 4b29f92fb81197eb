//! Reads: [`PgSnapshot`], one `REPEATABLE READ READ ONLY` transaction, and
//! its feeds, archive edges, facet counts, change log and held articles
//! (keyword feeds are `search`'s); rows become articles through
//! [`crate::store::row`].

use std::cell::{RefCell, RefMut};
use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use postgres::Row;

use super::pool::{Manager, PgConn, reason};
use crate::article::{Article, Facet, FeedKey};
use crate::store::row::{ARTICLE_COLUMNS, RawArticle, table};
use crate::store::sql::{Dialect, edge_sql, feed_sql, page_sql, page_start_sql, span_count_sql};
use crate::store::unreadable::Unreadable;
use crate::store::{
    Change, Changes, LeftOut, LogPosition, Pair, Placement, Position, SlugUse, Snapshot,
    StoreError, facet_code, instant, logged_facet, micros,
};

/// A row's id and what decoding it gave.
type Decoded = (String, Result<Article, String>);

impl PgConn {
    /// The names of `facet` of every article in `ids` (all articles when
    /// `ids` is `None`), each article's in stored order: one query instead of
    /// one per article.
    pub(super) fn links(
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
    pub(super) fn decode_all(
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

/// Read a row of `SELECT {ARTICLE_COLUMNS}`.
pub(super) fn raw_article(r: &Row) -> Result<RawArticle, postgres::Error> {
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

/// A `REPEATABLE READ READ ONLY` transaction on a pooled connection.
pub(super) struct PgSnapshot {
    conn: RefCell<r2d2::PooledConnection<Manager>>,
    unreadable: Arc<Unreadable>,
    pub(super) budget: crate::search::Budget,
}

impl PgSnapshot {
    pub(super) fn begin(
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

    pub(super) fn conn(&self) -> RefMut<'_, r2d2::PooledConnection<Manager>> {
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
    pub(super) fn decode_rows(
        &self,
        conn: &mut PgConn,
        rows: &[Row],
    ) -> Result<Vec<Article>, StoreError> {
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
        let sql = feed_sql(Dialect::Postgres, key);
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
                drop(conn);
                return self.search(words, upto, from, limit);
            }
        };
        self.decode_rows(&mut conn, &rows)
    }

    fn span_count(
        &self,
        key: &FeedKey,
        from: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let sql = span_count_sql(Dialect::Postgres, key);
        let (upto, from) = (micros(upto), micros(from));
        let n = match key {
            FeedKey::All | FeedKey::Search(_) => conn.one_i64(&sql, &[&upto, &from])?,
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.one_i64(&sql, &[&upto, &from, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.one_i64(&sql, &[&upto, &from, c, r])?,
        };
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
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
        let mut conn = self.conn();
        let (upto, from) = (micros(upto), micros(from));
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = page_start_sql(Dialect::Postgres, key);
        let start = match key {
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.query(&sql, &[&upto, &from, &skip, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.query(&sql, &[&upto, &from, &skip, c, r])?,
            FeedKey::All | FeedKey::Search(_) => conn.query(&sql, &[&upto, &from, &skip])?,
        };
        let Some(row) = start.first() else {
            return Ok(Vec::new());
        };
        let (at, id): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        let sql = page_sql(Dialect::Postgres, key);
        let rows = match key {
            FeedKey::Category(s) | FeedKey::Region(s) | FeedKey::Author(s) => {
                conn.query(&sql, &[&at, &from, &limit, &id, s])?
            }
            FeedKey::CategoryRegion(c, r) => conn.query(&sql, &[&at, &from, &limit, &id, c, r])?,
            FeedKey::All | FeedKey::Search(_) => conn.query(&sql, &[&at, &from, &limit, &id])?,
        };
        self.decode_rows(&mut conn, &rows)
    }

    fn newest_before(
        &self,
        key: &FeedKey,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn();
        let sql = edge_sql(Dialect::Postgres, key, true);
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
        let sql = edge_sql(Dialect::Postgres, key, false);
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

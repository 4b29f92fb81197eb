//! Writes: one write transaction on the store's one writer connection.
//! Puts are staged (their rows made on the staging thread, a batch at a
//! time in temporary tables) and written set-wise: the same statements,
//! triggers and results as a row at a time, far fewer FTS5 segments. A
//! big write turns the triggers off for itself (bulk mode) and rebuilds
//! the catalog at the end; the keyword index's rows of the articles the
//! writer inserts are its own (migration 5), the rest queued by the
//! triggers and made here before each batch.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::fold::Folder;
use super::index::{self, INDEX_BATCH};
use super::pool::Manager;
use super::schema::{REBUILD, per_facet};
use super::search::{HOUR_NUMBERS, hour_number_sql};
use crate::article::{Article, Facet};
use crate::limits::SiteLimits;
use crate::store::row::{ArticleColumns, link_rows};
use crate::store::staging::Preparing;
use crate::store::{STORE_LIMITS_SQL, StoreError, Writer, limits_of_columns};

/// A writer that has put more articles than this (or a quarter of the
/// store, if more) stops logging row by row: past that point one "everything
/// changed" row and a rebuilt catalog cost less than a log row per link.
const BULK_AFTER: u64 = 10_000;

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

/// A batch's link rows of one facet that the articles no longer have
/// (a template of [`per_facet`]).
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

/// Their numbers, by date as the triggers number ([`hour_number_sql`]):
/// the first number of the article's hour, then the next free rank in
/// that hour (by id among the batch's articles of one hour).
fn search_ids_sql() -> String {
    let base = hour_number_sql("s.published_us");
    format!(
        "INSERT INTO bantin_search_ids (n, article_id, published_us)
         SELECT b.base + b.rank - 1 + coalesce(
                    (SELECT max(i.n) + 1 - b.base FROM bantin_search_ids i
                     WHERE i.n >= b.base AND i.n < b.base + {HOUR_NUMBERS}), 0),
                b.id, b.published_us
         FROM (SELECT s.id, s.published_us, {base} AS base,
                      row_number() OVER (PARTITION BY {base} ORDER BY s.id) AS rank
               FROM temp.bantin_stage s JOIN temp.bantin_stage_new f ON f.id = s.id) b
         ORDER BY b.base, b.rank"
    )
}

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

/// SQLite's articles handed to the staging thread and not taken back yet,
/// at most.
const IN_FLIGHT: usize = 256;

/// An article as the staging tables take it.
struct Staged {
    columns: ArticleColumns,
    /// The keyword index's text ([`Folder::text`] of the visible text).
    words: String,
    /// Link rows ([`link_rows`]): facet letter, slug, name, position.
    links: Vec<(&'static str, String, String, i64)>,
}

/// SQLite's staging rows: a [`Preparing`] that makes a [`Staged`] of each
/// article.
fn sqlite_rows() -> Result<Preparing<Staged>, StoreError> {
    Preparing::start(IN_FLIGHT, || {
        let mut folder = Folder::new()?;
        Ok(move |a: Article| Ok(stage(a, &mut folder)?))
    })
}

/// Make the staging row of `a`.
fn stage(a: Article, folder: &mut Folder) -> Result<Staged, rusqlite::Error> {
    let links = link_rows(&a)
        .into_iter()
        .map(|(f, slug, name, position)| (f, slug, name.to_string(), position as i64))
        .collect();
    // The text a reader sees (migration 10), as the queue's indexing makes
    // it for everyone else's rows.
    let words = folder.text(&[
        &a.title,
        a.summary.as_deref().unwrap_or(""),
        &crate::search::visible_body(&a.body),
    ])?;
    Ok(Staged {
        columns: ArticleColumns::from(a),
        words,
        links,
    })
}

/// The row of `bantin_limits`, in [`crate::store::limit_columns`]' order.
pub(super) fn stored_limits(conn: &Connection) -> Result<[i64; 5], rusqlite::Error> {
    conn.query_row(STORE_LIMITS_SQL, [], |r| {
        Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
    })
}

/// A write transaction on the store's one writer connection. Puts are
/// staged ([`STAGE_ARTICLES`] at a time) and written set-wise: the same
/// statements, triggers and results as a row at a time, far fewer FTS5
/// segments.
pub(super) struct SqliteWriter {
    conn: r2d2::PooledConnection<Manager>,
    /// Articles put so far.
    puts: u64,
    /// Past this many puts, switch to bulk mode.
    bulk_after: u64,
    bulk: bool,
    /// Ids staged in the current batch.
    staged: HashSet<String>,
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
    pub(super) fn begin(
        conn: r2d2::PooledConnection<Manager>,
    ) -> Result<SqliteWriter, rusqlite::Error> {
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
            staged: HashSet::new(),
            staged_bytes: 0,
            cache_size,
            preparing: None,
            limits: SiteLimits::default(),
            folder: None,
            done: false,
        };
        w.limits = limits_of_columns(stored_limits(&w.conn)?);
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
        self.conn.execute_batch(&REBUILD)?;
        self.conn.execute_batch("DELETE FROM bantin_bulk")?;
        self.bulk = false;
        Ok(())
    }

    /// Stage an article and its link rows; write the batch when it is full.
    fn stage(&mut self, staged: Staged) -> Result<(), StoreError> {
        let a = &staged.columns;
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
                staged.words,
            ])?;
        let mut link = self.conn.prepare_cached(
            "INSERT INTO temp.bantin_stage_links (facet, article_id, slug, name, position)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (facet, slug, name, position) in &staged.links {
            link.execute(params![facet, a.id, slug, name, position])?;
        }
        drop(link);
        self.staged_bytes += a.bytes() + staged.words.len();
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
        while index::index_queued(&self.conn, folder, INDEX_BATCH)? == INDEX_BATCH {}
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
        self.conn.prepare_cached(&search_ids_sql())?.execute([])?;
        self.conn.prepare_cached(SEARCH_WORDS)?.execute([])?;
        for facet in Facet::ALL {
            for sql in [UNLINK, LINK] {
                self.conn
                    .prepare_cached(&per_facet(sql, facet))?
                    .execute([])?;
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

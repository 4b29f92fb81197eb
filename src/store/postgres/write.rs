//! The writer: [`PgWriter`], one transaction that copies articles into
//! staging tables (`stage`) and merges them into the article tables at
//! commit, giving way to other writers' locks; its first articles are a
//! sample the store's common words are learned from (`common`).

use std::sync::Arc;
use std::time::Duration;

use super::common::{COMMON_SAMPLE, Common, common_in, common_words};
use super::pool::{Manager, PgConn, reason};
use super::stage::{Batch, PgStaged, pg_row, pg_rows};
use super::words::{WordMap, Words, ask_over, fold_words};
use crate::article::{Article, Facet};
use crate::limits::SiteLimits;
use crate::store::row::table;
use crate::store::staging::Preparing;
use crate::store::{StoreError, Writer, facet_code};

/// A writer that has put more articles than this (or a quarter of the store,
/// if more) stops logging row by row (see the SQLite store).
const BULK_AFTER: u64 = 10_000;

/// How long one statement of a merge may wait for a row another
/// transaction holds before the merge gives way (rolls back to its
/// savepoint, releasing every row it took) and tries again. Shorter than
/// PostgreSQL's `deadlock_timeout` (1 s): a CMS transaction waiting on us
/// is never the one a deadlock check aborts.
const LOCK_TIMEOUT: Duration = Duration::from_millis(200);

/// How long a merge keeps giving way before the write fails.
const MERGE_PATIENCE: Duration = Duration::from_secs(60);

/// A write transaction. Articles are copied (binary `COPY`, a thousand at
/// a time) into temporary tables, and merged into the article tables in a
/// few set-wise statements at commit, in id order, under a savepoint: if a
/// row stays locked by someone else for [`LOCK_TIMEOUT`], the merge gives
/// way and tries again, so an import never deadlocks with a CMS.
pub(super) struct PgWriter {
    conn: r2d2::PooledConnection<Manager>,
    /// How to connect, for the staging thread's questions.
    config: postgres::Config,
    /// Rows made and not yet copied.
    batch: Batch,
    /// Articles put since the last merge.
    staged: u64,
    bulk_after: u64,
    /// Where the rows of the articles put are made.
    phase: Phase,
    /// The store's common words (migration 8), as this transaction sees
    /// them: the rows it makes keep them out of the keyword index.
    common: Common,
    /// The store's limits, as in the SQLite writer.
    limits: SiteLimits,
    done: bool,
}

/// Where a writer is in making its rows: it samples its first
/// [`COMMON_SAMPLE`] articles, lists the words common in them, then makes
/// the rows on a thread of their own.
enum Phase {
    /// The first articles put, before any of their rows is made: the
    /// sample the store's common words are learned from. A merge before
    /// it is full makes their rows and starts it again.
    Sampling(Sample),
    /// The sample's words are listed and its rows made: the next article
    /// starts the staging thread, which goes on with these words.
    Sampled(Words),
    /// The thread making the rows.
    Preparing(Preparing<PgStaged>),
}

impl Phase {
    /// The phase, leaving one that goes on with nothing learned: where a
    /// step fails halfway, its words are lost, not its rows.
    fn take(&mut self) -> Phase {
        std::mem::replace(self, Phase::Sampled(Words::default()))
    }
}

/// The articles of a sample and their words.
struct Sample {
    /// What `bantin_words` makes of each character, learned as met, while
    /// the rows are made on the writer's thread.
    words: Words,
    articles: Vec<Article>,
    /// In how many of the sample's articles each word is.
    counts: WordMap<usize>,
    /// How many of its articles had words.
    with_words: usize,
}

impl Sample {
    fn new(words: Words) -> Sample {
        Sample {
            words,
            articles: Vec::new(),
            counts: WordMap::default(),
            with_words: 0,
        }
    }

    /// Count an article's words (`None`: the database's, not counted).
    fn count(&mut self, folded: Option<Vec<String>>) {
        if let Some(folded) = folded {
            // (Each article's words are distinct: see `Words::of`.)
            for w in folded {
                *self.counts.entry(w).or_default() += 1;
            }
            self.with_words += 1;
        }
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

/// The row of `bantin_limits`, in [`crate::store::limit_columns`]' order.
pub(super) fn stored_limits(conn: &mut PgConn) -> Result<Option<[i64; 5]>, postgres::Error> {
    let rows = conn.query(crate::store::STORE_LIMITS_SQL, &[])?;
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
    pub(super) fn begin(
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
        let limits = stored_limits(&mut conn)?
            .map_or_else(SiteLimits::default, crate::store::limits_of_columns);
        let common = common_words(&mut conn)?;
        Ok(PgWriter {
            limits,
            conn,
            config,
            batch: Batch::default(),
            staged: 0,
            bulk_after: BULK_AFTER.max(stored.max(0) as u64 / 4),
            phase: Phase::Sampling(Sample::new(Words::default())),
            common: Arc::new(common),
            done: false,
        })
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
        match self.phase.take() {
            Phase::Sampling(sample) if !sample.articles.is_empty() => {
                // Too few to learn from: their rows, with the words as
                // listed; the sample starts again.
                let words = self.settle(sample, false)?;
                self.phase = Phase::Sampling(Sample::new(words));
            }
            Phase::Preparing(mut preparing) => {
                let drained = preparing.drain(|row| self.take(row));
                self.phase = Phase::Preparing(preparing);
                drained?;
            }
            phase => self.phase = phase,
        }
        self.batch.copy(&mut self.conn.client)?;
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
        self.batch.merged();
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
    /// words of the sample if `learn`; the words learned go on.
    fn settle(&mut self, sample: Sample, learn: bool) -> Result<Words, StoreError> {
        let Sample {
            mut words,
            articles,
            counts,
            with_words,
        } = sample;
        if learn {
            self.learn(&counts, with_words)?;
        }
        let common = Arc::clone(&self.common);
        for a in articles {
            // (Every character is known by now: nothing is asked.)
            let folded = fold_words(&a, &mut words, &mut |p| ask_over(&mut self.conn, p));
            self.take(pg_row(&a, folded?, &common))?;
        }
        Ok(words)
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

    /// Take an article's rows back from the staging thread; copy a full
    /// batch.
    fn take(&mut self, row: PgStaged) -> Result<(), StoreError> {
        if self.batch.take(row) {
            self.batch.copy(&mut self.conn.client)?;
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
        let mut preparing = match self.phase.take() {
            Phase::Sampling(mut sample) => {
                let folded = fold_words(a, &mut sample.words, &mut |p| ask_over(&mut self.conn, p));
                let folded = match folded {
                    Ok(folded) => folded,
                    Err(e) => {
                        self.phase = Phase::Sampling(sample);
                        return Err(e);
                    }
                };
                sample.count(folded);
                sample.articles.push(a.clone());
                self.phase = if sample.articles.len() >= COMMON_SAMPLE {
                    Phase::Sampled(self.settle(sample, true)?)
                } else {
                    Phase::Sampling(sample)
                };
                return Ok(());
            }
            Phase::Sampled(words) => pg_rows(self.config.clone(), words, Arc::clone(&self.common))?,
            Phase::Preparing(preparing) => preparing,
        };
        let done = preparing.pass(a.clone(), |row| self.take(row));
        self.phase = Phase::Preparing(preparing);
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

//! Keyword feeds' read of SQLite's index: the FTS5 table `bantin_search`,
//! its rows numbered by date in `bantin_search_ids` (the numbering is
//! written here once, for the reads, the triggers and the writer), walked
//! in windows of numbers from the top down under a clock, plus the
//! articles queued for indexing. What the index holds is made by `index`
//! (with `fold`'s text); candidates are checked against their text by
//! [`crate::store::verified_search`].

use std::sync::Arc;

use rusqlite::{OptionalExtension, Row, params};

use super::pool::{Deadline, Manager};
use super::read::{SqliteSnapshot, raw_article};
use super::text::lossy;
use crate::article::Article;
use crate::store::unreadable::Unreadable;
use crate::store::{Candidates, StoreError, verified_search};

/// A keyword feed's matches among the numbers from `?4` up to `?5`
/// (excluded), newest number first: `?2` the FTS5 query, `?1` now (µs),
/// `?3` how many. FTS5 walks its doclists by number from the top of the
/// range, seeking to it, and stops at the limit.
pub(super) const SEARCH_SQL: &str = "SELECT i.article_id, i.published_us FROM bantin_search s
    JOIN bantin_search_ids i ON i.n = s.rowid
    WHERE bantin_search MATCH ?2 AND s.rowid >= ?4 AND s.rowid < ?5
      AND i.published_us <= ?1
    ORDER BY s.rowid DESC LIMIT ?3";

/// The keyword index numbers its rows by date (migration 007): the
/// article's hour, counted from year 1 in UTC (so that every number is
/// positive), times [`HOUR_NUMBERS`], plus its rank among that hour's
/// articles. Microseconds from year 1 to 1970:
const YEAR1_US: i64 = 62_135_596_800_000_000;

/// Microseconds in an hour.
const HOUR_US: i64 = 3_600_000_000;

/// The numbers of one hour.
pub(super) const HOUR_NUMBERS: i64 = 65_536;

/// The number of the first article of the hour holding `us`.
fn hour_number(us: i64) -> i64 {
    (us.saturating_add(YEAR1_US) / HOUR_US).saturating_mul(HOUR_NUMBERS)
}

/// [`hour_number`] in SQL, of `us` (an expression in µs): what the
/// triggers and the writer number rows by.
pub(super) fn hour_number_sql(us: &str) -> String {
    format!("(({us} + {YEAR1_US}) / {HOUR_US}) * {HOUR_NUMBERS}")
}

/// The first window of a keyword feed's walk of the index, in numbers: 30
/// days, which fill the feed of a common word or of common words together
/// in one statement (each statement costs FTS5 a seek into every word's
/// list: a day at a time, 16 common words took three times as long). A
/// window that meets no match makes the next one four times as wide, one
/// that meets some as wide as their density says the feed needs, up to
/// [`MAX_SEARCH_WINDOW`].
const FIRST_SEARCH_WINDOW: i64 = 30 * 24 * HOUR_NUMBERS;

/// The widest window: a year. FTS5 merges the lists of a query's words
/// inside one step of SQLite's machine, where no progress handler can stop
/// it, so a window bounds the work between two looks at the clock (16
/// words that seldom meet took 195 ms in one statement at a million
/// articles, from the top to the end of the store).
const MAX_SEARCH_WINDOW: i64 = 365 * 24 * HOUR_NUMBERS;

/// The articles queued for the keyword index (migration 10) up to `?1`
/// (µs) numbered from `?2` on, highest number first, at most `?3`: a
/// keyword feed's candidates besides the index's matches, whatever their
/// words, until bantin has indexed them.
const QUEUED_SQL: &str = "SELECT i.article_id, i.published_us FROM bantin_search_queue q
    JOIN bantin_search_ids i ON i.n = q.n
    WHERE q.n >= ?2 AND i.published_us <= ?1
    ORDER BY q.n DESC LIMIT ?3";

/// The matches of one hour (`?1`, µs, any instant in it) for `?2`: to
/// order a feed's last hour exactly (by instant, then id) whatever order
/// the articles of that hour were numbered in.
fn search_hour_sql() -> String {
    let hour = hour_number_sql("?1");
    format!(
        "SELECT i.article_id, i.published_us FROM bantin_search s
         JOIN bantin_search_ids i ON i.n = s.rowid
         WHERE bantin_search MATCH ?2
           AND s.rowid >= {hour} AND s.rowid < {hour} + {HOUR_NUMBERS}"
    )
}

impl SqliteSnapshot {
    /// A keyword feed: the index's candidates (and the queued articles),
    /// each read by `by_id` (`feed_sql` of the feed), checked against
    /// their text within the budget.
    pub(super) fn search(
        &self,
        words: &str,
        upto: i64,
        limit: i64,
        by_id: &mut rusqlite::CachedStatement<'_>,
    ) -> Result<Vec<Article>, StoreError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if let Some(clock) = &self.clock {
            clock.set(Some(self.budget.time));
        }
        let found = verified_search(words, limit, self.budget, |ask| {
            let ask = i64::try_from(ask).unwrap_or(i64::MAX);
            let (ids, exhausted) = self.search_ids(words, upto, ask)?;
            let mut articles = Vec::new();
            for id in ids {
                if let Some(raw) = by_id.query_row([id], raw_article).optional()? {
                    articles.extend(self.decoded(raw));
                }
            }
            Ok(Candidates {
                articles,
                exhausted,
            })
        });
        if let Some(clock) = &self.clock {
            clock.set(None);
        }
        found
    }

    /// A keyword feed's snapshot: its statements stop past the budget's
    /// time.
    pub(super) fn begin_search(
        mut conn: r2d2::PooledConnection<Manager>,
        unreadable: Arc<Unreadable>,
        budget: crate::search::Budget,
    ) -> Result<SqliteSnapshot, StoreError> {
        let clock = Deadline::new();
        let stop = clock.clone();
        conn.progress_handler(1_000, Some(move || stop.passed()))?;
        SqliteSnapshot::begin_with(conn, unreadable, budget, Some(clock))
    }

    /// The ids of the newest `limit` articles up to `upto` whose index
    /// rows hold every word of `words` (folded, space-separated), newest
    /// first (ties by id, descending), and of the queued articles among or
    /// above them; and whether the index had no more, or the walk of the
    /// index ran past the budget's time: then the matches it met so far,
    /// the newest, are all the feed gets (FTS5 walks every list of a query
    /// of many words that seldom meet: 195 ms for 16 words at a million).
    fn search_ids(
        &self,
        words: &str,
        upto: i64,
        limit: i64,
    ) -> Result<(Vec<String>, bool), rusqlite::Error> {
        // Each word a quoted FTS5 string: the words are letters and digits,
        // but quoting keeps FTS5's own operators (AND, NEAR) plain words.
        let query: Vec<String> = words.split(' ').map(|w| format!("\"{w}\"")).collect();
        let query = query.join(" ");
        // An id that is not UTF-8 finds no article: its row is left out.
        let row = |r: &Row<'_>| Ok((lossy(r, 0)?, r.get::<_, i64>(1)?));
        let mut found: Vec<(String, i64)> = Vec::new();
        let mut cut = false;
        // Windows of numbers from the top down, the clock looked at between
        // two (and by the progress handler between two rows).
        let bottom: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(min(n), 0) FROM bantin_search_ids")?
            .query_row([], |r| r.get(0))?;
        let top = hour_number(upto).saturating_add(HOUR_NUMBERS);
        let mut high = top;
        let mut width = FIRST_SEARCH_WINDOW;
        'windows: while high > bottom && (found.len() as i64) < limit {
            let low = high.saturating_sub(width).max(bottom);
            let mut stmt = self.conn.prepare_cached(SEARCH_SQL)?;
            let wanted = limit - found.len() as i64;
            let mut rows = stmt.query(params![upto, query, wanted, low, high])?;
            loop {
                match rows.next() {
                    Ok(Some(r)) => found.push(row(r)?),
                    Ok(None) => break,
                    Err(e)
                        if e.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::OperationInterrupted) =>
                    {
                        cut = true;
                        break 'windows;
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.clock.as_ref().is_some_and(Deadline::passed) {
                cut = true;
                break;
            }
            // None met yet: four times as wide; else as wide as the density
            // met so far says the rest of the feed needs, a quarter more.
            let seen = top.saturating_sub(low);
            let met = found.len() as i64;
            width = if met == 0 {
                width.saturating_mul(4)
            } else {
                (limit - met).saturating_mul(seen / met).saturating_mul(5) / 4
            }
            .clamp(24 * HOUR_NUMBERS, MAX_SEARCH_WINDOW);
            high = low;
        }
        if cut {
            tracing::debug!("keyword feed `{words}` over its time budget");
            // The rows found are read whole, as the budget's rows allow.
            if let Some(clock) = &self.clock {
                clock.set(None);
            }
        }
        let exhausted = cut || (found.len() as i64) < limit;
        // Numbers order hours; within the last hour, take all its matches
        // and order them as SPEC does.
        let mut from = i64::MIN;
        if let Some(&(_, last)) = found.last()
            && !exhausted
        {
            from = hour_number(last);
            let hour: Vec<(String, i64)> = self
                .conn
                .prepare_cached(&search_hour_sql())?
                .query_map(params![last, query], row)?
                .collect::<Result<_, _>>()?;
            found.extend(hour.into_iter().filter(|hit| hit.1 <= upto));
        }
        // Queued articles: any of them may hold the words (a stale row of
        // the index says nothing either way). The number an article
        // queued stands for its date as any other's does.
        let rows = i64::try_from(self.budget.rows).unwrap_or(i64::MAX);
        let queued: Vec<(String, i64)> = self
            .conn
            .prepare_cached(QUEUED_SQL)?
            .query_map(params![upto, from, rows], row)?
            .collect::<Result<_, _>>()?;
        found.extend(queued);
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok((found.into_iter().map(|(id, _)| id).collect(), exhausted))
    }
}

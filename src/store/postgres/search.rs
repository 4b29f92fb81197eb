//! Keyword feeds on PostgreSQL: which of the wanted words the store lists
//! as common ([`Wanted`]), and the plan that finds their newest articles:
//! a probe of the newest rows, then a walk of the feed index (listed words
//! only) or the GIN index through `bantin_search`. Every candidate is then
//! checked against the article's text by [`crate::store::verified_search`].

use postgres::Row;
use postgres::types::ToSql;

use super::pool::PgConn;
use super::read::PgSnapshot;
use crate::article::Article;
use crate::store::StoreError;
use crate::store::row::ARTICLE_COLUMNS;

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
    /// rather than called (`bantin_holds`, which unnests): a function per
    /// row cost 20 µs, and a keyword feed tests hundreds of rows;
    /// `bantin_has_bit` is inlined by the planner.
    fn holds_sql(&self) -> String {
        let mut sql = String::from("a.words @> $4::text[]");
        for (i, (_, bit)) in self.listed.iter().enumerate() {
            sql.push_str(&format!(
                " AND (bantin_has_bit(a.common_bits, {bit}) OR a.words @> ARRAY[($5::text[])[{}]])",
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

impl PgSnapshot {
    /// The newest `limit` articles from `from` to `upto` (µs) that hold
    /// every word of `words` (folded, space-separated).
    pub(super) fn search(
        &self,
        words: &str,
        upto: i64,
        from: i64,
        limit: i64,
    ) -> Result<Vec<Article>, StoreError> {
        let mut conn = self.conn();
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
        let found = crate::store::verified_search(words, limit, budget, |ask| {
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
            Ok(crate::store::Candidates {
                exhausted: rows.len() < ask,
                articles: self.decode_rows(&mut conn, &rows)?,
            })
        });
        self.conn().client.batch_execute(
            "ROLLBACK TO SAVEPOINT bantin_search; RELEASE SAVEPOINT bantin_search",
        )?;
        found
    }
}

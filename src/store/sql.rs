//! SQL both backends run, written once: the feed queries, the paged
//! archive months' count and pages, and the limits' statements. The two differ only in how a parameter is written (`?1` in
//! SQLite, `$1` in PostgreSQL: [`Dialect`]); the tables, indexes and plans
//! are the same (docs/schema.md).

use super::row::{ARTICLE_COLUMNS, table};
use crate::article::FeedKey;
use crate::limits::SiteLimits;

/// How a backend writes the `n`th parameter of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?1`, `?2`, …
    Sqlite,
    /// `$1`, `$2`, …
    Postgres,
}

impl Dialect {
    /// The `n`th parameter.
    pub fn p(self, n: u8) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// The SQL for one feed between two instants; parameters are 1 the newest
/// instant (now), 2 the oldest, 3 the limit, then the slugs (4, 5). Each
/// walks a `_feed` index from the newest instant downwards and stops at the
/// limit, so a feed costs the rows it returns, whatever the store holds.
/// A keyword feed reads one article by id (1): its ids are found first.
pub(crate) fn feed_sql(d: Dialect, key: &FeedKey) -> String {
    let cols = ARTICLE_COLUMNS;
    let [p1, p2, p3, p4, p5] = [1, 2, 3, 4, 5].map(|n| d.p(n));
    match key {
        FeedKey::All => format!(
            "SELECT {cols} FROM articles a WHERE a.published_us <= {p1} AND a.published_us >= {p2}
             ORDER BY a.published_us DESC, a.id DESC LIMIT {p3}"
        ),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            format!(
                "SELECT {cols} FROM {t} f JOIN articles a ON a.id = f.article_id
                 WHERE f.slug = {p4} AND f.published_us <= {p1} AND f.published_us >= {p2}
                 ORDER BY f.published_us DESC, f.article_id DESC LIMIT {p3}"
            )
        }
        // Walk the category's index in feed order and keep the rows that
        // also carry the region (a primary-key probe each).
        FeedKey::CategoryRegion(..) => format!(
            "SELECT {cols} FROM article_categories f
             JOIN article_regions r ON r.article_id = f.article_id AND r.slug = {p5}
             JOIN articles a ON a.id = f.article_id
             WHERE f.slug = {p4} AND f.published_us <= {p1} AND f.published_us >= {p2}
             ORDER BY f.published_us DESC, f.article_id DESC LIMIT {p3}"
        ),
        FeedKey::Search(_) => format!("SELECT {cols} FROM articles a WHERE a.id = {p1}"),
    }
}

/// The `published_us` of a feed's newest article before parameter 1
/// (`newest = true`), or of its oldest from 1 to 2; the slugs follow (2
/// and 3, or 3 and 4). Keyword feeds have no archives: no row.
pub(crate) fn edge_sql(d: Dialect, key: &FeedKey, newest: bool) -> String {
    let (p1, p2) = (d.p(1), d.p(2));
    let (range, order, first_slug) = if newest {
        (format!("< {p1}"), "DESC", 2)
    } else {
        (format!("BETWEEN {p1} AND {p2}"), "ASC", 3)
    };
    let (s1, s2) = (d.p(first_slug), d.p(first_slug + 1));
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
        FeedKey::Search(_) => "SELECT CAST(NULL AS BIGINT) WHERE false".to_string(),
    }
}

/// The rows of a feed's index, for an archive month's count and pages: the
/// tables they come from, the feed's slug conditions (slugs from parameter
/// `slug` on; each ends in `AND`), and the columns of a row's instant and
/// id. The all feed's index is on `articles` itself (alias `a`); the
/// others are link tables (alias `f`).
struct IndexRows {
    from: String,
    cond: String,
    at: &'static str,
    id: &'static str,
    all: bool,
}

fn index_rows(d: Dialect, key: &FeedKey, slug: u8) -> IndexRows {
    let linked = |from: String, cond: String| IndexRows {
        from,
        cond,
        at: "f.published_us",
        id: "f.article_id",
        all: false,
    };
    let articles = |cond: &str| IndexRows {
        from: "articles a".to_string(),
        cond: cond.to_string(),
        at: "a.published_us",
        id: "a.id",
        all: true,
    };
    let (s1, s2) = (d.p(slug), d.p(slug + 1));
    match key {
        FeedKey::All => articles(""),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            linked(format!("{t} f"), format!("f.slug = {s1} AND"))
        }
        // Walk the category's index and keep the rows that also carry the
        // region (a primary-key probe each), as feeds do.
        FeedKey::CategoryRegion(..) => linked(
            format!(
                "article_categories f
                 JOIN article_regions r ON r.article_id = f.article_id AND r.slug = {s2}"
            ),
            format!("f.slug = {s1} AND"),
        ),
        // Keyword feeds have no archives: no rows.
        FeedKey::Search(_) => articles("1 = 0 AND"),
    }
}

// Paged archive months (issue 17): a month's row count and one page of it,
// each over the feed's `_feed` index (`published_us DESC, id DESC`, after
// the slug), so that neither reads an article it does not return. A page
// N >= 2 is read in two steps: the page's first row, found by an
// index-only walk past the rows of the pages before it (`OFFSET`), then
// the page from that row down (keyset), which reads `limit` articles. One
// statement with `OFFSET` on the article query would join and fetch every
// skipped article on PostgreSQL.

/// The number of a feed's rows from parameter 2 to 1 (µs, both
/// included); slugs 3, 4.
pub(crate) fn span_count_sql(d: Dialect, key: &FeedKey) -> String {
    let r = index_rows(d, key, 3);
    let (p1, p2) = (d.p(1), d.p(2));
    format!(
        "SELECT count(*) FROM {} WHERE {} {at} <= {p1} AND {at} >= {p2}",
        r.from,
        r.cond,
        at = r.at
    )
}

/// The instant and id of a feed's row that has parameter 3 rows before it
/// (newest first) from parameter 2 to 1; slugs 4, 5.
pub(crate) fn page_start_sql(d: Dialect, key: &FeedKey) -> String {
    let r = index_rows(d, key, 4);
    let [p1, p2, p3] = [1, 2, 3].map(|n| d.p(n));
    format!(
        "SELECT {at}, {id} FROM {} WHERE {} {at} <= {p1} AND {at} >= {p2}
         ORDER BY {at} DESC, {id} DESC LIMIT 1 OFFSET {p3}",
        r.from,
        r.cond,
        at = r.at,
        id = r.id
    )
}

/// The articles of a feed from its row (parameter 1 µs, 4 id) down to 2
/// (µs), at most 3, in feed order; slugs 5, 6. The id is cast to text:
/// SQLite hands it over as bytes (a CMS may have stored an id that is not
/// UTF-8, and it still marks the place), and a blob never compares equal
/// to text there.
pub(crate) fn page_sql(d: Dialect, key: &FeedKey) -> String {
    let r = index_rows(d, key, 5);
    let [p1, p2, p3, p4] = [1, 2, 3, 4].map(|n| d.p(n));
    let (at, id, from, cond) = (r.at, r.id, r.from, r.cond);
    let join = if r.all {
        String::new()
    } else {
        format!("JOIN articles a ON a.id = {id}")
    };
    format!(
        "SELECT {ARTICLE_COLUMNS} FROM {from} {join}
         WHERE {cond} {at} <= {p1} AND ({at} < {p1} OR {id} <= CAST({p4} AS TEXT)) AND {at} >= {p2}
         ORDER BY {at} DESC, {id} DESC LIMIT {p3}"
    )
}

/// The limits as `bantin_limits` holds them, in its column order.
pub(crate) fn limit_columns(limits: &SiteLimits) -> [i64; 5] {
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    [
        n(limits.max_id_bytes),
        n(limits.max_title_bytes),
        n(limits.max_summary_bytes),
        n(limits.max_body_bytes),
        n(limits.max_names_per_article),
    ]
}

/// `bantin_limits`' row, read back: the limits a writer tests its own
/// articles against for `bantin_held` (the triggers skip a bulk write).
pub(crate) const STORE_LIMITS_SQL: &str = "SELECT max_id_bytes, max_title_bytes, max_summary_bytes,
    max_body_bytes, max_names_per_article FROM bantin_limits";

/// The limits of a row of [`STORE_LIMITS_SQL`]; the others as SPEC's.
pub(crate) fn limits_of_columns(c: [i64; 5]) -> SiteLimits {
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    SiteLimits {
        max_id_bytes: n(c[0]),
        max_title_bytes: n(c[1]),
        max_summary_bytes: n(c[2]),
        max_body_bytes: n(c[3]),
        max_names_per_article: n(c[4]),
        ..SiteLimits::default()
    }
}

/// Set `bantin_limits` to the five parameters when it differs (the
/// statement's row count says whether it did). Then [`REHOLD_SQL`].
pub(crate) fn adopt_limits_sql(d: Dialect) -> String {
    let [p1, p2, p3, p4, p5] = [1, 2, 3, 4, 5].map(|n| d.p(n));
    format!(
        "UPDATE bantin_limits SET
             max_id_bytes = {p1}, max_title_bytes = {p2}, max_summary_bytes = {p3},
             max_body_bytes = {p4}, max_names_per_article = {p5}
         WHERE (max_id_bytes, max_title_bytes, max_summary_bytes, max_body_bytes, max_names_per_article)
               <> ({p1}, {p2}, {p3}, {p4}, {p5})"
    )
}

/// `bantin_held` made again under the limits just adopted.
pub(crate) const REHOLD_SQL: &str = "DELETE FROM bantin_held;
    INSERT INTO bantin_held (article_id) SELECT article_id FROM bantin_over;";

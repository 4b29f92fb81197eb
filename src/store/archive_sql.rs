//! The SQL of paged archive months (issue 17), the same on both backends
//! but for the placeholder prefix (`?` or `$`): a month's row count and one
//! page of it, each over the feed's `_feed` index (`published_us DESC,
//! id DESC`, after the slug), so that neither reads an article it does not
//! return.
//!
//! A page N >= 2 is read in two steps: the page's first row, found by an
//! index-only walk past the rows of the pages before it (`OFFSET`), then
//! the page from that row down (keyset), which reads `limit` articles. One
//! statement with `OFFSET` on the article query would join and fetch every
//! skipped article on PostgreSQL.

use crate::article::FeedKey;

use super::row::{ARTICLE_COLUMNS, table};

/// The rows of a feed's index: the tables they come from, the feed's
/// slug conditions (slugs from placeholder `slug` on; each ends in `AND`),
/// and the columns of a row's instant and id. The all feed's index is on
/// `articles` itself (alias `a`); the others are link tables (alias `f`).
struct Rows {
    from: String,
    cond: String,
    at: &'static str,
    id: &'static str,
    all: bool,
}

fn rows(key: &FeedKey, p: char, slug: usize) -> Rows {
    let linked = |from: String, cond: String| Rows {
        from,
        cond,
        at: "f.published_us",
        id: "f.article_id",
        all: false,
    };
    let articles = |cond: &str| Rows {
        from: "articles a".to_string(),
        cond: cond.to_string(),
        at: "a.published_us",
        id: "a.id",
        all: true,
    };
    match key {
        FeedKey::All => articles(""),
        FeedKey::Category(_) | FeedKey::Region(_) | FeedKey::Author(_) => {
            let t = key.single().map_or("articles", |(f, _)| table(f));
            linked(format!("{t} f"), format!("f.slug = {p}{slug} AND"))
        }
        // Walk the category's index and keep the rows that also carry the
        // region (a primary-key probe each), as feeds do.
        FeedKey::CategoryRegion(..) => linked(
            format!(
                "article_categories f
                 JOIN article_regions r ON r.article_id = f.article_id AND r.slug = {p}{}",
                slug + 1
            ),
            format!("f.slug = {p}{slug} AND"),
        ),
        // Keyword feeds have no archives: no rows.
        FeedKey::Search(_) => articles("1 = 0 AND"),
    }
}

/// The number of a feed's rows from `{p}2` to `{p}1` (µs, both included);
/// slugs `{p}3`, `{p}4`.
pub(crate) fn count_sql(key: &FeedKey, p: char) -> String {
    let r = rows(key, p, 3);
    format!(
        "SELECT count(*) FROM {} WHERE {} {at} <= {p}1 AND {at} >= {p}2",
        r.from,
        r.cond,
        at = r.at
    )
}

/// The instant and id of a feed's row that has `{p}3` rows before it
/// (newest first) from `{p}2` to `{p}1`; slugs `{p}4`, `{p}5`.
pub(crate) fn row_at_sql(key: &FeedKey, p: char) -> String {
    let r = rows(key, p, 4);
    format!(
        "SELECT {at}, {id} FROM {} WHERE {} {at} <= {p}1 AND {at} >= {p}2
         ORDER BY {at} DESC, {id} DESC LIMIT 1 OFFSET {p}3",
        r.from,
        r.cond,
        at = r.at,
        id = r.id
    )
}

/// The articles of a feed from its row (`{p}1` µs, `{p}4` id) down to
/// `{p}2` (µs), at most `{p}3`, in feed order; slugs `{p}5`, `{p}6`. The
/// id is cast to text: SQLite hands it over as bytes (a CMS may have
/// stored an id that is not UTF-8, and it still marks the place), and a
/// blob never compares equal to text there.
pub(crate) fn page_sql(key: &FeedKey, p: char) -> String {
    let r = rows(key, p, 5);
    let (at, id, from, cond) = (r.at, r.id, r.from, r.cond);
    let join = if r.all {
        String::new()
    } else {
        format!("JOIN articles a ON a.id = {id}")
    };
    format!(
        "SELECT {ARTICLE_COLUMNS} FROM {from} {join}
         WHERE {cond} {at} <= {p}1 AND ({at} < {p}1 OR {id} <= CAST({p}4 AS TEXT)) AND {at} >= {p}2
         ORDER BY {at} DESC, {id} DESC LIMIT {p}3"
    )
}

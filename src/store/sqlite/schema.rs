//! The current definition of every trigger of the SQLite store, in one
//! place, and the catalog they keep made again from the article tables
//! ([`REBUILD`]). The numbered migrations (`migrations/sqlite/`) make
//! tables, columns, indexes and views and move data; the triggers are
//! made here, generated per facet from one template each, as the writer's
//! link merge is ([`per_facet`]). [`apply`] drops bantin's triggers and
//! creates these whenever the stored ones differ from them: after a
//! migration, and on the first open by a bantin whose triggers changed.
//! A CMS's own triggers (any name not bantin's) are left alone.
//!
//! What each trigger does, and why, is told where its template is; docs/schema.md
//! ("The change log and the catalog", "Author and keyword indexes") tells
//! a CMS author what they keep.

use rusqlite::{Connection, TransactionBehavior};

use super::search::{HOUR_NUMBERS, hour_number_sql};
use crate::article::Facet;
use crate::store::facet_code;
use crate::store::row::table;

/// Now, in µs since 1970, in SQL: what the log's `at_us` holds (julianday,
/// which every SQLite version has, is exact to the millisecond).
const NOW_US: &str = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)";

/// The triggers that stand aside in bulk mode: while `bantin_bulk` has a
/// row (only ever inside a bantin writer's own transaction), a bulk write
/// rebuilds the catalog and logs "everything" itself.
const UNLESS_BULK: &str = "WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)";

/// `sql` for one facet: `{t}` its link table, `{f}` its letter in the log
/// and the catalog.
pub(super) fn per_facet(sql: &str, facet: Facet) -> String {
    sql.replace("{t}", table(facet))
        .replace("{f}", facet_code(facet))
}

/// The catalog tables made again from the article tables, and "everything
/// changed" logged: the end of a bulk write, of a repair, of a migration
/// that moved link rows.
pub(super) static REBUILD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "DELETE FROM bantin_names;
         INSERT INTO bantin_names (facet, slug, name, articles) {};
         DELETE FROM bantin_pairs;
         INSERT INTO bantin_pairs (category, region, articles) {PAIRS};
         UPDATE bantin_totals SET articles = (SELECT count(*) FROM articles);
         INSERT INTO bantin_log (at_us, article_id, facet) VALUES ({NOW_US}, '', '*');",
        names_sql()
    )
});

/// Every category/region pair with its count of articles, from the link
/// tables: `bantin_pairs` as it should be.
pub(super) const PAIRS: &str = "SELECT c.slug AS category, r.slug AS region, count(*) AS articles
    FROM article_categories c JOIN article_regions r ON r.article_id = c.article_id
    GROUP BY c.slug, r.slug";

/// Each `bantin_names` row as it should be, from the link tables.
pub(super) fn names_sql() -> String {
    Facet::ALL
        .iter()
        .map(|&facet| {
            per_facet(
                "SELECT '{f}' AS facet, slug, name, count(*) AS articles FROM {t} GROUP BY slug, name",
                facet,
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Whether a trigger of this name is bantin's: every one it ever made.
fn bantins(name: &str) -> bool {
    name.starts_with("bantin_") || name == "articles_published_moved"
}

/// Make the stored triggers these, if they are not: in a transaction of its
/// own, unless `in_tx` (a migration's). Returns whether it changed any.
pub(super) fn apply(conn: &Connection, in_tx: bool) -> Result<bool, rusqlite::Error> {
    let wanted = triggers();
    if stored(conn)? == sorted(&wanted) {
        return Ok(false);
    }
    if !in_tx {
        // Another process may be at it too: take the write lock, then look
        // again.
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let changed = apply(&tx, true)?;
        tx.commit()?;
        return Ok(changed);
    }
    for (name, _) in stored(conn)? {
        conn.execute_batch(&format!("DROP TRIGGER \"{name}\""))?;
    }
    for (_, sql) in &wanted {
        conn.execute_batch(sql)?;
    }
    Ok(true)
}

/// Drop every trigger of bantin's: a migration runs without them.
pub(super) fn drop_all(conn: &Connection) -> Result<(), rusqlite::Error> {
    for (name, _) in stored(conn)? {
        conn.execute_batch(&format!("DROP TRIGGER \"{name}\""))?;
    }
    Ok(())
}

/// bantin's triggers as stored, by name.
fn stored(conn: &Connection) -> Result<Vec<(String, String)>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, sql) = row?;
        if bantins(&name) {
            out.push((name, sql));
        }
    }
    Ok(out)
}

/// Whether the store holds bantin's triggers as [`apply`] makes them.
pub(super) fn is_current(conn: &Connection) -> Result<bool, rusqlite::Error> {
    Ok(stored(conn)? == sorted(&triggers()))
}

fn sorted(triggers: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = triggers.to_vec();
    out.sort();
    out
}

/// A trigger: its name, and its `CREATE TRIGGER` statement as SQLite
/// stores it (no `;`).
fn trigger(name: &str, rest: &str) -> (String, String) {
    (name.to_string(), format!("CREATE TRIGGER {name} {rest}"))
}

/// Every trigger, in the order a store made by migrations 1 to 10 had
/// them created: SQLite fires the triggers of one event newest first, so
/// that the log's rows of one statement keep their order.
fn triggers() -> Vec<(String, String)> {
    let mut all = articles_logged();
    for facet in [Facet::Category, Facet::Region] {
        all.extend(link_logged(facet));
    }
    all.push(published_moved());
    all.extend(link_logged(Facet::Author));
    all.extend(held());
    all.push(links_deleted());
    for facet in Facet::ALL {
        all.extend(capped(facet));
    }
    all.extend(search());
    all
}

/// `articles`: the log, the total, and (before a delete, while its link
/// rows are still there) the pairs of the article going: the link tables'
/// delete triggers leave pairs alone when their article is gone, as its
/// links go by the foreign key's cascade in an order that differs between
/// databases.
fn articles_logged() -> Vec<(String, String)> {
    let log = |row: &str| {
        format!(
            "INSERT INTO bantin_log (at_us, article_id, facet, published_us)
        VALUES {}",
            row.replace("{now}", NOW_US)
        )
    };
    vec![
        trigger(
            "bantin_articles_inserted",
            &format!(
                "AFTER INSERT ON articles
{UNLESS_BULK}
BEGIN
    {};
    UPDATE bantin_totals SET articles = articles + 1;
END",
                log("({now}, NEW.id, 'a', NEW.published_us)")
            ),
        ),
        trigger(
            "bantin_articles_updated",
            &format!(
                "AFTER UPDATE ON articles
{UNLESS_BULK}
BEGIN
    {};
END",
                log("({now}, OLD.id, 'a', OLD.published_us),
               ({now}, NEW.id, 'a', NEW.published_us)")
            ),
        ),
        trigger(
            "bantin_articles_deleted",
            &format!(
                "AFTER DELETE ON articles
{UNLESS_BULK}
BEGIN
    {};
    UPDATE bantin_totals SET articles = articles - 1;
END",
                log("({now}, OLD.id, 'a', OLD.published_us)")
            ),
        ),
        trigger(
            "bantin_articles_deleting",
            &format!(
                "BEFORE DELETE ON articles
{UNLESS_BULK}
BEGIN
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE (category, region) IN (
            SELECT c.slug, r.slug FROM article_categories c
            JOIN article_regions r ON r.article_id = c.article_id WHERE c.article_id = OLD.id);
    DELETE FROM bantin_pairs WHERE articles <= 0
        AND category IN (SELECT slug FROM article_categories WHERE article_id = OLD.id);
END"
            ),
        ),
    ]
}

/// What a facet's link rows count in `bantin_pairs`: its own column, the
/// other facet's column and link table, and the pair a new row of its
/// makes with a row `o` of the other table. Authors are in no pair.
struct PairSide {
    mine: &'static str,
    theirs: &'static str,
    other: &'static str,
    pair: &'static str,
}

fn pair_side(facet: Facet) -> Option<PairSide> {
    match facet {
        Facet::Category => Some(PairSide {
            mine: "category",
            theirs: "region",
            other: "article_regions",
            pair: "NEW.slug, o.slug",
        }),
        Facet::Region => Some(PairSide {
            mine: "region",
            theirs: "category",
            other: "article_categories",
            pair: "o.slug, NEW.slug",
        }),
        Facet::Author => None,
    }
}

/// A facet's link table: the log, the names catalog and the pairs. A pair
/// is counted once per article: when the second of its two links appears,
/// and uncounted when the first of them goes. An update is the old row
/// going and the new one coming.
fn link_logged(facet: Facet) -> [(String, String); 3] {
    let plural = table(facet).trim_start_matches("article_");
    let log = |rows: &str| {
        per_facet(
            &format!(
                "INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES {}",
                rows.replace("{now}", NOW_US)
            ),
            facet,
        )
    };
    let count_new = "INSERT INTO bantin_names (facet, slug, name, articles)";
    let (pairs_inserted, pairs_deleted, pairs_updated) = match pair_side(facet) {
        None => (String::new(), String::new(), String::new()),
        Some(PairSide {
            mine,
            theirs,
            other,
            pair,
        }) => (
            format!(
                "
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT {pair}, 1 FROM {other} o WHERE o.article_id = NEW.article_id
        ON CONFLICT DO UPDATE SET articles = articles + 1;"
            ),
            format!(
                "
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE {mine} = OLD.slug AND {theirs} IN (SELECT slug FROM {other} WHERE article_id = OLD.article_id)
          AND EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE {mine} = OLD.slug AND articles <= 0;"
            ),
            format!(
                "
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE {mine} = OLD.slug AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
          AND {theirs} IN (SELECT slug FROM {other} WHERE article_id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE {mine} = OLD.slug AND articles <= 0;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT {pair}, 1 FROM {other} o
        WHERE o.article_id = NEW.article_id AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
        ON CONFLICT DO UPDATE SET articles = articles + 1;"
            ),
        ),
    };
    let uncount = "UPDATE bantin_names SET articles = articles - 1
        WHERE facet = '{f}' AND slug = OLD.slug AND name = OLD.name";
    let drop_empty = "DELETE FROM bantin_names WHERE facet = '{f}' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;";
    [
        trigger(
            &format!("bantin_{plural}_inserted"),
            &per_facet(
                &format!(
                    "AFTER INSERT ON {{t}}
{UNLESS_BULK}
BEGIN
    {};
    {count_new} VALUES ('{{f}}', NEW.slug, NEW.name, 1)
        ON CONFLICT DO UPDATE SET articles = articles + 1;{pairs_inserted}
END",
                    log("({now}, NEW.article_id, '{f}', NEW.slug, NEW.published_us)")
                ),
                facet,
            ),
        ),
        trigger(
            &format!("bantin_{plural}_deleted"),
            &per_facet(
                &format!(
                    "AFTER DELETE ON {{t}}
{UNLESS_BULK}
BEGIN
    {};
    {uncount};
    {drop_empty}{pairs_deleted}
END",
                    log("({now}, OLD.article_id, '{f}', OLD.slug, OLD.published_us)")
                ),
                facet,
            ),
        ),
        trigger(
            &format!("bantin_{plural}_updated"),
            &per_facet(
                &format!(
                    "AFTER UPDATE ON {{t}}
{UNLESS_BULK}
BEGIN
    {};
    {uncount} AND (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name);
    {drop_empty}
    {count_new}
        SELECT '{{f}}', NEW.slug, NEW.name, 1 WHERE (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name)
        ON CONFLICT DO UPDATE SET articles = articles + 1;{pairs_updated}
END",
                    log("({now}, OLD.article_id, '{f}', OLD.slug, OLD.published_us),
               ({now}, NEW.article_id, '{f}', NEW.slug, NEW.published_us)")
                ),
                facet,
            ),
        ),
    ]
}

/// The link rows' copies of `published_us` kept in step when a CMS changes
/// an article's date. Not skipped in bulk mode: the copies must hold.
fn published_moved() -> (String, String) {
    let updates: String = Facet::ALL
        .iter()
        .map(|&facet| {
            per_facet(
                "
    UPDATE {t} SET published_us = NEW.published_us WHERE article_id = NEW.id;",
                facet,
            )
        })
        .collect();
    trigger(
        "articles_published_moved",
        &format!("AFTER UPDATE OF published_us ON articles\nBEGIN{updates}\nEND"),
    )
}

/// `bantin_held`: the articles over the store's limits (`bantin_over`,
/// migrations 6 and 9), tested again whenever a row that counts changes. A
/// link added can put its article over `max_names_per_article`, one
/// removed bring it back under; authors count in `articles.authors`.
fn held() -> Vec<(String, String)> {
    let hold = |ids: &str| {
        format!(
            "INSERT OR IGNORE INTO bantin_held (article_id)
        SELECT article_id FROM bantin_over WHERE article_id {ids};"
        )
    };
    let mut all = vec![
        trigger(
            "bantin_held_inserted",
            &format!(
                "AFTER INSERT ON articles
{UNLESS_BULK}
BEGIN
    {}
END",
                hold("= NEW.id")
            ),
        ),
        trigger(
            "bantin_held_updated",
            &format!(
                "AFTER UPDATE ON articles
{UNLESS_BULK}
BEGIN
    DELETE FROM bantin_held WHERE article_id IN (OLD.id, NEW.id);
    {}
END",
                hold("= NEW.id")
            ),
        ),
        trigger(
            "bantin_held_deleted",
            &format!(
                "AFTER DELETE ON articles
{UNLESS_BULK}
BEGIN
    DELETE FROM bantin_held WHERE article_id = OLD.id;
END"
            ),
        ),
    ];
    for facet in [Facet::Category, Facet::Region] {
        let one = facet.segment();
        let on = |event: &str, body: &str| {
            trigger(
                &format!("bantin_held_{one}_{event}"),
                &per_facet(
                    &format!(
                        "AFTER {} ON {{t}}
{UNLESS_BULK}
BEGIN
{body}
END",
                        match event {
                            "inserted" => "INSERT",
                            "deleted" => "DELETE",
                            _ => "UPDATE OF article_id",
                        }
                    ),
                    facet,
                ),
            )
        };
        let release = |id: &str| format!("    DELETE FROM bantin_held WHERE article_id = {id};\n");
        all.push(on("inserted", &format!("    {}", hold("= NEW.article_id"))));
        all.push(on(
            "deleted",
            &format!(
                "{}    {}",
                release("OLD.article_id"),
                hold("= OLD.article_id")
            ),
        ));
        all.push(on(
            "updated",
            &format!(
                "{}    {}",
                release("OLD.article_id"),
                hold("IN (OLD.article_id, NEW.article_id)")
            ),
        ));
    }
    all
}

/// Deleting an `articles` row takes its link rows with it whatever the
/// connection's settings (migration 8): `ON DELETE CASCADE` acts only with
/// `PRAGMA foreign_keys=ON`, off by default in SQLite, its shell and
/// Python's `sqlite3`. The link tables' own delete triggers then log the
/// rows and uncount their names. Not skipped in bulk mode: the rows must
/// go all the same.
fn links_deleted() -> (String, String) {
    let deletes: String = Facet::ALL
        .iter()
        .map(|&facet| per_facet("\n    DELETE FROM {t} WHERE article_id = OLD.id;", facet))
        .collect();
    trigger(
        "bantin_articles_links_deleted",
        &format!("AFTER DELETE ON articles\nBEGIN{deletes}\nEND"),
    )
}

/// At most `max_names_per_article + 1` link rows of a facet per article
/// (migration 9): enough for every reader to see it is over the limit,
/// never more catalog or log rows than the limits allow. A row past that
/// is skipped (RAISE(IGNORE): the statement goes on with its next row)
/// before any trigger fans it out. bantin's own import never writes one
/// (it refuses such a record first), so bulk mode skips the test.
fn capped(facet: Facet) -> [(String, String); 2] {
    let plural = table(facet).trim_start_matches("article_");
    let full = "(SELECT count(*) FROM (SELECT 1 FROM {t} WHERE article_id = NEW.article_id
        LIMIT (SELECT max_names_per_article + 1 FROM bantin_limits)))
     > (SELECT max_names_per_article FROM bantin_limits)";
    let skip = "BEGIN\n    SELECT RAISE(IGNORE);\nEND";
    [
        trigger(
            &format!("bantin_{plural}_capped"),
            &per_facet(
                &format!("BEFORE INSERT ON {{t}}\n{UNLESS_BULK}\n AND {full}\n{skip}"),
                facet,
            ),
        ),
        trigger(
            &format!("bantin_{plural}_capped_moved"),
            &per_facet(
                &format!(
                    "BEFORE UPDATE OF article_id ON {{t}}
WHEN NEW.article_id IS NOT OLD.article_id AND NOT EXISTS (SELECT 1 FROM bantin_bulk)
 AND {full}\n{skip}"
                ),
                facet,
            ),
        ),
    ]
}

/// The keyword index (migration 10): the triggers keep the numbers of
/// `bantin_search_ids` (by date: [`hour_number_sql`]) and queue in
/// `bantin_search_queue` each number whose row of the index is to be made
/// again; bantin makes those rows (SQL cannot take HTML apart as bantin
/// does). An insert by bantin's own writer (a row of `bantin_search_own`
/// in its transaction) is numbered and indexed by the writer.
fn search() -> Vec<(String, String)> {
    let base = hour_number_sql("NEW.published_us");
    let number = format!(
        "INSERT INTO bantin_search_ids (n, article_id, published_us)
        VALUES ((SELECT coalesce(max(n) + 1, {base}) FROM bantin_search_ids
            WHERE n >= {base} AND n < {base} + {HOUR_NUMBERS}), NEW.id, NEW.published_us);"
    );
    let queue = |id: &str| {
        format!(
            "INSERT OR IGNORE INTO bantin_search_queue (n)
        SELECT n FROM bantin_search_ids WHERE article_id = {id};"
        )
    };
    let forget = "DELETE FROM bantin_search_ids WHERE article_id = OLD.id;";
    vec![
        trigger(
            "bantin_search_inserted",
            &format!(
                "AFTER INSERT ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_search_own)
BEGIN
    {number}
    {}
END",
                queue("NEW.id")
            ),
        ),
        // Text changed, same date: the same number, its row made again.
        trigger(
            "bantin_search_updated",
            &format!(
                "AFTER UPDATE OF title, summary, body, content_html ON articles
WHEN OLD.id = NEW.id AND OLD.published_us = NEW.published_us
    AND (OLD.title IS NOT NEW.title OR OLD.summary IS NOT NEW.summary
         OR OLD.body IS NOT NEW.body OR OLD.content_html IS NOT NEW.content_html)
BEGIN
    {}
END",
                queue("NEW.id")
            ),
        ),
        // Id or date changed: a new number by date; both rows made again.
        trigger(
            "bantin_search_moved",
            &format!(
                "AFTER UPDATE OF id, published_us ON articles
WHEN OLD.id IS NOT NEW.id OR OLD.published_us IS NOT NEW.published_us
BEGIN
    {}
    {forget}
    {number}
    {}
END",
                queue("OLD.id"),
                queue("NEW.id")
            ),
        ),
        trigger(
            "bantin_search_deleted",
            &format!(
                "AFTER DELETE ON articles
BEGIN
    {}
    {forget}
END",
                queue("OLD.id")
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store made afresh holds these triggers, and opening it again
    /// changes none (the stored text reads back as written).
    #[test]
    fn triggers_are_made_once_and_read_back_as_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(super::super::SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(stored(&conn).unwrap(), sorted(&triggers()));
        assert!(!apply(&conn, false).unwrap());
        // A trigger dropped by hand is back at the next open.
        conn.execute_batch("DROP TRIGGER bantin_regions_updated")
            .unwrap();
        assert!(apply(&conn, false).unwrap());
        assert_eq!(stored(&conn).unwrap().len(), triggers().len());
    }
}

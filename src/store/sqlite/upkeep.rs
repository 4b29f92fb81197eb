//! What `bantin check` asks of a SQLite file beyond its rows: SQLite's own
//! integrity check, the link rows whose article is gone (orphans), and
//! `--repair`, which removes them.
//!
//! Orphans come from deletes made before migration 8 on a connection with
//! foreign keys off (SQLite's default, and Python's): the cascade never
//! ran. They are told apart from a CMS that bypassed the triggers, because
//! the cure differs: orphans are bantin's to remove, bypassed triggers the
//! CMS's to stop doing.

use rusqlite::{Connection, TransactionBehavior};

use super::REBUILD;
use crate::article::Facet;
use crate::store::Problem;
use crate::store::row::table;

/// The link rows of `table` whose article is gone: how many, of how many
/// articles, and the first such article's id.
fn orphans_sql(table: &str) -> String {
    format!(
        "SELECT count(*), count(DISTINCT article_id), min(article_id) FROM {table} l
         WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = l.article_id)"
    )
}

/// One problem per link table holding orphans; each says what removes them.
pub(super) fn orphans(conn: &Connection) -> Result<Vec<Problem>, rusqlite::Error> {
    let mut problems = Vec::new();
    for facet in Facet::ALL {
        let table = table(facet);
        let (rows, articles, first): (i64, i64, Option<String>) =
            conn.query_row(&orphans_sql(table), [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if rows > 0 {
            problems.push(Problem {
                id: String::new(),
                reason: format!(
                    "{table}: {rows} row(s) of {articles} deleted article(s) (the first {:?}) \
                     left by a delete made with foreign keys off; `bantin check --repair` \
                     removes them",
                    first.unwrap_or_default()
                ),
            });
        }
    }
    Ok(problems)
}

/// Remove every orphan and, if there were any, rebuild the catalog counts
/// from the article tables (orphans may have skewed names and pairs alike)
/// and log "everything changed", so that running servers reload. One
/// transaction; returns a line per table that held orphans.
pub(super) fn repair(conn: &mut Connection) -> Result<Vec<String>, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Bulk mode: the link triggers would log and uncount rows one by one,
    // and cannot uncount pairs of an article that is gone; the rebuild
    // below makes every count afresh instead.
    tx.execute("INSERT OR IGNORE INTO bantin_bulk (one) VALUES (1)", [])?;
    let mut removed = Vec::new();
    for facet in Facet::ALL {
        let table = table(facet);
        let n = tx.execute(
            &format!(
                "DELETE FROM {table} WHERE NOT EXISTS
                     (SELECT 1 FROM articles a WHERE a.id = {table}.article_id)"
            ),
            [],
        )?;
        if n > 0 {
            removed.push(format!("{table}: removed {n} orphan row(s)"));
        }
    }
    tx.execute(
        "DELETE FROM bantin_held WHERE NOT EXISTS
             (SELECT 1 FROM articles a WHERE a.id = bantin_held.article_id)",
        [],
    )?;
    if !removed.is_empty() {
        tx.execute_batch(REBUILD)?;
        removed.push("catalog counts rebuilt".into());
    }
    tx.execute("DELETE FROM bantin_bulk", [])?;
    tx.commit()?;
    Ok(removed)
}

/// `PRAGMA quick_check`: the structure of every b-tree page, table and
/// index (not that each index matches its table, which `integrity_check`
/// adds; 16-43 s at a million articles, BENCHMARKS.md). One line per fault
/// it lists; a fault bad enough to stop the check itself is one line too.
pub(super) fn quick_check(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let found: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    match found {
        Ok(lines) if lines.iter().all(|l| l == "ok") => Ok(Vec::new()),
        Ok(lines) => Ok(lines),
        Err(e) if is_corruption(&e) => Ok(vec![e.to_string()]),
        Err(e) => Err(e),
    }
}

/// Whether SQLite says the file is damaged (`SQLITE_CORRUPT`, which FTS5
/// also raises for a damaged index) or is not a database at all
/// (`SQLITE_NOTADB`): not a passing fault, and no retry mends it.
pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    matches!(e.sqlite_error_code(), Some(DatabaseCorrupt | NotADatabase))
}

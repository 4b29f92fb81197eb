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

use super::read::{SqliteSnapshot, raw_article};
use super::schema::{PAIRS, REBUILD, names_sql};
use super::text::{Columns, lossy};
use crate::article::{Article, Facet};
use crate::store::row::{ARTICLE_COLUMNS, RawLink, audit_row, table};
use crate::store::{Problem, StoreError};

/// The link rows of `table` whose article is gone: how many, of how many
/// articles, and the first such article's id.
fn orphans_sql(table: &str) -> String {
    format!(
        "SELECT count(*), count(DISTINCT article_id), min(article_id) FROM {table} l
         WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = l.article_id)"
    )
}

/// One problem per link table holding orphans; each says what removes them.
fn orphans(conn: &Connection) -> Result<Vec<Problem>, rusqlite::Error> {
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
        tx.execute_batch(&REBUILD)?;
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

/// Every row checked against the schema rules and `admit`, each problem
/// handed to `report` as found ([`crate::store::Store::audit_with`]), then
/// the orphans and the catalog. SQLite steps through the rows one at a
/// time: nothing piles up.
pub(super) fn audit(
    snap: &SqliteSnapshot,
    admit: &dyn Fn(&Article) -> Option<String>,
    report: &mut dyn FnMut(Problem),
) -> Result<(), StoreError> {
    let conn = &snap.conn;
    let mut stmt = conn.prepare(&format!(
        "SELECT {ARTICLE_COLUMNS}, a.published_us FROM articles a ORDER BY a.id"
    ))?;
    let rows = stmt.query_map([], |r| Ok((raw_article(r)?, r.get::<_, i64>(10)?)))?;
    for row in rows {
        let (raw, published_us) = row?;
        let id = raw.id.clone();
        let decoded = snap.decode(raw);
        let stored = |id: &str| snap.links(Facet::Author, id, "slug");
        audit_row(id, decoded, published_us, stored, admit, report)?;
    }
    for facet in Facet::ALL {
        let sql = format!(
            "SELECT f.article_id, f.slug, f.name, f.published_us, a.published_us FROM {} f
             JOIN articles a ON a.id = f.article_id ORDER BY f.article_id, f.slug",
            table(facet)
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            let mut c = Columns::of(r);
            let link = RawLink {
                article_id: lossy(r, 0)?,
                // Read lossily: a slug that is not UTF-8 is reported as
                // not the name's.
                slug: lossy(r, 1)?,
                name: c.required(2, "name")?,
                published_us: r.get(3)?,
                article_published_us: r.get(4)?,
            };
            Ok((link, c.unreadable))
        })?;
        for row in rows {
            // A name that is not UTF-8 makes its article unreadable,
            // which the article's own line above reports.
            if let (link, None) = row? {
                link.audit(facet, report);
            }
        }
    }
    let orphans = orphans(conn)?;
    let skewed = !orphans.is_empty();
    for p in orphans.into_iter().chain(audit_catalog(conn, skewed)?) {
        report(p);
    }
    Ok(())
}

/// The catalog tables against counts made from the article tables: a CMS
/// that turned the triggers off (or wrote in bulk mode and forgot to
/// rebuild) shows here, and so do orphan link rows (`skewed`: some were
/// found), which the triggers could not count right either.
fn audit_catalog(conn: &Connection, skewed: bool) -> Result<Vec<Problem>, rusqlite::Error> {
    let mut problems = Vec::new();
    let checks = [
        (
            "bantin_names",
            "SELECT facet || ' ' || slug || ' ' || name, articles FROM bantin_names".to_string(),
            format!(
                "SELECT facet || ' ' || slug || ' ' || name, articles FROM ({})",
                names_sql()
            ),
        ),
        (
            "bantin_pairs",
            "SELECT category || ' ' || region, articles FROM bantin_pairs".to_string(),
            format!("SELECT category || ' ' || region, articles FROM ({PAIRS})"),
        ),
        (
            "bantin_totals",
            "SELECT 'articles', articles FROM bantin_totals".to_string(),
            "SELECT 'articles', count(*) FROM articles".to_string(),
        ),
    ];
    for (table, stored, actual) in checks {
        let read = |sql: &str| -> Result<std::collections::BTreeMap<String, i64>, rusqlite::Error> {
            conn.prepare(sql)?
                .query_map([], |r| Ok((lossy(r, 0)?, r.get(1)?)))?
                .collect()
        };
        let (stored, actual) = (read(&stored)?, read(&actual)?);
        if stored != actual {
            let differ = actual
                .iter()
                .filter(|(k, v)| stored.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .chain(stored.keys().filter(|k| !actual.contains_key(*k)).cloned())
                .next()
                .unwrap_or_default();
            let cause = if skewed {
                "the orphan rows above skew it; `bantin check --repair` rebuilds it"
            } else {
                "were the triggers bypassed?"
            };
            problems.push(Problem {
                id: String::new(),
                reason: format!(
                    "{table} is out of step with the article tables (first difference: {differ:?}); \
                     {cause}"
                ),
            });
        }
    }
    Ok(problems)
}

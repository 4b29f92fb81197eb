//! The SQLite store's schema brought up to date when it is opened: WAL
//! mode, the numbered migrations not applied yet (`migrations/sqlite/`:
//! tables, columns, indexes, views and data moves; `PRAGMA user_version`
//! counts them) with the steps of theirs SQL can't do, then the current
//! triggers (`schema`). The migrations and the triggers of one upgrade are
//! one transaction: a store is at one version or the next, never between.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::{BUSY_TIMEOUT, index, schema};

/// A numbered migration: its script, and what bantin does right after it
/// in the same transaction.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Connection) -> Result<(), rusqlite::Error>>,
}

/// Schema migrations, applied in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../../../migrations/sqlite/001_init.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/002_change_log.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/003_authors.sql"),
        then: Some(backfill_authors),
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/004_search.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/005_search_own.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/006_limits.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/007_search_by_date.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/008_delete_cleanup.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/009_names_capped.sql"),
        then: Some(rebuild_catalog),
    },
    Migration {
        sql: include_str!("../../../migrations/sqlite/010_search_visible_text.sql"),
        then: Some(reindex),
    },
];

/// WAL mode, the migrations not applied yet, and the current triggers.
pub(super) fn prepare(conn: &Connection) -> Result<(), rusqlite::Error> {
    // Readers (the server) and writers (import, a CMS) in other processes:
    // WAL lets them run at once; the busy timeout rides out the short
    // exclusive moments of a commit.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if version(conn)? < MIGRATIONS.len() {
        // Take the write lock, then look again: another process may have
        // migrated meanwhile.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let from = version(&tx)?;
        if from < MIGRATIONS.len() {
            // Migrations run without triggers: a trigger of today may
            // name what an older version does not have yet.
            schema::drop_all(&tx)?;
            for m in &MIGRATIONS[from..] {
                tx.execute_batch(m.sql)?;
                if let Some(then) = m.then {
                    then(&tx)?;
                }
            }
            tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
            schema::apply(&tx, true)?;
        }
        tx.commit()?;
    }
    schema::apply(conn, false)?;
    Ok(())
}

/// The migrations applied to the store (`PRAGMA user_version`).
fn version(conn: &Connection) -> Result<usize, rusqlite::Error> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// Migration 3: the `article_authors` rows of the articles already stored,
/// from their `authors` lists (slugs need SPEC's transliteration, which SQL
/// lacks), then the catalog rebuilt.
fn backfill_authors(tx: &Connection) -> Result<(), rusqlite::Error> {
    {
        let mut read = tx.prepare("SELECT id, authors, published_us FROM articles")?;
        let mut link = tx.prepare(
            "INSERT OR IGNORE INTO article_authors (article_id, slug, name, position, published_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let (id, authors, published_us): (String, String, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            // A row whose list does not parse is `check`'s to report.
            let names: Vec<String> = serde_json::from_str(&authors).unwrap_or_default();
            let links = crate::slug::author_links(&names);
            for (position, (slug, name)) in links.into_iter().enumerate() {
                link.execute(params![id, slug, name, position as i64, published_us])?;
            }
        }
    }
    rebuild_catalog(tx)
}

/// The catalog counted again from the link tables, "everything" logged:
/// after a migration that added or removed link rows (3, 9), which the
/// triggers of their time counted.
fn rebuild_catalog(tx: &Connection) -> Result<(), rusqlite::Error> {
    tx.execute_batch(&schema::REBUILD)
}

/// Migration 10: the keyword index, emptied by the script, filled again
/// with the visible text of every article.
fn reindex(tx: &Connection) -> Result<(), rusqlite::Error> {
    let started = std::time::Instant::now();
    let n = index::reindex(tx)?;
    tracing::info!(
        "keyword index made again from the visible text of {n} articles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

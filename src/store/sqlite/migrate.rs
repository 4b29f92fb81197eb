//! The SQLite store's schema brought up to date when it is opened: WAL
//! mode, the numbered migrations not applied yet (`migrations/sqlite/`:
//! tables, columns, indexes, views and data moves; `PRAGMA user_version`
//! counts them) with the steps of theirs SQL can't do, then the current
//! triggers (`schema`). The migrations and the triggers of one upgrade are
//! one transaction: a store is at one version or the next, never between.
//! A read-only open ([`behind`]) changes nothing and says what is missing.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::pool::BUSY_TIMEOUT;
use super::{index, schema};

/// A numbered migration: its script, and what bantin does right after it
/// in the same transaction.
struct Migration {
    /// The file's name without `.sql`, as `bantin migrate` reports it.
    name: &'static str,
    sql: &'static str,
    then: Option<Step>,
}

/// A step of a migration that SQL can't do.
type Step = fn(&Connection) -> Result<(), rusqlite::Error>;

/// Schema migrations, applied in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "001_init",
        sql: include_str!("../../../migrations/sqlite/001_init.sql"),
        then: None,
    },
    Migration {
        name: "002_change_log",
        sql: include_str!("../../../migrations/sqlite/002_change_log.sql"),
        then: None,
    },
    Migration {
        name: "003_authors",
        sql: include_str!("../../../migrations/sqlite/003_authors.sql"),
        then: Some(backfill_authors),
    },
    Migration {
        name: "004_search",
        sql: include_str!("../../../migrations/sqlite/004_search.sql"),
        then: None,
    },
    Migration {
        name: "005_search_own",
        sql: include_str!("../../../migrations/sqlite/005_search_own.sql"),
        then: None,
    },
    Migration {
        name: "006_limits",
        sql: include_str!("../../../migrations/sqlite/006_limits.sql"),
        then: None,
    },
    Migration {
        name: "007_search_by_date",
        sql: include_str!("../../../migrations/sqlite/007_search_by_date.sql"),
        then: None,
    },
    Migration {
        name: "008_delete_cleanup",
        sql: include_str!("../../../migrations/sqlite/008_delete_cleanup.sql"),
        then: None,
    },
    Migration {
        name: "009_names_capped",
        sql: include_str!("../../../migrations/sqlite/009_names_capped.sql"),
        then: Some(recount_capped),
    },
    Migration {
        name: "010_search_visible_text",
        sql: include_str!("../../../migrations/sqlite/010_search_visible_text.sql"),
        then: Some(reindex),
    },
    Migration {
        name: "011_audience",
        sql: include_str!("../../../migrations/sqlite/011_audience.sql"),
        then: None,
    },
];

/// WAL mode, the migrations not applied yet, and the current triggers.
/// Returns what it applied: the migrations' names, and "triggers" when
/// only those were replaced.
pub(super) fn prepare(conn: &Connection) -> Result<Vec<&'static str>, rusqlite::Error> {
    let mut applied = Vec::new();
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
                applied.push(m.name);
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
    if schema::apply(conn, false)? {
        applied.push("triggers");
    }
    Ok(applied)
}

/// What a read-only open finds missing, if anything: migrations not
/// applied, or triggers older than this bantin's (a CMS's writes would be
/// logged and counted the old way). A store a newer bantin migrated
/// further reads as it is.
pub(super) fn behind(conn: &Connection) -> Result<Option<String>, rusqlite::Error> {
    let at = version(conn)?;
    if at == 0 {
        return Ok(Some("the file has no bantin schema yet".into()));
    }
    if at < MIGRATIONS.len() {
        return Ok(Some(format!(
            "the schema is at migration {at} of {}",
            MIGRATIONS.len()
        )));
    }
    if at == MIGRATIONS.len() && !schema::is_current(conn)? {
        return Ok(Some(
            "the schema's triggers are older than this bantin's".into(),
        ));
    }
    Ok(None)
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
/// after a migration that added or removed link rows, which the triggers
/// of their time counted.
fn rebuild_catalog(tx: &Connection) -> Result<(), rusqlite::Error> {
    tx.execute_batch(&schema::REBUILD)
}

/// Migration 9 removed link rows of held articles only: with none held,
/// the catalog still holds (a new store logs nothing more).
fn recount_capped(tx: &Connection) -> Result<(), rusqlite::Error> {
    let held: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM bantin_held)", [], |r| {
        r.get(0)
    })?;
    if held {
        rebuild_catalog(tx)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rusqlite::Connection;

    use crate::article::FeedKey;
    use crate::store::Store;
    use crate::store::sqlite::{SqliteStore, schema};

    /// A store as bantin's migrations 1 to 10 made it before the triggers
    /// were made by `schema`, triggers included.
    const MADE_BEFORE: &str = include_str!("../../../tests/fixtures/sqlite/schema_v10.sql");

    /// An article and its link rows, as a CMS writes them.
    fn cms_put(conn: &Connection, id: &str, category: &str, region: &str, at: &str) {
        let us = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .timestamp_micros();
        conn.execute(
            "INSERT INTO articles (id, title, body, authors, published, published_us)
             VALUES (?1, 'Tin', 'Lũ ở miền Trung', '[\"An Nguyễn\"]', ?2, ?3)",
            rusqlite::params![id, at, us],
        )
        .unwrap();
        for (table, name) in [
            ("article_categories", category),
            ("article_regions", region),
            ("article_authors", "An Nguyễn"),
        ] {
            conn.execute(
                &format!(
                    "INSERT INTO {table} (article_id, slug, name, position, published_us)
                     VALUES (?1, ?2, ?3, 0, ?4)"
                ),
                rusqlite::params![id, crate::slug::slugify(name), name, us],
            )
            .unwrap();
        }
    }

    fn counts(conn: &Connection) -> Vec<i64> {
        [
            "articles",
            "article_categories",
            "article_regions",
            "article_authors",
            "bantin_log",
            "bantin_names",
            "bantin_pairs",
            "bantin_held",
            "bantin_search_ids",
            "bantin_search_queue",
        ]
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect()
    }

    fn log_since(conn: &Connection, seq: i64) -> Vec<(String, String)> {
        conn.prepare("SELECT article_id, facet FROM bantin_log WHERE seq > ?1 ORDER BY seq")
            .unwrap()
            .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A store made by an older bantin, with rows a CMS wrote through its
    /// triggers, opened by this one: every row kept, today's triggers in
    /// place, the catalog in step; a CMS's insert, update and delete (plain
    /// SQL, foreign keys off) are then logged and counted as before.
    #[test]
    fn a_store_made_before_upgrades_with_its_rows_and_working_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(MADE_BEFORE).unwrap();
        old.pragma_update(None, "user_version", 10).unwrap();
        cms_put(
            &old,
            "a-1",
            "Thời sự",
            "Hà Nội",
            "2024-05-01T08:00:00+07:00",
        );
        cms_put(
            &old,
            "a-2",
            "Kinh tế",
            "Hà Nội",
            "2024-05-02T08:00:00+07:00",
        );
        let before = counts(&old);
        drop(old);

        let store = SqliteStore::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(counts(&conn), before, "rows lost or added by the upgrade");
        assert!(schema::is_current(&conn).unwrap());
        assert_eq!(store.audit().unwrap(), vec![]);

        let seq: i64 = conn
            .query_row("SELECT max(seq) FROM bantin_log", [], |r| r.get(0))
            .unwrap();
        cms_put(&conn, "a-3", "Thời sự", "Huế", "2024-05-03T08:00:00+07:00");
        conn.execute("UPDATE articles SET title = 'Tin mới' WHERE id = 'a-2'", [])
            .unwrap();
        conn.execute("DELETE FROM articles WHERE id = 'a-1'", [])
            .unwrap();
        let log = log_since(&conn, seq);
        let logged = |id: &str, facet: &str| log.contains(&(id.into(), facet.into()));
        for (id, facet) in [("a-3", "a"), ("a-3", "c"), ("a-3", "r"), ("a-3", "u")] {
            assert!(logged(id, facet), "{id} {facet}: {log:?}");
        }
        assert!(logged("a-2", "a") && logged("a-1", "a") && logged("a-1", "c"));
        // The catalog counted every write: the check finds it in step, and
        // the deleted article's links went with it.
        assert_eq!(store.audit().unwrap(), vec![]);
        let names: Vec<(String, i64)> = conn
            .prepare("SELECT slug, articles FROM bantin_names WHERE facet = 'c' ORDER BY slug")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, [("kinh-te".into(), 1), ("thoi-su".into(), 1)]);
        let snap = store.snapshot().unwrap();
        let feed = snap
            .feed(&FeedKey::Category("thoi-su".into()), Utc::now(), 10)
            .unwrap();
        let ids: Vec<&str> = feed.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a-3"]);
        // The keyword index: what the triggers queued, indexed by bantin.
        assert!(store.index_queued().unwrap() >= 2, "a-3 and a-2 queued");
        let snap = store.search_snapshot().unwrap();
        let found = snap
            .feed(&FeedKey::Search("mien trung".into()), Utc::now(), 10)
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a-3", "a-2"]);
    }
}

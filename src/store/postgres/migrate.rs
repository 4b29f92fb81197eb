//! The schema: the numbered migrations (tables, columns, indexes and data
//! moves), then `migrations/postgres/replaceable.sql`, the current
//! definition of every function, view and trigger, applied again whenever
//! the schema version changes (as Lemmy's `replaceable_schema` is after
//! its append-only migrations), then the data moves of the migrations
//! applied that need a function as it is now.

use postgres::Client;

use super::value::text;

/// A migration's name (its file's, as `bantin migrate` reports it) and SQL.
macro_rules! migration {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../migrations/postgres/", $name, ".sql")),
        )
    };
}

/// Schema migrations, applied in order; `bantin_migrations` lists the
/// versions applied.
const MIGRATIONS: &[(&str, &str)] = &[
    migration!("001_init"),
    migration!("002_change_log"),
    migration!("003_authors"),
    migration!("004_search"),
    migration!("005_search_words"),
    migration!("006_limits"),
    migration!("007_search_spans"),
    migration!("008_common_words"),
    migration!("009_names_capped"),
    migration!("010_search_visible_text"),
    migration!("011_replaceable"),
    migration!("012_audience"),
];

/// Every function, view and trigger as it is now, applied after the
/// migrations (see the file's head).
const REPLACEABLE: &str = include_str!("../../../migrations/postgres/replaceable.sql");

/// The line of a migration after which its statements run once
/// [`REPLACEABLE`] is applied: data moves that call today's functions.
const AFTER_REPLACEABLE: &str = "\n-- After replaceable.sql:\n";

/// The advisory lock that migrations run under ("bantin" in ASCII), so that
/// replicas starting together apply each migration exactly once.
const MIGRATION_LOCK: i64 = 0x6261_6e74_696e;

/// The advisory lock of `bantin_counts` maintenance ("bantinc"), taken by
/// `bantin_rebuild()` in SQL too (put in `replaceable.sql` by
/// [`replaceable_sql`]), so that a rebuild and a fold never run at once.
pub(super) const COUNTS_LOCK: i64 = 0x6261_6e74_696e_6300;

/// The migrations `bantin_migrations` says were applied: 0 when the table
/// is not there yet.
fn applied(client: &mut Client) -> Result<usize, postgres::Error> {
    let listed: bool = client
        .query_one("SELECT to_regclass('bantin_migrations') IS NOT NULL", &[])?
        .try_get(0)?;
    if !listed {
        return Ok(0);
    }
    let applied: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM bantin_migrations",
            &[],
        )?
        .try_get(0)?;
    Ok(usize::try_from(applied).unwrap_or(0))
}

/// What a read-only open finds missing, if anything; it writes nothing, so
/// a role with SELECT only can ask. A database a newer bantin migrated
/// further reads as it is.
pub(super) fn behind(client: &mut Client) -> Result<Option<String>, postgres::Error> {
    Ok(match applied(client)? {
        0 => Some("the database has no bantin schema yet".into()),
        at if at < MIGRATIONS.len() => Some(format!(
            "the schema is at migration {at} of {}",
            MIGRATIONS.len()
        )),
        _ => None,
    })
}

/// Apply the migrations not applied yet, all in one transaction under an
/// advisory lock: a replica starting at the same moment waits, then finds
/// them applied. Returns the names of those this call applied.
pub(super) fn migrate(client: &mut Client) -> Result<Vec<&'static str>, postgres::Error> {
    // Up to date, the usual case: nothing to create or lock. A runtime role
    // without CREATE on the schema (docs/postgresql.md "Several replicas") can only
    // open the store this way: `CREATE TABLE IF NOT EXISTS` below checks
    // the privilege before it finds the table there.
    if applied(client)? >= MIGRATIONS.len() {
        return Ok(Vec::new());
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS bantin_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let applied: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM bantin_migrations",
            &[],
        )?
        .try_get(0)?;
    let pending = MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize);
    let mut after = Vec::new();
    let mut names = Vec::new();
    for (i, (name, sql)) in pending {
        names.push(*name);
        let (now, later) = sql.split_once(AFTER_REPLACEABLE).unwrap_or((sql, ""));
        tx.batch_execute(now)?;
        if i + 1 == 3 {
            backfill_authors(&mut tx)?;
        }
        tx.execute(
            "INSERT INTO bantin_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
        after.push(later);
    }
    if after.is_empty() {
        // Another replica applied them while we waited for the lock.
        tx.commit()?;
        return Ok(names);
    }
    tx.batch_execute(&replaceable_sql())?;
    for later in after {
        tx.batch_execute(later)?;
    }
    tx.commit()?;
    Ok(names)
}

/// Migration 3: the `article_authors` rows of the articles already stored
/// (see the SQLite store), in bulk mode; the migration rebuilds the counts
/// once its functions are in place.
fn backfill_authors(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    tx.batch_execute("SET LOCAL bantin.bulk = 'on'")?;
    let rows = tx.query("SELECT id, authors, published_us FROM articles", &[])?;
    let link = tx.prepare(
        "INSERT INTO article_authors (article_id, slug, name, position, published_us)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )?;
    for row in rows {
        let (id, authors, published_us): (String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let names: Vec<String> = serde_json::from_str(&authors).unwrap_or_default();
        for (position, (slug, name)) in crate::slug::author_links(&names).into_iter().enumerate() {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            tx.execute(
                &link,
                &[&id, &slug, &text(&name).as_ref(), &position, &published_us],
            )?;
        }
    }
    tx.batch_execute("SET LOCAL bantin.bulk = 'off'")
}

/// `replaceable.sql` with the constants it shares with this code put in.
pub(super) fn replaceable_sql() -> String {
    REPLACEABLE.replace("{COUNTS_LOCK}", &COUNTS_LOCK.to_string())
}

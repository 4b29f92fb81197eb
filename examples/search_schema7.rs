//! Sets a copy of a SQLite store back from migration 010 to the keyword
//! index of migration 007 (the triggers' raw-text index, no queue), so
//! that migration 010's upgrade can be timed on a big store (BENCHMARKS.md,
//! "Keyword feeds with a budget"). BEFORE is the `user_version` the store
//! had before 010 (its place in `MIGRATIONS` less one). Never on a store
//! you keep: it rewrites the keyword index.
//!
//! ```text
//! cp store.db /tmp/copy.db
//! cargo run --release --example search_schema7 -- /tmp/copy.db 7
//! /usr/bin/time bantin --store sqlite:/tmp/copy.db dump --limit 1 >/dev/null
//! ```

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: search_schema7 STORE.db BEFORE";
    let path = std::env::args().nth(1).ok_or(usage)?;
    let before: i64 = std::env::args().nth(2).ok_or(usage)?.parse()?;
    let conn = rusqlite::Connection::open(path)?;
    let queued: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'bantin_search_queue'",
        [],
        |r| r.get(0),
    )?;
    if queued != 1 {
        return Err("no bantin_search_queue: migration 010 is not applied".into());
    }
    let m7 = include_str!("../migrations/sqlite/007_search_by_date.sql");
    let m4 = include_str!("../migrations/sqlite/004_search.sql");
    let cut = |text: &'static str, from: &str, to: Option<&str>| -> Result<&'static str, String> {
        let start = text.find(from).ok_or(format!("{from:?} not found"))?;
        let end = match to {
            Some(to) => text.find(to).ok_or(format!("{to:?} not found"))?,
            None => text.len(),
        };
        Ok(&text[start..end])
    };
    // Version 7's two triggers (after dropping version 10's), version 4's
    // delete trigger, and version 7's filling of the index.
    let triggers = cut(
        m7,
        "DROP TRIGGER bantin_search_inserted;",
        Some("INSERT INTO bantin_search (bantin_search) VALUES ('delete-all');"),
    )?;
    let deleted = cut(m4, "CREATE TRIGGER bantin_search_deleted", None)?;
    let refill = cut(m7, "-- In number order", None)?;
    let started = Instant::now();
    conn.execute_batch(&format!(
        "BEGIN;
         DROP TRIGGER bantin_search_updated; DROP TRIGGER bantin_search_moved;
         DROP TRIGGER bantin_search_deleted;
         DROP TABLE bantin_search_queue; DROP TABLE bantin_search;
         CREATE VIRTUAL TABLE bantin_search USING fts5(
             words, content='', detail=none, tokenize='unicode61 remove_diacritics 2');
         CREATE TRIGGER bantin_search_updated AFTER UPDATE OF title ON articles BEGIN SELECT 1; END;
         {triggers}
         {deleted}
         {refill}
         PRAGMA user_version = {before};
         COMMIT;"
    ))?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    eprintln!(
        "set back to schema 7 in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

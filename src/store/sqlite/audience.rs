//! The audience tables on SQLite (SQL in `store/audience.rs`): a batch in
//! one short transaction on the writer connection, giving up quickly when
//! an import holds the lock (the batch waits for the next flush).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::store::audience::{
    self as sql, AudienceBatch, AudienceCounts, FetcherReport, Fetches, column, count,
};
use crate::store::{Dialect, StoreError, micros};

const D: Dialect = Dialect::Sqlite;

/// Write `batch`, and forget what no longer counts as of `now`.
pub(super) fn record(
    conn: &mut Connection,
    batch: &AudienceBatch,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_millis(200))?;
    let written = write(conn, batch, now);
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    written
}

fn write(
    conn: &mut Connection,
    batch: &AudienceBatch,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut st = tx.prepare_cached(&sql::upsert_subscriber(D))?;
        for (feed, fetcher, n, at) in &batch.subscribers {
            st.execute(params![feed, fetcher, column(*n), micros(*at)])?;
        }
        let mut st = tx.prepare_cached(&sql::upsert_reader(D))?;
        for (feed, reader, at) in &batch.readers {
            st.execute(params![feed, reader, micros(*at)])?;
        }
        let mut st = tx.prepare_cached(&sql::upsert_fetches(D))?;
        for f in &batch.fetches {
            st.execute(params![
                f.fetcher,
                micros(f.hour),
                column(f.requests),
                column(f.conditional),
                column(f.not_modified),
                column(f.refused)
            ])?;
        }
        let mut st = tx.prepare_cached(&sql::upsert_interval(D))?;
        for (fetcher, hour, bucket, n) in &batch.intervals {
            st.execute(params![
                fetcher,
                micros(*hour),
                i32::from(*bucket),
                column(*n)
            ])?;
        }
        let [subscribers, rest @ ..] = sql::prune(D);
        tx.execute(&subscribers, [micros(now - sql::SUBSCRIBERS_KEPT)])?;
        for statement in rest {
            tx.execute(&statement, [micros(now - sql::READERS_KEPT)])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The salt of `day`: the one stored, or `fresh` stored as it; other
/// days' salts are dropped.
pub(super) fn salt(conn: &mut Connection, day: &str, fresh: &str) -> Result<String, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(&sql::insert_salt(D), params![day, fresh])?;
    tx.execute(&sql::drop_salts(D), params![day])?;
    let salt: String = tx.query_row(&sql::select_salt(D), params![day], |r| r.get(0))?;
    tx.commit()?;
    Ok(salt)
}

/// The counts that stand at `now`.
pub(super) fn counts(conn: &Connection, now: DateTime<Utc>) -> Result<AudienceCounts, StoreError> {
    let mut st = conn.prepare_cached(&sql::select_subscribers(D))?;
    let subscribers = st
        .query_map([micros(now - sql::SUBSCRIBERS_KEPT)], |r| {
            Ok((r.get(0)?, r.get(1)?, count(r.get(2)?)))
        })?
        .collect::<Result<_, _>>()?;
    let mut st = conn.prepare_cached(&sql::select_readers(D))?;
    let readers = st
        .query_map([micros(now - sql::READERS_KEPT)], |r| {
            Ok((r.get(0)?, count(r.get(1)?)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(AudienceCounts {
        subscribers,
        readers,
    })
}

/// Each fetcher's last 24 hours as of `now`.
pub(super) fn report(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<FetcherReport>, StoreError> {
    let since = micros(now - sql::READERS_KEPT);
    let mut st = conn.prepare_cached(&sql::select_fetches(D))?;
    let fetches: Vec<Fetches> = st
        .query_map([since], |r| {
            Ok(Fetches {
                fetcher: r.get(0)?,
                hour: now,
                requests: count(r.get(1)?),
                conditional: count(r.get(2)?),
                not_modified: count(r.get(3)?),
                refused: count(r.get(4)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = conn.prepare_cached(&sql::select_intervals(D))?;
    let intervals: Vec<(String, u8, u64)> = st
        .query_map([since], |r| {
            let bucket: i64 = r.get(1)?;
            Ok((
                r.get(0)?,
                u8::try_from(bucket).unwrap_or(u8::MAX),
                count(r.get(2)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(sql::reports(fetches, intervals))
}

//! The audience tables on PostgreSQL (SQL in `store/audience.rs`): a batch
//! in one transaction on a writer connection. Replicas write to the same
//! rows; the upserts merge (last report, latest fetch, sums).

use chrono::{DateTime, Utc};

use super::pool::PgConn;
use crate::store::audience::{
    self as sql, AudienceBatch, AudienceCounts, FetcherReport, Fetches, column, count,
};
use crate::store::{Dialect, StoreError, micros};

const D: Dialect = Dialect::Postgres;

/// Write `batch`, and forget what no longer counts as of `now`.
pub(super) fn record(
    conn: &mut PgConn,
    batch: &AudienceBatch,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = conn.client.transaction()?;
    let st = tx.prepare(&sql::upsert_subscriber(D))?;
    for (feed, fetcher, n, at) in &batch.subscribers {
        tx.execute(&st, &[feed, fetcher, &column(*n), &micros(*at)])?;
    }
    let st = tx.prepare(&sql::upsert_reader(D))?;
    for (feed, reader, at) in &batch.readers {
        tx.execute(&st, &[feed, reader, &micros(*at)])?;
    }
    let st = tx.prepare(&sql::upsert_fetches(D))?;
    for f in &batch.fetches {
        tx.execute(
            &st,
            &[
                &f.fetcher,
                &micros(f.hour),
                &column(f.requests),
                &column(f.conditional),
                &column(f.not_modified),
                &column(f.refused),
            ],
        )?;
    }
    let st = tx.prepare(&sql::upsert_interval(D))?;
    for (fetcher, hour, bucket, n) in &batch.intervals {
        tx.execute(
            &st,
            &[fetcher, &micros(*hour), &i32::from(*bucket), &column(*n)],
        )?;
    }
    let [subscribers, rest @ ..] = sql::prune(D);
    tx.execute(&subscribers, &[&micros(now - sql::SUBSCRIBERS_KEPT)])?;
    for statement in rest {
        tx.execute(&statement, &[&micros(now - sql::READERS_KEPT)])?;
    }
    tx.commit()?;
    Ok(())
}

/// The salt of `day`: the one stored, or `fresh` stored as it; other
/// days' salts are dropped.
pub(super) fn salt(conn: &mut PgConn, day: &str, fresh: &str) -> Result<String, StoreError> {
    let mut tx = conn.client.transaction()?;
    tx.execute(&sql::insert_salt(D), &[&day, &fresh])?;
    tx.execute(&sql::drop_salts(D), &[&day])?;
    let salt: String = tx.query_one(&sql::select_salt(D), &[&day])?.try_get(0)?;
    tx.commit()?;
    Ok(salt)
}

/// The counts that stand at `now`.
pub(super) fn counts(conn: &mut PgConn, now: DateTime<Utc>) -> Result<AudienceCounts, StoreError> {
    let c = &mut conn.client;
    let mut subscribers = Vec::new();
    for r in c.query(
        &sql::select_subscribers(D),
        &[&micros(now - sql::SUBSCRIBERS_KEPT)],
    )? {
        subscribers.push((r.try_get(0)?, r.try_get(1)?, count(r.try_get(2)?)));
    }
    let mut readers = Vec::new();
    for r in c.query(&sql::select_readers(D), &[&micros(now - sql::READERS_KEPT)])? {
        readers.push((r.try_get(0)?, count(r.try_get(1)?)));
    }
    Ok(AudienceCounts {
        subscribers,
        readers,
    })
}

/// Each fetcher's last 24 hours as of `now`.
pub(super) fn report(
    conn: &mut PgConn,
    now: DateTime<Utc>,
) -> Result<Vec<FetcherReport>, StoreError> {
    let since = micros(now - sql::READERS_KEPT);
    let c = &mut conn.client;
    let mut fetches = Vec::new();
    for r in c.query(&sql::select_fetches(D), &[&since])? {
        fetches.push(Fetches {
            fetcher: r.try_get(0)?,
            hour: now,
            requests: count(r.try_get(1)?),
            conditional: count(r.try_get(2)?),
            not_modified: count(r.try_get(3)?),
            refused: count(r.try_get(4)?),
        });
    }
    let mut intervals = Vec::new();
    for r in c.query(&sql::select_intervals(D), &[&since])? {
        let bucket: i32 = r.try_get(1)?;
        intervals.push((
            r.try_get(0)?,
            u8::try_from(bucket).unwrap_or(u8::MAX),
            count(r.try_get(2)?),
        ));
    }
    Ok(sql::reports(fetches, intervals))
}

//! The audience tables (migrations sqlite/011, postgres/012): what
//! `bantin serve` writes in batches and `/metrics`, `/` and `bantin stats`
//! read, and the SQL both backends run for them (parameters in the
//! backend's [`Dialect`]). Upserts merge: the last subscriber count
//! reported wins, a reader's last fetch is the latest, request counts add,
//! so that replicas writing to one store add up.

use chrono::{DateTime, Utc};

use super::sql::Dialect;

/// One flush of the counts a replica gathered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudienceBatch {
    /// (feed, fetcher, subscribers, when reported): the last report of
    /// each fetcher for each feed in the batch.
    pub subscribers: Vec<(String, String, u64, DateTime<Utc>)>,
    /// (feed, reader hash, last fetch).
    pub readers: Vec<(String, String, DateTime<Utc>)>,
    /// Requests per fetcher and hour.
    pub fetches: Vec<Fetches>,
    /// (fetcher, hour, bucket, intervals in it).
    pub intervals: Vec<(String, DateTime<Utc>, u8, u64)>,
}

impl AudienceBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
            && self.readers.is_empty()
            && self.fetches.is_empty()
            && self.intervals.is_empty()
    }
}

/// Requests of one fetcher in one hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetches {
    /// The fetcher (`Feedly`, `curl`, …).
    pub fetcher: String,
    /// The hour's first instant.
    pub hour: DateTime<Utc>,
    /// Requests of a subscription feed.
    pub requests: u64,
    /// Of them, with `If-None-Match` or `If-Modified-Since`.
    pub conditional: u64,
    /// Of them, answered 304.
    pub not_modified: u64,
    /// Of them, answered 429 (polite polling).
    pub refused: u64,
}

/// The counts as the store holds them now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudienceCounts {
    /// (feed, fetcher, subscribers) reported within 7 days, by feed and
    /// fetcher.
    pub subscribers: Vec<(String, String, u64)>,
    /// (feed, distinct readers within 24 hours), by feed.
    pub readers: Vec<(String, u64)>,
}

/// The last 24 hours of one fetcher, for `bantin stats --readers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetcherReport {
    /// Its requests, summed over the hours.
    pub totals: Fetches,
    /// Intervals between two fetches of one feed by one client, by bucket.
    pub intervals: Vec<(u8, u64)>,
}

/// How long a subscriber count stands without a new report.
pub const SUBSCRIBERS_KEPT: chrono::Duration = chrono::Duration::days(7);

/// How long a reader counts after its last fetch; also the reader report's span.
pub const READERS_KEPT: chrono::Duration = chrono::Duration::hours(24);

pub(crate) fn upsert_subscriber(d: Dialect) -> String {
    let [p1, p2, p3, p4] = [1, 2, 3, 4].map(|n| d.p(n));
    format!(
        "INSERT INTO bantin_subscribers (feed, fetcher, subscribers, seen_us)
         VALUES ({p1}, {p2}, {p3}, {p4})
         ON CONFLICT (feed, fetcher) DO UPDATE
         SET subscribers = excluded.subscribers, seen_us = excluded.seen_us
         WHERE excluded.seen_us >= bantin_subscribers.seen_us"
    )
}

pub(crate) fn upsert_reader(d: Dialect) -> String {
    let [p1, p2, p3] = [1, 2, 3].map(|n| d.p(n));
    format!(
        "INSERT INTO bantin_readers (feed, reader, seen_us) VALUES ({p1}, {p2}, {p3})
         ON CONFLICT (feed, reader) DO UPDATE SET seen_us = excluded.seen_us
         WHERE excluded.seen_us > bantin_readers.seen_us"
    )
}

pub(crate) fn upsert_fetches(d: Dialect) -> String {
    let [p1, p2, p3, p4, p5, p6] = [1, 2, 3, 4, 5, 6].map(|n| d.p(n));
    format!(
        "INSERT INTO bantin_fetches (fetcher, hour_us, requests, conditional, not_modified, refused)
         VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6})
         ON CONFLICT (fetcher, hour_us) DO UPDATE SET
             requests = bantin_fetches.requests + excluded.requests,
             conditional = bantin_fetches.conditional + excluded.conditional,
             not_modified = bantin_fetches.not_modified + excluded.not_modified,
             refused = bantin_fetches.refused + excluded.refused"
    )
}

pub(crate) fn upsert_interval(d: Dialect) -> String {
    let [p1, p2, p3, p4] = [1, 2, 3, 4].map(|n| d.p(n));
    format!(
        "INSERT INTO bantin_intervals (fetcher, hour_us, bucket, n) VALUES ({p1}, {p2}, {p3}, {p4})
         ON CONFLICT (fetcher, hour_us, bucket) DO UPDATE SET n = bantin_intervals.n + excluded.n"
    )
}

/// Forget what no longer counts: subscriber counts reported before
/// parameter 1 (the first statement), then readers and report rows before
/// parameter 1 (the others).
pub(crate) fn prune(d: Dialect) -> [String; 4] {
    let p1 = d.p(1);
    [
        format!("DELETE FROM bantin_subscribers WHERE seen_us < {p1}"),
        format!("DELETE FROM bantin_readers WHERE seen_us < {p1}"),
        format!("DELETE FROM bantin_fetches WHERE hour_us < {p1}"),
        format!("DELETE FROM bantin_intervals WHERE hour_us < {p1}"),
    ]
}

pub(crate) fn insert_salt(d: Dialect) -> String {
    format!(
        "INSERT INTO bantin_audience_salt (day, salt) VALUES ({}, {}) ON CONFLICT (day) DO NOTHING",
        d.p(1),
        d.p(2)
    )
}

pub(crate) fn select_salt(d: Dialect) -> String {
    format!(
        "SELECT salt FROM bantin_audience_salt WHERE day = {}",
        d.p(1)
    )
}

/// Yesterday's salt goes with yesterday: nothing can link its hashes again.
pub(crate) fn drop_salts(d: Dialect) -> String {
    format!("DELETE FROM bantin_audience_salt WHERE day <> {}", d.p(1))
}

pub(crate) fn select_subscribers(d: Dialect) -> String {
    format!(
        "SELECT feed, fetcher, subscribers FROM bantin_subscribers WHERE seen_us >= {}
         ORDER BY feed, fetcher",
        d.p(1)
    )
}

pub(crate) fn select_readers(d: Dialect) -> String {
    format!(
        "SELECT feed, count(*) FROM bantin_readers WHERE seen_us >= {} GROUP BY feed ORDER BY feed",
        d.p(1)
    )
}

pub(crate) fn select_fetches(d: Dialect) -> String {
    format!(
        "SELECT fetcher, CAST(sum(requests) AS BIGINT), CAST(sum(conditional) AS BIGINT),
                CAST(sum(not_modified) AS BIGINT), CAST(sum(refused) AS BIGINT)
         FROM bantin_fetches WHERE hour_us >= {} GROUP BY fetcher ORDER BY fetcher",
        d.p(1)
    )
}

pub(crate) fn select_intervals(d: Dialect) -> String {
    format!(
        "SELECT fetcher, bucket, CAST(sum(n) AS BIGINT) FROM bantin_intervals
         WHERE hour_us >= {} GROUP BY fetcher, bucket ORDER BY fetcher, bucket",
        d.p(1)
    )
}

/// A count read back from a BIGINT column.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count to write to a BIGINT column (counts are far below the limit).
pub(crate) fn column(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The fetcher reports of `fetches` and `intervals` rows.
pub(crate) fn reports(
    fetches: Vec<Fetches>,
    intervals: Vec<(String, u8, u64)>,
) -> Vec<FetcherReport> {
    fetches
        .into_iter()
        .map(|totals| FetcherReport {
            intervals: intervals
                .iter()
                .filter(|(f, _, _)| *f == totals.fetcher)
                .map(|(_, b, n)| (*b, *n))
                .collect(),
            totals,
        })
        .collect()
}

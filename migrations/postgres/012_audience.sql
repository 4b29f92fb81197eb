-- The audience of each feed (SPEC "Audience"), written by `bantin serve`
-- in batches (src/audience/), read by `/metrics`, `/` and `bantin stats`.
-- A feed is its URL path without extension (`/feeds/all`). No address is
-- stored: readers are salted hashes, and the day's salt is dropped with
-- the day.

-- The last count each aggregator reported for a feed (kept 7 days).
CREATE TABLE bantin_subscribers (
    feed        TEXT    NOT NULL,
    fetcher     TEXT    NOT NULL,
    subscribers BIGINT NOT NULL,
    seen_us     BIGINT NOT NULL,
    PRIMARY KEY (feed, fetcher)
);

-- Each direct reader of a feed, as the hex of a salted hash of its
-- address and User-Agent, and when it last fetched (kept 24 hours).
CREATE TABLE bantin_readers (
    feed    TEXT    NOT NULL,
    reader  TEXT    NOT NULL,
    seen_us BIGINT NOT NULL,
    PRIMARY KEY (feed, reader)
);
CREATE INDEX bantin_readers_seen ON bantin_readers (seen_us);

-- The salt of each day (UTC) that readers are hashed with.
CREATE TABLE bantin_audience_salt (
    day  TEXT NOT NULL PRIMARY KEY,
    salt TEXT NOT NULL
);

-- Requests per fetcher and hour, for `bantin stats --readers`: how many,
-- how many conditional, answered 304, answered 429; and the intervals
-- between two fetches of one feed by one client, as a histogram
-- (`interval_bucket`: 0 for under 15 s, then doubling: see
-- src/audience/report.rs).
CREATE TABLE bantin_fetches (
    fetcher      TEXT    NOT NULL,
    hour_us      BIGINT NOT NULL,
    requests     BIGINT NOT NULL,
    conditional  BIGINT NOT NULL,
    not_modified BIGINT NOT NULL,
    refused      BIGINT NOT NULL,
    PRIMARY KEY (fetcher, hour_us)
);
CREATE TABLE bantin_intervals (
    fetcher TEXT    NOT NULL,
    hour_us BIGINT NOT NULL,
    bucket  INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (fetcher, hour_us, bucket)
);

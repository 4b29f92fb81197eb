-- bantin's article store on PostgreSQL, version 2: the change log and the
-- catalog of migrations/sqlite/002_change_log.sql, kept by triggers whoever
-- writes the article tables, without a row that every writer updates.
--
-- * The old change token (`bantin_changes`, one row every write statement
--   updated) goes: it serialized every writer and took part in deadlocks.
-- * Log rows carry the id of the transaction that wrote them. Sequence
--   numbers are handed out before commit, so "seq > last seen" would miss a
--   slow transaction's rows; instead a reader keeps the snapshot of its last
--   read and takes the rows whose transaction it did not see then
--   (`pg_visible_in_snapshot`). See README "The change log".
-- * Counts are insert-only deltas (`bantin_counts`), summed by readers and
--   folded together now and then by a server: two transactions adding
--   articles to one category insert two rows instead of waiting on (or
--   deadlocking over) one counter row.

DROP TRIGGER articles_changed ON articles;
DROP TRIGGER article_categories_changed ON article_categories;
DROP TRIGGER article_regions_changed ON article_regions;
DROP FUNCTION bantin_changed();
DROP TABLE bantin_changes;

CREATE TABLE bantin_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at_us        BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
    article_id   TEXT COLLATE "C" NOT NULL,
    facet        TEXT COLLATE "C" NOT NULL,    -- 'a', 'c', 'r' or '*', as in SQLite
    slug         TEXT COLLATE "C",
    published_us BIGINT
);
CREATE INDEX bantin_log_xid ON bantin_log (xid);
CREATE INDEX bantin_log_at ON bantin_log (at_us);

-- kind 'c'/'r': a = slug, b = name; 'p': a = category, b = region; 't': the
-- number of articles. A key's count is the sum of its deltas.
CREATE TABLE bantin_counts (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind  TEXT COLLATE "C" NOT NULL,
    a     TEXT COLLATE "C" NOT NULL DEFAULT '',
    b     TEXT COLLATE "C" NOT NULL DEFAULT '',
    delta BIGINT NOT NULL
);
CREATE INDEX bantin_counts_key ON bantin_counts (kind, a, b);

-- After replaceable.sql:

SELECT bantin_rebuild();

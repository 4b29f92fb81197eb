-- bantin's article store, version 2: a change log and a catalog, both kept by
-- triggers, so that whoever writes the article tables (bantin, a CMS, the
-- sqlite3 shell) is seen, and a server learns what changed by reading the log
-- from its last position instead of rescanning the store. README "The
-- change log" documents both for CMS authors.

-- One row per changed row of the article tables: an UPDATE logs the row
-- before and after, an INSERT after, a DELETE before. `facet` is 'a' for an
-- `articles` row, 'c' or 'r' for a category or region link (then `slug` is
-- set), '*' for "everything may have changed" (a bulk import). `seq` is
-- AUTOINCREMENT so that trimming never lets a number come back; SQLite has a
-- single writer, so `seq` order is commit order and a reader that has seen
-- seq N has seen every row before it.
CREATE TABLE bantin_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us        INTEGER NOT NULL,     -- when it was written, µs since 1970 UTC (for trimming; julianday, which every SQLite version has, is exact to the millisecond)
    article_id   TEXT NOT NULL,
    facet        TEXT NOT NULL,
    slug         TEXT,
    published_us INTEGER               -- the row's published_us at that moment
);
CREATE INDEX bantin_log_at ON bantin_log (at_us);

-- The catalog: how many articles carry each display name of each slug, each
-- category and region pair, and how many articles there are. Counts include
-- scheduled articles; readers subtract those (an index range from now up).
CREATE TABLE bantin_names (
    facet    TEXT NOT NULL,            -- 'c' or 'r'
    slug     TEXT NOT NULL,
    name     TEXT NOT NULL,
    articles INTEGER NOT NULL,
    PRIMARY KEY (facet, slug, name)
) WITHOUT ROWID;

CREATE TABLE bantin_pairs (
    category TEXT NOT NULL,
    region   TEXT NOT NULL,
    articles INTEGER NOT NULL,
    PRIMARY KEY (category, region)
) WITHOUT ROWID;

CREATE TABLE bantin_totals (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    articles INTEGER NOT NULL
);

-- Bulk mode: while this table has a row, the triggers below do nothing. An
-- import of many articles inserts one inside its transaction (no other
-- connection ever sees it), then rebuilds the catalog in a few statements,
-- logs one '*' row and deletes it before committing.
CREATE TABLE bantin_bulk (one INTEGER PRIMARY KEY CHECK (one = 1));

INSERT INTO bantin_names (facet, slug, name, articles)
    SELECT 'c', slug, name, count(*) FROM article_categories GROUP BY slug, name;
INSERT INTO bantin_names (facet, slug, name, articles)
    SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name;
INSERT INTO bantin_pairs (category, region, articles)
    SELECT c.slug, r.slug, count(*) FROM article_categories c
    JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug;
INSERT INTO bantin_totals (one, articles) SELECT 1, count(*) FROM articles;

-- The triggers that keep the log and the catalog (on `articles` and each
-- link table) are made by bantin after the migrations, as they are today:
-- src/store/sqlite/schema.rs.

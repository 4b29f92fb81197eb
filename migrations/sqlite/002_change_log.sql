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

-- articles ----------------------------------------------------------------

CREATE TRIGGER bantin_articles_inserted AFTER INSERT ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.id, 'a', NEW.published_us);
    UPDATE bantin_totals SET articles = articles + 1;
END;

CREATE TRIGGER bantin_articles_updated AFTER UPDATE ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.id, 'a', OLD.published_us),
               (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.id, 'a', NEW.published_us);
END;

CREATE TRIGGER bantin_articles_deleted AFTER DELETE ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.id, 'a', OLD.published_us);
    UPDATE bantin_totals SET articles = articles - 1;
END;

-- A deleted article's pairs are uncounted before its links go (by the
-- foreign key's cascade, in an order that differs between databases); the
-- link triggers below leave pairs alone when their article is gone.
CREATE TRIGGER bantin_articles_deleting BEFORE DELETE ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE (category, region) IN (
            SELECT c.slug, r.slug FROM article_categories c
            JOIN article_regions r ON r.article_id = c.article_id WHERE c.article_id = OLD.id);
    DELETE FROM bantin_pairs WHERE articles <= 0
        AND category IN (SELECT slug FROM article_categories WHERE article_id = OLD.id);
END;

-- article_categories --------------------------------------------------------
-- A pair is counted once per article: when the second of its two links
-- appears, and uncounted when the first of them goes.

CREATE TRIGGER bantin_categories_inserted AFTER INSERT ON article_categories
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'c', NEW.slug, NEW.published_us);
    INSERT INTO bantin_names (facet, slug, name, articles) VALUES ('c', NEW.slug, NEW.name, 1)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT NEW.slug, r.slug, 1 FROM article_regions r WHERE r.article_id = NEW.article_id
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

CREATE TRIGGER bantin_categories_deleted AFTER DELETE ON article_categories
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'c', OLD.slug, OLD.published_us);
    UPDATE bantin_names SET articles = articles - 1 WHERE facet = 'c' AND slug = OLD.slug AND name = OLD.name;
    DELETE FROM bantin_names WHERE facet = 'c' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE category = OLD.slug AND region IN (SELECT slug FROM article_regions WHERE article_id = OLD.article_id)
          AND EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE category = OLD.slug AND articles <= 0;
END;

-- An update is the old row going and the new one coming.
CREATE TRIGGER bantin_categories_updated AFTER UPDATE ON article_categories
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'c', OLD.slug, OLD.published_us),
               (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'c', NEW.slug, NEW.published_us);
    UPDATE bantin_names SET articles = articles - 1
        WHERE facet = 'c' AND slug = OLD.slug AND name = OLD.name AND (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name);
    DELETE FROM bantin_names WHERE facet = 'c' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'c', NEW.slug, NEW.name, 1 WHERE (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE category = OLD.slug AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
          AND region IN (SELECT slug FROM article_regions WHERE article_id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE category = OLD.slug AND articles <= 0;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT NEW.slug, r.slug, 1 FROM article_regions r
        WHERE r.article_id = NEW.article_id AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

-- article_regions -----------------------------------------------------------

CREATE TRIGGER bantin_regions_inserted AFTER INSERT ON article_regions
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'r', NEW.slug, NEW.published_us);
    INSERT INTO bantin_names (facet, slug, name, articles) VALUES ('r', NEW.slug, NEW.name, 1)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT c.slug, NEW.slug, 1 FROM article_categories c WHERE c.article_id = NEW.article_id
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

CREATE TRIGGER bantin_regions_deleted AFTER DELETE ON article_regions
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'r', OLD.slug, OLD.published_us);
    UPDATE bantin_names SET articles = articles - 1 WHERE facet = 'r' AND slug = OLD.slug AND name = OLD.name;
    DELETE FROM bantin_names WHERE facet = 'r' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE region = OLD.slug AND category IN (SELECT slug FROM article_categories WHERE article_id = OLD.article_id)
          AND EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE region = OLD.slug AND articles <= 0;
END;

CREATE TRIGGER bantin_regions_updated AFTER UPDATE ON article_regions
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'r', OLD.slug, OLD.published_us),
               (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'r', NEW.slug, NEW.published_us);
    UPDATE bantin_names SET articles = articles - 1
        WHERE facet = 'r' AND slug = OLD.slug AND name = OLD.name AND (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name);
    DELETE FROM bantin_names WHERE facet = 'r' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'r', NEW.slug, NEW.name, 1 WHERE (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
    UPDATE bantin_pairs SET articles = articles - 1
        WHERE region = OLD.slug AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
          AND category IN (SELECT slug FROM article_categories WHERE article_id = OLD.article_id);
    DELETE FROM bantin_pairs WHERE region = OLD.slug AND articles <= 0;
    INSERT INTO bantin_pairs (category, region, articles)
        SELECT c.slug, NEW.slug, 1 FROM article_categories c
        WHERE c.article_id = NEW.article_id AND (OLD.article_id, OLD.slug) IS NOT (NEW.article_id, NEW.slug)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

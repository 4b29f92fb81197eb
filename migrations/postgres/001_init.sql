-- bantin's article store on PostgreSQL, version 1: the tables, columns and
-- indexes of migrations/sqlite/001_init.sql (README "The store's schema"),
-- so a CMS writes both the same way.
--
-- Every id, slug and name column is COLLATE "C": ORDER BY, GROUP BY and
-- comparisons then go by bytes, as in SQLite, whatever the database's
-- locale. Feeds break ties by id in descending byte order (SPEC), and names
-- sharing a slug are ranked by byte order; a locale collation would change
-- both and the feeds would differ between the two stores.

CREATE TABLE articles (
    id           TEXT COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    title        TEXT NOT NULL,
    summary      TEXT,                         -- the lede, plain text
    body         TEXT,                         -- plain paragraphs, blank-line separated
    content_html TEXT,                         -- HTML, sanitized on output; wins over body
    authors      TEXT NOT NULL DEFAULT '[]',   -- JSON array of names
    published    TEXT NOT NULL,                -- RFC 3339 with offset
    updated      TEXT,                         -- RFC 3339 with offset; NULL = published
    published_us BIGINT NOT NULL,              -- instant of `published`, µs since 1970 UTC
    url          TEXT,                         -- absolute; NULL = {base_url}/articles/{id}
    image        TEXT                          -- absolute URL of the lead image
);
-- The all feed: an index range scan from `now` down, stopped by LIMIT.
CREATE INDEX articles_feed ON articles (published_us DESC, id DESC);

-- One row per (article, category). `published_us` repeats the article's so
-- that one index walks a category feed in order without touching other rows.
CREATE TABLE article_categories (
    article_id   TEXT COLLATE "C" NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,   -- order within the article
    published_us BIGINT NOT NULL,
    PRIMARY KEY (article_id, slug)
);
CREATE INDEX article_categories_feed ON article_categories (slug, published_us DESC, article_id DESC);
-- Names per slug with their use counts, read from the index alone.
CREATE INDEX article_categories_names ON article_categories (slug, name, published_us);

CREATE TABLE article_regions (
    article_id   TEXT COLLATE "C" NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    published_us BIGINT NOT NULL,
    PRIMARY KEY (article_id, slug)
);
CREATE INDEX article_regions_feed ON article_regions (slug, published_us DESC, article_id DESC);
CREATE INDEX article_regions_names ON article_regions (slug, name, published_us);

-- The change token: one row whose version every write statement to the
-- three tables bumps, whoever runs it (bantin, a CMS, psql). It commits with
-- the write, so a server that sees the new version also sees the new rows;
-- a sequence would not do, as nextval is visible before the commit.
CREATE TABLE bantin_changes (
    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    version BIGINT NOT NULL
);
INSERT INTO bantin_changes (one, version) VALUES (TRUE, 0);

CREATE FUNCTION bantin_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bantin_changes SET version = version + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER articles_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_changed();
CREATE TRIGGER article_categories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON article_categories
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_changed();
CREATE TRIGGER article_regions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON article_regions
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_changed();

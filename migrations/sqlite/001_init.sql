-- bantin's article store, version 1. Documented in README ("The store's
-- schema"), so that a CMS can write these tables directly.

CREATE TABLE articles (
    id           TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    title        TEXT NOT NULL,
    summary      TEXT,                         -- the lede, plain text
    body         TEXT,                         -- plain paragraphs, blank-line separated
    content_html TEXT,                         -- HTML, sanitized on output; wins over body
    authors      TEXT NOT NULL DEFAULT '[]',   -- JSON array of names
    published    TEXT NOT NULL,                -- RFC 3339 with offset
    updated      TEXT,                         -- RFC 3339 with offset; NULL = published
    published_us INTEGER NOT NULL,             -- instant of `published`, µs since 1970 UTC
    url          TEXT,                         -- absolute; NULL = {base_url}/articles/{id}
    image        TEXT                          -- absolute URL of the lead image
);
-- The all feed: an index range scan from `now` down, stopped by LIMIT.
CREATE INDEX articles_feed ON articles (published_us DESC, id DESC);

-- One row per (article, category). `published_us` repeats the article's so
-- that one index walks a category feed in order without touching other rows.
CREATE TABLE article_categories (
    article_id   TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,   -- order within the article
    published_us INTEGER NOT NULL,
    PRIMARY KEY (article_id, slug)
) WITHOUT ROWID;
CREATE INDEX article_categories_feed ON article_categories (slug, published_us DESC, article_id DESC);
-- Names per slug with their use counts, read from the index alone.
CREATE INDEX article_categories_names ON article_categories (slug, name, published_us);

CREATE TABLE article_regions (
    article_id   TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    published_us INTEGER NOT NULL,
    PRIMARY KEY (article_id, slug)
) WITHOUT ROWID;
CREATE INDEX article_regions_feed ON article_regions (slug, published_us DESC, article_id DESC);
CREATE INDEX article_regions_names ON article_regions (slug, name, published_us);

-- (The triggers, as they are today, are made by bantin after the migrations:
-- src/store/sqlite/schema.rs.)

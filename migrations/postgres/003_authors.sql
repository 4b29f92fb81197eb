-- bantin's article store on PostgreSQL, version 3: author feeds, as
-- migrations/sqlite/003_authors.sql. Rows for the articles already stored
-- are made by bantin right after this script (in bulk mode).

CREATE TABLE article_authors (
    article_id   TEXT COLLATE "C" NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    published_us BIGINT NOT NULL,
    PRIMARY KEY (article_id, slug)
);
CREATE INDEX article_authors_feed ON article_authors (slug, published_us DESC, article_id DESC);
CREATE INDEX article_authors_names ON article_authors (slug, name, published_us);

-- After replaceable.sql:

-- The counts made again, the authors' included.
SELECT bantin_rebuild();

-- bantin's article store, version 3: author feeds (SPEC "Author feeds").
--
-- `articles.authors` (a JSON list of names) stays what feeds show; this
-- table indexes it by slug, as article_categories does categories, so that
-- an author's feed walks an index like any other feed. bantin writes both;
-- a CMS writes both (README "The store's schema"); `bantin check` reports an
-- article whose two disagree. Rows for the articles already stored are
-- made by bantin right after this script (slugs need SPEC's
-- transliteration, which SQL does not have).

CREATE TABLE article_authors (
    article_id   TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    published_us INTEGER NOT NULL,
    PRIMARY KEY (article_id, slug)
) WITHOUT ROWID;
CREATE INDEX article_authors_feed ON article_authors (slug, published_us DESC, article_id DESC);
CREATE INDEX article_authors_names ON article_authors (slug, name, published_us);

-- The triggers log author rows and count their names, as for categories
-- and regions ('u'); an author is in no pair (src/store/sqlite/schema.rs).

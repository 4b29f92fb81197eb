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

DROP TRIGGER articles_published_moved;
CREATE TRIGGER articles_published_moved AFTER UPDATE OF published_us ON articles
BEGIN
    UPDATE article_categories SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_regions SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_authors SET published_us = NEW.published_us WHERE article_id = NEW.id;
END;

-- The log and the names catalog, as for categories and regions ('u'); an
-- author is in no pair.
CREATE TRIGGER bantin_authors_inserted AFTER INSERT ON article_authors
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'u', NEW.slug, NEW.published_us);
    INSERT INTO bantin_names (facet, slug, name, articles) VALUES ('u', NEW.slug, NEW.name, 1)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

CREATE TRIGGER bantin_authors_deleted AFTER DELETE ON article_authors
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'u', OLD.slug, OLD.published_us);
    UPDATE bantin_names SET articles = articles - 1 WHERE facet = 'u' AND slug = OLD.slug AND name = OLD.name;
    DELETE FROM bantin_names WHERE facet = 'u' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
END;

CREATE TRIGGER bantin_authors_updated AFTER UPDATE ON article_authors
WHEN NOT EXISTS (SELECT 1 FROM bantin_bulk)
BEGIN
    INSERT INTO bantin_log (at_us, article_id, facet, slug, published_us)
        VALUES (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), OLD.article_id, 'u', OLD.slug, OLD.published_us),
               (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), NEW.article_id, 'u', NEW.slug, NEW.published_us);
    UPDATE bantin_names SET articles = articles - 1
        WHERE facet = 'u' AND slug = OLD.slug AND name = OLD.name AND (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name);
    DELETE FROM bantin_names WHERE facet = 'u' AND slug = OLD.slug AND name = OLD.name AND articles <= 0;
    INSERT INTO bantin_names (facet, slug, name, articles)
        SELECT 'u', NEW.slug, NEW.name, 1 WHERE (OLD.slug, OLD.name) IS NOT (NEW.slug, NEW.name)
        ON CONFLICT DO UPDATE SET articles = articles + 1;
END;

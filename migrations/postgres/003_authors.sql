-- bantin's article store on PostgreSQL, version 3: author feeds, as
-- migrations/sqlite/003_authors.sql. Rows for the articles already stored
-- are made by bantin right after this script.

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

CREATE OR REPLACE FUNCTION bantin_published_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_categories SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_regions SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_authors SET published_us = NEW.published_us WHERE article_id = NEW.id;
    RETURN NULL;
END;
$$;

-- The link function again, now with authors ('u'), which are in no pair.
CREATE OR REPLACE FUNCTION bantin_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f TEXT := TG_ARGV[0];
BEGIN
    IF bantin_bulk() THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_log (article_id, facet, slug, published_us)
            VALUES (OLD.article_id, f, OLD.slug, OLD.published_us);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_log (article_id, facet, slug, published_us)
            VALUES (NEW.article_id, f, NEW.slug, NEW.published_us);
    END IF;
    PERFORM pg_notify('bantin', '');
    IF TG_OP = 'UPDATE'
       AND (OLD.article_id, OLD.slug, OLD.name) IS NOT DISTINCT FROM (NEW.article_id, NEW.slug, NEW.name) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_counts (kind, a, b, delta) VALUES (f, OLD.slug, OLD.name, -1);
        IF f = 'u' OR NOT EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id) THEN
            NULL;  -- no pairs, or a cascade: bantin_article_deleting uncounted them
        ELSIF f = 'c' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', OLD.slug, r.slug, -1 FROM article_regions r WHERE r.article_id = OLD.article_id;
        ELSE
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', c.slug, OLD.slug, -1 FROM article_categories c WHERE c.article_id = OLD.article_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_counts (kind, a, b, delta) VALUES (f, NEW.slug, NEW.name, 1);
        IF f = 'c' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', NEW.slug, r.slug, 1 FROM article_regions r WHERE r.article_id = NEW.article_id;
        ELSIF f = 'r' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', c.slug, NEW.slug, 1 FROM article_categories c WHERE c.article_id = NEW.article_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER bantin_authors_changed AFTER INSERT OR UPDATE OR DELETE ON article_authors
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('u');
CREATE TRIGGER bantin_authors_truncated AFTER TRUNCATE ON article_authors
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();

CREATE OR REPLACE FUNCTION bantin_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7089068734721975040);  -- 'bantinc', as COUNTS_LOCK in src/store/postgres.rs
    WITH gone AS (DELETE FROM bantin_counts RETURNING 1)
    INSERT INTO bantin_counts (kind, a, b, delta)
        SELECT 'c', slug, name, count(*) FROM article_categories GROUP BY slug, name
        UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
        UNION ALL SELECT 'u', slug, name, count(*) FROM article_authors GROUP BY slug, name
        UNION ALL SELECT 'p', c.slug, r.slug, count(*) FROM article_categories c
                  JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug
        UNION ALL SELECT 't', '', '', count(*) FROM articles;
    INSERT INTO bantin_log (article_id, facet) VALUES ('', '*');
    PERFORM pg_notify('bantin', '');
END;
$$;

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

-- Bulk mode: `SET LOCAL bantin.bulk = 'on'` in a transaction turns these
-- triggers off for that transaction only; it must end with
-- `SELECT bantin_rebuild()`.
CREATE FUNCTION bantin_bulk() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('bantin.bulk', true), '') = 'on'
$$;

-- Every count made again from the article tables, in one statement (one
-- snapshot: a transaction committing meanwhile keeps its own deltas and is
-- not counted twice), and "everything changed" logged.
CREATE FUNCTION bantin_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7089068734721975040);  -- 'bantinc', as COUNTS_LOCK in src/store/postgres.rs
    WITH gone AS (DELETE FROM bantin_counts RETURNING 1)
    INSERT INTO bantin_counts (kind, a, b, delta)
        SELECT 'c', slug, name, count(*) FROM article_categories GROUP BY slug, name
        UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
        UNION ALL SELECT 'p', c.slug, r.slug, count(*) FROM article_categories c
                  JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug
        UNION ALL SELECT 't', '', '', count(*) FROM articles;
    INSERT INTO bantin_log (article_id, facet) VALUES ('', '*');
    PERFORM pg_notify('bantin', '');
END;
$$;

SELECT bantin_rebuild();

CREATE FUNCTION bantin_article_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF bantin_bulk() THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_log (article_id, facet, published_us) VALUES (OLD.id, 'a', OLD.published_us);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_log (article_id, facet, published_us) VALUES (NEW.id, 'a', NEW.published_us);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bantin_counts (kind, delta) VALUES ('t', 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO bantin_counts (kind, delta) VALUES ('t', -1);
    END IF;
    -- Identical notifications of one transaction are delivered once, at commit.
    PERFORM pg_notify('bantin', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER bantin_articles_changed AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_article_changed();

-- A deleted article's pairs are uncounted before its links go (by the
-- foreign key's cascade, whose order against these triggers differs between
-- databases); the link triggers leave pairs alone when their article is gone.
CREATE FUNCTION bantin_article_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT bantin_bulk() THEN
        INSERT INTO bantin_counts (kind, a, b, delta)
            SELECT 'p', c.slug, r.slug, -1 FROM article_categories c
            JOIN article_regions r ON r.article_id = c.article_id WHERE c.article_id = OLD.id;
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER bantin_articles_deleting BEFORE DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_article_deleting();

-- TG_ARGV[0] is the facet: 'c' for article_categories, 'r' for article_regions.
-- A pair is counted once per article: when the second of its two links
-- appears, and uncounted when the first of them goes.
CREATE FUNCTION bantin_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF NOT EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id) THEN
            NULL;  -- a cascade: bantin_article_deleting uncounted the pairs
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
        ELSE
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', c.slug, NEW.slug, 1 FROM article_categories c WHERE c.article_id = NEW.article_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER bantin_categories_changed AFTER INSERT OR UPDATE OR DELETE ON article_categories
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('c');
CREATE TRIGGER bantin_regions_changed AFTER INSERT OR UPDATE OR DELETE ON article_regions
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('r');

-- TRUNCATE skips row triggers: count everything again.
CREATE FUNCTION bantin_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bantin_rebuild();
    RETURN NULL;
END;
$$;
CREATE TRIGGER bantin_articles_truncated AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();
CREATE TRIGGER bantin_categories_truncated AFTER TRUNCATE ON article_categories
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();
CREATE TRIGGER bantin_regions_truncated AFTER TRUNCATE ON article_regions
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();

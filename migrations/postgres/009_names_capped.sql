-- bantin's article store on PostgreSQL, version 9: at most
-- `max_names_per_article + 1` links of each kind per article, as
-- migrations/sqlite/009_names_capped.sql (which says why). A row past that
-- is skipped by a BEFORE trigger returning NULL, so no trigger after it
-- logs or counts it. Like version 6's, the function runs as its owner: a
-- CMS role needs no grant on `bantin_limits`.

CREATE FUNCTION bantin_names_capped() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    cap BIGINT;
    n   BIGINT;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.article_id IS NOT DISTINCT FROM OLD.article_id THEN
        RETURN NEW;
    END IF;
    SELECT max_names_per_article INTO cap FROM bantin_limits;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I WHERE article_id = $1 LIMIT $2) x',
                   TG_TABLE_NAME)
        INTO n USING NEW.article_id, cap + 1;
    IF n > cap THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER bantin_categories_capped BEFORE INSERT OR UPDATE OF article_id ON article_categories
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();
CREATE TRIGGER bantin_regions_capped BEFORE INSERT OR UPDATE OF article_id ON article_regions
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();
CREATE TRIGGER bantin_authors_capped BEFORE INSERT OR UPDATE OF article_id ON article_authors
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();

-- Rows a CMS wrote before this version (only held articles can have that
-- many): taken out in bulk mode, then every count made again, once, and
-- only if there were any.
DO $$
DECLARE
    cap BIGINT := (SELECT max_names_per_article + 1 FROM bantin_limits);
    links TEXT;
    gone BIGINT := 0;
    n BIGINT;
BEGIN
    PERFORM set_config('bantin.bulk', 'on', true);
    FOREACH links IN ARRAY ARRAY['article_categories', 'article_regions', 'article_authors'] LOOP
        EXECUTE format(
            'WITH d AS (
                 DELETE FROM %1$I WHERE (article_id, slug) IN (
                     SELECT article_id, slug FROM (
                         SELECT l.article_id, l.slug,
                                row_number() OVER (PARTITION BY l.article_id ORDER BY l.position, l.slug) AS k
                         FROM bantin_held h JOIN %1$I l ON l.article_id = h.article_id) x
                     WHERE k > $1)
                 RETURNING 1)
             SELECT count(*) FROM d', links)
            INTO n USING cap;
        gone := gone + n;
    END LOOP;
    PERFORM set_config('bantin.bulk', 'off', true);
    IF gone > 0 THEN
        PERFORM bantin_rebuild();
    END IF;
END;
$$;

-- The held test learns SPEC's date range, as migrations/sqlite/009 (which
-- says why and how wide).
CREATE OR REPLACE VIEW bantin_over AS
    SELECT a.id AS article_id FROM articles a CROSS JOIN bantin_limits l
    WHERE octet_length(a.id) > l.max_id_bytes
       OR octet_length(a.title) > l.max_title_bytes
       OR coalesce(octet_length(a.summary), 0) > l.max_summary_bytes
       OR greatest(coalesce(octet_length(a.body), 0),
                   coalesce(octet_length(a.content_html), 0)) > l.max_body_bytes
       OR (length(a.authors) - length(replace(a.authors, '"', ''))) / 2 > l.max_names_per_article
       OR (SELECT count(*) FROM article_categories c WHERE c.article_id = a.id) > l.max_names_per_article
       OR (SELECT count(*) FROM article_regions r WHERE r.article_id = a.id) > l.max_names_per_article
       OR a.published_us < -62135546400000000 OR a.published_us >= 253402250400000000
       OR a.published COLLATE "C" < '0001-01-03' OR a.published COLLATE "C" >= '9999-12-30'
       OR a.updated COLLATE "C" < '0001-01-03' OR a.updated COLLATE "C" >= '9999-12-30';

INSERT INTO bantin_held (article_id)
    SELECT id FROM articles
    WHERE published_us < -62135546400000000 OR published_us >= 253402250400000000
    ON CONFLICT DO NOTHING;

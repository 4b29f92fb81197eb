-- bantin's article store on PostgreSQL, version 9: at most
-- `max_names_per_article + 1` links of each kind per article, as
-- migrations/sqlite/009_names_capped.sql (which says why). A row past that
-- is skipped by a BEFORE trigger (`bantin_names_capped`, replaceable.sql),
-- so no trigger after it logs or counts it; `bantin_over` there holds
-- SPEC's date range from this version on.

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
        PERFORM set_config('bantin.names_trimmed', 'on', true);
    END IF;
END;
$$;

INSERT INTO bantin_held (article_id)
    SELECT id FROM articles
    WHERE published_us < -62135546400000000 OR published_us >= 253402250400000000
    ON CONFLICT DO NOTHING;

-- After replaceable.sql:

SELECT bantin_rebuild() WHERE current_setting('bantin.names_trimmed', true) = 'on';

-- bantin's article store, version 9: what one CMS row costs is bounded by
-- the site's limits, not by the row (issue 17).
--
-- A CMS row with 1,000 categories and 1,000 regions was stored whole: the
-- catalog triggers counted its million pairs, the change log carried its
-- two thousand links, and every server then worked through all of them
-- (5 GB of memory in 3 s). Such an article is over `max_names_per_article`
-- and left out of every feed whatever else it carries, so nothing is lost
-- by keeping at most `max_names_per_article + 1` links of each kind per
-- article: enough for every reader to see that it is over the limit,
-- and never more catalog or log rows than the limits allow. A link row
-- past that is skipped (RAISE(IGNORE): the statement goes on with its next
-- row), before any trigger fans it out. bantin's own import never writes
-- one (it refuses such a record first), so bulk mode skips the test.
--
-- What this costs a CMS: raising `max_names_per_article` later does not
-- bring back names skipped while the article was over the old limit; it
-- writes them again. README "What a CMS must and must not do" says so.
--
-- The triggers that skip such a row: src/store/sqlite/schema.rs.

-- Rows a CMS wrote before this version: only held articles can have more
-- links than that, so only theirs are looked at. Migrations run without
-- triggers: bantin counts the catalog again right after this script.
DELETE FROM article_categories WHERE (article_id, slug) IN (
    SELECT article_id, slug FROM (
        SELECT c.article_id, c.slug,
               row_number() OVER (PARTITION BY c.article_id ORDER BY c.position, c.slug) AS n
        FROM bantin_held h JOIN article_categories c ON c.article_id = h.article_id)
    WHERE n > (SELECT max_names_per_article + 1 FROM bantin_limits));
DELETE FROM article_regions WHERE (article_id, slug) IN (
    SELECT article_id, slug FROM (
        SELECT r.article_id, r.slug,
               row_number() OVER (PARTITION BY r.article_id ORDER BY r.position, r.slug) AS n
        FROM bantin_held h JOIN article_regions r ON r.article_id = h.article_id)
    WHERE n > (SELECT max_names_per_article + 1 FROM bantin_limits));
DELETE FROM article_authors WHERE (article_id, slug) IN (
    SELECT article_id, slug FROM (
        SELECT u.article_id, u.slug,
               row_number() OVER (PARTITION BY u.article_id ORDER BY u.position, u.slug) AS n
        FROM bantin_held h JOIN article_authors u ON u.article_id = h.article_id)
    WHERE n > (SELECT max_names_per_article + 1 FROM bantin_limits));

-- The held test learns SPEC's date range (issue 17): a date that leaves
-- 0001-9999 in the site's offset keeps its article out of feeds, so it
-- must keep it out of the catalog too. The site's offset is not in the
-- store, so the test is wider than bantin's (within 14 hours of either
-- end as an instant, within two days as written); whoever reads the held
-- list checks each row with the site's own rule, as for every limit.
DROP VIEW bantin_over;
CREATE VIEW bantin_over AS
    SELECT a.id AS article_id FROM articles a, bantin_limits l
    WHERE length(CAST(a.id AS BLOB)) > l.max_id_bytes
       OR length(CAST(a.title AS BLOB)) > l.max_title_bytes
       OR coalesce(length(CAST(a.summary AS BLOB)), 0) > l.max_summary_bytes
       OR max(coalesce(length(CAST(a.body AS BLOB)), 0),
              coalesce(length(CAST(a.content_html AS BLOB)), 0)) > l.max_body_bytes
       OR (length(a.authors) - length(replace(a.authors, '"', ''))) / 2 > l.max_names_per_article
       OR (SELECT count(*) FROM article_categories c WHERE c.article_id = a.id) > l.max_names_per_article
       OR (SELECT count(*) FROM article_regions r WHERE r.article_id = a.id) > l.max_names_per_article
       OR a.published_us < -62135546400000000 OR a.published_us >= 253402250400000000
       OR a.published < '0001-01-03' OR a.published >= '9999-12-30'
       OR a.updated < '0001-01-03' OR a.updated >= '9999-12-30';

-- Rows stored before: those dated at the ends, found on the date index.
-- (One dated well inside the range but `updated` at its end is found by
-- `bantin check`, which reads every row, and held at its next write.)
INSERT OR IGNORE INTO bantin_held (article_id)
    SELECT id FROM articles
    WHERE published_us < -62135546400000000 OR published_us >= 253402250400000000;

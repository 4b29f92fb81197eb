-- bantin's article store on PostgreSQL, version 6: SPEC's "Limits" for
-- rows that a CMS writes, as migrations/sqlite/006_limits.sql (which says
-- why): the store's copy of the site's limits, the articles found over one,
-- and the triggers that keep that list.
--
-- The trigger function runs as its owner (SECURITY DEFINER, with the
-- search path of this migration), so a CMS role needs no grant on these
-- tables: an upgrade asks nothing new of a CMS's role.

CREATE TABLE bantin_limits (
    one                   INTEGER PRIMARY KEY CHECK (one = 1),
    max_id_bytes          BIGINT NOT NULL,
    max_title_bytes       BIGINT NOT NULL,
    max_summary_bytes     BIGINT NOT NULL,
    max_body_bytes        BIGINT NOT NULL,
    max_names_per_article BIGINT NOT NULL
);
INSERT INTO bantin_limits VALUES (1, 200, 1000, 4096, 1048576, 16);

CREATE TABLE bantin_held (article_id TEXT COLLATE "C" PRIMARY KEY);

-- `octet_length` of a stored value reads its length, not its (compressed,
-- out-of-line) bytes.
CREATE VIEW bantin_over AS
    SELECT a.id AS article_id FROM articles a CROSS JOIN bantin_limits l
    WHERE octet_length(a.id) > l.max_id_bytes
       OR octet_length(a.title) > l.max_title_bytes
       OR coalesce(octet_length(a.summary), 0) > l.max_summary_bytes
       OR greatest(coalesce(octet_length(a.body), 0),
                   coalesce(octet_length(a.content_html), 0)) > l.max_body_bytes
       OR (length(a.authors) - length(replace(a.authors, '"', ''))) / 2 > l.max_names_per_article
       OR (SELECT count(*) FROM article_categories c WHERE c.article_id = a.id) > l.max_names_per_article
       OR (SELECT count(*) FROM article_regions r WHERE r.article_id = a.id) > l.max_names_per_article;

INSERT INTO bantin_held (article_id) SELECT article_id FROM bantin_over;

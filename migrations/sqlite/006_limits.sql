-- bantin's article store, version 6: SPEC's "Limits" for rows that a CMS
-- writes. bantin's own writer refuses a record over a limit; a CMS's row
-- over one is stored, reported by `bantin check` and left out of feeds, and
-- (this migration) left out of the catalog too, so that `/` and the OPML
-- list do not name categories that only such a row carries (one CMS row
-- with 1,000 categories and 1,000 regions would otherwise list a million
-- pairs).
--
-- The limits live in the site file; `bantin_limits` holds the ones the
-- store's last `serve` or `import` was given, for the triggers below to
-- read. When a command brings other limits, it rewrites this row and
-- `bantin_held` in one transaction (a scan of every article, once).
--
-- `bantin_held` names the articles over a limit as the triggers see it.
-- Its test is wider than bantin's (byte lengths before trimming; the larger
-- of body and content_html; a byline's quotes counted, two per name), so it
-- never misses one: whoever reads the catalog decodes these few rows and
-- checks them with the site's own limits before leaving them out. A bulk
-- import (`bantin_bulk`) skips the triggers: its records passed the limits
-- it just wrote here.

CREATE TABLE bantin_limits (
    one                   INTEGER PRIMARY KEY CHECK (one = 1),
    max_id_bytes          INTEGER NOT NULL,
    max_title_bytes       INTEGER NOT NULL,
    max_summary_bytes     INTEGER NOT NULL,
    max_body_bytes        INTEGER NOT NULL,
    max_names_per_article INTEGER NOT NULL
);
-- SPEC's defaults, until a command brings its site file's.
INSERT INTO bantin_limits VALUES (1, 200, 1000, 4096, 1048576, 16);

CREATE TABLE bantin_held (article_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;

-- The test, in one place: the articles over a limit. Asked with
-- `WHERE article_id = …`, SQLite reads one row and two index ranges.
CREATE VIEW bantin_over AS
    SELECT a.id AS article_id FROM articles a, bantin_limits l
    WHERE length(CAST(a.id AS BLOB)) > l.max_id_bytes
       OR length(CAST(a.title AS BLOB)) > l.max_title_bytes
       OR coalesce(length(CAST(a.summary AS BLOB)), 0) > l.max_summary_bytes
       OR max(coalesce(length(CAST(a.body AS BLOB)), 0),
              coalesce(length(CAST(a.content_html AS BLOB)), 0)) > l.max_body_bytes
       OR (length(a.authors) - length(replace(a.authors, '"', ''))) / 2 > l.max_names_per_article
       OR (SELECT count(*) FROM article_categories c WHERE c.article_id = a.id) > l.max_names_per_article
       OR (SELECT count(*) FROM article_regions r WHERE r.article_id = a.id) > l.max_names_per_article;

INSERT INTO bantin_held (article_id) SELECT article_id FROM bantin_over;

-- The triggers that keep `bantin_held` (an article's row or a link added
-- can put it over a limit, one removed bring it back under):
-- src/store/sqlite/schema.rs.

-- bantin's article store, version 4: keyword feeds (SPEC "Keyword feeds").
--
-- An FTS5 index of each article's title, summary and body (its HTML when it
-- has one), contentless (the text is not stored twice) and without
-- positions (`detail=none`: a feed needs every word, not phrases). Its
-- tokenizer folds case and tone marks; the triggers fold `đ`, which Unicode
-- does not decompose. A CMS needs an SQLite with FTS5 (Debian's, Python's
-- and most builds have it). The triggers run for every writer, bulk imports
-- included, so the index is never behind the articles.
--
-- FTS rows are numbered by `bantin_search_ids` (its INTEGER PRIMARY KEY
-- survives VACUUM; an `articles` rowid may not) in publishing order: n is
-- the article's second (counted from year 1, so always positive) times 2^20,
-- plus its rank among the articles of that second. FTS5 walks its matches
-- by number, newest first, and stops at the feed's limit: a common word
-- costs a few dozen rows, a rare one its few matches, never a scan.

CREATE TABLE bantin_search_ids (
    n            INTEGER PRIMARY KEY,
    article_id   TEXT NOT NULL UNIQUE,
    published_us INTEGER NOT NULL
);
CREATE VIRTUAL TABLE bantin_search USING fts5(
    words, content='', detail=none, tokenize='unicode61 remove_diacritics 2'
);

INSERT INTO bantin_search_ids (n, article_id, published_us)
    SELECT ((a.published_us + 62135596800000000) / 1000000) * 1048576 + row_number() OVER (
               PARTITION BY (a.published_us + 62135596800000000) / 1000000 ORDER BY a.id) - 1,
           a.id, a.published_us
    FROM articles a;
INSERT INTO bantin_search (rowid, words)
    SELECT i.n, replace(replace(a.title || ' ' || coalesce(a.summary, '') || ' ' ||
            CASE WHEN trim(coalesce(a.content_html, '')) <> '' THEN a.content_html ELSE coalesce(a.body, '') END,
            'đ', 'd'), 'Đ', 'D')
    FROM articles a JOIN bantin_search_ids i ON i.article_id = a.id;

-- The triggers that kept the index then are gone (migration 10); today's are
-- in src/store/sqlite/schema.rs.

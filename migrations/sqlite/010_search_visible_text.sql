-- bantin's article store, version 10: the keyword index holds the words a
-- reader sees (issue 17).
--
-- Until now the triggers gave FTS5 an article's HTML whole: tag names,
-- attribute names and values, URLs. A keyword feed of such a word (`jpg`,
-- `href`, `class`, the site's own domain) had every article with a link
-- or an image as a candidate, each read and then refused by bantin's check
-- of the text: an empty feed cost a walk of the store (34 s at a million
-- articles). The index now holds the title, the summary and the text of
-- the body as bantin reads it (its HTML without markup, references
-- decoded: `src/text.rs`), so the index and the check agree.
--
-- SQL cannot take HTML apart the way bantin does, and a trigger cannot
-- call a function bantin registers (a CMS's own connection, Python's
-- `sqlite3` or the `sqlite3` shell, lacks it, and its write would fail).
-- So the triggers no longer touch the index: they keep the numbers of
-- `bantin_search_ids` as version 7 does and queue in `bantin_search_queue`
-- each number whose row of the index is to be made again (an article
-- inserted, changed or deleted by anyone). bantin makes those rows: its
-- writer before each batch it writes, the server within a quarter of a
-- second of a commit. Until then a keyword feed reads the queued articles
-- besides the index's matches, and checks them like any other, so a CMS's
-- article is in the keyword feeds as soon as in the others.
--
-- The index is now `contentless_delete=1` (SQLite 3.43 or later), so that
-- bantin removes an article's row by its number alone: a contentless
-- index had to be told the very words it was given to forget them, which
-- the triggers could only give as they computed them. A CMS's connection
-- never touches the index, so an older SQLite there still writes articles
-- (Debian 12's 3.40 does); bantin itself links its own SQLite.
--
-- bantin's writer indexes the articles it inserts itself (version 5) and
-- now from the visible text too. The index is emptied here and filled
-- again by bantin right after this script, in the same transaction.

DROP TABLE bantin_search;

CREATE VIRTUAL TABLE bantin_search USING fts5(
    words, content='', contentless_delete=1, detail=none,
    tokenize='unicode61 remove_diacritics 2'
);

-- Numbers of `bantin_search_ids` whose row of the index is stale or
-- missing: bantin deletes the row and, if the number still names an
-- article, indexes that article's text.
CREATE TABLE bantin_search_queue (n INTEGER PRIMARY KEY);

-- The triggers that number and queue: src/store/sqlite/schema.rs.

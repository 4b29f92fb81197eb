-- bantin's article store, version 8: deleting an `articles` row takes its
-- link rows with it whatever the connection's settings.
--
-- The link tables' `ON DELETE CASCADE` acts only on a connection with
-- `PRAGMA foreign_keys=ON`, which is off by default in SQLite, in its shell
-- and in Python's `sqlite3`. A CMS deleting an article from such a
-- connection left its link rows behind: orphans that kept their names in
-- the catalog (ghost categories on `/` answering empty feeds) and made
-- re-adding the article's categories fail on the primary key.
--
-- This trigger deletes them in every case. With foreign keys on, the
-- cascade has already done so and it finds nothing. Either way the link
-- tables' own delete triggers (migrations 2, 3, 6) log the rows and
-- uncount their names, and leave pairs alone: the article is gone, and
-- `bantin_articles_deleting` uncounted its pairs before it went. Not
-- skipped in bulk mode: a bulk writer rebuilds the counts, but the rows
-- must go all the same. (The keyword index's rows have always gone by
-- trigger: `bantin_search_deleted`.)
--
-- Orphans left by deletes made before this migration stay until `bantin
-- check --repair` removes them; `bantin check` reports them.

CREATE TRIGGER bantin_articles_links_deleted AFTER DELETE ON articles
BEGIN
    DELETE FROM article_categories WHERE article_id = OLD.id;
    DELETE FROM article_regions WHERE article_id = OLD.id;
    DELETE FROM article_authors WHERE article_id = OLD.id;
END;

-- bantin's article store on PostgreSQL, version 5: the folded words of an
-- article are stored (`articles.words`) and indexed, instead of computed by
-- the index of version 4 for every row written.
--
-- `bantin_words` costs about half a millisecond per 3 KB article: an
-- import of a million articles spent most of its time in it. Now whoever writes an article gives its words
-- or lets this trigger compute them with `bantin_words`, as before:
-- - a CMS writes the article tables as before and never this column; the
--   trigger computes the words of every row it inserts, and of every row
--   whose text it changes;
-- - bantin's writer sets `bantin.words = 'given'` in its transaction and
--   gives the words itself: exactly the words `bantin_words` gives (the
--   same set; it asks this database what `bantin_words` makes of each
--   character it meets, so the locale's own lowercase and letter classes
--   hold), or NULL for an article with a character whose folding depends
--   on its neighbours (combining marks, Greek capital sigma), which the
--   trigger then computes. Searches (`words @> ARRAY[...]`) find the same
--   articles either way.

ALTER TABLE articles ADD COLUMN words TEXT[];

SET LOCAL bantin.bulk = 'on';
UPDATE articles SET words = bantin_words(title, summary, body, content_html);
SET LOCAL bantin.bulk = 'off';

DROP INDEX articles_words;
CREATE INDEX articles_words ON articles USING gin (words);

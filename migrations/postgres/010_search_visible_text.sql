-- bantin's article store on PostgreSQL, version 10: an article's words
-- (`words`, `common_bits`) are those a reader sees (issue 17).
--
-- Until now `bantin_words` took an article's HTML whole: tag names,
-- attribute names and values, URLs. A keyword feed of such a word (`jpg`,
-- `href`, `class`, the site's own domain) had every article with a link
-- or an image as a candidate, each read and then refused by bantin's check
-- of the text: an empty feed cost a walk of the store (17 s at a million
-- articles, a 500 past the statement timeout). Now the HTML's text is
-- taken out first, as bantin's own `html_text` (src/text.rs) takes it:
-- comments and tags dropped, the tags that end a line of text read as a
-- space, the references bantin decodes decoded, the control characters
-- bantin drops dropped. bantin's writer gives the words of that same text
-- (made by `html_text` itself); a CMS's rows get them from the trigger
-- (`bantin_visible` and `bantin_unescape` in replaceable.sql).
--
-- Where the two can differ (markup no serializer writes: a `<` in an
-- attribute value between single quotes, a comment inside a tag), a word
-- may be missing from a CMS row's words or one too many: a candidate
-- bantin's check refuses costs a read, within the keyword feed's budget.

-- After replaceable.sql:

-- The words of the articles with HTML made again by the trigger
-- (`bantin_words_kept`: a row whose words change has them made from its
-- text). Bulk mode: no change is logged, no feed but keyword feeds
-- changes.
SET LOCAL bantin.bulk = 'on';
UPDATE articles SET words = NULL, common_bits = NULL
    WHERE content_html IS NOT NULL AND content_html <> '';
SET LOCAL bantin.bulk = 'off';

-- The new words wait in the GIN index's pending list, which every scan
-- reads whole: at a million articles (200,000 with HTML) keyword feeds of
-- absent words took 200 ms instead of 10 until it was merged. Merged here,
-- and the planner told of the rows, as after a bulk import (version 8).
SELECT bantin_settle();

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
-- (made by `html_text` itself); a CMS's rows get them from the trigger.
--
-- Where the two can differ (markup no serializer writes: a `<` in an
-- attribute value between single quotes, a comment inside a tag), a word
-- may be missing from a CMS row's words or one too many: a candidate
-- bantin's check refuses costs a read, within the keyword feed's budget.

-- Character references as `html_text` decodes them: `&amp;` `&lt;` `&gt;`
-- `&quot;` `&apos;` `&nbsp;` and any numeric one naming a character (NUL
-- dropped, as bantin drops it); anything else stays as written. One pass
-- from left to right, so `&amp;lt;` is `&lt;`. Without a numeric one,
-- plain `replace` does it (`&amp;` last, for the same reason).
CREATE FUNCTION bantin_unescape(t TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(t, '&') = 0 THEN t
    WHEN strpos(t, '&#') = 0 THEN
        replace(replace(replace(replace(replace(replace(t, '&lt;', '<'), '&gt;', '>'),
            '&quot;', '"'), '&apos;', ''''), '&nbsp;', U&'\00A0'), '&amp;', '&')
    ELSE (
        SELECT string_agg(CASE
            WHEN m[2] IS NULL THEN m[1]
            WHEN m[2] = 'amp' THEN '&' WHEN m[2] = 'lt' THEN '<' WHEN m[2] = 'gt' THEN '>'
            WHEN m[2] = 'quot' THEN '"' WHEN m[2] = 'apos' THEN ''''
            WHEN m[2] = 'nbsp' THEN U&'\00A0'
            ELSE (SELECT CASE WHEN c = 0 THEN ''
                              WHEN c <= 1114111 AND c NOT BETWEEN 55296 AND 57343 THEN chr(c)
                              ELSE m[1] END
                  FROM (SELECT CASE WHEN m[2] ~ '^#[xX]'
                                    THEN ('x' || lpad(substr(m[2], 3), 8, '0'))::bit(32)::int
                                    ELSE substr(m[2], 2)::int END AS c) n)
            END, '' ORDER BY i)
        FROM regexp_matches(t, '(&(amp|lt|gt|quot|apos|nbsp|#[xX][0-9A-Fa-f]{1,7}|#[0-9]{1,8});|[^&]+|&)', 'g')
             WITH ORDINALITY AS x (m, i)) END
$$;

-- The text of HTML as `html_text` reads it. Every comment and tag (to the
-- first `>` outside a double-quoted value, or the end) becomes `<name>`,
-- then the names of elements that end a line become a space and the rest
-- nothing; references are decoded and the characters a feed must not
-- carry dropped. About 1 ms for an article of 3 KB.
CREATE FUNCTION bantin_visible(html TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(bantin_unescape(
        regexp_replace(regexp_replace(
            regexp_replace(html,
                '<!--(?:[^-]|-(?!->))*(?:-->)?|<(?!!--)/*([A-Za-z0-9]*)(?:[^">]|"[^"]*(?:"|$))*>?',
                '<\1>', 'g'),
            '<(?:address|article|blockquote|br|dd|div|dl|dt|figcaption|figure|h[1-6]|hr|li|ol|p|pre|section|table|td|th|tr|ul)>',
            ' ', 'gi'),
          '<[A-Za-z0-9]*>', '', 'g')),
        '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]', '', 'g')
$$;

-- As version 4's, of the visible text: the HTML's when it has any but
-- white space (Rust's white space, as bantin tells HTML from none), else
-- the plain body.
CREATE OR REPLACE FUNCTION bantin_words(title TEXT, summary TEXT, body TEXT, content_html TEXT)
RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(bantin_fold(title || ' ' || coalesce(summary, '') || ' ' ||
        CASE WHEN btrim(coalesce(content_html, ''),
                        E' \t\n\r\x0b\x0c' || U&'\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000') <> ''
             THEN bantin_visible(content_html) ELSE coalesce(body, '') END),
        '[^[:alnum:]]+'), '')
$$;

-- The words of the articles with HTML made again by the trigger (version
-- 8's `bantin_words_kept`: a row whose words change has them made from
-- its text). Bulk mode: no change is logged, no feed but keyword feeds
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

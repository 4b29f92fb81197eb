-- bantin's article store on PostgreSQL, version 4: keyword feeds (SPEC
-- "Keyword feeds"). A GIN index over each article's folded words: title,
-- summary and body (its HTML when it has one), with case, tone marks and
-- `đ` folded by `bantin_fold` (Unicode NFD, combining marks dropped, `đ`
-- → `d`: built in, no extension; the database must be UTF8). No trigger: the
-- index follows the rows. The planner walks the feed index newest first
-- when a word is common and the GIN index when it is rare.

CREATE FUNCTION bantin_fold(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(translate(regexp_replace(normalize(t, NFD), '[\u0300-\u036f]', '', 'g'), 'đĐ', 'dD'))
$$;

-- The distinct runs of letters and digits, folded: the words SPEC means.
-- Markup is not told apart from text: bantin checks each candidate against
-- the article's text before it goes in a feed.
CREATE FUNCTION bantin_words(title TEXT, summary TEXT, body TEXT, content_html TEXT)
RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(bantin_fold(title || ' ' || coalesce(summary, '') || ' ' ||
        CASE WHEN trim(coalesce(content_html, '')) <> '' THEN content_html ELSE coalesce(body, '') END),
        '[^[:alnum:]]+'), '')
$$;

CREATE INDEX articles_words ON articles USING gin (bantin_words(title, summary, body, content_html));

-- bantin's article store on PostgreSQL, version 7: keyword feeds in time
-- proportional to the feed, not to the matches (issue 10). (Version 6 is
-- the catalog's.)
--
-- Before, a word too rare to fill a feed from the newest articles took every
-- match from the GIN index and sorted them by date, reading each match's row
-- (about 8 µs a match: 68 ms for a word in 8,000 of a million articles).
-- Now the GIN index also holds each article's span: `published_us >> 40`,
-- the 12.7-day stretch of time it was published in. GIN intersects a word's
-- matches with a few spans without reading a row, so `bantin_search` asks
-- for the newest spans first and reads only the rows of the spans it needs.
-- The span is computed by the index from `published_us` itself: a CMS's
-- rows, and rows whose date changes, need nothing more from anyone.
--
-- Cost: one more index entry per article (a few hundred words each
-- already; nothing measurable on an import). Upgrading rebuilds the index:
-- at a million articles 130 s (2 cores, load 2.5 to 4, the default
-- `maintenance_work_mem`), while writes wait and reads go on with the old
-- index until the commit.

CREATE INDEX articles_words_spans ON articles USING gin (words, (ARRAY[published_us >> 40]));
DROP INDEX articles_words;
ALTER INDEX articles_words_spans RENAME TO articles_words;

-- The `id` and `published_us` of every article from `since` to `upto`
-- holding all of `wanted` in the newest spans that hold at least `n` of them
-- (all of them if fewer): the caller sorts and keeps the newest `n`, which
-- are among these since spans do not overlap.
--
-- A window of spans is one GIN scan (each scan also reads the index's
-- pending list, up to 4 MB of a CMS's recent rows, so scans are few): the
-- newest span alone, then as many as the matches met so far say will fill
-- the feed with some to spare, at most 32 (a year and a bit). 32 bounds
-- what a word that comes back after a long absence costs: the rows of its
-- matches in 32 spans. A word absent from the store costs 11 scans over ten
-- years, about 5 ms at a million articles, and no row. Each window starts
-- at the span of the newest article below the last one (the date index
-- says), so years without an article (an article dated 1900 among this
-- decade's) cost nothing.
--
-- `published_us + 0`: the range must not be an index condition, or the
-- planner may walk the date index through the store (a rare word's
-- estimate is 0.5% of the rows, whatever the word). The spans of the
-- window are the only narrowing besides the words, and GIN takes both.
CREATE FUNCTION bantin_search(wanted TEXT[], upto BIGINT, since BIGINT, n BIGINT)
RETURNS TABLE (id TEXT, published_us BIGINT)
LANGUAGE plpgsql STABLE ROWS 100 SET enable_seqscan = off AS $$
DECLARE
    newest BIGINT;
    span BIGINT;
    width BIGINT := 1;
    seen BIGINT := 0;
    found BIGINT := 0;
    got BIGINT;
BEGIN
    SELECT a.published_us INTO newest FROM articles a
        WHERE a.published_us <= upto AND a.published_us >= since
        ORDER BY a.published_us DESC, a.id DESC LIMIT 1;
    LOOP
        EXIT WHEN newest IS NULL;
        span := newest >> 40;
        RETURN QUERY SELECT a.id, a.published_us FROM articles a
            WHERE a.words @> wanted
              AND ARRAY[a.published_us >> 40] && ARRAY(SELECT generate_series(span - width + 1, span))
              AND a.published_us + 0 <= upto AND a.published_us + 0 >= since;
        GET DIAGNOSTICS got = ROW_COUNT;
        found := found + got;
        seen := seen + width;
        EXIT WHEN found >= n;
        -- (The lowest span's start is -2^63: no overflow.)
        SELECT a.published_us INTO newest FROM articles a
            WHERE a.published_us < greatest(span - width + 1, -8388608) * 1099511627776
              AND a.published_us >= since
            ORDER BY a.published_us DESC, a.id DESC LIMIT 1;
        -- The spans still wanted at the density met so far, a quarter more;
        -- none met yet: four times the last window.
        width := CASE WHEN found = 0 THEN width * 4
                      ELSE ((n - found) * seen * 5 / 4) / found + 1 END;
        width := least(greatest(width, 1), 32);
    END LOOP;
END;
$$;

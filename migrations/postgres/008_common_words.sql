-- bantin's article store on PostgreSQL, version 8: the keyword index keeps
-- out the store's common words (issue 8: a million-article import in under
-- three minutes).
--
-- Every word of every article in the GIN index was three quarters of a big
-- import: 204 index entries an article, and the few hundred words found in
-- a fifth or more of the articles held 97% of them. A feed of such a word
-- needs no index: the newest articles hold it (a word in a fifth of them
-- fills a feed of 50 within about 250 rows). So an article's words are now
-- kept in two columns:
-- - `words`: those the GIN index holds (every word, for rows written before
--   this version or before a word was listed);
-- - `common_bits`: the words listed in `bantin_common_words` when the row
--   was written, as a bitmap of their `bit` numbers (`get_bit`), not
--   indexed: about 40 bytes where an array of them took 1.2 KB of every
--   row (and of the write-ahead log).
-- An article's words are the two together; a keyword feed with a word not
-- listed takes it from the index, as before, and one of listed words only
-- walks the newest articles (`bantin_search` below).
--
-- The list only grows, and a word keeps its bit: a listed word may still be
-- in `words` for older rows (both paths test each word in both places),
-- but a word taken off the list would be missing from the index for the
-- rows that left it out. bantin's writer adds the words found in a fifth
-- or more of the first 5,000 articles of an import (no word with a digit:
-- years and numbers come and go), in the same transaction as the rows: a
-- reader sees both or neither. Nothing is rewritten here: upgrading a
-- million-article store is instant.

CREATE TABLE bantin_common_words (
    word TEXT PRIMARY KEY,
    -- (An identity takes no grant on a sequence from whoever inserts.)
    bit  INTEGER GENERATED ALWAYS AS IDENTITY UNIQUE
);

ALTER TABLE articles ADD COLUMN common_bits BYTEA;

-- The bits of `wanted`'s words in the list, in order (NULL: not listed).
CREATE FUNCTION bantin_bits(wanted TEXT[]) RETURNS INTEGER[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT ARRAY(SELECT c.bit FROM unnest(wanted) WITH ORDINALITY AS u (w, i)
                 LEFT JOIN bantin_common_words c ON c.word = u.w ORDER BY u.i)
$$;

-- Whether an article holds every word of `wanted` (whose bits are
-- `wanted_bits`, as `bantin_bits` gives them): in `words`, or listed and
-- in `bits`.
CREATE FUNCTION bantin_holds(words TEXT[], bits BYTEA, wanted TEXT[], wanted_bits INTEGER[])
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT words @> wanted OR NOT EXISTS (
        SELECT 1 FROM unnest(wanted, wanted_bits) AS x (w, b)
        WHERE NOT words @> ARRAY[x.w]
          AND CASE WHEN x.b IS NULL OR x.b >= octet_length(coalesce(bits, '')) * 8 THEN true
                   ELSE get_bit(bits, x.b) = 0 END)
$$;

-- `all_words` split by the list. Runs as its owner (the search path of this
-- migration), so a CMS role needs no grant on the list: its rows are split
-- by the trigger below.
CREATE FUNCTION bantin_split_words(all_words TEXT[], OUT words TEXT[], OUT common_bits BYTEA)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    b INTEGER;
BEGIN
    words := ARRAY(SELECT DISTINCT u.w FROM unnest(all_words) u (w)
                   WHERE NOT EXISTS (SELECT 1 FROM bantin_common_words c WHERE c.word = u.w));
    common_bits := '';
    FOR b IN SELECT c.bit FROM (SELECT DISTINCT w FROM unnest(all_words) w) u
             JOIN bantin_common_words c ON c.word = u.w LOOP
        IF octet_length(common_bits) * 8 <= b THEN
            common_bits := common_bits || decode(repeat('00', b / 8 + 1 - octet_length(common_bits)), 'hex');
        END IF;
        common_bits := set_bit(common_bits, b, 1);
    END LOOP;
END;
$$;

-- As version 5's, splitting the words: bantin's writer gives both columns
-- (or NULL words, for this trigger to make), a CMS neither.
CREATE OR REPLACE FUNCTION bantin_words_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('bantin.words', true) = 'given' THEN
        IF NEW.words IS NULL THEN
            SELECT s.words, s.common_bits INTO NEW.words, NEW.common_bits
                FROM bantin_split_words(bantin_words(NEW.title, NEW.summary, NEW.body, NEW.content_html)) s;
        END IF;
    ELSIF TG_OP = 'INSERT'
       OR (NEW.title, NEW.summary, NEW.body, NEW.content_html, NEW.words, NEW.common_bits)
          IS DISTINCT FROM (OLD.title, OLD.summary, OLD.body, OLD.content_html, OLD.words, OLD.common_bits) THEN
        SELECT s.words, s.common_bits INTO NEW.words, NEW.common_bits
            FROM bantin_split_words(bantin_words(NEW.title, NEW.summary, NEW.body, NEW.content_html)) s;
    END IF;
    RETURN NEW;
END;
$$;

-- As version 7's, for the wanted words that are not listed (at least one:
-- a feed of listed words only has no index to ask, and bantin walks the
-- feed index for it itself), testing all of them on the rows.
CREATE OR REPLACE FUNCTION bantin_search(wanted TEXT[], upto BIGINT, since BIGINT, n BIGINT)
RETURNS TABLE (id TEXT, published_us BIGINT)
LANGUAGE plpgsql STABLE ROWS 100 SET enable_seqscan = off AS $$
DECLARE
    bits INTEGER[] := bantin_bits(wanted);
    keyed TEXT[];
    newest BIGINT;
    span BIGINT;
    width BIGINT := 1;
    seen BIGINT := 0;
    found BIGINT := 0;
    got BIGINT;
BEGIN
    keyed := ARRAY(SELECT x.w FROM unnest(wanted, bits) AS x (w, b) WHERE x.b IS NULL);
    SELECT a.published_us INTO newest FROM articles a
        WHERE a.published_us <= upto AND a.published_us >= since
        ORDER BY a.published_us DESC, a.id DESC LIMIT 1;
    LOOP
        EXIT WHEN newest IS NULL;
        span := newest >> 40;
        RETURN QUERY SELECT a.id, a.published_us FROM articles a
            WHERE a.words @> keyed
              AND ARRAY[a.published_us >> 40] && ARRAY(SELECT generate_series(span - width + 1, span))
              AND a.published_us + 0 <= upto AND a.published_us + 0 >= since
              AND bantin_holds(a.words, a.common_bits, wanted, bits);
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

-- What a bulk import runs before it commits, as the tables' owner (only the
-- owner may, and bantin's role need not be it; README "Roles and
-- grants"): statistics for the planner, which knew nothing of the new rows
-- until autovacuum got to them (a keyword feed of a common word took
-- 112-127 ms cold instead of 8-14 ms right after a million-row import),
-- and the keyword index's pending list moved into the index (every scan of
-- the index reads the whole list: up to 4 MB, 2.5 ms a scan, and a rare
-- word's feed takes several scans).
CREATE FUNCTION bantin_settle() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    ANALYZE articles, article_categories, article_regions, article_authors;
    PERFORM gin_clean_pending_list('articles_words');
END;
$$;

-- The trigger that keeps `bantin_held` ran its query with a plan the
-- planner took for big (`bantin_limits`, one row, had no statistics and
-- was guessed at 1,130), so every row a CMS or a small import wrote paid
-- a JIT compilation: 12 ms an article. Statistics for it, and no JIT in
-- that trigger whatever the session's setting (it already runs with a
-- setting of its own; the triggers a bulk import calls for every row do
-- not, as each setting costs every call).
ANALYZE bantin_limits;
ALTER FUNCTION bantin_held_kept() SET jit = off;

-- bantin's PostgreSQL functions, views and triggers as they are now: the
-- one place to read them. The numbered migrations beside this file hold
-- the tables, columns, indexes and data moves; this file is applied after
-- them, in the same transaction, whenever the schema version changes
-- (src/store/postgres/migrate.rs), so every statement here can run again:
-- `CREATE OR REPLACE`, and a trigger dropped and made again. A change here
-- comes with a new numbered migration (a comment will do) so that stores
-- already up to date apply it. Data moves that need a function as it is
-- here stand in their migration after the line "-- After replaceable.sql:".
-- `{COUNTS_LOCK}` is put in by bantin from its constant of that name.

-- # The change log and the counts (migrations 2 and 3)

-- Bulk mode: `SET LOCAL bantin.bulk = 'on'` in a transaction turns these
-- triggers off for that transaction only; it must end with
-- `SELECT bantin_rebuild()`.
CREATE OR REPLACE FUNCTION bantin_bulk() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('bantin.bulk', true), '') = 'on'
$$;

-- Every count made again from the article tables, in one statement (one
-- snapshot: a transaction committing meanwhile keeps its own deltas and is
-- not counted twice), and "everything changed" logged. Under the lock a
-- server's fold of the deltas takes too, so the two never run at once.
CREATE OR REPLACE FUNCTION bantin_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({COUNTS_LOCK});
    WITH gone AS (DELETE FROM bantin_counts RETURNING 1)
    INSERT INTO bantin_counts (kind, a, b, delta)
        SELECT 'c', slug, name, count(*) FROM article_categories GROUP BY slug, name
        UNION ALL SELECT 'r', slug, name, count(*) FROM article_regions GROUP BY slug, name
        UNION ALL SELECT 'u', slug, name, count(*) FROM article_authors GROUP BY slug, name
        UNION ALL SELECT 'p', c.slug, r.slug, count(*) FROM article_categories c
                  JOIN article_regions r ON r.article_id = c.article_id GROUP BY c.slug, r.slug
        UNION ALL SELECT 't', '', '', count(*) FROM articles;
    INSERT INTO bantin_log (article_id, facet) VALUES ('', '*');
    PERFORM pg_notify('bantin', '');
END;
$$;

-- An article written: logged (its old and new date), counted, and the
-- servers told.
CREATE OR REPLACE FUNCTION bantin_article_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF bantin_bulk() THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_log (article_id, facet, published_us) VALUES (OLD.id, 'a', OLD.published_us);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_log (article_id, facet, published_us) VALUES (NEW.id, 'a', NEW.published_us);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bantin_counts (kind, delta) VALUES ('t', 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO bantin_counts (kind, delta) VALUES ('t', -1);
    END IF;
    -- Identical notifications of one transaction are delivered once, at commit.
    PERFORM pg_notify('bantin', '');
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS bantin_articles_changed ON articles;
CREATE TRIGGER bantin_articles_changed AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_article_changed();

-- A deleted article's pairs are uncounted before its links go (by the
-- foreign key's cascade, whose order against these triggers differs between
-- databases); the link triggers leave pairs alone when their article is gone.
CREATE OR REPLACE FUNCTION bantin_article_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT bantin_bulk() THEN
        INSERT INTO bantin_counts (kind, a, b, delta)
            SELECT 'p', c.slug, r.slug, -1 FROM article_categories c
            JOIN article_regions r ON r.article_id = c.article_id WHERE c.article_id = OLD.id;
    END IF;
    RETURN OLD;
END;
$$;
DROP TRIGGER IF EXISTS bantin_articles_deleting ON articles;
CREATE TRIGGER bantin_articles_deleting BEFORE DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_article_deleting();

-- TG_ARGV[0] is the facet: 'c' for article_categories, 'r' for
-- article_regions, 'u' for article_authors (in no pair). A pair is counted
-- once per article: when the second of its two links appears, and
-- uncounted when the first of them goes.
CREATE OR REPLACE FUNCTION bantin_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f TEXT := TG_ARGV[0];
BEGIN
    IF bantin_bulk() THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_log (article_id, facet, slug, published_us)
            VALUES (OLD.article_id, f, OLD.slug, OLD.published_us);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_log (article_id, facet, slug, published_us)
            VALUES (NEW.article_id, f, NEW.slug, NEW.published_us);
    END IF;
    PERFORM pg_notify('bantin', '');
    IF TG_OP = 'UPDATE'
       AND (OLD.article_id, OLD.slug, OLD.name) IS NOT DISTINCT FROM (NEW.article_id, NEW.slug, NEW.name) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO bantin_counts (kind, a, b, delta) VALUES (f, OLD.slug, OLD.name, -1);
        IF f = 'u' OR NOT EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id) THEN
            NULL;  -- no pairs, or a cascade: bantin_article_deleting uncounted them
        ELSIF f = 'c' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', OLD.slug, r.slug, -1 FROM article_regions r WHERE r.article_id = OLD.article_id;
        ELSE
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', c.slug, OLD.slug, -1 FROM article_categories c WHERE c.article_id = OLD.article_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bantin_counts (kind, a, b, delta) VALUES (f, NEW.slug, NEW.name, 1);
        IF f = 'c' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', NEW.slug, r.slug, 1 FROM article_regions r WHERE r.article_id = NEW.article_id;
        ELSIF f = 'r' THEN
            INSERT INTO bantin_counts (kind, a, b, delta)
                SELECT 'p', c.slug, NEW.slug, 1 FROM article_categories c WHERE c.article_id = NEW.article_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS bantin_categories_changed ON article_categories;
CREATE TRIGGER bantin_categories_changed AFTER INSERT OR UPDATE OR DELETE ON article_categories
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('c');
DROP TRIGGER IF EXISTS bantin_regions_changed ON article_regions;
CREATE TRIGGER bantin_regions_changed AFTER INSERT OR UPDATE OR DELETE ON article_regions
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('r');
DROP TRIGGER IF EXISTS bantin_authors_changed ON article_authors;
CREATE TRIGGER bantin_authors_changed AFTER INSERT OR UPDATE OR DELETE ON article_authors
    FOR EACH ROW EXECUTE FUNCTION bantin_link_changed('u');

-- TRUNCATE skips row triggers: count everything again.
CREATE OR REPLACE FUNCTION bantin_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bantin_rebuild();
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS bantin_articles_truncated ON articles;
CREATE TRIGGER bantin_articles_truncated AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();
DROP TRIGGER IF EXISTS bantin_categories_truncated ON article_categories;
CREATE TRIGGER bantin_categories_truncated AFTER TRUNCATE ON article_categories
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();
DROP TRIGGER IF EXISTS bantin_regions_truncated ON article_regions;
CREATE TRIGGER bantin_regions_truncated AFTER TRUNCATE ON article_regions
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();
DROP TRIGGER IF EXISTS bantin_authors_truncated ON article_authors;
CREATE TRIGGER bantin_authors_truncated AFTER TRUNCATE ON article_authors
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_truncated();

-- Keep the copies of published_us in step when a CMS changes an article's date.
CREATE OR REPLACE FUNCTION bantin_published_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_categories SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_regions SET published_us = NEW.published_us WHERE article_id = NEW.id;
    UPDATE article_authors SET published_us = NEW.published_us WHERE article_id = NEW.id;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS articles_published_moved ON articles;
CREATE TRIGGER articles_published_moved AFTER UPDATE OF published_us ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_published_moved();

-- # Limits (migrations 6 and 9)

-- The articles over one of the store's limits (SPEC "Limits"), as
-- migrations/sqlite/009 has them; the dates are SPEC's range, which that
-- file says why and how wide. `octet_length` of a stored value reads its
-- length, not its (compressed, out-of-line) bytes.
CREATE OR REPLACE VIEW bantin_over AS
    SELECT a.id AS article_id FROM articles a CROSS JOIN bantin_limits l
    WHERE octet_length(a.id) > l.max_id_bytes
       OR octet_length(a.title) > l.max_title_bytes
       OR coalesce(octet_length(a.summary), 0) > l.max_summary_bytes
       OR greatest(coalesce(octet_length(a.body), 0),
                   coalesce(octet_length(a.content_html), 0)) > l.max_body_bytes
       OR (length(a.authors) - length(replace(a.authors, '"', ''))) / 2 > l.max_names_per_article
       OR (SELECT count(*) FROM article_categories c WHERE c.article_id = a.id) > l.max_names_per_article
       OR (SELECT count(*) FROM article_regions r WHERE r.article_id = a.id) > l.max_names_per_article
       OR a.published_us < -62135546400000000 OR a.published_us >= 253402250400000000
       OR a.published COLLATE "C" < '0001-01-03' OR a.published COLLATE "C" >= '9999-12-30'
       OR a.updated COLLATE "C" < '0001-01-03' OR a.updated COLLATE "C" >= '9999-12-30';

-- TG_ARGV[0]: 'a' on articles, 'l' on a link table. Each article's row of
-- `bantin_held` is made again from its rows as they now stand. It runs as
-- its owner (with the search path of the migrations), so a CMS role needs
-- no grant on `bantin_held` or `bantin_limits`.
--
-- No JIT whatever the session's setting: a plan the planner took for big
-- (`bantin_limits`, one row, without statistics until migration 8) paid a
-- JIT compilation for every row a CMS or a small import wrote, 12 ms an
-- article. (The triggers a bulk import calls for every row have no setting
-- of their own, as each one costs every call.)
CREATE OR REPLACE FUNCTION bantin_held_kept() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT SET jit = off AS $$
DECLARE
    gone TEXT;
    came TEXT;
BEGIN
    IF TG_ARGV[0] = 'a' THEN
        IF TG_OP <> 'INSERT' THEN gone := OLD.id; END IF;
        IF TG_OP <> 'DELETE' THEN came := NEW.id; END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN gone := OLD.article_id; END IF;
        IF TG_OP <> 'DELETE' THEN came := NEW.article_id; END IF;
    END IF;
    IF gone IS NOT NULL THEN
        DELETE FROM bantin_held WHERE article_id = gone;
    END IF;
    INSERT INTO bantin_held (article_id)
        SELECT article_id FROM bantin_over WHERE article_id IN (gone, came)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
-- A bulk import skips them: its records passed the limits it wrote here.
DROP TRIGGER IF EXISTS bantin_held_articles ON articles;
CREATE TRIGGER bantin_held_articles AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_held_kept('a');
DROP TRIGGER IF EXISTS bantin_held_categories ON article_categories;
CREATE TRIGGER bantin_held_categories AFTER INSERT OR DELETE OR UPDATE OF article_id ON article_categories
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_held_kept('l');
DROP TRIGGER IF EXISTS bantin_held_regions ON article_regions;
CREATE TRIGGER bantin_held_regions AFTER INSERT OR DELETE OR UPDATE OF article_id ON article_regions
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_held_kept('l');

-- At most `max_names_per_article + 1` links of each kind per article, as
-- migrations/sqlite/009_names_capped.sql (which says why): a row past that
-- is skipped (a BEFORE trigger returning NULL), so no trigger after it logs
-- or counts it. Runs as its owner: a CMS role needs no grant on
-- `bantin_limits`.
CREATE OR REPLACE FUNCTION bantin_names_capped() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    cap BIGINT;
    n   BIGINT;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.article_id IS NOT DISTINCT FROM OLD.article_id THEN
        RETURN NEW;
    END IF;
    SELECT max_names_per_article INTO cap FROM bantin_limits;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I WHERE article_id = $1 LIMIT $2) x',
                   TG_TABLE_NAME)
        INTO n USING NEW.article_id, cap + 1;
    IF n > cap THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS bantin_categories_capped ON article_categories;
CREATE TRIGGER bantin_categories_capped BEFORE INSERT OR UPDATE OF article_id ON article_categories
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();
DROP TRIGGER IF EXISTS bantin_regions_capped ON article_regions;
CREATE TRIGGER bantin_regions_capped BEFORE INSERT OR UPDATE OF article_id ON article_regions
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();
DROP TRIGGER IF EXISTS bantin_authors_capped ON article_authors;
CREATE TRIGGER bantin_authors_capped BEFORE INSERT OR UPDATE OF article_id ON article_authors
    FOR EACH ROW WHEN (NOT bantin_bulk()) EXECUTE FUNCTION bantin_names_capped();

-- # Keyword feeds (migrations 4, 5, 7, 8 and 10)

-- Case, tone marks and `đ` folded: Unicode NFD, combining marks dropped,
-- `đ` → `d` (built in, no extension; the database must be UTF8).
CREATE OR REPLACE FUNCTION bantin_fold(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(translate(regexp_replace(normalize(t, NFD), '[\u0300-\u036f]', '', 'g'), 'đĐ', 'dD'))
$$;

-- Character references as `html_text` decodes them: `&amp;` `&lt;` `&gt;`
-- `&quot;` `&apos;` `&nbsp;` and any numeric one naming a character (NUL
-- dropped, as bantin drops it); anything else stays as written. One pass
-- from left to right, so `&amp;lt;` is `&lt;`. Without a numeric one,
-- plain `replace` does it (`&amp;` last, for the same reason).
CREATE OR REPLACE FUNCTION bantin_unescape(t TEXT) RETURNS TEXT
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
CREATE OR REPLACE FUNCTION bantin_visible(html TEXT) RETURNS TEXT
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

-- An article's words, the words SPEC means: the distinct runs of letters
-- and digits, folded, of its title, summary and visible text (the HTML's
-- when it has any but white space, Rust's white space as bantin tells HTML
-- from none; else the plain body). bantin's writer makes the same set
-- itself (src/store/postgres/words.rs asks this function how each
-- character folds).
CREATE OR REPLACE FUNCTION bantin_words(title TEXT, summary TEXT, body TEXT, content_html TEXT)
RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(bantin_fold(title || ' ' || coalesce(summary, '') || ' ' ||
        CASE WHEN btrim(coalesce(content_html, ''),
                        E' \t\n\r\x0b\x0c' || U&'\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000') <> ''
             THEN bantin_visible(content_html) ELSE coalesce(body, '') END),
        '[^[:alnum:]]+'), '')
$$;

-- The bits of `wanted`'s words in the list, in order (NULL: not listed).
CREATE OR REPLACE FUNCTION bantin_bits(wanted TEXT[]) RETURNS INTEGER[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT ARRAY(SELECT c.bit FROM unnest(wanted) WITH ORDINALITY AS u (w, i)
                 LEFT JOIN bantin_common_words c ON c.word = u.w ORDER BY u.i)
$$;

-- Whether bit `b` of an article's `common_bits` is set (`get_bit`'s order:
-- bit 0 is the first byte's lowest); false past its end, or for a NULL
-- `b` or `bits`. The one statement of the test: bantin's keyword planner
-- (src/store/postgres/search.rs) calls it on every row it tests, where the
-- planner inlines it (a plain expression, not STRICT, no subquery): a
-- function call per row cost 20 µs, and a keyword feed tests hundreds.
CREATE OR REPLACE FUNCTION bantin_has_bit(bits BYTEA, b INTEGER) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN octet_length(bits) * 8 > b THEN get_bit(bits, b) = 1 ELSE false END
$$;

-- Whether an article holds every word of `wanted` (whose bits are
-- `wanted_bits`, as `bantin_bits` gives them): in `words`, or listed and
-- in `bits`.
CREATE OR REPLACE FUNCTION bantin_holds(words TEXT[], bits BYTEA, wanted TEXT[], wanted_bits INTEGER[])
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT words @> wanted OR NOT EXISTS (
        SELECT 1 FROM unnest(wanted, wanted_bits) AS x (w, b)
        WHERE NOT words @> ARRAY[x.w] AND NOT bantin_has_bit(bits, x.b))
$$;

-- `all_words` split by the list. Runs as its owner (the search path of the
-- migrations), so a CMS role needs no grant on the list: its rows are split
-- by the trigger below.
CREATE OR REPLACE FUNCTION bantin_split_words(all_words TEXT[], OUT words TEXT[], OUT common_bits BYTEA)
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

-- An article's words kept: bantin's writer sets `bantin.words = 'given'`
-- in its transaction and gives both columns (or NULL words, for this
-- trigger to make); a CMS writes neither, and the words of every row it
-- inserts, and of every row whose text it changes, are made here.
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
DROP TRIGGER IF EXISTS bantin_words_kept ON articles;
CREATE TRIGGER bantin_words_kept BEFORE INSERT OR UPDATE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_words_kept();

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
-- The index is asked for the wanted words that are not listed (at least
-- one: a feed of listed words only has no index to ask, and bantin walks
-- the feed index for it itself); all of them are tested on the rows.
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
CREATE OR REPLACE FUNCTION bantin_settle() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    ANALYZE articles, article_categories, article_regions, article_authors;
    PERFORM gin_clean_pending_list('articles_words');
END;
$$;

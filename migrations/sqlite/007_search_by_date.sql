-- bantin's article store, version 7: keyword-index rows numbered by date
-- again.
--
-- Version 5 numbered the rows of `bantin_search_ids` in the order articles
-- were inserted (its insert trigger and bantin's writer both took the next
-- number), while keyword feeds walk the numbers from the top as if they
-- were version 4's publishing order: a feed held the matches inserted last,
-- not the newest. An import in publishing order hid it.
--
-- Numbers are by date again, in coarser steps than version 4's: the
-- article's hour (counted from year 1, in UTC) times 2^16, plus its rank
-- among that hour's articles in the order they came, whoever inserts it;
-- bantin's writer numbers the same way. A feed reads its last hour's
-- matches whole and orders them by instant. Version 4's seconds times 2^20
-- put hundreds of millions between two neighbouring articles: FTS5 keeps
-- each word's list of rows as differences, and differences that large made
-- the store of a million articles 0.7 GB larger (6.15 GB against 5.43 GB).
-- Now a difference between two articles an hour apart is 65,536 at most
-- (two bytes). An hour holds up to 65,536 articles in order; more (a bulk
-- of articles all dated alike) spill into the next hour's numbers, and
-- those alone may show out of order in keyword feeds.
--
-- Every row is numbered and indexed again: the index is emptied and its
-- words made again from the articles' text, as version 4 did (60 s for a
-- million articles here, once).

-- The triggers number by the same rule (src/store/sqlite/schema.rs).

INSERT INTO bantin_search (bantin_search) VALUES ('delete-all');
DELETE FROM bantin_search_ids;
INSERT INTO bantin_search_ids (n, article_id, published_us)
    SELECT ((a.published_us + 62135596800000000) / 3600000000) * 65536 + row_number() OVER (
               PARTITION BY (a.published_us + 62135596800000000) / 3600000000 ORDER BY a.id) - 1,
           a.id, a.published_us
    FROM articles a;
-- In number order: FTS5 writes its pending words out whenever a number
-- comes lower than the one before.
INSERT INTO bantin_search (rowid, words)
    SELECT i.n, replace(replace(a.title || ' ' || coalesce(a.summary, '') || ' ' ||
            CASE WHEN trim(coalesce(a.content_html, '')) <> '' THEN a.content_html ELSE coalesce(a.body, '') END,
            'đ', 'd'), 'Đ', 'D')
    FROM bantin_search_ids i JOIN articles a ON a.id = i.article_id
    ORDER BY i.n;

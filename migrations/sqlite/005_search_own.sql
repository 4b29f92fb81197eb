-- bantin's article store, version 5: bantin indexes the words of the
-- articles it inserts itself, the insert trigger of version 4 those that
-- anyone else inserts.
--
-- The trigger hands FTS5 an article's whole text, and tokenizing it is most
-- of what a big import costs. bantin hands FTS5 each distinct chunk of the
-- same text once instead (the text cut at ASCII spaces and punctuation,
-- `đ`/`Đ` replaced as the trigger does, ASCII letters lowercased: a chunk
-- becomes the same words wherever it stands), so FTS5 indexes the same set
-- of words for the article from less than half the text. The index is
-- `detail=none`: it keeps which rows hold a word, no positions or counts,
-- so it is the same index. (Only FTS5's totals of tokens, which feed bm25
-- ranking and nothing bantin does, count the chunks instead.) Updates and
-- deletes stay with the triggers for every writer: the trigger's `delete`
-- of the whole old text removes exactly the words bantin inserted.
--
-- While a bantin writer's transaction holds the row of `bantin_search_own`,
-- the insert trigger does nothing; the row is deleted before the commit, so
-- no other connection ever sees it. A CMS never writes this table: its
-- inserts are indexed by the trigger as before.
CREATE TABLE bantin_search_own (one INTEGER PRIMARY KEY CHECK (one = 1));

DROP TRIGGER bantin_search_inserted;
CREATE TRIGGER bantin_search_inserted AFTER INSERT ON articles
WHEN NOT EXISTS (SELECT 1 FROM bantin_search_own)
BEGIN
    INSERT INTO bantin_search_ids (article_id, published_us) VALUES (NEW.id, NEW.published_us);
    INSERT INTO bantin_search (rowid, words)
        VALUES ((SELECT n FROM bantin_search_ids WHERE article_id = NEW.id), replace(replace(NEW.title || ' ' || coalesce(NEW.summary, '') || ' ' ||
            CASE WHEN trim(coalesce(NEW.content_html, '')) <> '' THEN NEW.content_html ELSE coalesce(NEW.body, '') END,
            'đ', 'd'), 'Đ', 'D'));
END;

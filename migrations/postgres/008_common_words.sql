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
-- walks the newest articles (`bantin_search`, replaceable.sql).
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

-- `bantin_limits`, one row, had no statistics and was guessed at 1,130
-- rows: the held trigger's plan was taken for big and paid a JIT
-- compilation for every row a CMS wrote (replaceable.sql turns JIT off in
-- that trigger too).
ANALYZE bantin_limits;

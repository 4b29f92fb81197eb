-- What the keyword index costs a big import in PostgreSQL, and what an
-- index of the uncommon words only would cost (BENCHMARKS.md, "A cheaper
-- keyword index"). Run on a database `KEEP=1 bench/pg-import.sh 100000
-- PORT` filled, as a superuser (COPY to and from a server-side file):
--
--   psql -h 127.0.0.1 -p PORT -d news -v file=/tmp/DIR/src.bin \
--        -f bench/uncommon-index.sql
--
-- (the file's folder must be writable by the server). "Uncommon": not in
-- 20% or more of the articles. Three copies of `articles` with its primary
-- key and date index: none, a GIN index of the uncommon words (and the
-- span, as migration 007), a GIN index of all words (as now); each COPY of
-- the same 100k rows is timed. Leaves its tables behind: drop the database
-- after.
\timing on
SET maintenance_work_mem = '256MB';
CREATE TABLE common AS SELECT w FROM articles, unnest(words) w GROUP BY w HAVING count(*) >= (SELECT count(*) FROM articles) / 5;
SELECT count(*) AS common_words FROM common;
CREATE TABLE src AS SELECT a.*, ARRAY(SELECT x FROM unnest(a.words) x WHERE x NOT IN (SELECT w FROM common)) AS keys FROM articles a;
SELECT avg(cardinality(words)) AS words, avg(cardinality(keys)) AS keys FROM src;
COPY src TO :'file' (FORMAT binary);
CREATE TABLE t_none (LIKE src);
ALTER TABLE t_none ADD PRIMARY KEY (id);
CREATE INDEX ON t_none (published_us DESC, id DESC);
CREATE TABLE t_keys (LIKE t_none INCLUDING ALL);
CREATE INDEX ON t_keys USING gin (keys, (ARRAY[published_us >> 40]));
CREATE TABLE t_full (LIKE t_none INCLUDING ALL);
CREATE INDEX ON t_full USING gin (words, (ARRAY[published_us >> 40]));
CHECKPOINT;
COPY t_none FROM :'file' (FORMAT binary);
CHECKPOINT;
COPY t_keys FROM :'file' (FORMAT binary);
CHECKPOINT;
COPY t_full FROM :'file' (FORMAT binary);
SELECT pg_size_pretty(pg_relation_size(i.indexrelid)) AS size, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 't_%';

#!/usr/bin/env python3
"""How the keyword index's entries spread over its words, in an SQLite
store that `bantin import` filled: the number of index entries (one per
article per distinct folded word) held by the words found in at least a
given share of the articles. The figure behind BENCHMARKS.md's "A cheaper
keyword index": words in most articles are most of what an import writes
into the index, and a feed of such a word is found by walking the newest
articles without an index.

    python3 bench/vocab.py STORE.db

Reads FTS5's own vocabulary (`fts5vocab`, a temporary table): seconds at a
million articles. Changes nothing in the store.
"""
import sqlite3
import sys
import time


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    started = time.monotonic()
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, bantin_search, row)")
    rows = db.execute("SELECT term, doc FROM temp.vocab").fetchall()
    articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    entries = sum(d for _, d in rows)
    print(f"{articles} articles, {len(rows)} words, {entries} entries "
          f"({entries / max(articles, 1):.1f} an article), read in {time.monotonic() - started:.1f} s")
    rows.sort(key=lambda r: -r[1])
    for share in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005):
        common = [d for _, d in rows if d >= share * articles]
        print(f"words in >= {share:.1%} of the articles: {len(common)}, "
              f"holding {sum(common) / max(entries, 1):.1%} of the entries")
    print("the 20 most common:", " ".join(w for w, _ in rows[:20]))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Would a fixed list of common words, taken from real Vietnamese news,
keep most index entries of the bench corpus out of a keyword index?
BENCHMARKS.md "Common words out of the keyword index" asks it.

    python3 bench/seed-vocab.py STORE.db

"Real text": the sample articles (`feeds/articles/`) and the seed article
(`../shared/seed-article.txt`, if there). For shares of those documents,
the words found in at least that share, and the part of the store's index
entries (FTS5's vocabulary, as `bench/vocab.py`) they hold. Folding as
bantin's: NFD, marks dropped, `đ` → `d`, lowercase, runs of letters and
digits.
"""
import collections
import glob
import os
import re
import sqlite3
import sys
import unicodedata


def fold(t):
    t = unicodedata.normalize("NFD", t)
    t = "".join(c for c in t if not 0x300 <= ord(c) <= 0x36F)
    return t.replace("đ", "d").replace("Đ", "D").lower()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = os.path.join(os.path.dirname(__file__), "..")
    files = glob.glob(os.path.join(root, "feeds/articles/*"))
    seed = os.path.join(root, "../shared/seed-article.txt")
    files += [seed] if os.path.exists(seed) else []
    df = collections.Counter()
    for f in files:
        with open(f, encoding="utf-8") as text:
            df.update({w for w in re.split(r"[^0-9a-z]+", fold(text.read())) if w})
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, bantin_search, row)")
    entries = dict(db.execute("SELECT term, doc FROM temp.vocab").fetchall())
    total = sum(entries.values())
    print(f"{len(files)} real documents; the store: {total} index entries")
    for share in (0.5, 0.3, 0.2, 0.1, 0.05):
        listed = [w for w, n in df.items() if n >= share * len(files)]
        held = sum(entries.get(w, 0) for w in listed)
        print(f"words in >= {share:.0%} of the real documents: {len(listed)}, "
              f"holding {held / max(total, 1):.1%} of the store's entries")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Keyword feeds at archive scale (issue 10): the first byte of a cold
`/feeds/search.rss?q=…` on the 1M store, for common, rare, absent and
multi-word queries, each asked once (a query is cold the first time).

    BENCH_DIR=/work/benchdata bench/search.sh [--articles 1000000] [--runs 3]
    bench/search.sh --store postgres://USER@HOST:PORT/DB   # a store of your own
"""
import argparse
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

# Words of the corpus's vocabulary (bench/corpus.py), from very common to
# absent, and combinations.
QUERIES = [
    ("common", "tỉnh"),
    ("common", "bão"),
    ("two common", "Hà Tĩnh"),
    ("three words", "nhà nước hươu"),
    ("two words", "phòng chống"),
    ("uncommon, 8,156 matches at 1M", "34"),
    ("rare, 1,345 matches at 1M", "877"),
    ("not in the corpus", "vaccine"),
    ("absent", "zzzzq"),
]


def first_byte(s, path):
    conn = s.conn()
    t = time.monotonic()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    r.read(1)
    ttfb = time.monotonic() - t
    body = r.read()
    conn.close()
    return r.status, ttfb, len(body) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", help="search this store URL (e.g. a PostgreSQL database "
                    "that bench/pg-import.sh filled) instead of a copy of the bench store")
    args = ap.parse_args()
    B.ensure_binary()
    B.header("bench/search.sh " + " ".join(sys.argv[1:]))
    store = args.store or B.work_copy(args.articles)
    results = {q: [] for _, q in QUERIES}
    for run in range(args.runs):
        # A fresh server each run: every query is cold.
        s = B.Server(store, f"search-{run}")
        s.wait_ready()
        for _, q in QUERIES:
            path = "/feeds/search.rss?q=" + urllib.parse.quote_plus(q)
            status, ttfb, size = first_byte(s, path)
            assert status == 200, (q, status)
            results[q].append(ttfb * 1000)
        s.stop()
    for kind, q in QUERIES:
        where = "PostgreSQL, " if store.startswith("postgres") else ""
        B.row(f"search cold first byte ({where}{B.size_label(args.articles)}, {kind}: {q!r})",
              B.spread(results[q], "{:.1f}") + " ms")


if __name__ == "__main__":
    main()

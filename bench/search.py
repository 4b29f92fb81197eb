#!/usr/bin/env python3
"""Keyword feeds at archive scale (issues 10 and 17): the first byte of a
cold `/feeds/search.rss?q=…` on the 1M store, for common, rare, absent and
multi-word queries and words found only in the corpus's HTML markup, each
asked once (a query is cold the first time); then (issue 17) the first byte
of a cold `/feeds/all.rss` asked while 20 cold keyword feeds of markup words
are asked at once, and the keyword feeds' answers.

    BENCH_DIR=/work/benchdata bench/search.sh [--articles 1000000] [--runs 3]
    bench/search.sh --store postgres://USER@HOST:PORT/DB   # a store of your own
"""
import argparse
import os
import sys
import threading
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
    # Issue 17: words of the corpus's HTML markup (links, figures, bold),
    # in a fifth of the articles, and in no article's visible text.
    ("markup", "jpg"),
    ("markup", "href"),
    ("markup", "https"),
    ("markup, the links' domain", "baohatinh"),
    ("markup", "strong"),
    ("markup", "figcaption"),
    ("markup and a common word", "tỉnh jpg"),
    ("two rare words that seldom meet", "34 877"),
    ("16 common words", "và của các những trong được cho với là có đã người tỉnh huyện xã năm"),
    ("16 words that seldom meet (8 matches at 1M)",
     "ngoài ra đặc biệt nhất là trước mắt thời gian tới những năm qua hiện nay"),
]

# Issue 17: twenty distinct keyword feeds of markup words, asked at once.
LOAD_QUERIES = [
    "jpg", "href", "https", "baohatinh", "example", "html", "images", "strong",
    "figcaption", "figure", "img", "src", "alt", "tin html", "https jpg",
    "images jpg", "baohatinh html", "href https", "strong figure", "tỉnh jpg",
]

# ... and twenty of the slowest kind: words that seldom meet, each query
# walking the index until its time budget (the 16 words above less one, or
# less two).
_SELDOM = "ngoài ra đặc biệt nhất là trước mắt thời gian tới những năm qua hiện nay".split()
HEAVY_QUERIES = [" ".join(_SELDOM[:k] + _SELDOM[k + 1:]) for k in range(16)] + [
    " ".join(_SELDOM[:k] + _SELDOM[k + 2:]) for k in range(0, 8, 2)]


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
    where = "PostgreSQL, " if store.startswith("postgres") else ""
    for kind, q in QUERIES:
        B.row(f"search cold first byte ({where}{B.size_label(args.articles)}, {kind}: {q!r})",
              B.spread(results[q], "{:.1f}") + " ms")
    load(store, args, where, LOAD_QUERIES, "of markup words")
    load(store, args, where, HEAVY_QUERIES, "of words that seldom meet (each at its budget)")


def load(store, args, where, queries, what):
    """A cold /feeds/all.rss while 20 cold keyword feeds are asked at once."""
    alone, loaded, searches, statuses = [], [], [], {}
    for run in range(args.runs):
        s = B.Server(store, f"search-alone-{run}")
        s.wait_ready()
        alone.append(first_byte(s, "/feeds/all.rss")[1] * 1000)
        s.stop()
        s = B.Server(store, f"search-load-{run}")
        s.wait_ready()
        go = threading.Barrier(len(queries) + 1)
        lock = threading.Lock()

        def ask(q):
            go.wait()
            t = time.monotonic()
            status, _, _ = s.get("/feeds/search.rss?q=" + urllib.parse.quote_plus(q),
                                 headers={"Accept-Encoding": "gzip"})
            with lock:
                searches.append((time.monotonic() - t) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=ask, args=(q,)) for q in queries]
        for t in threads:
            t.start()
        go.wait()
        status, ttfb, _ = first_byte(s, "/feeds/all.rss")
        assert status == 200, status
        loaded.append(ttfb * 1000)
        for t in threads:
            t.join()
        s.stop()
    label = f"{where}{B.size_label(args.articles)}"
    B.row(f"cold /feeds/all.rss first byte, alone ({label})",
          B.spread(alone, "{:.1f}") + " ms")
    B.row(f"cold /feeds/all.rss first byte while {len(queries)} cold keyword feeds "
          f"{what} are asked ({label})", B.spread(loaded, "{:.1f}") + " ms")
    B.row(f"those keyword feeds, whole response ({label})",
          B.spread(searches, "{:.1f}") + " ms; statuses "
          + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))


if __name__ == "__main__":
    main()

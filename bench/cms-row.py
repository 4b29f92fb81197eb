#!/usr/bin/env python3
"""Issue 17: what one CMS row with N categories x N regions x N authors
costs a running server.

    bench/cms-row.py STORE_URL [--names 1000] [--watch 20]

Starts `bantin serve` (target/release/bantin, feeds/site.toml) on the store,
writes the row the way README's schema section says a CMS does (SQLite:
Python's sqlite3 with its default settings; PostgreSQL: one psql
transaction), then samples the server's RSS every 50 ms for `--watch`
seconds and prints it before and at its peak, how long the CMS's commit
took, and how soon /feeds/all.rss answered afterwards. Then the row is
deleted again.
"""

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BANTIN", os.path.join(ROOT, "target", "release", "bantin"))
SITE = os.path.join(ROOT, "feeds", "site.toml")
US = 1798776000000000  # 2027-01-01T00:00:00Z: the newest article of every feed it names
PUBLISHED = "2027-01-01T07:00:00+07:00"


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def statements(n):
    authors = json.dumps([f"Tác giả {i}" for i in range(n)], ensure_ascii=False)
    yield ("INSERT INTO articles (id, title, authors, published, published_us) VALUES (%s, %s, %s, %s, %s)",
           ("cms-big", "Một bài nhiều tên", authors, PUBLISHED, US))
    for table, label in (("article_categories", "cat"), ("article_regions", "reg"), ("article_authors", "tac-gia")):
        for i in range(n):
            yield (f"INSERT INTO {table} (article_id, slug, name, position, published_us) VALUES (%s, %s, %s, %s, %s)",
                   ("cms-big", f"{label}-{i}", f"{label} {i}", i, US))


def write_sqlite(path, n):
    c = sqlite3.connect(path)
    for sql, args in statements(n):
        c.execute(sql.replace("%s", "?"), args)
    c.commit()
    c.close()


def pg_literal(v):
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def write_postgres(url, n):
    sql = ["BEGIN;"]
    for stmt, args in statements(n):
        sql.append(stmt % tuple(pg_literal(a) for a in args) + ";")
    sql.append("COMMIT;")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input="\n".join(sql).encode(), check=True)


def sql_run(store, sql):
    if store.startswith("sqlite:"):
        c = sqlite3.connect(store[len("sqlite:"):])
        c.execute("PRAGMA foreign_keys = ON")
        c.execute(sql)
        c.commit()
        c.close()
    else:
        subprocess.run(["psql", "-q", "-c", sql, store], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--names", type=int, default=1000)
    ap.add_argument("--watch", type=float, default=20)
    args = ap.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    base = f"http://127.0.0.1:{port}"
    started = time.time()
    server = subprocess.Popen(
        [BIN, "--store", args.store, "--site", SITE, "serve", "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the server exited")
                time.sleep(0.1)
        ready = time.time() - started
        urllib.request.urlopen(base + "/feeds/all.rss").read()
        before = rss_mb(server.pid)
        t = time.time()
        if args.store.startswith("sqlite:"):
            write_sqlite(args.store[len("sqlite:"):], args.names)
        else:
            write_postgres(args.store, args.names)
        commit = time.time() - t
        peak = before
        end = time.time() + args.watch
        answered = None
        while time.time() < end:
            peak = max(peak, rss_mb(server.pid))
            if answered is None:
                t0 = time.time()
                urllib.request.urlopen(base + "/feeds/all.rss", timeout=60).read()
                answered = time.time() - t0
            time.sleep(0.05)
        after = rss_mb(server.pid)
        print(f"names={args.names} started_in={ready:.1f}s cms_commit={commit:.1f}s rss_before={before:.0f}MB "
              f"peak={peak:.0f}MB after_{args.watch:.0f}s={after:.0f}MB all_feed_answer={answered*1000:.0f}ms")
        # A server started on the store with the row in it: as fast as
        # before it (PostgreSQL replicas could not start at all).
        server.terminate()
        server.wait()
        t = time.time()
        server = subprocess.Popen(
            [BIN, "--store", args.store, "--site", SITE, "serve", "--listen", f"127.0.0.1:{port}"],
            stderr=subprocess.DEVNULL)
        while True:
            try:
                urllib.request.urlopen(base + "/feeds/all.rss", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the server did not start with the row in the store")
                time.sleep(0.05)
        print(f"restarted with the row in the store: answering in {time.time() - t:.1f}s "
              f"(without it: {ready:.1f}s to /healthz), rss {rss_mb(server.pid):.0f}MB")
    finally:
        server.terminate()
        server.wait()
        # `check` with the row in the store, then the row gone.
        t = time.time()
        subprocess.run([BIN, "--store", args.store, "--site", SITE, "check"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"check with the row in the store: {time.time() - t:.1f}s")
        sql_run(args.store, "DELETE FROM articles WHERE id = 'cms-big'")


if __name__ == "__main__":
    sys.exit(main())

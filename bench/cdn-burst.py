#!/usr/bin/env python3
"""Issue 22: the purges a burst of CMS writes costs.

    bench/cdn-burst.py [--articles 20000] [--writes 1000] [--seconds 10]

Imports `--articles` articles of bench/corpus.py into a new SQLite store,
serves it (target/release/bantin, or $BANTIN) with `[cdn] purge =
"varnish"` pointed at a local recorder standing in for Varnish, then
writes `--writes` new articles the way a CMS does (Python's sqlite3, one
commit each, paced evenly over `--seconds`), each in a random category and
region and published within the last three years. Prints the purge
requests per second, the keys per request, and how long after the last
write the last purge came.
"""

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get(
    "BANTIN",
    os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "bantin"),
)
SITE = os.path.join(ROOT, "feeds", "site.toml")
PURGES = []  # (monotonic time, keys)


class Recorder(BaseHTTPRequestHandler):
    def do_PURGE(self):
        PURGES.append((time.monotonic(), self.headers.get("xkey", "").split()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    db = os.path.join(work, "b.db")
    corpus = os.path.join(work, "corpus.jsonl")
    with open(corpus, "w") as f:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "corpus.py"), str(args.articles)],
                       stdout=f, check=True)
    subprocess.run([BIN, "--store", f"sqlite:{db}", "import", corpus], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    site = os.path.join(work, "site.toml")
    with open(SITE) as f, open(site, "w") as out:
        out.write(f.read())
        out.write(f'\n[cdn]\nkey_header = "xkey"\npurge = "varnish"\n'
                  f'purge_url = "http://127.0.0.1:{recorder.server_address[1]}/"\n')
    port = free_port()
    server = subprocess.Popen([BIN, "--store", f"sqlite:{db}", "--site", site, "serve",
                               "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, RUST_LOG="warn"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("bantin serve did not start")
                time.sleep(0.1)
        r = random.Random(22)
        c = sqlite3.connect(db)
        names = {t: [row for row in c.execute(f"SELECT DISTINCT slug, name FROM {t}")]
                 for t in ("article_categories", "article_regions")}
        now = datetime.now(timezone(timedelta(hours=7)))
        start = time.monotonic()
        for i in range(args.writes):
            published = now - timedelta(seconds=r.randrange(3 * 365 * 86400))
            us = int(published.timestamp() * 1_000_000)
            aid = f"burst-{i}"
            c.execute("INSERT INTO articles (id, title, authors, published, published_us) "
                      "VALUES (?, ?, '[]', ?, ?)",
                      (aid, f"Tin nhanh {i}", published.isoformat(timespec="seconds"), us))
            for table in ("article_categories", "article_regions"):
                slug, name = r.choice(names[table])
                c.execute(f"INSERT INTO {table} (article_id, slug, name, position, published_us) "
                          "VALUES (?, ?, ?, 0, ?)", (aid, slug, name, us))
            c.commit()
            pause = start + (i + 1) * args.seconds / args.writes - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        last_write = time.monotonic()
        # Settled once no purge came for 3 s.
        while time.monotonic() - max([last_write] + [t for t, _ in PURGES]) < 3:
            time.sleep(0.1)
        purges = [(t - start, keys) for t, keys in PURGES if t >= start]
        per_second = {}
        for t, _ in purges:
            per_second[int(t)] = per_second.get(int(t), 0) + 1
        sizes = [len(k) for _, k in purges]
        print(f"{args.writes} CMS writes in {last_write - start:.1f} s over {args.articles} articles")
        print(f"purge requests: {len(purges)}, keys purged: {sum(sizes)} "
              f"(distinct {len({k for _, ks in purges for k in ks})})")
        print(f"requests per second: max {max(per_second.values())}, "
              f"by second {[per_second.get(s, 0) for s in range(max(per_second) + 1)]}")
        print(f"keys per request: max {max(sizes)}, mean {sum(sizes) / len(sizes):.1f}")
        print(f"last purge {purges[-1][0] - (last_write - start):.2f} s after the last write")
    finally:
        server.terminate()
        server.wait()
        recorder.shutdown()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

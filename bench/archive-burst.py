#!/usr/bin/env python3
"""Issue 17: what cold archive months asked all at once cost the server.

    bench/archive-burst.py STORE_URL [--months 48] [--feed /feeds/all] [--settle 30]

Starts `bantin serve` (target/release/bantin, feeds/site.toml) on the store,
asks `--months` different months of one feed's archive at once (one client
thread each, RSS format, identity), and prints the statuses, the peak RSS of
the server while they ran (sampled every 50 ms from /proc), its RSS before,
and its RSS `--settle` seconds after the last answer. The months are the
newest ones that hold articles, found from the feed's own prev-archive chain.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import urllib.error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BANTIN", os.path.join(ROOT, "target", "release", "bantin"))
SITE = os.path.join(ROOT, "feeds", "site.toml")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(url, timeout=600):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--months", type=int, default=48)
    ap.add_argument("--feed", default="/feeds/all")
    ap.add_argument("--settle", type=float, default=30)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [BIN, "--store", args.store, "--site", SITE, "serve", "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                fetch(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # The newest month, then the chain of the all feed's archive
        # months, read from the month numbers (every month of the corpus
        # has articles, so the chain is the calendar).
        status, body = fetch(base + args.feed + ".rss")
        newest = re.search(rb'archive/(\d{4})-(\d{2})\.rss', body)
        y, m = int(newest.group(1)), int(newest.group(2))
        months = []
        for _ in range(args.months):
            months.append(f"{y:04d}-{m:02d}")
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        before = rss_mb(server.pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(server.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses = {}
        lock = threading.Lock()

        def ask(month):
            status, _ = fetch(f"{base}{args.feed}/archive/{month}.rss")
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

        started = time.time()
        threads = [threading.Thread(target=ask, args=(mo,)) for mo in months]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - started
        done.set()
        sampler.join()
        time.sleep(args.settle)
        settled = rss_mb(server.pid)
        metrics = fetch(base + "/metrics")[1].decode()
        cache = re.search(r"^bantin_cache_bytes (\d+)", metrics, re.M)
        print(f"months={args.months} statuses={dict(sorted(statuses.items()))} took={took:.1f}s "
              f"rss_before={before:.0f}MB peak={peak[0]:.0f}MB settled_after_{args.settle:.0f}s={settled:.0f}MB "
              f"cache_bytes={int(cache.group(1)) / 1048576 if cache else float('nan'):.0f}MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())

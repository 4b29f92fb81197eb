#!/usr/bin/env python3
"""Soak (issue 9): `bantin serve` under 48 polling clients (half
conditional, gzip) for minutes while a CMS writes an article every second
and removes one every 5 s.

Prints, one line each: requests and the count of answers that were neither
200 nor 304, bodies that did not parse (fetched and parsed by a checker
beside the load: RSS/Atom with ElementTree, JSON Feed with json), the
server's RSS at the start and the end, and the worst write-to-visible lag.

    BENCH_DIR=/work/benchdata bench/soak.sh [--seconds 180] [--articles 10000]
"""
import argparse
import gzip
import json
import os
import random
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
from writes import run_wrk  # noqa: E402


class Remover:
    """Removes one of the soak's own articles every `period` seconds."""

    def __init__(self, writer, ticker, period=5.0):
        self.writer, self.ticker, self.period = writer, ticker, period
        self.removed, self.stop_flag = 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_flag:
            time.sleep(self.period)
            ids = list(self.ticker.ids[:-3])  # leave the latest to the watcher
            if ids:
                self.writer.delete(random.choice(ids))
                self.removed += 1

    def stop(self):
        self.stop_flag = True
        self.thread.join()


class Checker:
    """Fetches random feeds in every format and parses each body."""

    def __init__(self, server, urls):
        self.server, self.urls = server, urls
        self.checked, self.torn, self.stop_flag = 0, [], False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        conn = self.server.conn()
        while not self.stop_flag:
            url = random.choice(self.urls)
            try:
                status, h, body = self.server.get(url, {"Accept-Encoding": "gzip"}, conn=conn)
            except OSError:
                conn.close()
                conn = self.server.conn()
                continue
            if status != 200:
                continue
            if h.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            try:
                if url.endswith(".json"):
                    json.loads(body)
                else:
                    ET.fromstring(body)
            except (ValueError, ET.ParseError) as e:
                self.torn.append(f"{url}: {e}")
            self.checked += 1
            time.sleep(0.01)
        conn.close()

    def stop(self):
        self.stop_flag = True
        self.thread.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--articles", type=int, default=10_000)
    args = ap.parse_args()
    B.ensure_binary()
    B.header("bench/soak.sh " + " ".join(sys.argv[1:]))
    store = B.work_copy(args.articles)
    s = B.Server(store, "soak")
    s.wait_ready()
    feeds = s.feeds()
    urls = B.feed_urls(feeds)
    etags = s.warm(urls, ("gzip",))
    rss_start = s.status_kb("VmRSS")
    listfile = os.path.join(B.run_dir(), "soak-urls.txt")
    with open(listfile, "w") as f:
        for u in urls:
            f.write(f"{u}\t{etags.get((u, 'gzip')) or ''}\n")
    writer = B.SqlWriter(store)
    watcher = B.Watcher(s)
    from writes import Ticker
    ticker = Ticker(watcher, [writer.insert], "soak").start()
    remover = Remover(writer, ticker).start()
    checker = Checker(s, urls).start()
    poll = run_wrk(s, listfile, args.seconds)
    checker.stop()
    remover.stop()
    lags = ticker.stop()
    rss_end = s.status_kb("VmRSS")
    hwm = s.status_kb("VmHWM")
    seen = [x for x in lags if x is not None]
    B.row(f"soak requests ({args.seconds} s, 48 clients, half conditional, {len(urls)} feed URLs)",
          f"{poll['requests']} ({poll['requests'] / args.seconds:.0f} req/s), "
          f"{poll['bad_status']} neither 200 nor 304, {poll['errors']} socket errors")
    B.row("soak bodies parsed", f"{checker.checked}, {len(checker.torn)} did not parse"
          + (f" (first: {checker.torn[0]})" if checker.torn else ""))
    B.row("soak server RSS", f"{rss_start / 1024:.0f} MB at start, {rss_end / 1024:.0f} MB at end "
          f"(peak {hwm / 1024:.0f} MB)")
    B.row("soak writes", f"{len(lags)} inserted, {remover.removed} removed; worst lag "
          f"{max(seen):.2f} s, {sum(1 for x in seen if x > 1)} > 1 s, "
          f"{len(lags) - len(seen)} never shown" if seen else "no write shown")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Issue 6's table ("writes cost only the feeds they touch"), one line a row.

    bench/writes.sh [--runs N] [--poll-seconds S] [--rate-seconds S] [--only ROW,...]

Rows (names as printed; ROW for --only in brackets):
  dump                 [dump]    `bantin dump` of the all feed, 1M vs 10k store (hyperfine)
  serve-ready          [ready]   process start → first 200 on a feed
  giveup               [giveup]  12 clients give up on the cold all feed, then one waits:
                                 server CPU and renders against one plain cold render
  write-cpu            [cpu]     server CPU and renders for one new article, every listed feed
                                 cached (rss/atom/json, gzip), by `bantin import` and by SQL
  second-write-lag     [lag]     a write made as the previous one became visible: its lag
  poll                 [poll]    48 clients (wrk, half conditional) polling every listed feed,
                                 without writes and with a SQL write every second
  write-rate           [rate]    a write a second (import and SQL in turn) with every feed ×
                                 format × 4 codings cached: worst lag, CPU and renders per write
  race-remove          [race]    renders racing a remove (10k store): torn reads in the log

Visibility: the new article's guid shows in /feeds/all.rss, polled with a
conditional GET every ~10 ms; lag counted from the write's commit (the
SQL COMMIT returning, or `bantin import` exiting). Server CPU is utime+stime
from /proc/PID/stat, from a quiet server until it is quiet again.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import corpus  # noqa: E402

ALL_ROWS = ["dump", "ready", "giveup", "cpu", "lag", "poll", "rate", "race"]


def rows_dump(big, small, nb, ns, runs):
    results = {}
    for n, store in ((ns, small), (nb, big)):
        out = os.path.join(B.run_dir(), f"dump-{n}.json")
        subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json",
                        out, f"{B.BIN} --site {B.SITE} --store sqlite:{store} dump"],
                       check=True, stdout=subprocess.DEVNULL)
        import json
        times = [t * 1000 for t in json.load(open(out))["results"][0]["times"]]
        results[n] = times
        B.row(f"dump all.rss ({B.size_label(n)})", B.spread(times, "{:.1f}") + " ms")
    ratio = statistics.median(results[nb]) / statistics.median(results[ns])
    B.row(f"dump ratio {B.size_label(nb)}/{B.size_label(ns)}", f"{ratio:.1f}× (medians)")


def give_up(server, path, clients=12, after=0.02):
    """`clients` requests for `path`, one after another, each closed after `after` s."""
    import socket
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n".encode())
        time.sleep(after)
        s.close()


def rows_ready_giveup(big, small, nb, ns, runs, do_ready, do_giveup):
    probe = f"/feeds/category/{B.slug(corpus.CATEGORIES[2][0])}.rss"
    heavy = "/feeds/all.rss"
    ready = {nb: [], ns: []}
    one_cpu, one_renders, give_cpu, give_renders = [], [], [], []
    modes = (["one", "giveup"] if do_giveup else ["ready"])
    for _ in range(runs):
        if do_ready:
            s = B.Server(small, "ready")
            ready[ns].append(s.wait_ready(probe))
            s.stop()
        for mode in modes:
            s = B.Server(big, mode)
            ready[nb].append(s.wait_ready(probe))
            if mode != "ready":
                base = s.wait_quiet()
                r0 = s.renders()
                if mode == "giveup":
                    give_up(s, heavy)
                status, _, _ = s.get(heavy, {"Accept-Encoding": "gzip"})
                assert status == 200
                cpu = s.wait_quiet() - base
                renders = s.renders() - r0
                (one_cpu if mode == "one" else give_cpu).append(cpu)
                (one_renders if mode == "one" else give_renders).append(renders)
            s.stop()
    if do_ready:
        for n in (nb, ns):
            B.row(f"serve-ready ({B.size_label(n)}, start → first 200 on {probe})",
                  B.spread(ready[n], "{:.2f}") + " s")
    if do_giveup:
        ratio = [g / o for g, o in zip(give_cpu, one_cpu)]
        B.row(f"giveup ({B.size_label(nb)}, 12 clients give up on cold {heavy} after 20 ms, then 1 waits)",
              f"CPU {B.spread(give_cpu, '{:.2f}')} s, renders {B.spread(give_renders, '{:.0f}')}; "
              f"= {B.spread(ratio, '{:.1f}')}× one cold render")
        B.row(f"giveup reference (one cold {heavy}, 1 client)",
              f"CPU {B.spread(one_cpu, '{:.3f}')} s, renders {B.spread(one_renders, '{:.0f}')}")


def make_write(method, store, writer):
    if method == "import":
        return lambda rec: B.write_import(store, rec)
    return writer.insert


def measure_write(s, watcher, write, rec):
    """One write on a quiet server: (lag s, CPU s, renders)."""
    base = s.wait_quiet()
    r0 = s.renders()
    committed = write(rec)
    watcher.expect(rec["id"], committed)
    lag = watcher.wait(rec["id"])
    cpu = s.wait_quiet() - base
    return lag, cpu, s.renders() - r0


def run_wrk(s, listfile, seconds):
    out = subprocess.run(
        ["wrk", "-t48", "-c48", f"-d{seconds}s", "--timeout", "10s", "-s",
         os.path.join(B.ROOT, "bench", "poll.lua"), f"http://127.0.0.1:{s.port}", "--", listfile],
        check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("POLL "))
    v = {k: int(x) for k, x in (kv.split("=") for kv in line.split()[1:])}
    return v


class Ticker:
    """A write every `period` s on a thread, each awaited by the watcher."""

    def __init__(self, watcher, writes, tag, period=1.0):
        self.watcher, self.writes, self.tag, self.period = watcher, writes, tag, period
        self.ids, self.stop_flag = [], False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        t0 = time.monotonic()
        k = 0
        while not self.stop_flag:
            write = self.writes[k % len(self.writes)]
            rec = B.fresh_article(k, self.tag)
            committed = write(rec)
            self.watcher.expect(rec["id"], committed)
            self.ids.append(rec["id"])
            k += 1
            delay = t0 + k * self.period - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self):
        self.stop_flag = True
        self.thread.join()
        return [self.watcher.wait(i, timeout=180) for i in self.ids]


def rows_server(big, nb, args, todo):
    s = B.Server(big, "main")
    s.wait_ready()
    feeds = s.feeds()
    urls = B.feed_urls(feeds)
    t = time.monotonic()
    etags = s.warm(urls, ("gzip",))
    size = B.size_label(nb)
    B.row(f"warm ({size})", f"{len(urls)} feed URLs ({len(feeds)} listed feeds × 3 formats) "
          f"fetched with gzip in {time.monotonic() - t:.0f} s; cache entries "
          f"{s.metric('bantin_cache_entries') or 0:.0f}, {s.metric('bantin_cache_bytes') or 0:.0f} bytes")
    cached = f"{len(urls)} feed URLs cached"
    writer = B.SqlWriter(big)
    watcher = B.Watcher(s)
    if "cpu" in todo:
        for method in ("import", "sql"):
            res = []
            for j in range(args.runs):  # run j writes the same article by either method
                res.append(measure_write(s, watcher, make_write(method, big, writer),
                                         B.fresh_article(j, f"cpu{method}")))
            B.row(f"write-cpu {method} ({size}, {cached})",
                  f"CPU {B.spread([r[1] for r in res], '{:.2f}')} s, renders "
                  f"{B.spread([r[2] for r in res], '{:.0f}')}, visible after "
                  f"{B.spread([r[0] for r in res], '{:.2f}')} s")
    if "lag" in todo:
        for method in ("import", "sql"):
            write = make_write(method, big, writer)
            lags = []
            for j in range(args.runs):
                s.wait_quiet()
                a = B.fresh_article(100 + j, f"lag{method}a")
                watcher.expect(a["id"], write(a))
                watcher.wait(a["id"])
                b = B.fresh_article(200 + j, f"lag{method}b")
                watcher.expect(b["id"], write(b))
                lags.append(watcher.wait(b["id"]))
            B.row(f"second-write-lag {method} ({size}, {cached})", B.spread(lags, "{:.2f}") + " s")
    if "poll" in todo:
        listfile = os.path.join(B.run_dir(), "poll-list.tsv")
        with open(listfile, "w") as f:
            for u in urls:
                f.write(f"{u}\t{etags.get((u, 'gzip')) or ''}\n")
        s.wait_quiet()
        quiet = run_wrk(s, listfile, args.poll_seconds)
        rate0 = quiet["requests"] / quiet["duration_us"] * 1e6
        B.row(f"poll no writes (48 clients, {len(urls)} feed URLs, half conditional, gzip, "
              f"{args.poll_seconds} s)",
              f"{rate0:.0f} req/s, p99 {quiet['p99_us'] / 1000:.1f} ms, "
              f"errors {quiet['errors']}, other statuses {quiet['bad_status']}")
        s.wait_quiet()
        ticker = Ticker(watcher, [writer.insert], "poll").start()
        busy = run_wrk(s, listfile, args.poll_seconds)
        lags = ticker.stop()
        rate1 = busy["requests"] / busy["duration_us"] * 1e6
        late = sum(1 for x in lags if x is None or x > 1.0)
        worst = max((x for x in lags if x is not None), default=float("nan"))
        B.row("poll with a SQL write every second",
              f"{rate1:.0f} req/s ({rate1 / rate0 * 100:.0f}% of no writes), p99 "
              f"{busy['p99_us'] / 1000:.1f} ms; {late} of {len(lags)} writes took > 1 s to show "
              f"(worst {worst:.2f} s, {sum(x is None for x in lags)} never); "
              f"errors {busy['errors']}, other statuses {busy['bad_status']}")
    if "rate" in todo:
        t = time.monotonic()
        s.warm(urls, B.CODINGS)
        reps = len(urls) * len(B.CODINGS)
        B.row(f"warm all codings ({size})",
              f"{reps} representations asked (feed URL × {'/'.join(B.CODINGS)}) in "
              f"{time.monotonic() - t:.0f} s; cache entries {s.metric('bantin_cache_entries') or 0:.0f}, "
              f"{s.metric('bantin_cache_bytes') or 0:.0f} bytes")
        base = s.wait_quiet()
        r0 = s.renders()
        ticker = Ticker(watcher, [make_write("import", big, writer), writer.insert], "rate").start()
        time.sleep(args.rate_seconds)
        lags = ticker.stop()
        cpu = s.wait_quiet() - base
        renders = s.renders() - r0
        n = len(lags)
        shown = [x for x in lags if x is not None]
        late = sum(1 for x in lags if x is None or x > 1.0)
        B.row(f"write-rate ({size}, {n} writes in {args.rate_seconds} s, import and SQL in turn, "
              f"{reps} representations cached)",
              f"worst lag {max(shown, default=float('nan')):.2f} s, median "
              f"{statistics.median(shown) if shown else float('nan'):.2f} s, {late} writes > 1 s; "
              f"CPU {cpu / n:.2f} s/write, renders {renders / n:.1f}/write")
    watcher.close()
    s.stop()


def row_race(small, ns, seconds):
    s = B.Server(small, "race")
    s.wait_ready()
    rec = corpus.article(0)
    cats = [B.slug(c) for c in rec["categories"]]
    regs = [B.slug(r) for r in rec.get("regions", [])]
    keys = (["/feeds/all"] + [f"/feeds/category/{c}" for c in cats]
            + [f"/feeds/region/{r}" for r in regs]
            + [f"/feeds/category/{c}/region/{r}" for c in cats for r in regs])
    urls = B.feed_urls(keys)
    s.warm(urls)
    writer = B.SqlWriter(small)
    r0 = s.renders()
    stop = threading.Event()

    def readers():
        c = s.conn()
        while not stop.is_set():
            for u in urls:
                s.get(u, {"Accept-Encoding": "gzip"}, conn=c)

    th = threading.Thread(target=readers, daemon=True)
    th.start()
    writes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        writer.delete(rec["id"])
        time.sleep(0.01)
        writer.insert(rec)
        time.sleep(0.01)
        writes += 2
    stop.set()
    th.join()
    s.wait_quiet()
    renders = s.renders() - r0
    s.stop()
    torn = sum(1 for line in open(s.log_path, errors="replace")
               if "skipping a stored article" in line)
    B.row(f"race-remove ({B.size_label(ns)}, {seconds} s: {rec['id']} deleted and re-inserted by SQL "
          f"every 20 ms, {len(urls)} feed URLs holding it polled)",
          f"{torn} torn reads logged ('skipping a stored article') in {renders:.0f} renders, "
          f"{writes} writes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="repeats of the cheap rows (default 3)")
    ap.add_argument("--dump-runs", type=int, default=10, help="hyperfine runs (default 10)")
    ap.add_argument("--poll-seconds", type=int, default=30, help="each wrk run (default 30)")
    ap.add_argument("--rate-seconds", type=int, default=120, help="write-rate run (default 120)")
    ap.add_argument("--race-seconds", type=int, default=20, help="race-remove run (default 20)")
    ap.add_argument("--big", type=int, default=1_000_000, help="big store's articles (default 1M)")
    ap.add_argument("--small", type=int, default=10_000, help="small store's articles (default 10k)")
    ap.add_argument("--only", default=",".join(ALL_ROWS), help="rows to run: " + ",".join(ALL_ROWS))
    args = ap.parse_args()
    todo = set(args.only.split(","))
    unknown = todo - set(ALL_ROWS)
    if unknown:
        sys.exit(f"unknown rows: {','.join(sorted(unknown))}")
    B.ensure_binary()
    B.header("bench/writes.sh " + " ".join(sys.argv[1:]))
    big = B.work_copy(args.big) if todo - {"race"} else None
    small = B.work_copy(args.small) if todo & {"dump", "ready", "race"} else None
    if "dump" in todo:
        rows_dump(big, small, args.big, args.small, args.dump_runs)
    if todo & {"ready", "giveup"}:
        rows_ready_giveup(big, small, args.big, args.small, args.runs,
                          "ready" in todo, "giveup" in todo)
    if todo & {"cpu", "lag", "poll", "rate"}:
        rows_server(big, args.big, args, todo)
    if "race" in todo:
        row_race(small, args.small, args.race_seconds)


if __name__ == "__main__":
    main()

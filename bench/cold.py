#!/usr/bin/env python3
"""Cold first byte, warm identity, and memory with every listed feed cached,
for one bantin binary and one SQLite store (issue 7, items 2 and 3).

    bench/cold.py BIN STORE [--runs N] [--rss] [--site SITE]

STORE is opened by BIN (and migrated if its schema is older): pass a copy.
Prints, for N never-asked category feeds (.rss) per coding, curl's
time_starttransfer and the server's CPU time for that one request (the sum
over its threads of /proc/PID/task/*/schedstat, exact where /proc/PID/stat
counts 10 ms ticks: on a shared machine the wall time mostly measures the
other processes); then gzip and identity hits of a feed whose gzip is
cached; with --rss, VmRSS after every listed feed (from /feeds.opml) was
asked in every format with gzip. The approach is bench/archive.py's (bench
branch), without its corpus and store management.
"""
import argparse, os, signal, socket, statistics, subprocess, sys, time, threading
import http.client, xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

ap = argparse.ArgumentParser()
ap.add_argument("bin"); ap.add_argument("store")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--rss", action="store_true")
ap.add_argument("--site", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "feeds", "site.toml"))
a = ap.parse_args()

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
log = open(os.devnull, "wb")
p = subprocess.Popen([a.bin, "--site", a.site, "--store", f"sqlite:{a.store}", "serve", "--listen",
                      f"127.0.0.1:{port}"], stdout=log, stderr=log, env=dict(os.environ, RUST_LOG="warn"))
try:
    def get(path, hdr=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        c.request("GET", path, headers=hdr or {}); r = c.getresponse(); b = r.read()
        if conn is None: c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), b
    t0 = time.monotonic()
    while True:
        try:
            if get("/healthz")[0] == 200: break
        except OSError: pass
        if p.poll() is not None: sys.exit("server died")
        time.sleep(0.01)
    print(f"ready after {time.monotonic() - t0:.2f} s")
    def cpu():
        # Nanoseconds on CPU, every thread of the server (schedstat is exact,
        # where /proc/PID/stat counts 10 ms ticks).
        total = 0
        for t in os.listdir(f"/proc/{p.pid}/task"):
            try:
                total += int(open(f"/proc/{p.pid}/task/{t}/schedstat").read().split()[0])
            except OSError:
                pass
        return total / 1e9
    def quiet():
        prev = cpu()
        while True:
            time.sleep(1.0); now = cpu()
            if now - prev < 0.03: return
            prev = now
    def kb(key):
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith(key + ":"): return int(line.split()[1])
    st, _, body = get("/feeds.opml")
    feeds = [urlsplit(e.get("xmlUrl")).path.rsplit(".", 1)[0] for e in ET.fromstring(body).iter("outline") if e.get("xmlUrl")]
    cats = [f for f in feeds if f.startswith("/feeds/category/") and "/region/" not in f]
    res = {"gzip": [], "identity": []}; size = {"gzip": [], "identity": []}; cpus = {"gzip": [], "identity": []}
    k = 0
    for _ in range(a.runs):
        for coding in ("gzip", "identity"):
            quiet()
            hdr = [] if coding == "identity" else ["-H", f"Accept-Encoding: {coding}"]
            c0 = cpu()
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_starttransfer} %{size_download}"]
                                 + hdr + [f"http://127.0.0.1:{port}{cats[k]}.rss"], capture_output=True, text=True, check=True).stdout.split()
            time.sleep(0.05)
            cpus[coding].append((cpu() - c0) * 1000)
            assert out[0] == "200", out
            res[coding].append(float(out[1]) * 1000); size[coding].append(int(out[2])); k += 1
    for c in res:
        v = res[c]
        print(f"cold-first-byte {c}: median {statistics.median(v):.1f} ms (min {min(v):.1f}, max {max(v):.1f}, n={len(v)}); "
              f"server CPU median {statistics.median(cpus[c]):.1f} ms (min {min(cpus[c]):.1f}); bodies {min(size[c])}-{max(size[c])} B")
    # Identity of a feed whose gzip is cached (identity decoded on demand in
    # the new scheme), against gzip hits of the same feed.
    regs = [f for f in feeds if f.startswith("/feeds/region/")]
    url = f"http://127.0.0.1:{port}{regs[0]}.rss"
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", url], check=True)
    for coding in ("gzip", "identity"):
        hdr = [] if coding == "identity" else ["-H", f"Accept-Encoding: {coding}"]
        ts, cs = [], []
        for _ in range(20):
            c0 = cpu()
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}"] + hdr + [url],
                                 capture_output=True, text=True, check=True).stdout
            time.sleep(0.02)
            cs.append((cpu() - c0) * 1000); ts.append(float(out) * 1000)
        print(f"warm {coding} (gzip cached) {regs[0]}.rss: first byte median {statistics.median(ts):.2f} ms "
              f"(min {min(ts):.2f}); server CPU median {statistics.median(cs):.2f} ms (min {min(cs):.2f}), n=20")
    if a.rss:
        urls = [f"{f}.{x}" for f in feeds for x in ("rss", "atom", "json")]
        local = threading.local()
        def one(u):
            if not hasattr(local, "c"): local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            st, _, _ = get(u, {"Accept-Encoding": "gzip"}, conn=local.c); assert st == 200, (u, st)
        t = time.monotonic()
        with ThreadPoolExecutor(3) as ex: list(ex.map(one, urls))
        quiet()
        _, _, m = get("/metrics")
        met = {l.rsplit(" ", 1)[0]: l.rsplit(" ", 1)[1] for l in m.decode().splitlines() if l and not l.startswith("#")}
        print(f"rss-all-cached: {len(urls)} URLs ({len(feeds)} feeds x 3) warmed in {time.monotonic() - t:.0f} s: "
              f"VmRSS {kb('VmRSS') / 1024:.0f} MB, VmHWM {kb('VmHWM') / 1024:.0f} MB; "
              f"cache entries {met.get('bantin_cache_entries')}, bytes {float(met.get('bantin_cache_bytes', 0)) / 1e6:.0f} MB")
finally:
    p.send_signal(signal.SIGTERM)
    try: p.wait(15)
    except subprocess.TimeoutExpired: p.kill()

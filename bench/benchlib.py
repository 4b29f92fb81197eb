"""Shared parts of the archive-scale benchmarks (bench/writes.py, bench/archive.py).

What lives here and why:
- the cached corpus and the pristine imported stores under BENCH_DIR, keyed by
  the generator's and the schema's hashes, so a run reuses hours of work only
  when it is still the same data and the same schema;
- a `Server` wrapper that starts `bantin serve` on a free port and reads its
  CPU time (/proc/PID/stat), memory (/proc/PID/status) and /metrics by name;
- the two ways a write is made (`bantin import one.jsonl`, and a CMS-style
  SQL insert into the documented schema) and the visibility poll (a
  conditional GET every ~10 ms until the new guid shows);
- a row printer: `row-name: value unit [min/median/max over N]`.

Nothing here assumes a server feature: feeds come from /feeds.opml, metrics
are parsed by name and a missing one reads as None.
"""

import atexit
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import unicodedata
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "bantin")
SITE = os.path.join(ROOT, "feeds", "site.toml")
BENCH_DIR = os.environ.get("BENCH_DIR", "/work/benchdata")
CLK_TCK = os.sysconf("SC_CLK_TCK")
FORMATS = ("rss", "atom", "json")
CODINGS = ("gzip", "identity", "br", "zstd")


def log(msg):
    """Progress to stderr; rows go to stdout."""
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- cleanup

_cleanups = []


def on_exit(fn):
    """Run `fn` at exit, on SIGTERM/SIGINT too (helpers never outlive us)."""
    _cleanups.append(fn)


def _cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning the rest
            print(f"# cleanup: {e}", file=sys.stderr)


atexit.register(_cleanup)


def _on_signal(signum, _frame):
    _cleanup()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def run_dir():
    """A scratch folder for this run under BENCH_DIR, removed at exit."""
    global _RUN_DIR
    if _RUN_DIR is None:
        _RUN_DIR = os.path.join(BENCH_DIR, f"run-{os.getpid()}")
        os.makedirs(_RUN_DIR, exist_ok=True)
        on_exit(lambda: shutil.rmtree(_RUN_DIR, ignore_errors=True))
    return _RUN_DIR


_RUN_DIR = None


# ---------------------------------------------------------------- data

def _hash_files(paths):
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(os.path.basename(p).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:10]


def corpus_hash():
    return _hash_files([os.path.join(ROOT, "bench", "corpus.py")])


def schema_hash():
    """The SQLite migrations: a store imported under other migrations is not reused."""
    d = os.path.join(ROOT, "migrations", "sqlite")
    return _hash_files([os.path.join(d, f) for f in os.listdir(d)])


def size_label(n):
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def corpus_file(n):
    """BENCH_DIR/corpus/corpus-N-HASH.jsonl, generated once (or cut from a bigger one)."""
    d = os.path.join(BENCH_DIR, "corpus")
    os.makedirs(d, exist_ok=True)
    h = corpus_hash()
    path = os.path.join(d, f"corpus-{n}-{h}.jsonl")
    if os.path.exists(path):
        return path
    tmp = path + f".tmp{os.getpid()}"
    on_exit(lambda: os.path.exists(tmp) and os.remove(tmp))
    bigger = sorted(
        (int(m.group(1)), os.path.join(d, f))
        for f in os.listdir(d)
        if (m := re.fullmatch(rf"corpus-(\d+)-{h}\.jsonl", f)) and int(m.group(1)) > n
    )
    t = time.monotonic()
    if bigger:  # record i is a function of i: the small corpus is a prefix
        with open(bigger[0][1], "rb") as src, open(tmp, "wb") as dst:
            for k, line in enumerate(src):
                if k == n:
                    break
                dst.write(line)
    else:
        log(f"generating {n} articles (bench/corpus.py) ...")
        with open(tmp, "wb") as dst:
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "corpus.py"), str(n),
                            "--jobs", "2"], stdout=dst, check=True)
    os.rename(tmp, path)
    log(f"corpus {path}: {os.path.getsize(path) / 1e6:.0f} MB in {time.monotonic() - t:.0f} s")
    return path


def pristine_path(n):
    d = os.path.join(BENCH_DIR, "stores")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"store-{n}-{corpus_hash()}-{schema_hash()}.db")


def pristine_store(n):
    """An imported store of the n-article corpus, made once per corpus and schema."""
    path = pristine_path(n)
    if os.path.exists(path):
        return path
    src = corpus_file(n)
    tmp = path + f".tmp{os.getpid()}"
    on_exit(lambda: remove_store(tmp))
    log(f"importing {n} articles into a pristine store ...")
    t = time.monotonic()
    subprocess.run([BIN, "--site", SITE, "--store", f"sqlite:{tmp}", "import", src],
                   check=True, stdout=subprocess.DEVNULL)
    adopt_pristine(n, tmp)
    log(f"pristine store {path}: {os.path.getsize(path) / 1e9:.2f} GB in {time.monotonic() - t:.0f} s")
    return path


def adopt_pristine(n, store):
    """Keep a just-imported store as the pristine one if there is none yet."""
    path = pristine_path(n)
    if os.path.exists(path) or not os.path.exists(store):
        return False
    checkpoint(store)
    os.rename(store, path)
    return True


def checkpoint(store):
    """Fold the WAL into the main file, so one file is the whole store."""
    c = sqlite3.connect(store)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def remove_store(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def work_copy(n, name=None):
    """A copy of the pristine store for this run (writes don't touch the pristine one)."""
    src = pristine_store(n)
    dst = os.path.join(run_dir(), name or f"store-{n}.db")
    t = time.monotonic()
    subprocess.run(["cp", "--reflink=auto", src, dst], check=True)
    log(f"copied the {size_label(n)} store in {time.monotonic() - t:.0f} s")
    return dst


def slug(name):
    """SPEC's slug rule, enough for the corpus's Vietnamese names."""
    s = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


# ---------------------------------------------------------------- the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`bantin serve` on a free port, its stderr in a log file."""

    def __init__(self, store, tag="serve", rust_log="warn"):
        self.port = free_port()
        self.store = store
        self.log_path = os.path.join(run_dir(), f"{tag}-{self.port}.log")
        env = dict(os.environ, RUST_LOG=rust_log)
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [BIN, "--site", SITE, "--store", store if "://" in store else f"sqlite:{store}", "serve",
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=self._log, stderr=self._log, env=env)
        on_exit(self.stop)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, headers=None, conn=None, timeout=120):
        """(status, headers dict lowercased, body)."""
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            if own:
                c.close()

    def wait_ready(self, path="/healthz", timeout=600):
        """Seconds from process start to the first 200 on `path`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}; see {self.log_path}")
            try:
                status, _, _ = self.get(path, timeout=timeout)
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"server not ready after {timeout} s")

    def cpu(self):
        """User + system CPU seconds of the server so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status_kb(self, key):
        """VmRSS / VmHWM (kB) from /proc/PID/status."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def metrics(self):
        """/metrics as {name or name{labels}: float}."""
        _, _, body = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    out[k] = float(v)
                except ValueError:
                    pass
        return out

    def metric(self, name):
        return self.metrics().get(name)

    def renders(self):
        """Renders so far; NaN if the server stops exporting the counter."""
        n = self.metric("bantin_renders_total")
        return float("nan") if n is None else n

    def wait_quiet(self, window=1.0, busy=0.03, timeout=600):
        """Wait until the server used less than `busy` s of CPU in `window` s.
        Returns the CPU reading at the start of the quiet window."""
        deadline = time.monotonic() + timeout
        prev = self.cpu()
        while time.monotonic() < deadline:
            time.sleep(window)
            now = self.cpu()
            if now - prev < busy:
                return prev
            prev = now
        log("server never went quiet")
        return prev

    def feeds(self):
        """Feed paths without extension, from /feeds.opml (every listed feed)."""
        status, _, body = self.get("/feeds.opml")
        assert status == 200, f"/feeds.opml: {status}"
        paths = []
        for el in ET.fromstring(body).iter("outline"):
            url = el.get("xmlUrl")
            if url:
                p = urlsplit(url).path
                paths.append(p.rsplit(".", 1)[0])
        return paths

    def warm(self, paths, codings=("gzip",), threads=3):
        """GET every path in every coding; returns {(path, coding): etag}."""
        jobs = [(p, c) for p in paths for c in codings]
        etags = {}
        local = threading.local()

        def one(job):
            p, c = job
            if not hasattr(local, "c"):
                local.c = self.conn()
            hdr = {} if c == "identity" else {"Accept-Encoding": c}
            status, h, _ = self.get(p, hdr, conn=local.c)
            if status != 200:
                raise RuntimeError(f"{p} ({c}): {status}")
            etags[job] = h.get("etag")

        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(one, jobs))
        return etags


def feed_urls(feeds):
    return [f"{p}.{f}" for p in feeds for f in FORMATS]


# ---------------------------------------------------------------- writes

def fresh_article(k, tag):
    """A new article shaped like the corpus, published a second ago."""
    ts = int(time.time()) - 1
    return corpus.article(50_000_000 + k, published_ts=ts, id_=f"w-{tag}-{k}")


def write_import(store, rec):
    """`bantin import one.jsonl`; returns the monotonic time it exited (≥ commit)."""
    path = os.path.join(run_dir(), f"{rec['id']}.jsonl")
    with open(path, "w") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    subprocess.run([BIN, "--site", SITE, "--store", f"sqlite:{store}", "import", path],
                   check=True, stdout=subprocess.DEVNULL)
    return time.monotonic()


class SqlWriter:
    """A CMS writing the documented schema with Python's sqlite3."""

    def __init__(self, store):
        self.db = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA foreign_keys = ON")
        on_exit(self.db.close)

    def insert(self, rec):
        """Insert one article and its links in one transaction; returns commit time."""
        ts = int(corpus.datetime.fromisoformat(rec["published"]).timestamp())
        us = ts * 1_000_000
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO articles (id, title, summary, body, content_html, authors, published,"
            " updated, published_us, url, image) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (rec["id"], rec["title"], rec.get("summary"), rec.get("body"), rec.get("content_html"),
             json.dumps(rec.get("authors", []), ensure_ascii=False), rec["published"],
             rec.get("updated"), us, rec.get("url"), rec.get("image")))
        for table, names in (("article_categories", rec["categories"]),
                             ("article_regions", rec.get("regions", []))):
            for pos, name in enumerate(names):
                name = unicodedata.normalize("NFC", name)
                db.execute(f"INSERT INTO {table} (article_id, slug, name, position, published_us)"
                           " VALUES (?,?,?,?,?)", (rec["id"], slug(name), name, pos, us))
        db.execute("COMMIT")
        return time.monotonic()

    def delete(self, id_):
        self.db.execute("DELETE FROM articles WHERE id = ?", (id_,))
        return time.monotonic()


class Watcher:
    """Polls one feed (gzip, as the warmed cache holds it) with conditional
    GETs every ~10 ms while a write is awaited, and notes when each awaited
    id first appears in it."""

    def __init__(self, server, path="/feeds/all.rss", interval=0.01):
        self.server, self.path, self.interval = server, path, interval
        self.pending = {}  # id -> commit time
        self.lags = {}  # id -> seconds from commit to seen
        self.lock = threading.Lock()
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        on_exit(self.close)

    def expect(self, id_, committed):
        with self.lock:
            self.pending[id_] = committed

    def _run(self):
        conn, etag, body = self.server.conn(), None, b""
        while not self.stop_flag:
            with self.lock:
                idle = not self.pending
            if idle:  # no polling between writes: it would count as server CPU
                time.sleep(0.002)
                continue
            try:
                hdr = {"Accept-Encoding": "gzip"}
                if etag:
                    hdr["If-None-Match"] = etag
                status, h, b = self.server.get(self.path, hdr, conn=conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self.server.conn()
                continue
            seen = time.monotonic()
            if status == 200:
                etag = h.get("etag")
                body = gzip.decompress(b) if h.get("content-encoding") == "gzip" else b
            with self.lock:
                for id_, committed in list(self.pending.items()):
                    if f"/{id_}<".encode() in body or f"/{id_}\"".encode() in body:
                        self.lags[id_] = seen - committed
                        del self.pending[id_]
            time.sleep(self.interval)
        conn.close()

    def wait(self, id_, timeout=120):
        """Lag of `id_` in seconds (None if it never showed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if id_ in self.lags:
                    return self.lags[id_]
            time.sleep(0.002)
        return None

    def close(self):
        self.stop_flag = True
        self.thread.join(5)


# ---------------------------------------------------------------- output

def spread(values, fmt="{:.3g}"):
    if len(values) == 1:
        return fmt.format(values[0])
    return (f"{fmt.format(statistics.median(values))} "
            f"(min/median/max {fmt.format(min(values))}/{fmt.format(statistics.median(values))}/"
            f"{fmt.format(max(values))} over {len(values)})")


def row(name, value):
    print(f"{name}: {value}", flush=True)


def header(script):
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    print(f"# {script} at {rev}, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cpus, "
          f"load {' '.join(load)}, BENCH_DIR={BENCH_DIR}", flush=True)


def ensure_binary():
    if os.environ.get("BENCH_NO_BUILD") != "1":
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"no binary at {BIN}")

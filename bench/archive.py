#!/usr/bin/env python3
"""Issue 7's table ("archive-sized stores"), one line a row.

    bench/archive.sh [--runs N] [--skip-import] [--only ROW,...]

Rows (ROW for --only in brackets):
  import          [import]  `bantin import` of the 1M and 10k corpora into an empty store,
                            on a pseudo-terminal: wall time and peak RSS (/usr/bin/time -v)
  import-progress [import]  whether anything shows on the terminal before the import ends
  cold-first-byte [cold]    curl time_starttransfer of a never-asked 50-item category feed,
                            gzip and identity, on the 10k and the 1M store
  rss-all-cached  [rss]     server RSS with every listed feed cached (rss/atom/json, gzip asked)
  build           [build]   `bantin build` of the 1M store, then again after one new article:
                            time, peak RSS, what bantin says, and files rewritten (inode or
                            mtime changed) against files whose bytes changed

The 1M import row makes the store the other rows use (and the pristine store
of bench/writes.sh when there is none for this schema yet); --skip-import
copies the pristine store instead.
"""

import argparse
import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

ALL_ROWS = ["import", "cold", "rss", "build"]


def timed(cmd, **kw):
    """Run under /usr/bin/time -v: (wall s, peak RSS MB, stdout)."""
    tf = os.path.join(B.run_dir(), "time.txt")
    out = subprocess.run(["/usr/bin/time", "-v", "-o", tf] + cmd, check=True,
                         capture_output=True, text=True, **kw).stdout
    return _time_file(tf) + (out,)


def _time_file(tf):
    text = open(tf).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    h, m, s = wall.groups()
    secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return secs, rss / 1024


def import_on_tty(store, src):
    """`bantin import` with stdout and stderr on a pseudo-terminal, as a person
    at a shell runs it. Returns (wall s, peak MB, [(t, text)] of what showed)."""
    tf = os.path.join(B.run_dir(), "time-import.txt")
    master, slave = pty.openpty()
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tf, B.BIN, "--site", B.SITE, "--store",
                          f"sqlite:{store}", "import", src],
                         stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    B.on_exit(lambda: p.poll() is None and p.kill())
    os.close(slave)
    shown = []
    while True:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown.append((time.monotonic() - t0, data.decode(errors="replace")))
        elif p.poll() is not None:
            break
    p.wait()
    os.close(master)
    if p.returncode not in (0,):
        raise RuntimeError(f"import exited {p.returncode}: {''.join(t for _, t in shown)[-500:]}")
    wall, rss = _time_file(tf)
    return wall, rss, shown


def rows_import(n, label):
    src = B.corpus_file(n)
    store = os.path.join(B.run_dir(), f"import-{n}.db")
    wall, rss, shown = import_on_tty(store, src)
    size = os.path.getsize(src) / 1e6
    B.row(f"import ({label}, {size:,.0f} MB of JSON Lines, on a terminal)",
          f"{wall:.1f} s, peak RSS {rss:.0f} MB")
    text = "".join(t for _, t in shown)
    last = text.strip().splitlines()[-1] if text.strip() else ""
    # Progress = output more than a second before the summary line came
    # (the process may take seconds more to exit after printing it).
    t_last = next((t for t, chunk in reversed(shown) if last and last in chunk), wall)
    early = [t for t, _ in shown if t < t_last - 1.0]
    B.row(f"import-progress ({label})",
          (f"yes: first output after {early[0]:.1f} s, {len(shown)} chunks written to the terminal"
           if early else f"no: nothing before the summary line ({len(shown)} chunk(s))")
          + f"; summary after {t_last:.1f} s of {wall:.1f} s: {last!r}")
    B.checkpoint(store)
    B.row(f"store size ({label})", f"{os.path.getsize(store) / 1e6:,.0f} MB")
    return store


def store_for(n, args, imported):
    if n in imported:
        return imported[n]
    return B.work_copy(n)


def cold_first_byte(s, path, coding):
    hdr = [] if coding == "identity" else ["-H", f"Accept-Encoding: {coding}"]
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                          "%{http_code} %{time_starttransfer} %{size_download}"] + hdr
                         + [f"http://127.0.0.1:{s.port}{path}"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert out[0] == "200", f"{path}: {out[0]}"
    return float(out[1]) * 1000, int(out[2])


def rows_cold_rss(stores, args, todo):
    for n, store in stores:
        label = B.size_label(n)
        s = B.Server(store, f"cold{n}")
        s.wait_ready()
        feeds = s.feeds()
        cats = [p for p in feeds if p.startswith("/feeds/category/") and "/region/" not in p]
        if "cold" in todo:
            # A never-asked feed key per measure: a server that renders all
            # formats or codings of a key at once must not make later measures warm.
            need = 2 * args.runs
            if len(cats) < need:
                sys.exit(f"{len(cats)} category feeds, {need} needed for --runs {args.runs}")
            res = {"gzip": [], "identity": []}
            sizes = {"gzip": [], "identity": []}
            k = 0
            for _ in range(args.runs):
                for coding in ("gzip", "identity"):
                    s.wait_quiet()
                    ms, nbytes = cold_first_byte(s, cats[k] + ".rss", coding)
                    res[coding].append(ms)
                    sizes[coding].append(nbytes)
                    k += 1
            for coding in ("gzip", "identity"):
                B.row(f"cold-first-byte {coding} ({label}, never-asked category .rss)",
                      f"{B.spread(res[coding], '{:.1f}')} ms "
                      f"(bodies {min(sizes[coding]) // 1000}–{max(sizes[coding]) // 1000} kB)")
        if "rss" in todo and n == stores[-1][0]:
            urls = B.feed_urls(feeds)
            t = time.monotonic()
            s.warm(urls, ("gzip",))
            s.wait_quiet()
            B.row(f"rss-all-cached ({label}, {len(urls)} feed URLs = {len(feeds)} listed feeds × 3 "
                  f"formats, gzip asked; warmed in {time.monotonic() - t:.0f} s)",
                  f"RSS {s.status_kb('VmRSS') / 1024:.0f} MB (peak {s.status_kb('VmHWM') / 1024:.0f} MB);"
                  f" cache entries {s.metric('bantin_cache_entries') or 0:.0f}, "
                  f"{(s.metric('bantin_cache_bytes') or 0) / 1e6:.0f} MB by /metrics")
        s.stop()


def snapshot(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                digest = hashlib.sha1(fh.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_ino, st.st_mtime_ns, digest)
    return out


def rows_build(n, store):
    label = B.size_label(n)
    out = os.path.join(B.run_dir(), "public")
    cmd = [B.BIN, "--site", B.SITE, "--store", f"sqlite:{store}", "build", "--out", out]
    wall, rss, said = timed(cmd)
    before = snapshot(out)
    B.row(f"build ({label}, empty folder)",
          f"{wall:.1f} s, peak RSS {rss:.0f} MB, {len(before)} files; bantin: {said.strip()!r}")
    B.write_import(store, B.fresh_article(1, "build"))
    time.sleep(1.1)  # mtimes of a rewrite must differ from the first build's
    wall, rss, said = timed(cmd)
    after = snapshot(out)
    common = before.keys() & after.keys()
    rewritten = sum(1 for p in common if before[p][:2] != after[p][:2])
    changed = sum(1 for p in common if before[p][2] != after[p][2])
    B.row(f"build-again ({label}, after one new article)",
          f"{wall:.1f} s, peak RSS {rss:.0f} MB; rewrote {rewritten} of {len(common)} files, "
          f"{changed} with changed bytes, {len(after.keys() - before.keys())} new, "
          f"{len(before.keys() - after.keys())} removed; bantin: {said.strip()!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="repeats of the cheap rows (default 3)")
    ap.add_argument("--big", type=int, default=1_000_000, help="big store's articles (default 1M)")
    ap.add_argument("--small", type=int, default=10_000, help="small store's articles (default 10k)")
    ap.add_argument("--skip-import", action="store_true",
                    help="don't time the imports; copy the pristine stores")
    ap.add_argument("--only", default=",".join(ALL_ROWS), help="rows to run: " + ",".join(ALL_ROWS))
    args = ap.parse_args()
    todo = set(args.only.split(","))
    if args.skip_import:
        todo.discard("import")
    if todo - set(ALL_ROWS):
        sys.exit(f"unknown rows: {','.join(sorted(todo - set(ALL_ROWS)))}")
    B.ensure_binary()
    B.header("bench/archive.sh " + " ".join(sys.argv[1:]))
    imported = {}
    if "import" in todo:
        for n in (args.small, args.big):
            store = rows_import(n, B.size_label(n))
            if B.adopt_pristine(n, store):
                store = B.work_copy(n)
            imported[n] = store
    stores = [(n, store_for(n, args, imported)) for n in (args.small, args.big)
              if todo & {"cold", "rss"} or (n == args.big and "build" in todo)]
    if todo & {"cold", "rss"}:
        rows_cold_rss(stores, args, todo)
    if "build" in todo:
        rows_build(args.big, dict(stores)[args.big])


if __name__ == "__main__":
    main()

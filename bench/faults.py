#!/usr/bin/env python3
"""Faults (issue 9): what bantin does when the ground moves, one line each.

- SIGKILL in the middle of an import: the store as before, `check` clean.
- The SQLite file deleted under a running server, then put back: how soon
  /healthz says so, what cached and cold feeds answer meanwhile, how soon
  the server serves again and sees a write made meanwhile.
- PostgreSQL stopped and started under a running server: the same, and the
  slowest answer while it was down.
- stdout closed or full: exit codes and what stderr says.

    BENCH_DIR=/work/benchdata bench/faults.sh [--articles 10000]
"""
import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


def wait_for(check, timeout=30.0, step=0.02):
    """Seconds until `check()` is true, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def count(store):
    c = sqlite3.connect(store)
    n = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    c.close()
    return n


def row_kill_import(articles):
    store = B.work_copy(articles, "kill")
    before = count(store)
    src = B.corpus_file(articles)
    # Fresh ids, so that every record is a write: the same corpus shifted.
    path = os.path.join(B.run_dir(), "kill.jsonl")
    with open(src) as f, open(path, "w") as out:
        for line in f:
            out.write(line.replace('"id": "bt-', '"id": "kill-', 1))
    p = subprocess.Popen([B.BIN, "--site", B.SITE, "--store", f"sqlite:{store}", "import", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    alive = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    check = subprocess.run([B.BIN, "--site", B.SITE, "--store", f"sqlite:{store}", "check"],
                           capture_output=True, text=True)
    after = count(store)
    B.row("kill-import (SIGKILL 0.5 s into an import of "
          f"{articles} new articles)", f"{'killed mid-import' if alive else 'import had ended'}; "
          f"articles {before} before, {after} after; check exit {check.returncode} "
          f"({check.stdout.strip().splitlines()[-1] if check.stdout.strip() else check.stderr.strip()})")


def row_file_swap(articles):
    store = B.work_copy(articles, "swap")
    s = B.Server(store, "swap")
    s.wait_ready()
    cached = "/feeds/all.rss"
    s.get(cached)
    B.checkpoint(store)
    backup = store + ".bak"
    shutil.copyfile(store, backup)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(store + suffix):
            os.remove(store + suffix)
    t_down = wait_for(lambda: s.get("/healthz")[0] == 503)
    health = s.get("/healthz")[2].decode().strip()
    c_status = s.get(cached)[0]
    cold_status, cold_h, _ = s.get("/feeds/all.json")
    # Put it back, with one more article than the server last saw.
    shutil.copyfile(backup, store)
    rec = B.fresh_article(1, "swap")
    B.SqlWriter(store).insert(rec)
    t_back = wait_for(lambda: rec["id"].encode() in s.get(cached)[2])
    B.row("file-deleted (SQLite store deleted under the server)",
          f"/healthz 503 after {t_down:.2f} s ({health!r}); cached feed {c_status}; "
          f"cold feed {cold_status} Retry-After {cold_h.get('retry-after')}")
    B.row("file-restored (put back with a new article)",
          f"the new article served after {t_back:.2f} s" if t_back is not None
          else "the new article never showed")
    s.stop()


def pg_bin():
    for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
        p = os.path.join("/usr/lib/postgresql", d, "bin")
        if os.path.exists(os.path.join(p, "pg_ctl")):
            return p
    return None


def row_postgres(articles):
    bindir = pg_bin()
    if not bindir:
        B.row("postgres-stopped", "skipped: PostgreSQL is not installed")
        return
    data = tempfile.mkdtemp(dir=B.run_dir())
    os.chmod(B.run_dir(), 0o755)
    os.chmod(data, 0o777)
    port = B.free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", f"{data}/db", "-A", "trust", "-U", "postgres"],
                   check=True, stdout=subprocess.DEVNULL)

    def pg_ctl(*a):
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", f"{data}/db", "-w", "-l", f"{data}/log",
                                "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", *a],
                       check=True, stdout=subprocess.DEVNULL)

    pg_ctl("start")
    B.on_exit(lambda: subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", f"{data}/db", "stop",
                                              "-m", "immediate"], capture_output=True))
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([B.BIN, "--site", B.SITE, "--store", url, "import", B.corpus_file(articles)],
                   check=True, stdout=subprocess.DEVNULL)
    s = B.Server(url, "pg")
    s.wait_ready()
    cached = "/feeds/all.rss"
    s.get(cached)
    pg_ctl("stop", "-m", "fast")
    t_down = wait_for(lambda: s.get("/healthz")[0] == 503)
    slowest = 0.0
    statuses = {}
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        for path in (cached, "/feeds/all.json", "/healthz"):
            t = time.monotonic()
            status, h, _ = s.get(path, timeout=30)
            slowest = max(slowest, time.monotonic() - t)
            statuses.setdefault(path, set()).add((status, h.get("retry-after")))
        time.sleep(0.05)
    with open(s.log_path, "rb") as f:
        log_lines = f.read().decode(errors="replace").count("does not answer")
    pg_ctl("start")
    t_up = wait_for(lambda: s.get("/healthz")[0] == 200)
    rec = B.fresh_article(2, "pg")
    path = os.path.join(B.run_dir(), "pg-one.jsonl")
    with open(path, "w") as f:
        f.write(B.json.dumps(rec, ensure_ascii=False) + "\n")
    subprocess.run([B.BIN, "--site", B.SITE, "--store", url, "import", path], check=True,
                   stdout=subprocess.DEVNULL)
    t_fresh = wait_for(lambda: rec["id"].encode() in s.get(cached)[2])
    shown = {p: sorted(v, key=str) for p, v in statuses.items()}
    B.row("postgres-stopped", f"/healthz 503 after {t_down:.2f} s; answers meanwhile {shown}; "
          f"slowest {slowest:.3f} s; 'does not answer' logged {log_lines} time(s)")
    B.row("postgres-started", f"/healthz 200 after {t_up:.2f} s; a write just after served in "
          f"{t_fresh:.2f} s" if t_up is not None and t_fresh is not None else "did not recover")
    s.stop()


def row_closed_stdout(articles):
    store = B.work_copy(articles, "pipe")
    base = [B.BIN, "--site", B.SITE, "--store", f"sqlite:{store}"]
    head = subprocess.run(" ".join(base) + " dump | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True)
    full = subprocess.run(base + ["dump"], stdout=open("/dev/full", "w"), stderr=subprocess.PIPE,
                          text=True)
    check = subprocess.run(" ".join(base) + " check 2>&1 | head -0; echo ${PIPESTATUS[0]}",
                           shell=True, executable="/bin/bash", capture_output=True, text=True)
    B.row("stdout-closed (dump | head -c 100)", f"exit {head.stdout.strip()}, stderr "
          f"{head.stderr.strip()!r}")
    B.row("stdout-full (dump >/dev/full)", f"exit {full.returncode}, stderr {full.stderr.strip()!r}")
    B.row("stderr-closed (check 2>&1 | head -0)", f"exit {check.stdout.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=10_000)
    args = ap.parse_args()
    B.ensure_binary()
    B.header("bench/faults.sh " + " ".join(sys.argv[1:]))
    row_kill_import(args.articles)
    row_file_swap(args.articles)
    row_postgres(args.articles)
    row_closed_stdout(args.articles)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Import time and cold first byte against store size: issue 7's plot.

    bench/curve.sh [--sizes 10000,30000,...] [--runs N] [--png PATH] [--csv PATH]
    bench/curve.sh --replot CSV [--png PATH]

For each size N (the first N records of the bench corpus), in order:
  import          `bantin import` into an empty SQLite store: wall time, peak RSS
  cold-first-byte a server on that store; curl time_starttransfer of never-asked
                  50-item category feeds (.rss), gzip and identity, N runs each:
                  the median is plotted, min and max as error bars

Every size is a fresh import (not a cut of a bigger store), so the import line
is what a newsroom of that size waits for. The figures go to stdout as rows, to
a CSV, and to a PNG (matplotlib: `apt-get install python3-matplotlib`) that
BENCHMARKS.md shows.
"""

import argparse
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import archive as A  # noqa: E402
import benchlib as B  # noqa: E402

DEFAULT_SIZES = "10000,30000,100000,300000,1000000"


def measure(n, runs):
    src = B.corpus_file(n)
    store = os.path.join(B.run_dir(), f"curve-{n}.db")
    wall, rss, _ = A.import_on_tty(store, src)
    label = B.size_label(n)
    B.row(f"import ({label})", f"{wall:.1f} s, peak RSS {rss:.0f} MB")
    s = B.Server(store, f"curve{n}")
    s.wait_ready()
    cats = [p for p in s.feeds() if p.startswith("/feeds/category/") and "/region/" not in p]
    if len(cats) < 2 * runs:
        sys.exit(f"{len(cats)} category feeds, {2 * runs} needed for --runs {runs}")
    cold = {"gzip": [], "identity": []}
    k = 0
    for _ in range(runs):
        for coding in cold:
            s.wait_quiet()
            ms, _ = A.cold_first_byte(s, cats[k] + ".rss", coding)
            cold[coding].append(ms)
            k += 1
    s.stop()
    B.remove_store(store)
    for coding, values in cold.items():
        B.row(f"cold-first-byte {coding} ({label})", f"{B.spread(values, '{:.1f}')} ms")
    return {"articles": n, "import_s": wall, "import_peak_mb": rss,
            **{f"cold_{c}_{f.__name__}_ms": f(v) for c, v in cold.items()
               for f in (min, statistics.median, max)}}


def plot(results, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["articles"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(xs, [r["import_s"] for r in results], "o-", color="tab:blue")
    left.axhline(30, color="grey", ls="--", lw=1, label="target for 1M: 30 s")
    left.set(title="bantin import (SQLite, one transaction)", xlabel="articles",
             ylabel="wall seconds", xscale="log")
    left.legend(loc="upper left")
    for coding, color in (("gzip", "tab:green"), ("identity", "tab:orange")):
        med = [r[f"cold_{coding}_median_ms"] for r in results]
        lo = [m - r[f"cold_{coding}_min_ms"] for m, r in zip(med, results)]
        hi = [r[f"cold_{coding}_max_ms"] - m for m, r in zip(med, results)]
        right.errorbar(xs, med, yerr=[lo, hi], fmt="o-", capsize=3, color=color,
                       label=f"{coding} (median, min–max)")
    right.axhline(10, color="grey", ls="--", lw=1, label="target: 10 ms")
    right.set(title="first byte of a cold 50-item feed", xlabel="articles in the store",
              ylabel="ms", xscale="log", ylim=(0, None))
    right.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    B.log(f"plot written to {png}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"store sizes (default {DEFAULT_SIZES})")
    ap.add_argument("--runs", type=int, default=3, help="cold feeds per coding and size (default 3)")
    ap.add_argument("--png", default="bench/curve.png", help="plot (default bench/curve.png)")
    ap.add_argument("--csv", default=None, help="figures as CSV (default: beside the PNG)")
    ap.add_argument("--replot", metavar="CSV", help="only draw the PNG from an earlier run's CSV")
    args = ap.parse_args()
    if args.replot:
        with open(args.replot) as f:
            plot([{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)], args.png)
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    B.ensure_binary()
    B.header("bench/curve.sh " + " ".join(sys.argv[1:]))
    results = [measure(n, args.runs) for n in sizes]
    path = args.csv or os.path.splitext(args.png)[0] + ".csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0]))
        w.writeheader()
        w.writerows(results)
    B.log(f"figures written to {path}")
    plot(results, args.png)


if __name__ == "__main__":
    main()

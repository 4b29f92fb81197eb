#!/usr/bin/env bash
# Issue 6's table (writes, change log): one line per row. See bench/writes.py
# for the rows and options, BENCHMARKS.md for figures.
#   needs: apt-get install wrk hyperfine; python3
#   usage: BENCH_DIR=/work/benchdata bench/writes.sh [--runs N] [--only ROW,...]
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python driver kills its servers on exit; this catches the driver itself.
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/writes.py "$@" &
driver=$!
wait "$driver"

#!/usr/bin/env bash
# Issue 7's table (archive scale): one line per row. See bench/archive.py
# for the rows and options, BENCHMARKS.md for figures.
#   needs: python3, curl, /usr/bin/time (GNU time)
#   usage: BENCH_DIR=/work/benchdata bench/archive.sh [--runs N] [--skip-import] [--only ROW,...]
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python driver kills its servers on exit; this catches the driver itself.
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/archive.py "$@" &
driver=$!
wait "$driver"

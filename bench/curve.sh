#!/usr/bin/env bash
# Import time and cold first byte against store size (the plot in BENCHMARKS.md). See bench/curve.py
# for the rows and options, BENCHMARKS.md for figures.
#   needs: python3, curl, /usr/bin/time (GNU time)
#   usage: BENCH_DIR=/work/benchdata bench/curve.sh [--sizes N,...] [--runs N] [--png PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python driver kills its servers on exit; this catches the driver itself.
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/curve.py "$@" &
driver=$!
wait "$driver"

#!/usr/bin/env bash
# Issue 10's keyword-feed row: first byte of cold keyword feeds on the 1M
# store. See bench/search.py.
#   usage: BENCH_DIR=/work/benchdata bench/search.sh [--articles 1000000] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/search.py "$@" &
driver=$!
wait "$driver"

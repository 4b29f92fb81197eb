#!/usr/bin/env bash
# Issue 9's soak: 48 polling clients, a write a second, a remove every 5 s;
# statuses, parsed bodies, RSS, lag. See bench/soak.py.
#   needs: apt-get install wrk; python3
#   usage: BENCH_DIR=/work/benchdata bench/soak.sh [--seconds 180] [--articles 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/soak.py "$@" &
driver=$!
wait "$driver"

#!/usr/bin/env bash
# Issue 9's faults: SIGKILL mid-import, the SQLite file deleted and put
# back, PostgreSQL stopped and started, stdout closed or full. See
# bench/faults.py.
#   needs: python3; PostgreSQL for its row (apt-get install postgresql)
#   usage: BENCH_DIR=/work/benchdata bench/faults.sh [--articles 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'kill "$driver" 2>/dev/null || true' EXIT INT TERM
python3 bench/faults.py "$@" &
driver=$!
wait "$driver"

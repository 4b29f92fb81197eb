#!/usr/bin/env bash
# Run one fuzz target until its coverage plateaus: stop when `cov:` has not
# grown for QUIET seconds (default 300), or after CAP seconds (default
# 1200, counted by libFuzzer from its start). One process (no forks), so it
# takes one core.
# Prints cov/ft/corpus every 60 s and the final libFuzzer stats.
#   fuzz/plateau.sh TARGET [QUIET] [CAP]
set -uo pipefail
cd "$(dirname "$0")"
target=$1 quiet=${2:-300} cap=${3:-1200}
log=$(mktemp)
mkdir -p "corpus/$target"
cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$cap" -print_final_stats=1 >"$log" 2>&1 &
pid=$!
start=$(date +%s) last_cov=-1 changed=$start next_print=$start
while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    now=$(date +%s)
    line=$(grep -aE '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")
    # The quiet time counts from the first stats line: building comes first.
    if [[ -z $cov || $cov != "$last_cov" ]]; then last_cov=${cov:--1} changed=$now; fi
    if (( now >= next_print )); then
        echo "t=$((now - start))s ${line}"
        next_print=$((now + 60))
    fi
    if (( now - changed >= quiet )); then
        echo "plateau: cov $last_cov unchanged for ${quiet}s at t=$((now - start))s"
        # SIGINT the fuzzer itself (cargo-fuzz's child): cargo-fuzz does
        # not pass the signal on, and libFuzzer prints its stats on it.
        kill -INT $(pgrep -P "$pid") 2>/dev/null || kill -INT "$pid"
        break
    fi
done
wait "$pid"; rc=$?
# libFuzzer exits 1 when interrupted, as when it crashes: tell them apart.
if grep -aq 'run interrupted' "$log"; then rc=0; fi
grep -aE '^#[0-9]+' "$log" | tail -1
grep -aE 'stat::|panicked|SUMMARY|artifact_prefix|Test unit written' "$log"
echo "exit $rc, wall $(( $(date +%s) - start ))s, log $log"
exit "$rc"

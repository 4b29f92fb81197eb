#!/usr/bin/env bash
# A feed's cost must not grow with the store: time `bantin dump` of the all
# feed, a category, and a category within a region on stores of 1,000 and
# 100,000 articles (synthetic, bench/corpus.py). Needs hyperfine.
#   usage: bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=$PWD/target/release/bantin
for n in 1000 100000; do
    python3 bench/corpus.py "$n" >"$work/a$n.jsonl"
    $bin --store "sqlite:$work/s$n.db" import "$work/a$n.jsonl" >/dev/null
done
for args in "" "--category kinh-te" "--category kinh-te --region duc-tho"; do
    hyperfine --warmup 3 --runs 30 -N \
        "$bin --store sqlite:$work/s1000.db dump $args" \
        "$bin --store sqlite:$work/s100000.db dump $args" 2>&1 | grep -E 'Time|dump'
done

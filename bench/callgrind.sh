#!/usr/bin/env bash
# Instruction counts (callgrind) of a cached hit and of one cold render of a
# 50-item feed from a 10k-article store; see examples/callgrind.rs for what
# each step covers and BENCHMARKS.md ("Instruction counts") for figures.
#   needs: valgrind
#   usage: bench/callgrind.sh [CORPUS.jsonl]
#     CORPUS defaults to $BENCH_DIR/corpus/corpus-10000-*.jsonl (the bench
#     branch's generator, bench/corpus.py); it is imported into a fresh
#     store in a temporary folder, so no existing store is opened.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_dir=${BENCH_DIR:-/work/benchdata}
corpus=${1:-$(ls "$bench_dir"/corpus/corpus-10000-*.jsonl 2>/dev/null | head -n1)}
if [[ -z "$corpus" || ! -f "$corpus" ]]; then
    echo "callgrind.sh: no corpus; pass a JSON Lines file of articles" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --quiet --profile profiling --bin bantin --example callgrind
bin=target/profiling/bantin
driver=target/profiling/examples/callgrind
site=feeds/site.toml
store="$work/store.db"
"$bin" --site "$site" --store "sqlite:$store" import "$corpus" >/dev/null

# One valgrind run per step, counting only inside that step's function.
count() { # MODE STEP [N]
    local out="$work/callgrind.$2.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*measured_$2*" \
        "$driver" "$1" "$site" "$store" ${3:-} >/dev/null 2>"$work/valgrind.log" ||
        { cat "$work/valgrind.log" >&2; exit 1; }
    # The last `summary:`/`totals:` line holds Ir, the instructions executed.
    awk '/^(summary|totals):/ {ir=$2} END {print ir}' "$out"
}

hits=1000
echo "# bench/callgrind.sh at $(git rev-parse --short HEAD), corpus $(basename "$corpus")"
for step in hits_gzip hits_br hits_identity hits_304; do
    ir=$(count hit "$step" "$hits")
    printf '%-28s %14s Ir total, %10s Ir per request (%s requests)\n' \
        "cached hit ($step)" "$ir" "$((ir / hits))" "$hits"
done
for step in cold_render gzip rerender; do
    printf '%-28s %14s Ir\n' "$step (/feeds/all.rss)" "$(count cold "$step")"
done

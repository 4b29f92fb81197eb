#!/usr/bin/env bash
# `bantin import` into PostgreSQL at archive scale (issue 8, "Import at
# scale"): a throwaway cluster (initdb in a temp folder, loopback only), an
# empty database, the first N articles of the bench corpus in one import.
# Prints wall time, bantin's CPU and peak RSS, and the statements the server
# logged as slower than 1 s (where the time goes).
#   needs: PostgreSQL server binaries (apt-get install postgresql), GNU time,
#          the corpus (bench/corpus.py, made by bench/archive.sh)
#   usage: BENCH_DIR=/work/benchdata bench/pg-import.sh [N] [PORT]
#     N defaults to 1000000; PORT to 55441. Run as root (the cluster runs
#     as the postgres user) or as a user who can run initdb.
#     With KEEP=1 the cluster keeps running afterwards (its folder and the
#     command that stops it are printed), e.g. for bench/search.sh --store.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
port=${2:-55441}
bench_dir=${BENCH_DIR:-$PWD/target/bench}
bin=$PWD/target/release/bantin
[[ -x $bin ]] || cargo build --release --quiet
corpus=$(BENCH_DIR=$bench_dir python3 -c "
import sys; sys.path.insert(0, 'bench'); import benchlib
print(benchlib.corpus_file($n))")
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/bantin-pg-import.XXXXXX)
as_pg() { if [[ $(id -u) == 0 ]]; then su postgres -c "$*"; else bash -c "$*"; fi; }
[[ $(id -u) == 0 ]] && chown postgres "$work"
stop() { as_pg "$pgbin/pg_ctl -D $work/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap stop INT TERM
trap '[[ ${KEEP:-} == 1 ]] || stop' EXIT
as_pg "$pgbin/initdb -D $work/data -E UTF8 --locale=C.UTF-8 -A trust" >/dev/null
as_pg "$pgbin/pg_ctl -D $work/data -l $work/log -w start -o \"-p $port -k $work \
  -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=4GB \
  -c log_min_duration_statement=1000\"" >/dev/null
as_pg "$pgbin/createdb -h 127.0.0.1 -p $port news"
echo "# bench/pg-import.sh $n at $(git rev-parse --short HEAD), $(date -u '+%F %H:%M') UTC, $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $($pgbin/postgres --version)"
/usr/bin/time -f '%e s wall; bantin %U s user, %S s sys, peak RSS %M kB' -o "$work/time" \
  "$bin" --site feeds/site.toml --store "postgres://postgres@127.0.0.1:$port/news" \
  import "$corpus" > "$work/said"
echo "import ($n articles, $(du -m "$corpus" | cut -f1) MB of JSON Lines): $(cat "$work/time"); bantin: $(cat "$work/said")"
echo "server statements over 1 s:"
grep -o 'duration: [0-9.]* ms  statement: .\{0,60\}' "$work/log" | sed 's/^/  /' || true
if [[ ${KEEP:-} == 1 ]]; then
  echo "kept: postgres://postgres@127.0.0.1:$port/news in $work; stop it with:"
  echo "  su postgres -c '$pgbin/pg_ctl -D $work/data stop' && rm -rf $work"
fi

#!/usr/bin/env bash
# Issue 22: what `[cdn] key_header` costs the cached path. Two `bantin
# serve` on one store, the second with the key header, measured in turn
# (wrk, 3 s each, four rounds) so that the load of a shared machine falls
# on both alike.
#   needs: apt-get install wrk
#   usage: bench/cdn-keys.sh [rounds]   (env BIN: a bantin binary, else built)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
work=$(mktemp -d)
trap 'kill "$plain" "$keyed" 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-target}/release/bantin
fi
bin=$BIN
$bin --store "sqlite:$work/b.db" import feeds/articles >/dev/null
RUST_LOG=warn $bin --store "sqlite:$work/b.db" serve --listen 127.0.0.1:18090 2>/dev/null &
plain=$!
{ cat feeds/site.toml; printf '\n[cdn]\nkey_header = "Surrogate-Key"\n'; } >"$work/keyed.toml"
RUST_LOG=warn $bin --store "sqlite:$work/b.db" --site "$work/keyed.toml" serve --listen 127.0.0.1:18091 2>/dev/null &
keyed=$!
sleep 1
curl -sf -D - -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1:18091/feeds/all.rss | grep -i '^surrogate-key'
for i in $(seq "$rounds"); do
    for target in "without 18090" "with 18091"; do
        set -- $target
        r=$(wrk -t1 -c50 -d3s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$2/feeds/all.rss" | awk '/Requests\/sec/{print $2}')
        echo "round $i, $1 the key header: $r req/s"
    done
done

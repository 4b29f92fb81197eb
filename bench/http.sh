#!/usr/bin/env bash
# Throughput of a cached feed: bantin serve versus nginx serving the output
# of `bantin build` (gzip_static), on loopback, with wrk; and bantin serve
# with `[cdn] key_header` set (issue 22: the key header costs nothing
# measurable), side by side.
#   needs: apt-get install nginx wrk
#   usage: bench/http.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as www-data
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true; kill "$pid" "$keyed" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/bantin
$bin --store "sqlite:$work/b.db" import feeds/articles >/dev/null
$bin --store "sqlite:$work/b.db" build --out "$work/out" >/dev/null
RUST_LOG=warn $bin --store "sqlite:$work/b.db" serve --listen 127.0.0.1:18080 2>/dev/null &
pid=$!
{ cat feeds/site.toml; printf '\n[cdn]\nkey_header = "Surrogate-Key"\n'; } >"$work/keyed.toml"
RUST_LOG=warn $bin --store "sqlite:$work/b.db" --site "$work/keyed.toml" serve --listen 127.0.0.1:18082 2>/dev/null &
keyed=$!
sed "s#@ROOT@#$work/out#; s#@WORK@#$work#g" bench/nginx.conf >"$work/nginx.conf"
nginx -c "$work/nginx.conf"
sleep 1

for target in "bantin http://127.0.0.1:18080" "bantin+keys http://127.0.0.1:18082" "nginx  http://127.0.0.1:18081"; do
    set -- $target
    curl -sf -o /dev/null "$2/feeds/all.rss"
    etag=$(curl -sf -D - -o /dev/null -H 'Accept-Encoding: gzip' "$2/feeds/all.rss" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
    echo "== $1: GET /feeds/all.rss, gzip, 50 connections, ${secs}s"
    wrk -t1 -c50 -d"${secs}s" -H 'Accept-Encoding: gzip' "$2/feeds/all.rss" | grep -E 'Requests/sec|Latency'
    echo "== $1: same, If-None-Match (304)"
    wrk -t1 -c50 -d"${secs}s" -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" "$2/feeds/all.rss" | grep -E 'Requests/sec|Latency'
done

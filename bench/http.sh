#!/usr/bin/env bash
# The cached path side by side with nginx (issue 19): bantin serve and nginx
# serving the very same bytes as static files (gzip_static, brotli_static,
# open_file_cache, sendfile, 2 workers), same machine, same run, with wrk.
# Four scenarios on one feed: 200 gzip, 200 br, 200 identity (no
# Accept-Encoding) and 304 (If-None-Match with each server's own ETag),
# in alternating rounds (bantin, nginx, bantin, nginx, ...), so that the
# machine's load weighs on both alike. Prints req/s and p99 per run and
# the ratio of the medians.
#   needs: apt-get install nginx libnginx-mod-http-brotli-static wrk curl
#   usage: bench/http.sh [STORE [FEED_PATH]]
#     STORE: a store URL bantin serves (default: the sample imported into a
#     temporary SQLite file); it is only read. FEED_PATH defaults to
#     /feeds/category/thoi-su.rss with a STORE, /feeds/all.rss without.
#   env: BIN (default: target/release/bantin, built), ROUNDS (3),
#     SECS (10), CONNS (64), THREADS (2), SITE (feeds/site.toml),
#     SCENARIOS (default "gzip br identity 304"), BANTIN_EXTRA_SITE (lines
#     appended to the site file, e.g. to turn a feature on for an on/off
#     comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}; secs=${SECS:-10}; conns=${CONNS:-64}; threads=${THREADS:-2}
scenarios=${SCENARIOS:-gzip br identity 304}
path=${2:-}
work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as www-data
pid=
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=target/release/bantin
fi
site=$work/site.toml
cat "${SITE:-feeds/site.toml}" >"$site"
[ -n "${BANTIN_EXTRA_SITE:-}" ] && printf '%s\n' "$BANTIN_EXTRA_SITE" >>"$site"
if [ -n "${1:-}" ]; then
    store=$1
    path=${path:-/feeds/category/thoi-su.rss}
else
    path=${path:-/feeds/all.rss}
    store=sqlite:$work/b.db
    "$BIN" --site "$site" --store "$store" import feeds/articles >/dev/null
fi
RUST_LOG=warn "$BIN" --site "$site" --store "$store" serve --listen 127.0.0.1:18080 2>"$work/bantin.log" &
pid=$!
for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:18080/healthz" && break; sleep 0.2; done

# nginx's root holds what bantin sends for the feed, in each coding.
mkdir -p "$work/out$(dirname "$path")"
file=$work/out$path
curl -sf -o "$file" "http://127.0.0.1:18080$path" || { echo "http.sh: bantin does not serve $path" >&2; exit 1; }
curl -sf -H 'Accept-Encoding: gzip' -o "$file.gz" "http://127.0.0.1:18080$path"
curl -sf -H 'Accept-Encoding: br' -o "$file.br" "http://127.0.0.1:18080$path"
sed "s#@ROOT@#$work/out#; s#@WORK@#$work#g" bench/nginx.conf >"$work/nginx.conf"
nginx -c "$work/nginx.conf"
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:18081$path" && break; sleep 0.1; done

etag() { # URL -> the ETag of its gzip coding
    curl -sf -D - -o /dev/null -H 'Accept-Encoding: gzip' "$1" | tr -d '\r' |
        awk -F': ' 'tolower($1)=="etag"{print $2}'
}
declare -A url=([bantin]=http://127.0.0.1:18080$path [nginx]=http://127.0.0.1:18081$path)
declare -A tag=([bantin]=$(etag "${url[bantin]}") [nginx]=$(etag "${url[nginx]}"))
echo "# bench/http.sh at $(git rev-parse --short HEAD), $(date -u '+%F %R') UTC, $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $path: identity $(stat -c %s "$file") B, gzip $(stat -c %s "$file.gz") B, br $(stat -c %s "$file.br") B; wrk -t$threads -c$conns -d${secs}s, $rounds rounds"

run() { # SERVER SCENARIO -> "req/s p99"
    local h=()
    case $2 in
        gzip) h=(-H 'Accept-Encoding: gzip') ;;
        br) h=(-H 'Accept-Encoding: gzip, deflate, br') ;;
        identity) h=() ;;
        304) h=(-H 'Accept-Encoding: gzip' -H "If-None-Match: ${tag[$1]}") ;;
    esac
    # Every response must be what the scenario expects, else the figure
    # measures something else.
    local want=200; [ "$2" = 304 ] && want=304
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' "${h[@]}" "${url[$1]}")
    [ "$got" = "$want" ] || { echo "http.sh: $1 $2 answered $got, not $want" >&2; exit 1; }
    wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "${h[@]}" "${url[$1]}" |
        awk '/Requests\/sec/ {r=$2} $1=="99%" {p=$2} /Non-2xx/ {n=$NF} END {print r, p, (n ? n : 0)}'
}

declare -A all
for s in $scenarios; do
    for round in $(seq "$rounds"); do
        for server in bantin nginx; do
            read -r rps p99 non2xx < <(run "$server" "$s")
            printf '%-9s %-7s round %d: %10s req/s  p99 %8s\n' "$s" "$server" "$round" "$rps" "$p99"
            all[$s.$server]+="$rps "
        done
    done
done
echo "# medians"
for s in $scenarios; do
    b=$(tr ' ' '\n' <<<"${all[$s.bantin]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    n=$(tr ' ' '\n' <<<"${all[$s.nginx]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-9s bantin %10.0f  nginx %10.0f  ratio %.2f\n' "$s" "$b" "$n" "$(echo "$b / $n" | bc -l)"
done
echo "# bantin's resident memory: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"

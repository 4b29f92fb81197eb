#!/usr/bin/env bash
# Cold pages of one archive month (issue 17: months over `archive_items`
# are paged), against `bantin serve` on a SQLite store: for each page
# asked, a fresh server, one cold request, its wall time (curl) and the
# server's peak RSS (VmHWM) after it.
#
# Usage: bench/archive-pages.sh BANTIN STORE.db SITE.toml FEED MONTH PAGE...
#   e.g. bench/archive-pages.sh target/release/bantin /tmp/copy.db \
#          feeds/site.toml all 2024-11 1 2
# PAGE 1 is `{feed}/archive/{MONTH}.rss`, N >= 2 `{MONTH}-pN.rss`. The store
# is opened read-write (serve migrates): pass a copy, never the original.
set -euo pipefail
bin=$1 store=$2 site=$3 feed=$4 month=$5
shift 5
port=${PORT:-18917}
for page in "$@"; do
    name=$month
    [ "$page" -gt 1 ] && name="$month-p$page"
    "$bin" --store "sqlite:$store" --site "$site" serve --listen "127.0.0.1:$port" \
        2>/dev/null &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
    idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    url="http://127.0.0.1:$port/feeds/$feed/archive/$name.rss"
    out=$(curl -s -o /tmp/archive-page.$$ -w '%{http_code} %{size_download} %{time_total}' "$url")
    items=$(grep -c '<item>' /tmp/archive-page.$$ || true)
    title=$(grep -m1 -o '<title>[^<]*</title>' /tmp/archive-page.$$ || true)
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "page $page: status/bytes/seconds $out, $items items, RSS idle ${idle} kB, peak ${peak} kB, $title"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
rm -f /tmp/archive-page.$$

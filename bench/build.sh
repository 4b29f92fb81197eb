#!/usr/bin/env bash
# Incremental build (issue 7, item 4): a fresh build, again with no change,
# again after one new article. Prints time, peak RSS and what bantin says,
# and counts the files whose inode or mtime changed (rewritten) against those whose
# bytes changed.
#   needs: GNU time (/usr/bin/time)
#   usage: [BUILD_FLAGS=--gzip-archives] bench/build.sh BIN STORE OUTDIR
#     STORE is written to (one article is imported): pass a copy. OUTDIR
#     must not exist yet.
set -euo pipefail
bin=$1; store=$2; out=$3
site=$(cd "$(dirname "$0")/.." && pwd)/feeds/site.toml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
snap() { # path inode:mtime sha1, sorted
  (cd "$out" && find . -type f -printf '%p %i:%T@\n' | sort | while read -r p i; do echo "$p $i $(sha1sum < "$p" | cut -c1-12)"; done)
}
run() {
  /usr/bin/time -f '%e s wall, %U s user, %S s sys, peak RSS %M kB' -o "$work/time" \
    "$bin" --site "$site" --store "sqlite:$store" build --out "$out" ${BUILD_FLAGS:-} > "$work/said"
  echo "$1: $(cat "$work/time"); bantin: $(cat "$work/said")"
}
compare() {
  join <(echo "$1") <(echo "$2") | awk '{ if ($2 != $4) r++; if ($3 != $5) c++ } END { printf "rewrote %d files, %d with changed bytes\n", r, c }'
}
if [[ -e "$out" ]]; then echo "build.sh: $out exists; give a new folder" >&2; exit 2; fi
run "fresh build"
a=$(snap)
run "again, no change"
b=$(snap)
echo "  $(compare "$a" "$b")"
cat > "$work/new.jsonl" <<JSON
{"id": "bench-new-$(date +%s)", "title": "Bài mới", "summary": "Tóm tắt.", "body": "Đoạn một.\n\nĐoạn hai.", "authors": ["Hồng Yến"], "categories": ["Chính trị"], "regions": ["Hương Sơn"], "published": "$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%S+00:00)"}
JSON
"$bin" --site "$site" --store "sqlite:$store" import "$work/new.jsonl"
run "again, after one new article"
c=$(snap)
echo "  $(compare "$b" "$c")"
echo "  files: $(echo "$c" | wc -l)"

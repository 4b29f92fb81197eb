#!/usr/bin/env python3
"""Parse every feed under DIR with Python's feedparser, as SPEC asks ("parses
cleanly (no bozo) in Python's feedparser").

Usage: feedparser_check.py DIR

For each *.rss and *.atom file under DIR (recursively) it prints one line, `RELATIVE/PATH N`, N being the number of entries feedparser found. It
exits 1 if any file is bozo (not well-formed, wrong encoding, ...) or is not
recognized as the format its extension names. Run by
tests/render.rs::python_feedparser_reads_every_sample_feed_without_bozo.

JSON Feed is not checked here: feedparser's latest release (6.0.x) has no
JSON Feed parser. The Rust tests read JSON feeds with serde_json and feed-rs.
"""

import os
import sys

import feedparser

# feedparser's `version` for each extension.
VERSIONS = {".rss": "rss20", ".atom": "atom10"}


def main(root):
    failures = []
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            ext = os.path.splitext(name)[1]
            if ext not in VERSIONS:
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            with open(path, "rb") as f:
                data = f.read()
            parsed = feedparser.parse(data)
            if parsed.bozo:
                failures.append(f"{rel}: bozo: {parsed.bozo_exception!r}")
            if parsed.version != VERSIONS[ext]:
                failures.append(f"{rel}: version {parsed.version!r}, want {VERSIONS[ext]!r}")
            print(f"{rel} {len(parsed.entries)}")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

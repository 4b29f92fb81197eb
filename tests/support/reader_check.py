#!/usr/bin/env python3
"""Subscribe to every feed of a running bantin as a feed reader would.

Usage: reader_check.py BASE_URL SITE_BASE_URL

Reads BASE_URL/ for <link rel="alternate"> discovery and BASE_URL/feeds.opml
for the feed list (their URLs start with SITE_BASE_URL, the site file's
base_url, which is rewritten to BASE_URL). Each feed is fetched with
feedparser (which sends Accept-Encoding and decodes gzip), must parse with no
bozo and hold entries, then is fetched again with the ETag and Last-Modified
feedparser kept, and must answer 304. JSON Feeds (which feedparser 6 does
not read) are fetched, parsed as JSON and re-fetched the same way. Prints `checked N feeds` and exits 1
on the first list of failures. Run by tests/reader.rs.
"""

import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import feedparser


class Discovery(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "alternate":
            self.links.append((a.get("type"), a.get("href")))


def check_json_feed(url):
    """feedparser 6 reads no JSON Feed; a JSON Feed reader does this much."""
    with urllib.request.urlopen(url) as r:
        etag = r.headers["ETag"]
        feed = json.loads(r.read().decode("utf-8"))
    problems = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append(f"{url}: version {feed.get('version')!r}")
    if not feed.get("title") or not feed.get("items"):
        problems.append(f"{url}: no title or no items")
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}))
        problems.append(f"{url}: conditional re-fetch gave 200, not 304")
    except urllib.error.HTTPError as e:
        if e.code != 304:
            problems.append(f"{url}: conditional re-fetch gave {e.code}, not 304")
    return problems


def main(base, site_base):
    fix = lambda url: base + url[len(site_base):] if url.startswith(site_base) else url
    failures = []

    page = urllib.request.urlopen(base + "/").read().decode("utf-8")
    discovery = Discovery()
    discovery.feed(page)
    if not discovery.links:
        failures.append("/: no <link rel=alternate>")
    urls = [fix(href) for _, href in discovery.links]

    opml = ET.fromstring(urllib.request.urlopen(base + "/feeds.opml").read())
    if opml.get("version") != "2.0":
        failures.append(f"feeds.opml: version {opml.get('version')!r}")
    listed = [fix(o.get("xmlUrl")) for o in opml.iter("outline") if o.get("xmlUrl")]
    if len(listed) != len(set(listed)):
        failures.append("feeds.opml lists a feed twice")
    urls += listed

    for url in dict.fromkeys(urls):
        if url.endswith(".json"):
            failures += check_json_feed(url)
            continue
        first = feedparser.parse(url)
        if first.get("status") != 200:
            failures.append(f"{url}: status {first.get('status')}")
            continue
        if first.bozo:
            failures.append(f"{url}: bozo: {first.bozo_exception!r}")
        if not first.entries:
            failures.append(f"{url}: no entries")
        if not first.feed.get("title"):
            failures.append(f"{url}: no title")
        again = feedparser.parse(url, etag=first.get("etag"), modified=first.get("modified"))
        if again.get("status") != 304:
            failures.append(f"{url}: conditional re-fetch gave {again.get('status')}, not 304")
    if failures:
        print("\n".join(failures))
        return 1
    print(f"checked {len(dict.fromkeys(urls))} feeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

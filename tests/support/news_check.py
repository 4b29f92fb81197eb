"""Validate a Google News sitemap with lxml (libxml2), a parser that is not
bantin's writer: against the sitemaps.org schema and the news extension's
(tests/fixtures/sitemap), then the rules a schema can't say. Prints one
JSON object: the entries in document order (loc, title, date, name,
language). Exit 1 with the reasons on stderr when the document is invalid.

usage: news_check.py SCHEMA_DIR FILE NAME LANGUAGE OFFSET
"""
import json
import os
import sys
from datetime import datetime

from lxml import etree

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def main():
    schema_dir, path, name, language, offset = sys.argv[1:6]
    schema = etree.XMLSchema(etree.parse(os.path.join(schema_dir, "sitemap.xsd")))
    doc = etree.parse(path)
    faults = []
    if not schema.validate(doc):
        faults.extend(str(e) for e in schema.error_log)
    root = doc.getroot()
    if root.tag != SM + "urlset":
        faults.append("root is %s, not urlset" % root.tag)
    entries = []
    for url in root.findall(SM + "url"):
        loc = url.findtext(SM + "loc")
        news = url.find(NEWS + "news")
        if news is None:
            faults.append("%s has no news:news" % loc)
            continue
        pub = news.find(NEWS + "publication")
        entry = {
            "loc": loc,
            "name": pub.findtext(NEWS + "name"),
            "language": pub.findtext(NEWS + "language"),
            "date": news.findtext(NEWS + "publication_date"),
            "title": news.findtext(NEWS + "title"),
        }
        if entry["name"] != name:
            faults.append("%s: news:name %r, not %r" % (loc, entry["name"], name))
        if entry["language"] != language:
            faults.append("%s: news:language %r, not %r" % (loc, entry["language"], language))
        if not entry["date"].endswith(offset):
            faults.append("%s: date %s not in the site offset %s" % (loc, entry["date"], offset))
        try:
            datetime.fromisoformat(entry["date"])
        except ValueError as e:
            faults.append("%s: date %s: %s" % (loc, entry["date"], e))
        entries.append(entry)
    if len(entries) > 1000:
        faults.append("%d entries, over 1,000" % len(entries))
    dates = [datetime.fromisoformat(e["date"]) for e in entries]
    if dates != sorted(dates, reverse=True):
        faults.append("entries are not newest first")
    if faults:
        sys.stderr.write("\n".join(faults) + "\n")
        sys.exit(1)
    print(json.dumps(entries, ensure_ascii=False))


main()

"""Poll one feed as a polite reader does: Python's feedparser, keeping the
ETag and Last-Modified of each answer and sending them with the next
request (If-None-Match, If-Modified-Since). Prints each answer's status,
one a line.

usage: polite_poll.py URL TIMES
"""
import sys

import feedparser


def main():
    url, times = sys.argv[1], int(sys.argv[2])
    etag = modified = None
    for _ in range(times):
        d = feedparser.parse(url, etag=etag, modified=modified)
        status = d.get("status")
        print(status, flush=True)
        if status == 200 and d.bozo:
            sys.stderr.write("bozo: %s\n" % d.bozo_exception)
            sys.exit(1)
        etag = d.get("etag", etag)
        modified = d.get("modified", modified)


main()

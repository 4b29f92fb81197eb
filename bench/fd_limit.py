#!/usr/bin/env python3
"""Issue 17: new connections under a low open-file limit.

200 keep-alive clients ask for /feeds/all.rss again and again (or, with
`idle`, once each and then hold their connection), while 60 new connections
ask for /healthz one after another; prints their answers and how long the
slowest waited. Run the server under the limit first:

    prlimit --nofile=64:64 target/release/bantin --store sqlite:bantin.db \
        --site feeds/site.toml serve --listen 127.0.0.1:18087 &
    python3 bench/fd_limit.py 18087 [busy|idle]
"""
import socket
import sys
import threading
import time

HOST, PORT = "127.0.0.1", int(sys.argv[1])
MODE = sys.argv[2] if len(sys.argv) > 2 else "busy"
REQUEST = b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\n\r\n"
stop = False


def read_response(s):
    """The status line of one response read whole, or None if it closed."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            return None
        rest += d
    return head.split(b"\r\n")[0]


def client():
    while not stop:
        try:
            s = socket.create_connection((HOST, PORT), timeout=60)
            while not stop:
                s.sendall(REQUEST)
                if read_response(s) is None:
                    break
                while MODE == "idle" and not stop:
                    time.sleep(0.2)
            s.close()
        except OSError:
            time.sleep(0.05)


for _ in range(200):
    threading.Thread(target=client, daemon=True).start()
time.sleep(3)
waits, answers = [], {}
for _ in range(60):
    start = time.time()
    try:
        s = socket.create_connection((HOST, PORT), timeout=30)
        s.settimeout(30)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        line = read_response(s)
        s.close()
    except OSError as e:
        line = str(e)
    answers[line] = answers.get(line, 0) + 1
    waits.append(time.time() - start)
stop = True
waits.sort()
print("answers", answers)
print("slowest %.2f s, median %.3f s, over 5 s: %d of %d"
      % (waits[-1], waits[len(waits) // 2], sum(w > 5 for w in waits), len(waits)))

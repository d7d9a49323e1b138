#!/usr/bin/env python3
"""Holds many TCP connections from one address to a server, to check a per-address limit.

  connflood.py HOST PORT N READY-FILE STOP-FILE LIMIT-SECONDS
      opens N connections to HOST:PORT (from the default source address), then waits until
      every connection beyond those the server keeps was closed by it (or 10 s pass), writes
      "opened O failed F closed C open K" to READY-FILE, holds the open ones until STOP-FILE
      exists (at most LIMIT-SECONDS), closes them all and prints the same line.
"""
import os
import resource
import selectors
import socket
import sys
import time


def main():
    host, port, n, ready, stop, limit = sys.argv[1:7]
    n, limit = int(n), float(limit)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    socks, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            failed += 1
            continue
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    closed = set()

    def drain(timeout):
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                closed.add(s)

    # The server closes what it does not keep at once; give it a few quiet moments to do so.
    deadline = time.time() + 10
    quiet_since = time.time()
    while time.time() < deadline and time.time() - quiet_since < 1.0:
        before = len(closed)
        drain(0.2)
        if len(closed) != before:
            quiet_since = time.time()
    line = f"opened {len(socks)} failed {failed} closed {len(closed)} open {len(socks) - len(closed)}"
    with open(ready + ".tmp", "w") as f:
        f.write(line + "\n")
    os.rename(ready + ".tmp", ready)
    end = time.time() + limit
    while not os.path.exists(stop) and time.time() < end:
        drain(0.2)
    line = f"opened {len(socks)} failed {failed} closed {len(closed)} open {len(socks) - len(closed)}"
    for s in socks:
        s.close()
    print(line)


if __name__ == "__main__":
    main()

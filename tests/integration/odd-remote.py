#!/usr/bin/env python3
"""A remote robot that answers odd HTTP statuses, for test-attack-http.sh: GET, HEAD, POST, PUT
and DELETE of /v1/status/NNN answer status NNN with a small JSON body (1xx, 3xx without
Location, codes past 599 included), as a hostile or broken robot may; @robot/events is an event
stream that says nothing, so a robot can mount it.

    odd-remote.py PORT-FILE REQUEST-LOG

Listens on 127.0.0.1 (a free port, written to PORT-FILE once listening) until killed, and
appends every request but the event stream's to REQUEST-LOG as "METHOD RAW-PATH". Speaks
on raw sockets: Python's http.server refuses to send some of these statuses.
"""
import os
import urllib.parse
import socket
import sys
import threading
import time


def handle(conn, request_log):
    f = conn.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            method, target = line.decode("latin-1").split()[:2]
            length = 0
            while True:
                h = f.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if length:
                f.read(length)
            path = urllib.parse.unquote(target.split("?", 1)[0])
            if path != "/v1/@robot/events":
                with open(request_log, "a") as log:
                    log.write("%s %s\n" % (method, target))
            if path == "/v1/@robot/events":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                while True:
                    chunk = b": keep-alive\n\n"
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    time.sleep(1)
            if path.startswith("/v1/status/"):
                code = path[len("/v1/status/"):]
                body = b'{"odd": true}\n'
            else:
                code = "404"
                body = b'{"error":"ENOENT","errno":2}\n'
            head = "HTTP/1.1 %s Odd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
                code, len(body))
            conn.sendall(head.encode() + (b"" if method == "HEAD" else body))
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    port_file, request_log = sys.argv[1], sys.argv[2]
    open(request_log, "a").close()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, request_log), daemon=True).start()


if __name__ == "__main__":
    main()

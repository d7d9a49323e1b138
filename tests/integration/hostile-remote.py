#!/usr/bin/env python3
"""A hostile remote robot for test-attack-remote.sh: speaks enough of zrobot's HTTP API for a
robot to mount it (@robot/events as an event stream, listings, file reads) and answers what a
robot must not trust: symlinks out of its subtree, setuid modes, bad names and kinds, huge
listings, redirects out of itself.

    hostile-remote.py PORT-FILE REQUEST-LOG

Listens on 127.0.0.1 (a free port, written to PORT-FILE once listening) and appends every
request it gets to REQUEST-LOG as "METHOD RAW-PATH" (the path exactly as sent, still
percent-encoded), so the test sees what reached it and what never did. Runs until killed.
"""
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MTIME = "2026-11-22T10:00:00.000Z"


def entry(name, kind="file", mode="0644", **extra):
    e = {"name": name, "kind": kind, "mode": mode, "size": 3, "mtime": MTIME}
    e.update(extra)
    return e


LISTINGS = {
    "": [
        entry("dir", "dir", "0755"),
        entry("shadow", "symlink", "0777", target="/etc/shadow"),
        entry("etc", "symlink", "0777", target="../../../../etc"),
        entry("climb", "symlink", "0777", target="dir/../../x"),
        entry("inside", "symlink", "0777", target="dir/ok"),
        entry("suid", "file", "4755"),
        entry("sgid", "file", "2755"),
        entry("sticky", "dir", "1777"),
        entry("suid", "dir", "0777"),  # a second entry of one name
        entry("a/b"),
        entry(".."),
        entry("x" * 300),
        entry("fifo", "fifo", "0666"),
        entry("dev", "chardev", "0666"),
        entry("negsize", size=-1, mtime="9999-12-31T23:59:59Z"),
        entry("r1"),
        entry("r2"),
        entry("r3"),
        entry("huge", "dir", "0755"),
        entry("fat", "dir", "0755"),
    ],
    "dir": [
        entry("ok"),
        entry("up", "symlink", "0777", target="../../etc"),
        entry("sibling", "symlink", "0777", target="../suid"),
    ],
}

# A redirect answered to GET /v1/<name>, its Location as a hostile remote may write it.
REDIRECTS = {
    "r1": "../../x",
    "r2": "http://evil.example/",
    "r3": "/v1/dir/ok",
}

FILES = {"dir/ok": b"ok\n", "suid": b"no\n", "sgid": b"no\n", "negsize": b"neg\n"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with open(self.server.request_log, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))

    def answer(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def events(self):
        # An event stream that says nothing: comments now and then until the robot goes.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while not self.server.stopping:
                chunk = b": keep-alive\n\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass
        self.close_connection = True

    def do_GET(self):
        self.record()
        raw = self.path.split("?", 1)[0]
        if not raw.startswith("/v1"):
            return self.answer(404, b'{"error":"ENOENT","message":"no"}')
        path = raw[4:] if raw.startswith("/v1/") else ""
        path = urllib.parse.unquote(path.rstrip("/"))
        if path == "@robot/events":
            return self.events()
        if path in LISTINGS:
            return self.answer(200, json.dumps({"entries": LISTINGS[path]}).encode())
        if path == "huge":
            # more entries than a robot takes from a listing (65,536)
            entries = [{"name": "f%d" % i, "kind": "file", "mode": "0644"} for i in range(70000)]
            return self.answer(200, json.dumps({"entries": entries}).encode())
        if path == "fat":
            # more bytes than a robot takes from a listing (8 MiB)
            return self.answer(200, json.dumps({"entries": [], "pad": "x" * (9 << 20)}).encode())
        if path in REDIRECTS:
            body = json.dumps({"location": REDIRECTS[path]}).encode()
            return self.answer(307, body, headers=[("Location", REDIRECTS[path])])
        if path in FILES:
            return self.answer(200, FILES[path], "text/plain; charset=utf-8")
        return self.answer(404, b'{"error":"ENOENT","message":"no such thing"}')

    do_HEAD = do_GET

    def do_other(self):
        self.record()
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.answer(405, b'{"error":"EACCES","message":"read-only"}')

    do_PUT = do_POST = do_DELETE = do_other


def main():
    port_file, request_log = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.stopping = False
    srv.request_log = request_log
    open(request_log, "a").close()
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    try:
        srv.serve_forever()
    finally:
        srv.stopping = True


if __name__ == "__main__":
    main()

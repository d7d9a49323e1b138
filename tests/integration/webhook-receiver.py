#!/usr/bin/env python3
"""A webhook receiver for the tests: listens on 127.0.0.1 and writes each request it gets as
one JSON line {"method", "path", "headers": {name: value}, "body"} to OUT, then answers STATUS.

usage: webhook-receiver.py OUT PORTFILE [--port N] [--status CODE] [--hang]
  PORTFILE gets the port once it listens (--port 0, the default: a free one);
  --hang accepts connections and never answers (a receiver that is up but dead)."""
import argparse
import http.server
import json
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("portfile")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--hang", action="store_true")
    a = ap.parse_args()

    if a.hang:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", a.port))
        s.listen(64)
        open(a.portfile + ".tmp", "w").write(str(s.getsockname()[1]))
        import os
        os.rename(a.portfile + ".tmp", a.portfile)
        held = []
        while True:
            c, _ = s.accept()
            held.append(c)  # never read, never answered, never closed

    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            rec = {"method": "POST", "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": body, "time": time.time()}
            with lock:
                with open(a.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self.send_response(a.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class S(http.server.ThreadingHTTPServer):
        allow_reuse_address = True

    srv = S(("127.0.0.1", a.port), H)
    import os
    open(a.portfile + ".tmp", "w").write(str(srv.server_address[1]))
    os.rename(a.portfile + ".tmp", a.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A webhook receiver for the tests: listens on 127.0.0.1 and writes each request it gets as
one JSON line {"method", "path", "headers": {name: value}, "body"} to OUT, then answers STATUS.

usage: webhook-receiver.py OUT PORTFILE [--port N] [--status CODE] [--hang] [--body-bytes N]
                           [--location URL] [--reset] [--trickle] [--tls CERT KEY]
  PORTFILE gets the port once it listens (--port 0, the default: a free one);
  --hang accepts connections and never answers (a receiver that is up but dead);
  --body-bytes N answers a body of N bytes (sent in 1 MiB writes, never held whole);
  --location URL sends that Location header (with --status 301: a redirect);
  --reset reads the request, then resets the connection (RST) without an answer;
  --trickle sends the status line and then one byte a second, for ever;
  --tls serves HTTPS with that certificate and key;
  --delay S waits S seconds before each answer."""
import argparse
import http.server
import json
import socket
import struct
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
    ap.add_argument("--body-bytes", type=int, default=2)
    ap.add_argument("--location")
    ap.add_argument("--reset", action="store_true")
    ap.add_argument("--trickle", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--delay", type=float, default=0)
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
                   "body": body, "time": time.time(),
                   "peer": self.client_address[1]}
            with lock:
                with open(a.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            time.sleep(a.delay)
            if a.reset:
                # SO_LINGER 0: close() sends a RST instead of a FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if a.trickle:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                self.wfile.flush()
                try:
                    while True:
                        time.sleep(1)
                        self.wfile.write(b"X")
                        self.wfile.flush()
                except OSError:
                    self.close_connection = True
                    return
            self.send_response(a.status)
            if a.location:
                self.send_header("Location", a.location)
            self.send_header("Content-Length", str(a.body_bytes))
            self.end_headers()
            left = a.body_bytes
            chunk = b"o" * min(left, 1 << 20)
            try:
                while left > 0:
                    n = min(left, len(chunk))
                    self.wfile.write(chunk[:n])
                    left -= n
            except OSError:
                self.close_connection = True

        def log_message(self, *args):
            pass

    class S(http.server.ThreadingHTTPServer):
        allow_reuse_address = True

    srv = S(("127.0.0.1", a.port), H)
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    import os
    open(a.portfile + ".tmp", "w").write(str(srv.server_address[1]))
    os.rename(a.portfile + ".tmp", a.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

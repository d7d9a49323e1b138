#!/usr/bin/env python3
"""What curl cannot do against a zrobot HTTP API: read a Server-Sent Events stream event by
event, hold a thousand long polls at once, be a slow client, hold idle connections.

Usage:
  httptool.py sse URL TOKEN COUNT TIMEOUT [LAST-EVENT-ID]
        GET URL with Accept: text/event-stream; print COUNT events, one line each:
        "ID<TAB>EVENT<TAB>DATA" (EVENT "message" when none), then exit 0; exit 1 on timeout.
  httptool.py longpoll BASE TOKEN PATHS-FILE TIMEOUT
        one connection per path in PATHS-FILE (one a line, e.g. /v1/t/a/tasks/3/result?wait=60),
        all at once; print "TIME<TAB>STATUS<TAB>PATH<TAB>BODY" as each answer arrives (TIME in
        seconds since the epoch, BODY with newlines as "\\n"); exit 1 unless every one answered
        within TIMEOUT.
  httptool.py slow BASE TOKEN MODE INTERVAL LIMIT
        a slow client: MODE "headers" sends a request's headers one line per INTERVAL seconds,
        MODE "body" sends whole headers (with TOKEN) then a 1000-byte body one byte per INTERVAL. Prints "dropped S"
        (exit 0) when the server closes the connection, "served S" (exit 1) if it answers, or
        "kept" (exit 1) after LIMIT seconds.
  httptool.py idle BASE N SECONDS
        opens N connections that send nothing, prints "open N", holds them SECONDS, then closes.
"""
import asyncio
import resource
import socket
import sys
import time
from urllib.parse import urlsplit


def hostport(url):
    u = urlsplit(url)
    return u.hostname, u.port or 80


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Chunked:
    """Reads a response body in chunked transfer encoding from a socket, line by line."""

    def __init__(self, sock, rest):
        self.sock = sock
        self.raw = rest       # undecoded bytes
        self.data = b""       # decoded body bytes not consumed yet

    def _fill_raw(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError("connection closed")
        self.raw += b

    def _decode(self):
        while True:
            nl = self.raw.find(b"\r\n")
            if nl < 0:
                self._fill_raw()
                continue
            size = int(self.raw[:nl].split(b";")[0], 16)
            if size == 0:
                raise EOFError("end of stream")
            while len(self.raw) < nl + 2 + size + 2:
                self._fill_raw()
            self.data += self.raw[nl + 2:nl + 2 + size]
            self.raw = self.raw[nl + 2 + size + 2:]
            return

    def readline(self):
        while b"\n" not in self.data:
            self._decode()
        line, _, self.data = self.data.partition(b"\n")
        return line.decode()


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("closed before the headers")
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return status, headers, rest


def cmd_sse(url, token, count, timeout, last=None):
    count, timeout = int(count), float(timeout)
    u = urlsplit(url)
    sock = socket.create_connection(hostport(url), timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    req = (f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {token}\r\n"
           "Accept: text/event-stream\r\n")
    if last is not None:
        req += f"Last-Event-ID: {last}\r\n"
    sock.sendall((req + "\r\n").encode())
    deadline = time.time() + timeout
    try:
        status, headers, rest = read_head(sock)
        if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
            print(f"status {status} {headers.get('content-type')}", file=sys.stderr)
            return 1
        body = Chunked(sock, rest)
        got = 0
        ev = {"id": "", "event": "message", "data": []}
        while got < count:
            sock.settimeout(max(0.1, deadline - time.time()))
            line = body.readline()
            if line == "":
                if ev["data"]:
                    print(f"{ev['id']}\t{ev['event']}\t{chr(10).join(ev['data'])}", flush=True)
                    got += 1
                ev = {"id": "", "event": "message", "data": []}
            elif line.startswith(":"):
                continue
            else:
                k, _, v = line.partition(":")
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    ev["data"].append(v)
                elif k in ("id", "event"):
                    ev[k] = v
    except (socket.timeout, EOFError) as e:
        print(f"sse: {e}", file=sys.stderr)
        return 1
    return 0


async def one_poll(host, port, path, token, results):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError as e:
        results.append((time.time(), 0, path, f"connect: {e}"))
        return
    w.write((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
             "Connection: close\r\n\r\n").encode())
    await w.drain()
    data = await r.read()
    w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        status = 0
    t = time.time()
    results.append((t, status, path, body))
    print(f"{t:.3f}\t{status}\t{path}\t{body.decode(errors='replace').replace(chr(10), chr(92) + 'n')}",
          flush=True)


async def longpoll(base, token, paths, timeout):
    host, port = hostport(base)
    results = []
    tasks = [asyncio.create_task(one_poll(host, port, p, token, results)) for p in paths]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    return len(done) == len(paths)


def cmd_longpoll(base, token, paths_file, timeout):
    raise_fd_limit()
    paths = [l.strip() for l in open(paths_file) if l.strip()]
    ok = asyncio.run(longpoll(base, token, paths, float(timeout)))
    return 0 if ok else 1


def cmd_slow(base, token, mode, interval, limit):
    interval, limit = float(interval), float(limit)
    sock = socket.create_connection(hostport(base))
    t0 = time.time()
    if mode == "headers":
        parts = [b"GET /v1/ HTTP/1.1\r\n", b"Host: x\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(10000)]
    else:
        sock.sendall(f"POST /v1/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n".encode())
        parts = [b"x"] * 1000
    for p in parts:
        if time.time() - t0 > limit:
            print("kept")
            return 1
        try:
            sock.sendall(p)
        except OSError:
            print(f"dropped {time.time() - t0:.1f}")
            return 0
        sock.settimeout(interval)
        try:
            b = sock.recv(4096)
            if not b:
                print(f"dropped {time.time() - t0:.1f}")
                return 0
            print(f"served {time.time() - t0:.1f} {b[:40]!r}")
            return 1
        except socket.timeout:
            pass
        except OSError:
            print(f"dropped {time.time() - t0:.1f}")
            return 0
    print("kept")
    return 1


def cmd_idle(base, n, secs):
    raise_fd_limit()
    socks = [socket.create_connection(hostport(base)) for _ in range(int(n))]
    print(f"open {len(socks)}", flush=True)
    time.sleep(float(secs))
    for s in socks:
        s.close()
    return 0


def main(argv):
    cmds = {"sse": cmd_sse, "longpoll": cmd_longpoll, "slow": cmd_slow, "idle": cmd_idle}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))

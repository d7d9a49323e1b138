#!/usr/bin/env python3
"""A smart-HTTP git server that wants HTTP basic auth, for the credential tests.

Serves the bare repositories under --root through `git http-backend` (CGI) on 127.0.0.1 at a
free port, which it writes to --port-file once it listens. Every request without the right
"Authorization: Basic" header gets 401 with a WWW-Authenticate challenge; --log gets one line
per request, "401 PATH" or "200 USER PATH", so a test can tell that a fetch did authenticate.
"""
import argparse
import base64
import http.server
import os
import subprocess
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', required=True)
    ap.add_argument('--user', required=True)
    ap.add_argument('--password', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--log', required=True)
    a = ap.parse_args()
    want = 'Basic ' + base64.b64encode(f'{a.user}:{a.password}'.encode()).decode()
    lock = threading.Lock()

    def note(line):
        with lock, open(a.log, 'a') as f:
            f.write(line + '\n')

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
                out = b''
                while True:
                    n = int(self.rfile.readline().split(b';')[0], 16)
                    if n == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(n)
                    self.rfile.readline()
            n = int(self.headers.get('Content-Length') or 0)
            return self.rfile.read(n) if n else b''

        def reply(self, status, headers, payload):
            """One write for the whole answer, headers and body."""
            head = f'HTTP/1.1 {status} {self.responses.get(status, ("",))[0]}\r\n'
            for k, v in headers + [('Content-Length', str(len(payload)))]:
                head += f'{k}: {v}\r\n'
            self.wfile.write(head.encode('latin-1') + b'\r\n' + payload)

        def handle_any(self):
            data = self.body()
            path, _, query = self.path.partition('?')
            if self.headers.get('Authorization') != want:
                note(f'401 {path}')
                # No body: libgit2 1.5.1 replays the request with credentials on the same
                # connection without skipping a body that came in the same read as the
                # headers, and then fails on it ("http parser error: invalid constant
                # string"). Real servers' 401s are read the same way; that is libgit2's.
                self.reply(401, [('WWW-Authenticate', 'Basic realm="git"')], b'')
                return
            note(f'200 {a.user} {path}')
            env = {
                'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
                'GIT_PROJECT_ROOT': a.root,
                'GIT_HTTP_EXPORT_ALL': '1',
                'REQUEST_METHOD': self.command,
                'PATH_INFO': path,
                'QUERY_STRING': query,
                'CONTENT_TYPE': self.headers.get('Content-Type', ''),
                'CONTENT_LENGTH': str(len(data)),
                'REMOTE_USER': a.user,
                'REMOTE_ADDR': '127.0.0.1',
                'GIT_PROTOCOL': self.headers.get('Git-Protocol', ''),
                'HTTP_CONTENT_ENCODING': self.headers.get('Content-Encoding', ''),
            }
            out = subprocess.run(['git', 'http-backend'], input=data, env=env,
                                 capture_output=True).stdout
            head, _, payload = out.partition(b'\r\n\r\n')
            status = 200
            headers = []
            for line in head.split(b'\r\n'):
                k, _, v = line.decode('latin-1').partition(':')
                if k.lower() == 'status':
                    status = int(v.split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.reply(status, headers, payload)

        do_GET = handle_any
        do_POST = handle_any

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    with open(a.port_file + '.tmp', 'w') as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + '.tmp', a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())

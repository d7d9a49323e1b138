#!/usr/bin/env python3
"""What the shell cannot do against a zrobot mount: one write then a read on the same fd,
poll(), interrupting a blocked read, many concurrent readers, a body in several writes.

Usage:
  zrtool.py write-read FILE PAYLOAD   one fd O_RDWR: one write, then read to EOF; print the data
  zrtool.py write FILE PAYLOAD        one fd O_WRONLY: one write, then close
  zrtool.py poll FILE TIMEOUT         poll a fresh fd for POLLIN: "ready S EPOCH" or "timeout S",
                                      then (when ready) read to EOF and print the data
  zrtool.py poll-tail FILE TIMEOUT    read to EOF first, then poll as above and print what is new
  zrtool.py interrupt FILE DELAY      blocking read; SIGUSR1 to this thread after DELAY s;
                                      "EINTR after S s" and exit 0 when the read was interrupted
                                      promptly, exit 1 when it returned data or took > DELAY+2 s
  zrtool.py readers FILE N            N threads open and read FILE; all must get the same data
  zrtool.py data-chunks FILE PART...  O_WRONLY|O_TRUNC, one pwrite per PART at increasing
                                      offsets, then close; prints "close ok" or "close ERRNO"

Errors: the errno name (e.g. "EINVAL") on stderr, exit 2. PAYLOAD "-" reads it from stdin.
"""
import errno
import os
import select
import signal
import sys
import threading
import time


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def die_errno(what, e, code=2):
    sys.stdout.flush()
    print(f"{ename(e)} ({what}: {os.strerror(e.errno)})", file=sys.stderr)
    sys.exit(code)


def payload(arg):
    if arg == "-":
        return sys.stdin.buffer.read()
    return arg.encode()


def out(data):
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def read_all(fd, sink=None):
    """Reads to EOF; with sink, each chunk is written as it arrives."""
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        if sink:
            sink(b)


def open_write(path, flags, data):
    """Opens path with flags and writes the PAYLOAD data in one write: (fd, bytes, written)."""
    try:
        fd = os.open(path, flags)
    except OSError as e:
        die_errno("open", e)
    buf = payload(data)
    try:
        return fd, buf, os.write(fd, buf)
    except OSError as e:
        die_errno("write", e)


def cmd_write_read(path, data):
    fd, buf, n = open_write(path, os.O_RDWR, data)
    if n != len(buf):
        print(f"short write {n}", file=sys.stderr)
        sys.exit(2)
    try:
        read_all(fd, out)
    except OSError as e:
        die_errno("read", e)
    os.close(fd)
    return 0


def cmd_write(path, data):
    fd, _, n = open_write(path, os.O_WRONLY, data)
    try:
        os.close(fd)
    except OSError as e:
        die_errno("close", e)
    print(f"wrote {n}")
    return 0


def do_poll(fd, timeout):
    p = select.poll()
    p.register(fd, select.POLLIN)
    t0 = time.monotonic()
    ev = p.poll(timeout * 1000)
    dt = time.monotonic() - t0
    if not ev:
        print(f"timeout {dt:.2f}", flush=True)
        return False
    # The wall clock too: a test compares it with its own (bash's $EPOCHREALTIME), since this
    # program's start may come long after what it waits for began.
    print(f"ready {dt:.2f} {time.time():.3f}", flush=True)
    return True


def cmd_poll(path, timeout, tail=False):
    try:
        fd = os.open(path, os.O_RDONLY)
        if tail:
            read_all(fd)
    except OSError as e:
        die_errno("open/read", e)
    if not do_poll(fd, float(timeout)):
        return 1
    try:
        if tail:
            # A journal: read what is there now without waiting for EOF of a live log.
            out(os.read(fd, 65536))
        else:
            read_all(fd, out)
    except OSError as e:
        die_errno("read", e)
    return 0


class Interrupted(Exception):
    pass


def on_usr1(signum, frame):
    raise Interrupted()


def cmd_interrupt(path, delay):
    delay = float(delay)
    signal.signal(signal.SIGUSR1, on_usr1)
    main = threading.main_thread().ident
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        die_errno("open", e)

    def fire():
        time.sleep(delay)
        signal.pthread_kill(main, signal.SIGUSR1)

    threading.Thread(target=fire, daemon=True).start()
    t0 = time.monotonic()
    try:
        data = os.read(fd, 65536)
    except Interrupted:
        dt = time.monotonic() - t0
        if dt > delay + 2:
            print(f"EINTR only after {dt:.2f} s (signal at {delay} s)")
            return 1
        print(f"EINTR after {dt:.2f} s")
        return 0
    except OSError as e:
        die_errno("read", e)
    dt = time.monotonic() - t0
    print(f"read returned {len(data)} bytes after {dt:.2f} s instead of EINTR: {data[:200]!r}")
    return 1


def cmd_readers(path, n):
    n = int(n)
    results = [None] * n
    errors = []

    def reader(i):
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                results[i] = read_all(fd)
            finally:
                os.close(fd)
        except OSError as e:
            errors.append(f"reader {i}: {ename(e)}")

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = [r for r in results if r is not None]
    distinct = set(answered)
    print(f"answered {len(answered)}/{n} distinct {len(distinct)}")
    for e in errors[:5]:
        print(e, file=sys.stderr)
    if len(answered) == n and len(distinct) == 1:
        out(answered[0])
        return 0
    return 1


def cmd_data_chunks(path, parts):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except OSError as e:
        die_errno("open", e)
    off = 0
    for part in parts:
        b = part.encode()
        try:
            n = os.pwrite(fd, b, off)
        except OSError as e:
            print(f"write at {off}: {ename(e)}")
            os.close(fd)
            return 2
        off += n
    try:
        os.close(fd)
    except OSError as e:
        print(f"close {ename(e)}")
        return 2
    print("close ok")
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, path, rest = argv[1], argv[2], argv[3:]
    if cmd == "write-read" and len(rest) == 1:
        return cmd_write_read(path, rest[0])
    if cmd == "write" and len(rest) == 1:
        return cmd_write(path, rest[0])
    if cmd == "poll" and len(rest) == 1:
        return cmd_poll(path, rest[0])
    if cmd == "poll-tail" and len(rest) == 1:
        return cmd_poll(path, rest[0], tail=True)
    if cmd == "interrupt" and len(rest) == 1:
        return cmd_interrupt(path, rest[0])
    if cmd == "readers" and len(rest) == 1:
        return cmd_readers(path, rest[0])
    if cmd == "data-chunks" and rest:
        return cmd_data_chunks(path, rest)
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))

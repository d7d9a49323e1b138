#!/usr/bin/env python3
"""The service manager's side of sd_notify(3), for test-install.sh: listens on the AF_UNIX
datagram socket ADDR (a path, or @NAME for an abstract one) and writes each message it gets
to OUT, one line each ("MSG <text with newlines as |>"). When a message holds READY=1 it lists
MOUNT/@robot at once, as a unit ordered after zrobot.service would, and writes "LS <names>"
or "LS-FAILED <error>". Touches OUT.ready once bound; ends after STOPPING=1 or 60 s."""
import os
import socket
import sys
import time

addr, out, mount = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".ready", "w").close()
end = time.monotonic() + 60
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write("MSG " + msg.replace("\n", "|") + "\n")
        lines = msg.split("\n")
        if "READY=1" in lines:
            try:
                f.write("LS " + " ".join(sorted(os.listdir(mount + "/@robot"))) + "\n")
            except OSError as e:
                f.write("LS-FAILED " + str(e) + "\n")
        if "STOPPING=1" in lines:
            break

# Helpers for the supervised-server tests (DESIGN §6); source after lib.sh. The servers are
# small python3 programs ($TPL/srv.py) told apart by a marker on their command line, so that
# pgrep -f finds each one (and whatever it forked) whoever started it.

PROC_MARK="zrmark$$x"

# srv_py: $TPL/srv.py MARKER PORT MODE, a server for the template "srv":
#   serve   listens on 127.0.0.1:PORT, prints "listening on PORT", "got HUP" on SIGHUP
#   crash   prints "crashing" and exits 1 at once
#   fork    serves, and leaves a double-forked setsid'd child ("MARKER-child") behind it
#   slow    waits 3 s before it listens
srv_py() {
	cat >"$TPL/srv.py" <<'PY'
import os, signal, socket, sys, time
marker, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
signal.signal(signal.SIGHUP, lambda *a: print("got HUP", flush=True))
print("server %s mode %s" % (marker, mode), flush=True)
if mode == "crash":
    print("crashing", flush=True)
    sys.exit(1)
if mode == "fork":
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("python3", ["python3", "-c", "import time; time.sleep(1000)",
                                  marker + "-child"])
        os._exit(0)
    os.wait()
if mode == "slow":
    time.sleep(3)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
print("listening on %d" % port, flush=True)
while True:
    c, _ = s.accept()
    c.close()
PY
}

# mk_srv [PROCESS-EXTRA-JSON]: the template "srv" (data marker, port, mode) whose process is
# srv.py, ready when its port answers, restarted at once on failure, 3 starts in 30 s at most;
# on.fail runs the action onfail (a line per run in $MARKS/fail.<service>); on_delete runs gone
# (a line in $MARKS/ondelete.<service>: whether the server was still running then).
mk_srv() {
	srv_py
	mk_template "$TPL" srv '{
  "name": "srv", "version": "1.0.0",
  "data": {
    "marker": {"type": "string", "default": "none"},
    "port": {"type": "integer", "default": 1, "minimum": 1, "maximum": 65535},
    "mode": {"type": "string", "default": "serve"}
  },
  "actions": {"onfail": {}, "fd3": {}, "gone": {}},
  "on_delete": ["gone"],
  "process": {
    "command": ["python3", "'"$TPL"'/srv.py", "${marker}", "${port}", "${mode}"],
    "ready": {"tcp": "127.0.0.1:${port}"}, "ready_timeout": 10,
    "restart": "on-failure", "restart_delay": 0.1, "restart_delay_max": 0.4,
    "start_limit": {"burst": 3, "interval": 30},
    "stop_timeout": 3'"${1:+, $1}"'
  },
  "on": {"fail": ["onfail"]}
}'
	mk_action "$TPL/srv" onfail 'echo "$ZR_SERVICE" >>"$MARKS/fail.${ZR_SERVICE#*/}"'
	mk_action "$TPL/srv" fd3 'echo "state process python3 ok" >&3; echo "state other x ok" >&3'
	# on_delete: is the server still there when it runs? (It must not be.)
	mk_action "$TPL/srv" gone 'if pgrep -f -- "$DATA_MARKER( |-child|\$)" >/dev/null; then s=running; else s=gone; fi
echo "$s" >>"$MARKS/ondelete.${ZR_SERVICE#*/}"'
}

# free_port: a TCP port nobody listens on now.
free_port() {
	"$ZR_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mk_srv_svc NAME [MODE]: a service of srv with its own marker ($PROC_MARK-NAME) and port;
# prints its path.
mk_srv_svc() {
	local d
	d=$(svc srv "$1")
	printf '{"marker": "%s-%s", "port": %s, "mode": "%s"}' "$PROC_MARK" "$1" "$(free_port)" \
		"${2:-serve}" >"$d/data" || fail "data of $1"
	echo "$d"
}

# srv_pids NAME: pids of processes whose command line holds $PROC_MARK-NAME (children too).
srv_pids() {
	pgrep -f -- "$PROC_MARK-$1( |-child|\$)" | sort -n
}

# proc_status SVC-DIR FIELD: one field of process/status.
proc_status() {
	timeout 10 cat "$1/process/status" | awk -v f="$2" '$1 == f { $1 = ""; sub(/^ /, ""); print }'
}

# wait_proc SVC-DIR FIELD VALUE TIMEOUT
wait_proc() {
	wait_for "[ \"\$(proc_status '$1' '$2')\" = '$3' ]" "$4" ||
		fail "$1: process $2 not '$3' after $4 s (status: $(timeout 5 cat "$1/process/status" | tr '\n' ' '))"
}

# The servers outlive the robot by design: at exit every one this test started goes (even on
# failure), robots first so that none is restarted, then their empty cgroups.
proc_cleanup() {
	local rc=$? p g
	for p in "${ZR_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in $(pgrep -f -- "$PROC_MARK"); do
		kill -KILL "$p" 2>/dev/null
	done
	sleep 0.2
	for g in "$DATA"/process/*.log; do
		g=$(basename "$g" .log)
		[ "$g" != '*' ] || continue
		find /sys/fs/cgroup -maxdepth 4 -type d -name "$g" -exec rmdir {} \; 2>/dev/null
	done
	(exit "$rc")
	zr_cleanup
}
trap proc_cleanup EXIT

#!/bin/bash
# Supervised servers behind the files (DESIGN §6): process/ and its formats, the built-in
# start/stop/restart/reload/status, want up|down|once, restart after kill -9, a bounded crash
# loop with on.fail once, a double-forked setsid'd child gone after stop, refusals (want,
# signal, a missing command), signals, the log (cat and tail -f), stats, metrics, the tree over
# HTTP, and rmdir stopping the server. Real FUSE, real processes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-process.sh"

command -v pgrep >/dev/null 2>&1 || skip "pgrep is missing"
mk_srv
mk_t
mk_template "$TPL" nocmd '{"name": "nocmd", "version": "1.0.0",
  "process": {"command": ["zr-no-such-command-'"$$"'"], "restart": "never"}}'
# rx: ready when its own action "check" exits 0 (ready.exec); own: its own start script runs
# before the server starts, and fails when the data says so.
mk_template "$TPL" rx '{"name": "rx", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}, "port": {"type": "integer", "default": 1},
           "mode": {"type": "string", "default": "serve"}},
  "actions": {"check": {}},
  "process": {"command": ["python3", "'"$TPL"'/srv.py", "${marker}", "${port}", "${mode}"],
              "ready": {"exec": "check"}, "ready_timeout": 10, "stop_timeout": 3}}'
mk_action "$TPL/rx" check 'echo "$ZR_ACTION $DATA_PORT" >"$MARKS/check.${ZR_SERVICE#*/}"
for i in $(seq 100); do
	python3 -c "import socket; socket.create_connection((\"127.0.0.1\", $DATA_PORT), 1)" 2>/dev/null && exit 0
	sleep 0.1
done
exit 1'
mk_template "$TPL" own '{"name": "own", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}, "port": {"type": "integer", "default": 1},
           "mode": {"type": "string", "default": "serve"}, "startok": {"type": "boolean", "default": true}},
  "actions": {"start": {}},
  "process": {"command": ["python3", "'"$TPL"'/srv.py", "${marker}", "${port}", "${mode}"],
              "ready": {"tcp": "127.0.0.1:${port}"}, "ready_timeout": 10, "stop_timeout": 3}}'
mk_action "$TPL/own" start 'echo "start script ${ZR_SERVICE#*/}" >>"$MARKS/own-start"
echo "config written"
[ "$DATA_STARTOK" = true ] || { echo "no config for you" >&2; exit 4; }'
# srv 1.1.0, the highest (new services get it): the same server with SRV_VERSION=2 in its env.
mkdir -p "$TMP/t2" && cp -a "$TPL/srv" "$TMP/t2/srv"
sed -i 's/"version": "1.0.0"/"version": "1.1.0"/; s/"stop_timeout": 3/"stop_timeout": 3, "env": {"SRV_VERSION": "2"}/' \
	"$TMP/t2/srv/template.json"
zr_start_http --sample-interval 0.2 --templates "$TMP/t2"

# ---- the files, before any start ----
A=$(mk_srv_svc a)
expect_eq "$(ls "$A/process" | tr '\n' ' ')" "deaths log pid signal stats status want " "process/ listing"
expect_in "$(ls "$A")" process "process/ in the service's listing"
expect_eq "$(rcat "$A/process/want")" down "want of a new service"
expect_eq "$(proc_status "$A" state)" down "state of a new service"
expect_eq "$(proc_status "$A" adopted)" no "adopted of a new service"
expect_eq "$(rcat "$A/process/pid")" "" "pid before a start"
expect_eq "$(stat -c %a "$A/process/want")" 644 "mode of want"
expect_eq "$(stat -c %a "$A/process/signal")" 200 "mode of signal"
T=$(svc t x)
[ ! -e "$T/process" ] || fail "a template without a process has process/"
expect_not_in "$(ls "$T")" process "process/ in the listing of a service without a process"
ok "process/ files of a new service: want down, state down, no pid"

# ---- built-in start: the task ends once the port answers ----
run_ok "echo start > '$A/actions/start'" >/dev/null
run_ok "cat '$A/results/start'" >/dev/null
expect_eq "$(proc_status "$A" state)" ready "state after start"
expect_eq "$(rcat "$A/process/want")" up "want after start"
PID=$(rcat "$A/process/pid")
expect_eq "$(srv_pids a)" "$PID" "the one server running"
expect_eq "$(proc_status "$A" pid)" "$PID" "pid in status"
expect_match "$(proc_status "$A" since)" '^20[0-9-]+T' "since"
expect_match "$(proc_status "$A" uptime)" '^[0-9]' "uptime"
expect_eq "$(proc_status "$A" restarts)" 0 "restarts after start"
expect_in "$(rcat "$A/state")" "process python3 ok" "state line of a ready server"
PORT=$(jsonstr "$(rcat "$A/data")" 'j["port"]')
"$ZR_PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 2)" ||
	fail "the server does not answer on $PORT"
expect_eq "$(tr '\0' '\n' <"/proc/$PID/environ" | grep -c '^ZR_SERVICE=srv/a$')" 1 "ZR_SERVICE in its environment"
expect_eq "$(tr '\0' '\n' <"/proc/$PID/environ" | grep -c "^DATA_PORT=$PORT\$")" 1 "DATA_PORT in its environment"
expect_eq "$(readlink "/proc/$PID/cwd")" "$DATA/work/$(jsonstr "$(rcat "$A/info")" 'j["guid"]')" "its cwd is the work folder"
expect_eq "$(jsonstr "$(rcat "$A/info")" 'j["process"]["state"]')" ready "info's process"
# A second start while it runs: at once, no second server.
run_ok "echo start > '$A/actions/start'" >/dev/null
run_ok "cat '$A/results/start'" >/dev/null
expect_eq "$(srv_pids a)" "$PID" "a second start starts nothing"
run_ok "echo status > '$A/actions/status'" >/dev/null
expect_in "$(run_ok "cat '$A/results/status'")" "state ready" "the status action's result"
ok "start ends when ready; one server, pid, state line, environment and cwd"

# ---- log: cat ends, tail -f follows; signal HUP reaches the server ----
expect_in "$(rcat "$A/process/log")" "listening on $PORT" "log holds the server's output"
expect_match "$(rcat "$A/process/log" | grep "listening on" | head -n 1)" '^20[0-9-]+T[0-9:.]+Z listening' "log lines are timestamped"
timeout 15 tail -f "$A/process/log" >"$TMP/tail.out" 2>&1 &
TAILPID=$!
sleep 1.2
run_ok "echo HUP > '$A/process/signal'" >/dev/null
wait_for "grep -q 'got HUP' '$TMP/tail.out'" 10 || fail "tail -f of process/log did not show the HUP line"
kill "$TAILPID" 2>/dev/null
wait "$TAILPID" 2>/dev/null
run_ok "echo SIGHUP > '$A/process/signal'" >/dev/null
wait_for "[ \$(grep -c 'got HUP' '$A/process/log') -ge 2 ]" 10 || fail "SIGHUP did not reach the server"
run_ok "echo reload > '$A/actions/reload'" >/dev/null
run_ok "cat '$A/results/reload'" >/dev/null
wait_for "[ \$(grep -c 'got HUP' '$A/process/log') -ge 3 ]" 10 || fail "reload did not send HUP"
expect_errno "echo NOPE > '$A/process/signal'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "EINVAL" "lasterror after a bad signal"
expect_errno "echo KILL > '$A/process/signal'" "Invalid argument"
expect_errno "echo STOP > '$A/process/signal'" "Invalid argument"
expect_eq "$(srv_pids a)" "$PID" "refused signals change nothing"
ok "log (cat, timestamps, tail -f), signal HUP and reload; bad names, KILL and STOP refused"

# ---- stats, sampled ----
wait_for "[ \"\$(awk '\$1 == \"rss\" { print \$2 }' '$A/process/stats')\" -gt 0 ]" 10 ||
	fail "stats: no rss > 0: $(rcat "$A/process/stats")"
ST=$(rcat "$A/process/stats")
for f in rss vms cpu_percent threads fds connections; do
	expect_match "$ST" "^$f [0-9.]+\$" "stats field $f"
done
wait_for "grep -qx 'listening 127.0.0.1:$PORT' '$A/process/stats'" 10 ||
	fail "stats: not listening on $PORT: $(rcat "$A/process/stats")"
ok "stats: rss > 0, every field, listening 127.0.0.1:$PORT"

# ---- metrics and the tree over HTTP ----
expect_eq "$(metric 'zrobot_process_up{template="srv",service="a"}')" 1 "zrobot_process_up"
expect_eq "$(metric 'zrobot_process_restarts_total{template="srv",service="a"}')" 0 "restarts_total"
expect_match "$(metric 'zrobot_process_resident_memory_bytes{template="srv",service="a"}')" '^[1-9][0-9]*$' "resident memory"
expect_match "$(metric 'zrobot_process_open_fds{template="srv",service="a"}')" '^[1-9][0-9]*$' "open fds"
expect_match "$(metric 'zrobot_process_cpu_seconds_total{template="srv",service="a"}')" '^[0-9.]+$' "cpu seconds"
expect_http 200 "$ADMIN" GET /v1/srv/a/process/status
expect_in "$HB" "state ready" "process/status over HTTP"
expect_http 200 "$ADMIN" GET /v1/srv/a/process/pid
expect_eq "$HB" "$PID" "process/pid over HTTP"
ok "metrics with template and service labels; process/ over HTTP"

# ---- kill -9 of the server: restarted, restarts 1, a death recorded ----
kill -KILL "$PID"
wait_for "[ \"\$(rcat '$A/process/pid')\" != '$PID' ] && [ -n \"\$(rcat '$A/process/pid')\" ]" 10 ||
	fail "not restarted after kill -9"
wait_proc "$A" state ready 10
expect_eq "$(proc_status "$A" restarts)" 1 "restarts after a kill -9"
expect_eq "$(proc_status "$A" last_exit)" "signal KILL" "last_exit after a kill -9"
expect_match "$(rcat "$A/process/deaths")" '^20[0-9-]+T[^ ]+ signal KILL uptime [0-9.]+$' "deaths line"
PID=$(rcat "$A/process/pid")
expect_eq "$(srv_pids a)" "$PID" "one server after the restart"
expect_eq "$(metric 'zrobot_process_restarts_total{template="srv",service="a"}')" 1 "restarts_total after a restart"
expect_in "$(rcat "$A/events")" '"process.restarting"' "restarting event"
ok "kill -9: restarted, restarts 1, last_exit signal KILL, a death line"

# ---- want: down, up, once; garbage refused ----
run_ok "echo down > '$A/process/want'" >/dev/null
wait_proc "$A" state down 10
expect_eq "$(srv_pids a)" "" "no server once want is down"
expect_eq "$(rcat "$A/process/pid")" "" "pid once down"
expect_not_in "$(rcat "$A/state")" "process python3" "no state line when down as wanted"
run_ok "echo up > '$A/process/want'" >/dev/null
wait_proc "$A" state ready 10
expect_eq "$(rcat "$A/process/want")" up "want up"
expect_eq "$(srv_pids a | wc -l)" 1 "one server once want is up"
run_ok "echo once > '$A/process/want'" >/dev/null
expect_eq "$(rcat "$A/process/want")" once "want once"
PID=$(rcat "$A/process/pid")
kill -KILL "$PID"
wait_proc "$A" state down 10
sleep 1
expect_eq "$(srv_pids a)" "" "once: not restarted after it died"
expect_eq "$(rcat "$A/process/want")" down "want once becomes down once the run ended"
expect_errno "echo sideways > '$A/process/want'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "want: expected up, down or once" "lasterror after want garbage"
expect_eq "$(rcat "$A/process/want")" down "want unchanged by garbage"
http "$ADMIN" PUT /v1/srv/a/process/want --data-binary up
expect_match "$HS" '^20[04]$' "PUT up to want over HTTP"
wait_proc "$A" state ready 10
ok "want down stops, up starts, once is not restarted, garbage is EINVAL with lasterror; PUT over HTTP"

# ---- the process state category is the robot's here ----
run_ok "echo fd3 > '$A/actions/fd3'" >/dev/null
run_ok "cat '$A/results/fd3'" >/dev/null
expect_in "$(rcat "$A/state")" "other x ok" "an action's own state line"
expect_in "$(rcat "$A/tasks/$(last_task "$A")/log")" "the category 'process' is the robot's" "fd 3 'process' refused"
ok "fd 3 may not write the process category of a supervised service"

# ---- stop: the task ends when the tree is gone, a double-forked setsid'd child too ----
F=$(mk_srv_svc f fork)
run_ok "echo start > '$F/actions/start'" >/dev/null
run_ok "cat '$F/results/start'" >/dev/null
wait_for "[ \$(srv_pids f | wc -l) -ge 2 ]" 10 || fail "the forking server left no child: $(srv_pids f)"
CHILD=$(pgrep -f -- "$PROC_MARK-f-child")
[ -n "$CHILD" ] || fail "no setsid'd child"
[ "$(ps -o sid= -p "$CHILD" | tr -d ' ')" != "$(ps -o sid= -p "$(rcat "$F/process/pid")" | tr -d ' ')" ] ||
	fail "the child did not leave the server's session"
run_ok "echo stop > '$F/actions/stop'" >/dev/null
run_ok "cat '$F/results/stop'" >/dev/null
expect_eq "$(srv_pids f)" "" "nothing of the tree after stop"
expect_eq "$(proc_status "$F" state)" down "state after stop"
expect_eq "$(rcat "$F/process/want")" down "want after stop"
ok "stop of a double-forking setsid server leaves nothing"

# ---- restart: ends when the new process is ready ----
run_ok "echo start > '$F/actions/start'" >/dev/null
run_ok "cat '$F/results/start'" >/dev/null
OLD=$(rcat "$F/process/pid")
run_ok "echo restart > '$F/actions/restart'" >/dev/null
run_ok "cat '$F/results/restart'" >/dev/null
expect_eq "$(proc_status "$F" state)" ready "state after restart"
NEW=$(rcat "$F/process/pid")
[ "$NEW" != "$OLD" ] || fail "restart kept pid $OLD"
pid_alive "$OLD" && fail "the old server $OLD still runs after restart"
ok "restart: a new server, ready, the old one gone"

# ---- a crash loop: bounded, failed, on.fail once ----
C=$(mk_srv_svc c crash)
expect_errno "echo start > '$C/actions/start'; cat '$C/results/start'" "Input/output error"
wait_proc "$C" state failed 20
expect_eq "$(srv_pids c)" "" "no server of a failed service"
wait_for "[ -s '$MARKS/fail.c' ]" 10 || fail "on.fail did not run"
sleep 1.5
expect_eq "$(wc -l <"$MARKS/fail.c")" 1 "on.fail ran once"
R=$(proc_status "$C" restarts)
[ "$R" -le 3 ] || fail "a crash loop was not bounded: restarts $R"
expect_in "$(rcat "$C/state")" "process python3 error" "state line of a failed server"
expect_match "$(proc_status "$C" last_exit)" '^code 1$' "last_exit of the crash"
ERR=$(timeout 10 cat "$C/results/start" 2>/dev/null)
expect_in "$ERR" "exited with code 1 before ready" "the start's error"
expect_in "$ERR" "crashing" "the start's error quotes the server's last lines"
sleep 1
expect_eq "$(proc_status "$C" restarts)" "$R" "no more restarts once failed"
ok "crash loop: failed after $R restarts, on.fail once, start failed with the last lines"

# ---- a missing command ----
N=$(svc nocmd n)
expect_errno "echo start > '$N/actions/start'; cat '$N/results/start'" "Input/output error"
expect_in "$(timeout 10 cat "$N/results/start" 2>/dev/null)" "ENOENT: cannot run zr-no-such-command-$$" "start error of a missing command"
wait_proc "$N" state failed 10
ok "a missing command: start fails 'ENOENT: cannot run X', status failed"

# ---- ready.exec: the template's action decides ----
X=$(svc rx x)
printf '{"marker": "%s-x", "port": %s}' "$PROC_MARK" "$(free_port)" >"$X/data" || fail "data of x"
run_ok "echo start > '$X/actions/start'" >/dev/null
run_ok "cat '$X/results/start'" >/dev/null
expect_eq "$(proc_status "$X" state)" ready "state after a ready.exec start"
expect_eq "$(cat "$MARKS/check.x")" "check $(jsonstr "$(rcat "$X/data")" 'j["port"]')" "the check ran with its name and the data"
expect_eq "$(task_ids "$X" | wc -l)" 1 "the check is not a task"
timeout 20 rmdir "$X" || fail "rmdir $X"
ok "ready.exec: ready once the template's check action exits 0; no task for it"

# ---- a template's own start script runs first ----
O=$(svc own o1)
printf '{"marker": "%s-o1", "port": %s}' "$PROC_MARK" "$(free_port)" >"$O/data" || fail "data of o1"
run_ok "echo start > '$O/actions/start'" >/dev/null
expect_eq "$(run_ok "cat '$O/results/start'")" "config written" "the start script's output is the result"
expect_eq "$(proc_status "$O" state)" ready "state after the own start script"
expect_eq "$(srv_pids o1 | wc -l)" 1 "the server runs after the own start script"
O2=$(svc own o2)
printf '{"marker": "%s-o2", "port": %s, "startok": false}' "$PROC_MARK" "$(free_port)" >"$O2/data" ||
	fail "data of o2"
expect_errno "echo start > '$O2/actions/start'; cat '$O2/results/start'" "Input/output error"
expect_in "$(timeout 10 cat "$O2/results/start" 2>/dev/null)" "exit status 4" "the failed script's error"
sleep 0.5
expect_eq "$(srv_pids o2)" "" "no server when the own start script failed"
expect_eq "$(rcat "$O2/process/want")" down "want stays down when the own start script failed"
expect_eq "$(cat "$MARKS/own-start")" "start script o1
start script o2" "the own start script ran for each"
timeout 20 rmdir "$O" || fail "rmdir $O"
timeout 20 rmdir "$O2" || fail "rmdir $O2"
wait_for "[ -z \"\$(srv_pids o1)\" ]" 10 || fail "rmdir left o1 running"
ok "a template's own start script runs first; when it fails the server is not started"

# ---- an upgrade restarts the server on the new version ----
U=$(mk_srv_svc u)
run_ok "echo start > '$U/actions/start'" >/dev/null
run_ok "cat '$U/results/start'" >/dev/null
OLD=$(rcat "$U/process/pid")
expect_eq "$(tr '\0' '\n' <"/proc/$OLD/environ" | grep -c '^SRV_VERSION=2$')" 1 "1.1.0's env"
run_ok "echo 1.0.0 > '$U/upgrade'" >/dev/null
wait_for "[ \"\$(rcat '$U/process/pid')\" != '$OLD' ] && [ \"\$(proc_status '$U' state)\" = ready ]" 15 ||
	fail "not restarted on the new version: $(rcat "$U/process/status" | tr '\n' ' ')"
NEW=$(rcat "$U/process/pid")
expect_eq "$(tr '\0' '\n' <"/proc/$NEW/environ" | grep -c '^SRV_VERSION=')" 0 "1.0.0's env"
expect_eq "$(srv_pids u)" "$NEW" "one server after the upgrade"
expect_eq "$(rcat "$U/upgrade")" 1.0.0 "the version after the upgrade"
timeout 20 rmdir "$U" || fail "rmdir $U"
ok "an upgrade restarts the server on the new version's process"

# ---- rmdir stops the server ----
expect_eq "$(srv_pids a | wc -l)" 1 "a runs before rmdir"
timeout 20 rmdir "$A" || fail "rmdir $A"
wait_for "[ -z \"\$(srv_pids a)\" ]" 10 || fail "rmdir left the server running: $(srv_pids a)"
wait_for "[ -s '$MARKS/ondelete.a' ]" 10 || fail "on_delete of a did not run"
expect_eq "$(cat "$MARKS/ondelete.a")" gone "the server was gone when on_delete ran"
timeout 20 rmdir "$F" || fail "rmdir $F"
wait_for "[ -z \"\$(srv_pids f)\" ]" 10 || fail "rmdir left the server running: $(srv_pids f)"
ok "rmdir stops the server first, then on_delete runs"

# ---- rmdir while a start waits for the server to be ready ----
D=$(mk_srv_svc d slow)
run_ok "echo start > '$D/actions/start'" >/dev/null
timeout 20 cat "$D/results/start" >"$TMP/d.out" 2>"$TMP/d.err" &
CATPID=$!
wait_for "[ -n \"\$(srv_pids d)\" ]" 10 || fail "the slow server did not start"
timeout 20 rmdir "$D" || fail "rmdir $D"
wait "$CATPID" && fail "the start read succeeded although the service was deleted"
expect_in "$(cat "$TMP/d.out")" "cancelled: service deleted" "the start's error"
expect_in "$(cat "$TMP/d.err")" "Operation canceled" "the start reader's errno"
wait_for "[ -z \"\$(srv_pids d)\" ]" 10 || fail "rmdir during a start left the server: $(srv_pids d)"
ok "rmdir during a start: the start is cancelled, the server stopped"

zr_stop 20
expect_eq "$(pgrep -f -- "$PROC_MARK" | wc -l)" 0 "no server left (none was up at the stop)"
ok "stopped"

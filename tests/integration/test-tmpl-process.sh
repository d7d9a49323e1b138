#!/bin/bash
# The built-in process template (issue 13): any command from data, like a supervisord program.
# A python3 http.server with ready_tcp: echo start → ready, it serves, ./run holds the argv
# quoted, process/status and stats, kill -9 → back, rmdir → gone and its port free. sleep
# infinity without ready_tcp: ready once started, stop → down, the tree gone. Bad commands:
# not an array, a program that does not exist (ENOENT: cannot run X).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

zr_start
port=$(free_port)
mkdir -p "$TMP/www"
echo "served by the process template" >"$TMP/www/index.html"
tmpl_svc process web "{\"command\": [\"$ZR_PY\", \"-m\", \"http.server\", \"--bind\", \"127.0.0.1\",
	\"--directory\", \"$TMP/www\", \"$port\"], \"ready_tcp\": \"127.0.0.1:$port\"}"
S=$SVC
act "$S" start >/dev/null
ok "mkdir process/web (python3 -m http.server $port); echo start; results/start ok"
expect_eq "$(curl -sf "http://127.0.0.1:$port/")" "served by the process template" "curl"
W=$DATA/work/$GUID
expect_eq "$(tail -n 1 "$W/run")" \
	"exec '$ZR_PY' '-m' 'http.server' '--bind' '127.0.0.1' '--directory' '$TMP/www' '$port'" \
	"the argv in ./run"
ok "the server answers; ./run holds the argv, each word quoted"

check_ready "$S"
pid=$(server_pid "$S")
expect_in "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "http.server" "process/pid is the server"
check_stats "$S" "$port"
ok "process/status ready; process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"

pid=$(check_kill9 "$S" "curl -sf http://127.0.0.1:$port/ >/dev/null")
ok "kill -9 of the server: restarted (pid $pid), restarts 1, it serves again"
check_removed "$S" "$pid" "$port"
ok "rmdir process/web: the server is gone and port $port is free"

# sleep infinity behind a shell that forks it: no ready_tcp, so ready once started; stop
# takes the whole tree (the shell and its sleep), with a word holding a quote and a space.
marker="zr-tmpl-$$-it's here"
tmpl_svc process sleeper "{\"command\": [\"sh\", \"-c\", \"sleep infinity & wait\", \"$marker\"]}"
S=$SVC
act "$S" start >/dev/null
check_ready "$S"
pid=$(server_pid "$S")
expect_eq "$(tr '\0' '\n' <"/proc/$pid/cmdline" | tail -n 1)" "$marker" "argv word with a quote"
child=$(ps -o pid= --ppid "$pid" | tr -d ' ')
[ -n "$child" ] || fail "the shell $pid has no sleep child"
act "$S" stop >/dev/null
expect_eq "$(status_of "$S" state)" down "state after stop"
! pid_alive "$pid" || fail "the shell $pid runs after stop"
! pid_alive "$child" || fail "its sleep $child runs after stop"
expect_eq "$(server_pid "$S")" "" "process/pid after stop"
ok "sh -c 'sleep infinity & wait': ready without a check; stop ends the shell and its child"

# Refused commands: an object (the data schema), an empty array (the start script), a program
# that does not exist (the start script, in the robot's words).
tmpl_svc process bad '{"command": []}'
S=$SVC
expect_errno "printf '%s\\n' '{\"command\": {\"a\": 1}}' >'$S/data'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "must be an array" "lasterror of an object as command"
rc=0
timeout 30 bash -c 'echo start >"$1/actions/start" && cat "$1/results/start"' _ "$S" \
	>"$TMP/bad.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "start with an empty command: rc $rc"
expect_in "$(cat "$TMP/bad.out")" "must hold at least the program" "start with an empty command"
expect_eq "$(server_pid "$S")" "" "no server for a refused command"
timeout 10 bash -c 'printf "%s\n" "$2" >"$1"' _ "$S/data" '{"command": ["zr-no-such-program-x"]}'
rc=0
timeout 30 bash -c 'echo start >"$1/actions/start" && cat "$1/results/start"' _ "$S" \
	>"$TMP/bad.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "start of a missing program: rc $rc"
expect_in "$(cat "$TMP/bad.out")" "ENOENT: cannot run zr-no-such-program-x" "start of a missing program"
ok "refused: an object (EINVAL), an empty array and a missing program ($(grep -m1 ENOENT "$TMP/bad.out"))"
zr_stop

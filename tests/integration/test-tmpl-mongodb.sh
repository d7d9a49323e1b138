#!/bin/bash
# The built-in mongodb template with a real mongod (issue 13). Debian ships no mongod: without
# it this test says so and is skipped (exit 77), in CI too: tests/run.sh lists it as a test
# whose skip is expected. Where mongod exists: echo start → ready, the dbpath in the work
# folder, the ping action, process/status and stats, kill -9 → back, rmdir → gone, port free.
if ! command -v mongod >/dev/null 2>&1; then
	echo "SKIP: test-tmpl-mongodb: skipped: mongod not installed"
	exit 77
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

zr_start
port=$(free_port)
tmpl_svc mongodb main "{\"port\": $port}"
S=$SVC
act "$S" start "" 120 >/dev/null
ok "mkdir mongodb/main (port $port); echo start; results/start ok"
[ -d "$DATA/work/$GUID/db" ] || fail "no dbpath in the work folder"
check_ready "$S"
check_stats "$S" "$port"
ok "process/status ready; process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"
probe="(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
if command -v mongosh >/dev/null 2>&1 || command -v mongo >/dev/null 2>&1; then
	expect_eq "$(act "$S" ping)" ok "action ping"
	ok "action ping: ok"
fi
pid=$(check_kill9 "$S" "$probe")
ok "kill -9 of mongod: restarted (pid $pid), restarts 1, it accepts connections again"
check_removed "$S" "$pid" "$port"
ok "rmdir mongodb/main: mongod is gone, port $port is free"
zr_stop

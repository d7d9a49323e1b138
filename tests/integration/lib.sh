# Shared helpers for the integration tests; each tests/integration/test-*.sh sources this file.
#
# Every test gets a private temp dir ($TMP) holding mnt/ (the mount point), data/ (the robot's
# data dir), templates/ (test templates built with mk_template/mk_action) and marks/ (files
# that actions write so the test can see what ran). An EXIT trap always stops the robots this
# test started, unmounts, kills the processes this test started and removes $TMP.
#
# Environment (set by meson, defaults for running a test by hand from the source tree):
#   ZROBOT  the daemon binary      ZR_SRC  the source root      ZR_PY  python3

set -u

ZR_SRC=${ZR_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ZROBOT=${ZROBOT:-$ZR_SRC/build/fs/zrobot}
ZR_PY=${ZR_PY:-python3}
ZRTOOL="$ZR_SRC/tests/integration/zrtool.py"
TEST_NAME=$(basename "$0" .sh)
export ZR_SRC ZROBOT ZR_PY ZRTOOL

# ---------------------------------------------------------------------------------------------
# Skips: exit 77 when the machine cannot mount FUSE, but in CI that is a failure.

skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $TEST_NAME cannot run in CI: $*" >&2
		exit 1
	fi
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 is missing"
command -v "$ZR_PY" >/dev/null 2>&1 || skip "$ZR_PY is missing"
[ -x "$ZROBOT" ] || { echo "FAIL: zrobot binary not found at $ZROBOT" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zr-$TEST_NAME.XXXXXX") || exit 1
MNT=$TMP/mnt
DATA=$TMP/data
TPL=$TMP/templates
MARKS=$TMP/marks
mkdir -p "$MNT" "$DATA" "$TPL" "$MARKS"
# Actions get a clean environment: zr_launch passes these on (--pass-env) so they find $MARKS.
export TMP MNT DATA TPL MARKS

ZR_PID=          # the robot started last by zr_start
ZR_PIDS=()       # every robot this test started
ZR_TRACKED=()    # other processes to kill at exit (daemons started by actions, by pidfile)
ZR_STATUS=       # exit status of the last robot reaped by zr_stop/zr_reap
N_OK=0

# ---------------------------------------------------------------------------------------------
# Output and assertions.

ok() {
	N_OK=$((N_OK + 1))
	echo "ok - $*"
}

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ -n "$ZR_PID" ] && ! pid_alive "$ZR_PID"; then
		echo "FAIL: $TEST_NAME: zrobot (pid $ZR_PID) is no longer running" >&2
	fi
	if [ -s "$TMP/robot.log" ]; then
		echo "---- tail of robot.log ----" >&2
		tail -n 40 "$TMP/robot.log" >&2
		echo "---------------------------" >&2
	fi
	# In a subshell ($(...), a background job) exiting is not enough: tell the test itself.
	if [ "$BASHPID" != "$$" ]; then
		kill -USR1 $$ 2>/dev/null
	fi
	exit 1
}

# expect_eq GOT WANT MSG
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

# expect_match GOT EXTENDED-REGEX MSG
expect_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match /$2/"
}

# expect_in TEXT NEEDLE MSG: TEXT contains the fixed string NEEDLE (expect_not_in: it does not)
expect_in() {
	case $1 in
	*"$2"*) ;;
	*) fail "$3: '$2' not found in: $1" ;;
	esac
}

expect_not_in() {
	case $1 in
	*"$2"*) fail "$3: '$2' unexpectedly found in: $1" ;;
	esac
}

# expect_errno CMD ERRNO-TEXT: CMD (a bash command line, run with a 20 s bound) must fail and
# its stderr must contain ERRNO-TEXT, e.g. "Invalid argument".
expect_errno() {
	local rc=0
	timeout -k 2 20 bash -c "$1" >"$TMP/expect.out" 2>"$TMP/expect.err" || rc=$?
	[ "$rc" -ne 124 ] || fail "'$1' hung (killed after 20 s)"
	[ "$rc" -ne 0 ] || fail "'$1' succeeded, expected '$2'"
	grep -qF -- "$2" "$TMP/expect.err" ||
		fail "'$1' failed without '$2': $(cat "$TMP/expect.err")"
}

# run_ok CMD: runs CMD (bounded, 20 s) and fails the test with its stderr if it fails.
run_ok() {
	local rc=0
	timeout -k 2 20 bash -c "$1" >"$TMP/run.out" 2>"$TMP/run.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "'$1' exited $rc: $(cat "$TMP/run.err")"
	cat "$TMP/run.out"
}

# wait_for CMD TIMEOUT: polls CMD (eval'd) every 0.1 s until it succeeds; returns 1 on timeout.
wait_for() {
	local deadline
	deadline=$(fadd "$(now)" "$2")
	while :; do
		if eval "$1" >/dev/null 2>&1; then
			return 0
		fi
		fgt "$(now)" "$deadline" && return 1
		sleep 0.1
	done
}

# Wall clock as seconds with a fraction, and float helpers on top of awk.
now() { echo "$EPOCHREALTIME"; }
fadd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a + b }'; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }
fgt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
since() { fsub "$(now)" "$1"; }

# iso2s TIME: "2026-11-22T10:00:00.123Z" -> seconds since the epoch with a fraction.
iso2s() {
	date -u -d "$1" +%s.%N || fail "not an ISO-8601 time: '$1'"
}

# json FILE EXPR: evaluates a python expression over the JSON in FILE (bound to j), prints it
# (strings as-is, anything else as JSON with sorted keys). Fails the test when the file is not JSON.
json() {
	local out
	out=$(timeout 10 "$ZR_PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$1" "$2" 2>&1) ||
		fail "json $1 [$2]: $out"
	printf '%s\n' "$out"
}

# jsonstr TEXT EXPR: the same over a string.
jsonstr() {
	local out
	out=$(printf '%s' "$1" | timeout 10 "$ZR_PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$2" 2>&1) ||
		fail "jsonstr [$2] on '$1': $out"
	printf '%s\n' "$out"
}

zrtool() {
	timeout -k 2 "${ZRTOOL_TIMEOUT:-30}" "$ZR_PY" "$ZRTOOL" "$@"
}

# rcat FILE: bounded cat (10 s) of a file that must not block; fails the test on error.
rcat() {
	local rc=0 out
	out=$(timeout -k 2 10 cat "$1" 2>"$TMP/rcat.err") || rc=$?
	[ "$rc" -ne 124 ] || fail "cat $1 blocked for 10 s"
	[ "$rc" -eq 0 ] || fail "cat $1 exited $rc: $(cat "$TMP/rcat.err")"
	printf '%s\n' "$out"
}

# task_stderr FILE: a task log without the robot's own notes ("zrobot: attempt 1 started...").
task_stderr() {
	rcat "$1" | grep -v '^zrobot: '
}

# ---------------------------------------------------------------------------------------------
# Test templates.

# mk_template DIR NAME MANIFEST-JSON: DIR/NAME/template.json and DIR/NAME/actions/.
mk_template() {
	mkdir -p "$1/$2/actions"
	printf '%s\n' "$3" >"$1/$2/template.json"
}

# mk_action TEMPLATE-DIR NAME SCRIPT: an executable DIR/actions/NAME; SCRIPT without a "#!"
# line is a /bin/sh script.
mk_action() {
	local f="$1/actions/$2"
	mkdir -p "$1/actions"
	case $3 in
	'#!'*) printf '%s\n' "$3" >"$f" ;;
	*) printf '#!/bin/sh\n%s\n' "$3" >"$f" ;;
	esac
	chmod 755 "$f"
}

# mk_t: the template "t" most tests share.
#  data:    greeting (string, default "hello"), count (integer >= 0, default 1)
#  actions: echo (args n integer >= 0, msg string) prints "n=N msg=M"
#           slow (args secs number, default 2, n integer) sleeps, prints "slept N"
#           fail prints stdout, two stderr lines, exits 3
#           stdin prints its stdin; dump prints env, cwd and stdin; noisy writes stderr
#           cleanup (on_delete) writes $MARKS/cleanup.<service>
mk_t() {
	mk_template "$TPL" t '{
  "name": "t", "version": "1.0.0", "description": "integration test template",
  "data": {
    "greeting": {"type": "string", "default": "hello"},
    "count": {"type": "integer", "default": 1, "minimum": 0}
  },
  "actions": {
    "echo": {"args": {"n": {"type": "integer", "default": 0, "minimum": 0},
                      "msg": {"type": "string", "default": ""}}},
    "slow": {"args": {"secs": {"type": "number", "default": 2}, "n": {"type": "integer", "default": 0}}},
    "fail": {}, "stdin": {}, "noisy": {},
    "dump": {"args": {"n": {"type": "integer", "default": 0}, "msg": {"type": "string", "default": ""}}},
    "cleanup": {}
  },
  "on_delete": ["cleanup"]
}'
	mk_action "$TPL/t" echo 'echo "n=$ARG_N msg=$ARG_MSG"'
	mk_action "$TPL/t" slow 'sleep "$ARG_SECS"; echo "slept $ARG_N"'
	mk_action "$TPL/t" fail 'echo "partial stdout"
echo "first stderr line" >&2
echo "boom: failed on purpose" >&2
exit 3'
	mk_action "$TPL/t" stdin 'cat'
	mk_action "$TPL/t" dump 'env | grep -E "^(ZR_|DATA_|ARG_)" | sort
echo "cwd=$(pwd)"
echo "stdin=$(tr -d '"'"'\n'"'"')"'
	mk_action "$TPL/t" noisy 'echo "noise line 1" >&2
echo "noise line 2" >&2
echo quiet'
	mk_action "$TPL/t" cleanup 'name=${ZR_SERVICE#*/}
echo "$ZR_ACTION $ZR_SERVICE" >"$MARKS/cleanup.$name"'
}

# mk_app: the template "app" of the producer tests. It consumes a "node" service in its role
# "host"; its install action runs exec on that producer through producers/host and prints the
# result.
mk_app() {
	mk_template "$TPL" app '{"name": "app", "version": "1.0.0",
  "consumes": {"host": {"template": "node"}},
  "actions": {"install": {}}}'
	mk_action "$TPL/app" install 'p="$ZR_SERVICE_DIR/producers/host"
echo "cmd=echo from \$(hostname)" >"$p/actions/exec" || exit 1
cat "$p/results/exec"'
}

# ---------------------------------------------------------------------------------------------
# Services and tasks.

# svc TEMPLATE NAME: mkdir the service; prints its path.
svc() {
	timeout 10 mkdir "$MNT/$1/$2" || fail "mkdir $MNT/$1/$2 failed"
	echo "$MNT/$1/$2"
}

# task_ids SVC-DIR: task ids of a service, ascending.
task_ids() {
	timeout 10 ls "$1/tasks" | grep -E '^[0-9]+$' | sort -n
}

# last_task SVC-DIR: the highest task id of a service.
last_task() {
	task_ids "$1" | tail -n 1
}

# submit SVC-DIR ACTION PAYLOAD: one write to actions/ACTION (bash echo: O_TRUNC and one
# write); prints the new task id (the highest id after the write).
submit() {
	local err
	err=$(timeout 10 bash -c 'printf "%s\n" "$2" >"$1"' _ "$1/actions/$2" "$3" 2>&1) ||
		fail "write '$3' to $1/actions/$2 failed: $err"
	last_task "$1"
}

# task_state SVC-DIR ID
task_state() {
	timeout 10 cat "$1/tasks/$2/state" 2>/dev/null
}

# wait_state SVC-DIR ID STATE TIMEOUT
wait_state() {
	wait_for "[ \"\$(task_state '$1' '$2')\" = '$3' ]" "$4" ||
		fail "task $2 of $1 not '$3' after $4 s (state '$(task_state "$1" "$2")')"
}

# ---------------------------------------------------------------------------------------------
# The robot.

pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# mounted [DIR]: DIR (default $MNT) is a mount point in /proc/mounts.
mounted() {
	grep -qF " ${1:-$MNT} fuse" /proc/mounts
}

# zr_launch ARGS...: starts "$ZROBOT" run ARGS in the background, output appended to
# ${ZR_LOG:-$TMP/robot.log}; sets ZR_PID. Mount points other than $MNT that it may mount go in
# ZR_MOUNTS so that the cleanup unmounts them.
ZR_MOUNTS=()
zr_launch() {
	local log=${ZR_LOG:-$TMP/robot.log}
	echo "+ zrobot run $*" >>"$log"
	"$ZROBOT" run --pass-env "${ZR_PASS_ENV-TMP,MNT,DATA,TPL,MARKS}" "$@" >>"$log" 2>&1 &
	ZR_PID=$!
	ZR_PIDS+=("$ZR_PID")
}

# zr_start [ARGS...]: starts the robot on $MNT/$DATA with $TPL (when it holds templates) and
# ARGS, and waits up to 10 s for @robot/info to be readable.
zr_start() {
	local tpl=()
	if [ -n "$(ls -A "$TPL")" ]; then
		tpl=(--templates "$TPL")
	fi
	zr_launch --mount "$MNT" --data "$DATA" "${tpl[@]}" "$@"
	local i
	for i in $(seq 100); do
		if ! pid_alive "$ZR_PID"; then
			zr_reap "$ZR_PID"
			fail "zrobot exited with status $ZR_STATUS during startup"
		fi
		if timeout 2 cat "$MNT/@robot/info" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "$MNT/@robot/info not readable 10 s after start"
}

# zr_reap PID [TIMEOUT]: waits up to TIMEOUT s (default 10) for PID to exit, then reaps it
# into ZR_STATUS. Returns 1 (ZR_STATUS empty) when it is still running.
zr_reap() {
	local pid=$1 limit=${2:-10} t0
	t0=$(now)
	ZR_STATUS=
	while pid_alive "$pid"; do
		fgt "$(since "$t0")" "$limit" && return 1
		sleep 0.05
	done
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	ZR_STATUS=$rc
	[ "$pid" != "$ZR_PID" ] || ZR_PID=
	# Reaped: its pid may be reused, so the cleanup must not signal it any more.
	local p keep=()
	for p in "${ZR_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	ZR_PIDS=("${keep[@]}")
	return 0
}

# zr_stop [TIMEOUT]: SIGTERM to the robot; it must exit 0 within TIMEOUT s (default 10) and
# leave no mount.
zr_stop() {
	local limit=${1:-10}
	[ -n "$ZR_PID" ] || fail "zr_stop: no robot"
	kill -TERM "$ZR_PID" 2>/dev/null
	zr_reap "$ZR_PID" "$limit" || fail "zrobot still running $limit s after SIGTERM"
	expect_eq "$ZR_STATUS" 0 "zrobot exit status after SIGTERM"
	! mounted || fail "$MNT still mounted after zrobot exited"
}

# zr_track_pid PID: a process (e.g. a daemon started by an action) to kill at exit.
zr_track_pid() {
	ZR_TRACKED+=("$1")
}

# zr_kill_actions: kills leftovers of this test's robots: processes whose environment has
# ZR_ROOT=$MNT (actions and whatever they started), e.g. after a kill -9 of the robot.
zr_action_pids() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "ZR_ROOT=$MNT"; then
			echo "$p"
		fi
	done
}

zr_kill_actions() {
	local p
	for p in $(zr_action_pids); do
		kill -KILL "$p" 2>/dev/null
	done
}

zr_cleanup() {
	local rc=$? p
	trap - EXIT
	set +e
	# Background jobs first (blocked cats are wrapped in timeout, which passes TERM on).
	for p in $(jobs -p); do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${ZR_PIDS[@]}"; do
		pid_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${ZR_PIDS[@]}"; do
		if ! zr_reap "$p" 7; then
			echo "cleanup: zrobot $p ignored SIGTERM, killing it" >&2
			kill -KILL "$p" 2>/dev/null
			zr_reap "$p" 5
		fi
	done
	# Tracked daemons inherited ZR_ROOT=$MNT from their action: checking it guards against a
	# reused pid.
	for p in "${ZR_TRACKED[@]}"; do
		if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "ZR_ROOT=$MNT"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
	zr_kill_actions
	for p in "${ZR_MOUNTS[@]}" "$MNT"; do
		if mounted "$p"; then
			fusermount3 -u "$p" 2>/dev/null || fusermount3 -uz "$p" 2>/dev/null
		fi
	done
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	# Builds with -Db_sanitize=address,undefined report on stderr: any report fails the test.
	if grep -E -h -m3 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP"/*.log >&2 2>/dev/null; then
		echo "FAIL: $TEST_NAME: sanitizer report in the robot's log" >&2
		[ "$rc" -ne 0 ] || rc=1
	fi
	if mounted || grep -qF " $TMP/" /proc/mounts; then
		echo "cleanup: a mount under $TMP is left; leaving $TMP" >&2
		[ "$rc" -ne 0 ] || rc=1
	else
		rm -rf --one-file-system "$TMP"
	fi
	if [ "$rc" -eq 0 ]; then
		echo "$TEST_NAME: $N_OK checks passed"
	fi
	exit "$rc"
}

trap zr_cleanup EXIT
trap 'exit 1' USR1
trap 'echo "FAIL: $TEST_NAME: killed by SIGTERM (a time limit?)" >&2; exit 143' TERM
trap 'echo "FAIL: $TEST_NAME: interrupted" >&2; exit 130' INT

#!/bin/bash
# Every examples/ template loads and its actions run (counter: bump slow fail flaky tick cleanup;
# webapp: start status stop on a free port), then examples/demo.sh runs against the mount.
. "$(dirname "$0")/lib.sh"

EX=$ZR_SRC/examples
zr_start --templates "$EX"

# Every examples/<name>/template.json is loaded, and no log line reports one of them.
n=0
for m in "$EX"/*/template.json; do
	t=$(basename "$(dirname "$m")")
	[ -d "$MNT/@robot/templates/$t" ] || fail "example template $t not loaded: $(grep -F "$EX/$t" "$TMP/robot.log")"
	expect_eq "$(rcat "$MNT/@robot/templates/$t/source")" "$EX/$t" "source of $t"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "only $n example templates"
grep -F "$EX/" "$TMP/robot.log" | grep -Ei 'error|warn|skip' && fail "the log reports an example template"
ok "all $n examples/ templates load ($(ls "$EX" | grep -v '\.' | tr '\n' ' '))"

# --- counter ---
t0=$(now)
C=$(svc counter c)
guid=$(json "$C/info" 'j["guid"]')
expect_eq "$(timeout 10 bash -c "echo > $C/actions/bump; cat $C/results/bump")" 1 "first bump"
expect_eq "$(zrtool write-read "$C/actions/bump" 'step=5')" 6 "bump step=5"
expect_eq "$(json "$C/data" 'j["step"]')" 5 "data.step after bump step=5"
expect_eq "$(zrtool write-read "$C/actions/bump" bump)" 11 "bump with the new step"
grep -qx 'counter value ok' <(rcat "$C/state") || fail "state lacks 'counter value ok': $(rcat "$C/state")"
grep -qx 'actions bump ok' <(rcat "$C/state") || fail "state lacks 'actions bump ok'"
grep -q 'c: 6 + 5 = 11' <(rcat "$C/log") || fail "log lacks the bump line"
ok "counter/bump: 1, 6 (step=5 kept in data via fd 3), 11; state and log updated"

id=$(submit "$C" slow seconds=2)
wait_for "[ \"\$(cat '$C/tasks/$id/progress')\" = '1 2' ]" 3 || fail "slow progress not '1 2'"
expect_eq "$(timeout 10 cat "$C/results/slow")" done "result of slow"
expect_eq "$(rcat "$C/tasks/$id/progress")" "2 2" "final progress of slow"
ok "counter/slow: progress 1 2 while running, 2 2 at the end, result done"

rc=0
out=$(timeout 10 bash -c "echo > $C/actions/fail; cat $C/results/fail" 2>"$TMP/fail.err") || rc=$?
expect_in "$out" "exit status 3" "counter/fail text"
expect_in "$out" "fails on purpose" "counter/fail text"
expect_in "$(cat "$TMP/fail.err")" "Input/output error" "counter/fail cat"
ok "counter/fail: exit status 3 and its stderr, then EIO"

expect_eq "$(zrtool write-read "$C/actions/flaky" flaky)" "ok after 3 attempts" "counter/flaky"
id=$(last_task "$C")
expect_eq "$(task_state "$C" "$id")" ok "state of flaky"
ok "counter/flaky: retried, ok after 3 attempts"

wait_for "[ -n \"\$(cat '$C/results/tick')\" ]" 6 || fail "tick did not run within 6 s of mkdir"
expect_match "$(rcat "$C/results/tick")" '^[0-9]+$' "result of tick"
fge "$(since "$t0")" 1.9 || fail "tick ran before its period"
ok "counter/tick runs by itself (result $(rcat "$C/results/tick"))"

expect_errno "echo 'not json' > $C/actions/bump" "Invalid argument"
expect_errno "echo seconds=abc > $C/actions/slow" "Invalid argument"
ok "counter refuses bad payloads with EINVAL"

[ -f "$DATA/work/$guid/value" ] || fail "no counter value in the work folder $DATA/work/$guid"
timeout 10 rmdir "$C" || fail "rmdir counter/c"
wait_for "[ ! -e '$DATA/work/$guid/value' ]" 10 || fail "cleanup did not remove the counter files"
wait_for "grep -q 'cleanup: removing counter files' '$TMP/robot.log' || timeout 5 cat '$MNT/@robot/log' | grep -q 'cleanup: removing'" 5 ||
	echo "# note: cleanup's stderr is not in the robot log (the service log went with the service)"
ok "rmdir counter/c: on_delete cleanup removed the counter files"

# --- webapp ---
port=$("$ZR_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
W=$(svc webapp w)
expect_errno "echo > $W/actions/start" "Invalid argument"
expect_in "$(rcat "$W/lasterror")" "missing required data: port" "webapp/start without a port"
ok "webapp/start without data.port: EINVAL, missing required data: port"
echo "{\"port\": $port}" >"$W/data" || fail "write webapp data"
t0=$(now)
out=$(timeout 20 bash -c "echo > $W/actions/start; cat $W/results/start") || fail "webapp/start: $out"
expect_in "$out" "http://127.0.0.1:$port/" "webapp/start result"
fgt 10 "$(since "$t0")" || fail "webapp/start took $(since "$t0") s"
wguid=$(json "$W/info" 'j["guid"]')
hpid=$(cat "$DATA/work/$wguid/http.pid")
zr_track_pid "$hpid"
page=$(timeout 10 "$ZR_PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
	"http://127.0.0.1:$port/index.html") || fail "GET http://127.0.0.1:$port/ failed"
expect_in "$page" "webapp/w" "page served by webapp"
ok "webapp/start: the task ended ($(since "$t0") s) while the server (pid $hpid) serves port $port"
expect_in "$(zrtool write-read "$W/actions/status" status)" "running, pid $hpid" "webapp/status"
grep -qx 'process http ok' <(rcat "$W/state") || fail "webapp state lacks 'process http ok'"
ok "webapp/status: running; state 'process http ok'"
expect_eq "$(zrtool write-read "$W/actions/stop" stop)" "stopped pid $hpid" "webapp/stop"
pid_alive "$hpid" && fail "the server still runs after stop"
expect_eq "$(zrtool write-read "$W/actions/status" status)" stopped "webapp/status after stop"
grep -qx 'process http skipped' <(rcat "$W/state") || fail "webapp state lacks 'process http skipped'"
ok "webapp/stop stops the server; status says stopped"
out=$(zrtool write-read "$W/actions/start" start) || fail "second webapp/start: $out"
hpid=$(cat "$DATA/work/$wguid/http.pid")
zr_track_pid "$hpid"
timeout 10 rmdir "$W" || fail "rmdir webapp/w"
wait_for "! pid_alive $hpid" 10 || fail "on_delete stop did not stop the server"
ok "rmdir webapp/w runs stop (on_delete): the server is gone"

# --- demo.sh ---
t0=$(now)
rc=0
timeout 90 bash "$EX/demo.sh" "$MNT" >"$TMP/demo.out" 2>&1 || rc=$?
expect_eq "$rc" 0 "exit status of demo.sh ($(tail -n 5 "$TMP/demo.out"))"
# The demo shows three failures on purpose: 'not json', seconds=abc and the fail action.
nfail=$(grep -c '^(exit status' "$TMP/demo.out")
[ "$nfail" -eq 3 ] || fail "demo.sh: $nfail failing steps instead of 3: $(grep -B3 '^(exit status' "$TMP/demo.out")"
grep -q '^\$ mkdir' "$TMP/demo.out" || fail "demo.sh output lacks its mkdir step"
grep -q 'ok after 3 attempts' "$TMP/demo.out" || fail "demo.sh: flaky did not succeed"
[ -e "$MNT/counter/demo" ] && fail "demo.sh left counter/demo"
ok "examples/demo.sh runs against the mount in $(since "$t0") s (3 intended failures only)"

zr_stop

#!/bin/bash
# Restarts (DESIGN §5):
#  1. a queue keeps its order across kill -9; the task that was running comes back
#     `interrupted` (state, error, result text then EIO); data (also a body written in pieces,
#     acknowledged by close), state lines set by actions and results come back;
#  2. the history bound holds across restarts and a smaller --history, in the tree and on disk;
#  3. a service whose template is gone stays visible with `template missing error`, refuses
#     writes with EINVAL, and works again (without that line) when the template is back;
#  4. an acknowledged rmdir stays done after kill -9 (an on_delete action cut short runs
#     again); task ids are never given twice; a
#     database with a newer schema version is refused at start, clearly, and left untouched;
#  5. as root, a full disk (a 2 MiB tmpfs as the data dir, filled with dd): mkdir, a large data
#     write, an enqueue and rmdir fail ENOSPC and leave no trace, reads go on, the cause is
#     logged and in lasterror; tasks that end meanwhile keep their end (also after many refused
#     requests); writes work again once there is room; nothing half-applied after a restart.
#     Not root: that part is skipped (exit 77; a failure when CI=true).
# Checks that show a known daemon bug go through soft_fail: the test runs to its end and fails.
. "$(dirname "$0")/lib.sh"

mk_template "$TPL" r '{
  "name": "r", "version": "1.0.0", "description": "restart test",
  "data": {"note": {"type": "string", "default": "none"}, "big": {"type": "string", "default": ""}},
  "actions": {
    "slow": {"args": {"secs": {"type": "number", "default": 30}}},
    "step": {"args": {"n": {"type": "integer"}}, "required": ["n"]},
    "quick": {"args": {"n": {"type": "integer", "default": 0}}}
  }
}'
# slow: marks that it started, then sleeps. step: appends its n to a per-service order log and
# sets a state line through fd 3. quick: prints its n.
mk_action "$TPL/r" slow 'name=${ZR_SERVICE#*/}
echo "$ZR_TASK" >"$MARKS/slow.$name"
sleep "$ARG_SECS"; echo slept'
mk_action "$TPL/r" step 'name=${ZR_SERVICE#*/}
echo "$ARG_N" >>"$MARKS/order.$name"
echo "state step n$ARG_N ok" >&3
echo "step $ARG_N"'
mk_action "$TPL/r" quick 'echo "quick $ARG_N"'
# od: its on_delete "bye" counts its runs and, the first time, takes 30 s (time to kill -9).
mk_template "$TPL" od '{"name": "od", "version": "1.0.0", "actions": {"bye": {}, "after": {}},
  "on_delete": ["bye", "after"]}'
mk_action "$TPL/od" bye 'echo run >>"$MARKS/bye"
[ "$(wc -l <"$MARKS/bye")" -gt 1 ] || sleep 30'
mk_action "$TPL/od" after 'echo "after $(wc -l <"$MARKS/bye")" >"$MARKS/after"'

# Failures that do not stop the test, so that one run shows every broken property; any of them
# fails the test at the end.
N_SOFT=0
soft_fail() {
	N_SOFT=$((N_SOFT + 1))
	echo "FAIL: $TEST_NAME: $*" >&2
}

# soft_expect_errno CMD ERRNO-TEXT: like expect_errno, through soft_fail.
soft_expect_errno() {
	local rc=0
	timeout -k 2 20 bash -c "$1" >"$TMP/expect.out" 2>"$TMP/expect.err" || rc=$?
	if [ "$rc" -eq 124 ]; then
		soft_fail "'$1' hung (killed after 20 s)"
	elif [ "$rc" -eq 0 ]; then
		soft_fail "'$1' succeeded, expected '$2'"
	elif ! grep -qF -- "$2" "$TMP/expect.err"; then
		soft_fail "'$1' failed without '$2': $(cat "$TMP/expect.err")"
	else
		return 0
	fi
	return 1
}

# kill9: kill -9 the robot, reap it, and kill the actions it left behind.
kill9() {
	kill -KILL "$ZR_PID"
	zr_reap "$ZR_PID" 10 || fail "kill -9 did not end the robot"
	zr_kill_actions
}

# db_count SQL: a number from the robot's database (the robot stopped), via python's sqlite3.
db_count() {
	"$ZR_PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
		"$DATA/zrobot.db" "$1" || fail "cannot query $DATA/zrobot.db: $1"
}

# ============================================================================================
# 1. Queue order and the interrupted task.
zr_start
q=$(svc r q)
echo '{"note": "first"}' >"$q/data" || fail "data write failed"
slow=$(submit "$q" slow '')
wait_for "[ -s '$MARKS/slow.q' ]" 10 || fail "the slow task did not start"
expect_eq "$(task_state "$q" "$slow")" running "slow task state"
ids=()
for n in 1 2 3 4 5; do
	ids+=("$(submit "$q" step "n=$n")")
done
expect_eq "$(rcat "$q/tasks/queue" | tr '\n' ' ')" "${ids[*]} " "queue before the crash"
# A state line set by an action before the crash must come back too.
s2=$(svc r s2)
t=$(submit "$s2" step 'n=7')
wait_state "$s2" "$t" ok 10
# A body written in pieces (an editor) is applied at close: close() returns once it is durable.
expect_eq "$(zrtool data-chunks "$q/data" '{"note": ' '"chunked"}')" "close ok" "data written in two pieces"
ok "slow task $slow running, 5 queued: ${ids[*]}"

kill9
zr_start
# The queue as restored: the same ids in the same order, less those that have started since.
qnow=$(rcat "$q/tasks/queue" | tr '\n' ' ')
nq=$(printf '%s' "$qnow" | wc -w)
expect_eq "$qnow" "$(printf '%s ' "${ids[@]:$((5 - nq))}")" "queue after the restart"
expect_eq "$(task_state "$q" "$slow")" interrupted "the running task after kill -9"
expect_in "$(rcat "$q/tasks/$slow/error")" interrupted "tasks/$slow/error"
expect_match "$(rcat "$q/tasks/$slow/finished")" '^[0-9]{4}-' "an interrupted task has a finish time"
rc=0
out=$(timeout 10 cat "$q/tasks/$slow/result" 2>"$TMP/err") || rc=$?
expect_in "$out" interrupted "result text of the interrupted task"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "reading an interrupted task's result must fail after the text (rc=$rc)"
expect_in "$(cat "$TMP/err")" "Input/output error" "result read error of the interrupted task"
expect_errno "cat '$q/results/slow'" "Input/output error"
ok "running task -> interrupted: state, error, result 'interrupted' then EIO"
expect_in "$(rcat "$q/state")" "actions slow error" "state after the interruption"

for id in "${ids[@]}"; do
	wait_state "$q" "$id" ok 20
done
expect_eq "$(tr '\n' ' ' <"$MARKS/order.q")" "1 2 3 4 5 " "the queued tasks ran in their order"
prev=0
for id in "${ids[@]}"; do
	st=$(iso2s "$(rcat "$q/tasks/$id/started")")
	# Times are shown to the millisecond and a quick task now starts, runs and ends within
	# one (posix_spawn): two starts may show the same time, never an earlier one. The order
	# itself is checked above, from the actions' own marks.
	fgt "$prev" "$st" && fail "task $id started at $st, before the one before ($prev)"
	prev=$st
done
expect_eq "$(rcat "$q/tasks/queue")" "" "queue empty after the run"
ok "after kill -9 the 5 queued tasks ran in order 1..5 (started times never descending)"
expect_eq "$(json "$q/data" 'j["note"]')" chunked "data (written in pieces, acknowledged by close) after kill -9"
expect_in "$(rcat "$s2/state")" "step n7 ok" "a state line set through fd 3 before the crash"
expect_eq "$(rcat "$s2/tasks/$t/result")" "step 7" "a finished task's result after the crash"
ok "data, action-set state lines and results come back after kill -9"

# ============================================================================================
# 2. The history bound across restarts, in the tree and in the database.
zr_stop
zr_start --history 5
h=$(svc r h)
hids=()

# quick_tasks FROM TO SECS: submits quick n=FROM..TO to h, their ids appended to hids, and waits
# up to SECS for the last to end ok.
quick_tasks() {
	local n
	for n in $(seq "$1" "$2"); do
		hids+=("$(submit "$h" quick "n=$n")")
	done
	wait_state "$h" "${hids[-1]}" ok "$3"
}

# listed FIRST COUNT WHAT: waits until h lists exactly the tasks hids[FIRST..FIRST+COUNT-1],
# which it leaves in want.
listed() {
	want=$(printf '%s\n' "${hids[@]:$1:$2}")
	wait_for "[ \"\$(task_ids '$h')\" = \"\$want\" ]" 5 ||
		fail "$3: tasks $(task_ids "$h" | tr '\n' ' '), want $(printf "%s " $want)"
}

quick_tasks 1 12 20
listed 7 5 "--history 5"
ok "--history 5: 12 run, the last 5 listed ($(printf "%s " $want))"
zr_stop
expect_eq "$(db_count "SELECT count(*) FROM tasks t JOIN services s ON t.service = s.guid WHERE s.name = 'h'")" 5 \
	"finished tasks of h in the database"
zr_start --history 5
expect_eq "$(task_ids "$h")" "$want" "tasks after a clean restart"
expect_eq "$(rcat "$h/tasks/${hids[11]}/result")" "quick 12" "newest result after restart"
# Two more: still the last 5. Then kill -9, and restart with a smaller bound.
quick_tasks 13 14 10
listed 9 5 "after 2 more"
kill9
zr_start --history 3
want=$(printf '%s\n' "${hids[@]:11:3}")
expect_eq "$(task_ids "$h")" "$want" "--history 3 after kill -9"
zr_stop
expect_eq "$(db_count "SELECT count(*) FROM tasks t JOIN services s ON t.service = s.guid WHERE s.name = 'h'")" 3 \
	"finished tasks of h in the database after --history 3"
ok "history bound kept across a clean restart, a kill -9 and a smaller --history (tree and database)"

# ============================================================================================
# 3. A template that is gone after a restart.
TPLA=$TMP/tpla
mk_template "$TPLA" gone '{"name": "gone", "version": "1.2.3",
  "data": {"v": {"type": "integer", "default": 1}}, "actions": {"hi": {}}}'
mk_action "$TPLA/gone" hi 'echo hi'
zr_start --templates "$TPLA"
g=$(svc gone g1)
echo '{"v": 42}' >"$g/data" || fail "data write to gone/g1"
gt=$(submit "$g" hi '')
wait_state "$g" "$gt" ok 10
zr_stop
zr_start
[ -d "$MNT/gone" ] || fail "template dir 'gone' vanished with its template"
expect_eq "$(timeout 10 ls "$MNT/gone")" g1 "services of a missing template"
expect_in "$(rcat "$g/state")" "template missing error" "state of a service whose template is gone"
expect_eq "$(json "$g/data" 'j["v"]')" 42 "data of a service whose template is gone"
expect_eq "$(json "$g/info" 'j["uid"]')" local/gone/1.2.3 "info.uid keeps the pinned version"
grep -q "Template local/gone/1.2.3 of stored services is not loaded" "$TMP/robot.log" ||
	fail "no log line about the missing template"
ok "a service whose template is gone stays visible: state 'template missing error', data, uid"
expect_errno "echo '{\"v\": 7}' > '$g/data'" "Invalid argument"
expect_in "$(rcat "$g/lasterror")" "missing" "lasterror after a data write on a missing template"
expect_errno "mkdir '$MNT/gone/g2'" "Invalid argument"
expect_eq "$(json "$g/data" 'j["v"]')" 42 "data after a refused write"
ok "data writes and mkdir under a missing template fail EINVAL"
# The issue: the service "refuses actions (EINVAL)". The action it had is the one a user retries.
if soft_expect_errno "echo > '$g/actions/hi'" "Invalid argument"; then
	ok "an action write on a service whose template is missing fails EINVAL"
fi
zr_stop
zr_start --templates "$TPLA"
st=$(rcat "$g/state")
case $st in
*"template missing"*) soft_fail "the template is back but state still says: $(printf '%s' "$st" | tr '\n' ';')" ;;
*) ok "the template back: no 'template missing' line left in state" ;;
esac
gt2=$(submit "$g" hi '')
wait_state "$g" "$gt2" ok 10
expect_eq "$(json "$g/data" 'j["v"]')" 42 "data once the template is back"
ok "the template back: the service runs actions again, data kept"
zr_stop

# ============================================================================================
# 4. rmdir is durable; task ids are never given twice, even after the newest task's service
#    was deleted (README: "ids are integers unique in the robot").
zr_start
d1=$(svc r d1)
d2=$(svc r d2)
submit "$d1" quick 'n=1' >/dev/null
tb=$(submit "$d2" quick 'n=2')
wait_state "$d2" "$tb" ok 10
timeout 10 rmdir "$d2" || fail "rmdir $d2"
kill9
zr_start
[ ! -e "$d2" ] || fail "r/d2 came back after an acknowledged rmdir and kill -9"
[ -d "$d1" ] || fail "r/d1 is gone"
ok "an acknowledged rmdir stays done after kill -9"
zr_stop
expect_eq "$(db_count "SELECT count(*) FROM services WHERE name = 'd2'")" 0 "rows of the deleted r/d2"
expect_eq "$(db_count "SELECT count(*) FROM tasks WHERE id = $tb")" 0 "task $tb of the deleted r/d2"
ok "the deleted service and its tasks are gone from the database"
zr_start
tc=$(submit "$d1" quick 'n=3')
if [ "$tc" -gt "$tb" ]; then
	ok "a task id after restarts ($tc) is above every id given before ($tb)"
else
	soft_fail "task id $tc given again after a restart: task $tb of the deleted r/d2 had it (ids are not unique in the robot)"
fi
zr_stop

# An on_delete action cut short by kill -9 runs again at restart, before the ones after it,
# and then the service goes.
zr_start
o=$(svc od x)
timeout 10 rmdir "$o" || fail "rmdir od/x"
wait_for "[ -s '$MARKS/bye' ]" 10 || fail "on_delete bye did not start"
kill9
zr_start
wait_for "[ -s '$MARKS/after' ]" 15 || fail "on_delete after never ran after the restart"
expect_eq "$(wc -l <"$MARKS/bye")" 2 "runs of the on_delete action cut short by kill -9"
expect_eq "$(cat "$MARKS/after")" "after 2" "the next on_delete action ran after the re-run"
grep -q "on_delete action bye (task [0-9]*) was cut short, running it again" "$TMP/robot.log" ||
	fail "no log line about the re-run"
zr_stop
expect_eq "$(db_count "SELECT count(*) FROM services WHERE template = 'od'")" 0 "rows of od/x once its on_delete ran"
ok "an on_delete action cut short by kill -9 runs again at restart, then the service goes"

# A database from a newer zrobot is refused at start, with a clear message, and left as it is.
db_set_schema() {
	"$ZR_PY" -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with db:
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (sys.argv[2], "schema"))' "$DATA/zrobot.db" "$1" ||
		fail "cannot set the schema version of $DATA/zrobot.db"
}
db_set_schema 99
zr_launch --mount "$MNT" --data "$DATA" --templates "$TPL"
zr_reap "$ZR_PID" 10 || fail "zrobot kept running on a database with schema version 99"
[ "$ZR_STATUS" -ne 0 ] || fail "zrobot exited 0 on a database with schema version 99"
grep -q "schema version 99, newer than" "$TMP/robot.log" || fail "no clear message about schema 99 in the log"
! mounted || fail "a refused start left $MNT mounted"
expect_eq "$(db_count "SELECT value FROM meta WHERE key = 'schema'")" 99 "schema version after the refusal"
ok "schema 99 refused (exit $ZR_STATUS): $(grep -m1 -o 'Failed to open the store.*' "$TMP/robot.log")"
db_set_schema 1
zr_start
[ -d "$d1" ] || fail "r/d1 is gone after the refused start"
zr_stop

# ============================================================================================
# 5. A full disk: the data dir on a 2 MiB tmpfs.
# skip_enospc WHY: sections 1-4 ran; their failures win over the skip.
skip_enospc() {
	[ "$N_SOFT" -eq 0 ] || fail "$N_SOFT failed checks (see FAIL lines above); the ENOSPC part skipped: $1"
	skip "$1 (sections 1-4 passed)"
}
if [ "$(id -u)" -ne 0 ]; then
	skip_enospc "not root: cannot mount a tmpfs for the ENOSPC case"
fi
SMALL=$TMP/small
mkdir -p "$SMALL"
restart_cleanup() {
	local rc=$?
	# The robot keeps files open there: stop it first, then a lazy unmount cannot fail.
	for p in "${ZR_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	if mountpoint -q "$SMALL"; then
		umount -l "$SMALL" || echo "cleanup: cannot unmount $SMALL" >&2
	fi
	(exit "$rc")
	zr_cleanup
}
trap restart_cleanup EXIT
mount -t tmpfs -o size=2m,mode=0755 tmpfs "$SMALL" || skip_enospc "cannot mount a tmpfs on $SMALL"
DATA=$SMALL
zr_start
e=$(svc r e1)
echo '{"note": "before"}' >"$e/data" || fail "data write before filling the disk"
et=$(submit "$e" quick 'n=1')
wait_state "$e" "$et" ok 10
# A task that ends while the disk is full, and one queued behind it that starts and ends then:
# their ends are the robot's own changes, which the store retries.
st_slow=$(submit "$e" slow 'secs=1.5')
wait_state "$e" "$st_slow" running 10
st_step=$(submit "$e" step 'n=50')
dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null
df -k "$SMALL" | tail -n 1
ok "data dir on a full 2 MiB tmpfs"

expect_errno "mkdir '$MNT/r/full1'" "No space left on device"
[ ! -e "$MNT/r/full1" ] || fail "a refused mkdir left r/full1 in the tree"
# ~100 KB: one write(2), one FUSE write (under the 128 KiB max_write), so the error is the write's.
"$ZR_PY" -c 'import json; print(json.dumps({"note": "full", "big": "b" * 100000}))' >"$TMP/big.json"
expect_errno "'$ZR_PY' '$ZRTOOL' write '$e/data' - <'$TMP/big.json'" "No space left on device"
expect_eq "$(json "$e/data" 'j["note"]')" before "data after a refused write"
before_ids=$(task_ids "$e")
expect_errno "echo 'n=99' > '$e/actions/quick'" "No space left on device"
expect_eq "$(task_ids "$e")" "$before_ids" "tasks after a refused enqueue"
expect_errno "rmdir '$e'" "No space left on device"
[ -d "$e" ] || fail "a refused rmdir removed $e"
ok "mkdir, a large data write, an enqueue and rmdir fail ENOSPC; the tree shows none of them"
wait_state "$e" "$st_slow" ok 10
wait_state "$e" "$st_step" ok 10
expect_eq "$(rcat "$e/tasks/$st_slow/result")" slept "result of a task that ended on a full disk"
ok "tasks that started and ended on the full disk: ok, results readable"
# A user who keeps trying: every attempt fails ENOSPC and nothing else changes.
for i in $(seq 1 25); do
	mkdir "$MNT/r/retry$i" 2>/dev/null && fail "mkdir r/retry$i succeeded on a full disk"
done
ok "25 more refused mkdirs"
rcat "$MNT/@robot/info" >/dev/null
expect_in "$(rcat "$e/state")" "actions quick ok" "state readable on a full disk"
expect_eq "$(rcat "$e/tasks/$et/result")" "quick 1" "result readable on a full disk"
expect_in "$(rcat "$e/lasterror")" "ENOSPC" "lasterror names ENOSPC"
grep -q "No space left on device" "$TMP/robot.log" || fail "the robot did not log the cause"
ok "reads go on; lasterror and the log name the cause: $(grep -m1 'No space left' "$TMP/robot.log")"

rm -f "$SMALL/filler"
svc r full1 >/dev/null
echo '{"note": "after"}' >"$e/data" || fail "data write after freeing the disk"
et2=$(submit "$e" quick 'n=2')
wait_state "$e" "$et2" ok 10
ok "after removing the filler: mkdir, data write and enqueue work again"
# The ends of the tasks that finished on the full disk are retried (every second) or went with
# the commits above: either way they are on disk now. A clean stop drains the rest.
sleep 1.5
zr_stop
zr_start
# The robot's own changes made during the full disk must not be lost: a task that ended ok is
# not "interrupted", and one that ran is not run again.
if [ "$(task_state "$e" "$st_slow")" = ok ] && [ "$(task_state "$e" "$st_step")" = ok ]; then
	ok "after the full disk and a restart, the tasks that ended then are ok"
else
	soft_fail "tasks that ended on the full disk, after the disk was freed and a clean restart: $st_slow is '$(task_state "$e" "$st_slow")', $st_step is '$(task_state "$e" "$st_step")' (want ok, ok); robot log: $(grep -m1 'Giving up' "$TMP/robot.log")"
fi
sleep 1
runs=$(grep -c '^50$' "$MARKS/order.e1")
if [ "$runs" -eq 1 ]; then
	ok "the task that ran on the full disk did not run again after the restart"
else
	soft_fail "task $st_step (n=50) ran $runs times: it ended during the full disk and ran again after a clean restart"
fi

kill9
zr_start
expect_eq "$(timeout 10 ls "$MNT/r" | tr '\n' ' ')" "e1 full1 " "services after restart"
expect_eq "$(json "$e/data" 'j["note"]')" after "data after restart"
expect_eq "$(json "$e/data" 'j["big"]')" "" "the refused big write is nowhere"
for id in $(task_ids "$e"); do
	expect_not_in "$(rcat "$e/tasks/$id/args")" 99 "the refused enqueue came back as task $id"
done
expect_eq "$(task_ids "$e" | wc -l)" 4 "tasks of e1 after restart"
ok "after kill -9 and restart nothing half-applied shows"
zr_stop
[ "$N_SOFT" -eq 0 ] || fail "$N_SOFT failed checks (see FAIL lines above)"

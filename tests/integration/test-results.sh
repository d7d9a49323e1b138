#!/bin/bash
# Results: results/<a> blocks for the newest task, failed tasks give the error text then EIO,
# per-handle write-then-read (two concurrent writers), tasks/<id>/* files, tasks/queue order,
# 100 concurrent blocked readers, an interrupted reader, poll() on a result file.
. "$(dirname "$0")/lib.sh"

mk_t
mk_action "$TPL/t" selfkill 'echo "about to die" >&2; kill -9 $$'
mk_template "$TPL" w '{"name": "w", "version": "1.0.0",
  "actions": {"slowecho": {"args": {"n": {"type": "integer"}, "secs": {"type": "number", "default": 1}}}}}'
mk_action "$TPL/w" slowecho 'sleep "$ARG_SECS"; echo "echo $ARG_N"'
zr_start
S=$(svc t a)

# A result file with no task: empty, EOF at once. An action handle read without a write: EOF.
t0=$(now)
expect_eq "$(rcat "$S/results/slow")" "" "results/slow before any task"
expect_eq "$(rcat "$S/actions/echo")" "" "read of an action file without a write"
fgt 1 "$(since "$t0")" || fail "empty reads took $(since "$t0") s"
ok "results/<a> with no task and an action handle with no write: empty, EOF at once"
expect_eq "$(stat -c %a "$S/results/echo")" 444 "mode of results/echo"
expect_eq "$(stat -c %a "$S/actions/echo")" 600 "mode of actions/echo (owner-only without --group-actions)"
ok "modes: results 0444, actions 0600"

# cat results/<a> blocks until the task ends and prints its stdout.
submit "$S" slow '{"secs": 2, "n": 4}' >/dev/null
t0=$(now)
out=$(timeout 10 cat "$S/results/slow") || fail "cat results/slow failed"
dt=$(since "$t0")
expect_eq "$out" "slept 4" "results/slow"
fge "$dt" 1.2 || fail "cat results/slow returned after $dt s, before the task could end"
fgt 4 "$dt" || fail "cat results/slow took $dt s for a 2 s task"
ok "cat results/slow blocked $dt s and printed the task's stdout"
t0=$(now)
expect_eq "$(rcat "$S/results/slow")" "slept 4" "results/slow of an ended task"
fgt 1 "$(since "$t0")" || fail "result of an ended task took $(since "$t0") s"
ok "results/<a> of an ended task answers at once"

# A failing action: the error text, then EIO.
submit "$S" fail fail >/dev/null
rc=0
out=$(timeout 10 cat "$S/results/fail" 2>"$TMP/fail.err") || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "cat results/fail: rc=$rc"
expect_in "$out" "exit status 3" "error text of a failed task"
expect_in "$out" "boom: failed on purpose" "error text of a failed task"
expect_in "$(cat "$TMP/fail.err")" "Input/output error" "cat stderr for a failed task"
ok "failed task: cat prints 'exit status 3' + stderr lines, then fails with EIO (rc $rc)"
id=$(last_task "$S")
expect_eq "$(rcat "$S/tasks/$id/state")" error "state of a failed task"
expect_in "$(rcat "$S/tasks/$id/error")" "exit status 3" "tasks/<id>/error"
rc=0
timeout 10 cat "$S/tasks/$id/result" >/dev/null 2>"$TMP/fail.err" || rc=$?
expect_in "$(cat "$TMP/fail.err")" "Input/output error" "tasks/<id>/result of a failed task"
ok "tasks/<id>/{state,error,result} of a failed task: error, the text, EIO"
submit "$S" selfkill selfkill >/dev/null
rc=0
out=$(timeout 10 cat "$S/results/selfkill" 2>"$TMP/fail.err") || rc=$?
expect_in "$out" "killed by signal 9" "error text of a killed task"
expect_in "$(cat "$TMP/fail.err")" "Input/output error" "cat stderr for a killed task"
ok "a task killed by a signal: 'killed by signal 9' then EIO"

# Per-handle write-then-read.
expect_eq "$(zrtool write-read "$S/actions/echo" '{"n": 3, "msg": "mine"}')" "n=3 msg=mine" "write-read"
ok "zrtool write-read: the same handle reads its own task's result"
W=$(svc w a)
zrtool write-read "$W/actions/slowecho" '{"n": 1}' >"$TMP/wr1" 2>&1 &
p1=$!
sleep 0.2
zrtool write-read "$W/actions/slowecho" '{"n": 2}' >"$TMP/wr2" 2>&1 &
p2=$!
wait $p1 || fail "writer 1 failed: $(cat "$TMP/wr1")"
wait $p2 || fail "writer 2 failed: $(cat "$TMP/wr2")"
expect_eq "$(cat "$TMP/wr1")" "echo 1" "writer 1's result"
expect_eq "$(cat "$TMP/wr2")" "echo 2" "writer 2's result"
ok "two concurrent writers on one action each read their own result"
# The shell way: exec 3<> and read the same fd.
out=$(timeout 10 bash -c "exec 3<>'$W/actions/slowecho'; echo '{\"n\": 5, \"secs\": 0}' >&3; cat <&3")
expect_eq "$out" "echo 5" "exec 3<> write then cat <&3"
ok "exec 3<>actions/x; echo >&3; cat <&3 works"

# results/<a> binds at open to the newest task of that action.
submit "$W" slowecho '{"n": 6, "secs": 2}' >/dev/null
timeout 10 cat "$W/results/slowecho" >"$TMP/bind.out" &
pb=$!
sleep 0.3
submit "$W" slowecho '{"n": 7, "secs": 0}' >/dev/null
wait $pb || fail "reader bound to the first task failed"
expect_eq "$(cat "$TMP/bind.out")" "echo 6" "a reader opened before the next task"
expect_eq "$(timeout 10 cat "$W/results/slowecho")" "echo 7" "a reader opened after the next task"
ok "results/<a> binds at open to the newest task"

# tasks/<id>/*.
id=$(submit "$S" echo '{"n": 9, "msg": "files"}')
wait_state "$S" "$id" ok 10
files=$(timeout 10 ls "$S/tasks/$id" | tr '\n' ' ')
for f in action args state created started finished result error log progress cancel; do
	expect_in " $files" " $f " "ls tasks/$id"
done
expect_eq "$(rcat "$S/tasks/$id/action")" echo "tasks/<id>/action"
expect_eq "$(json "$S/tasks/$id/args" 'j')" '{"msg": "files", "n": 9}' "tasks/<id>/args"
expect_eq "$(rcat "$S/tasks/$id/result")" "n=9 msg=files" "tasks/<id>/result"
expect_eq "$(rcat "$S/tasks/$id/error")" "" "tasks/<id>/error of an ok task"
expect_eq "$(rcat "$S/tasks/$id/progress")" "" "tasks/<id>/progress without progress lines"
iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
c=$(rcat "$S/tasks/$id/created"); s=$(rcat "$S/tasks/$id/started"); f=$(rcat "$S/tasks/$id/finished")
expect_match "$c" "$iso" created; expect_match "$s" "$iso" started; expect_match "$f" "$iso" finished
fge "$(iso2s "$s")" "$(iso2s "$c")" || fail "started $s before created $c"
fge "$(iso2s "$f")" "$(iso2s "$s")" || fail "finished $f before started $s"
fgt 5 "$(fsub "$(now)" "$(iso2s "$c")")" || fail "created $c is not now"
expect_eq "$(stat -c %a "$S/tasks/$id/cancel")" 200 "mode of tasks/<id>/cancel"
ok "tasks/<id>/{action,args,state,created,started,finished,result,error,log,progress,cancel}"

# tasks/queue: order, and a slow task blocks the queue.
idslow=$(submit "$S" slow '{"secs": 2}')
wait_state "$S" "$idslow" running 5
q1=$(submit "$S" echo '{"n": 1}')
q2=$(submit "$S" echo '{"n": 2}')
q3=$(submit "$S" echo '{"n": 3}')
expect_eq "$(rcat "$S/tasks/queue" | tr '\n' ' ')" "$q1 $q2 $q3 " "tasks/queue"
expect_eq "$(task_state "$S" "$q1")" queued "state of a queued task"
expect_eq "$(rcat "$S/tasks/$q1/started")" "" "started of a queued task"
expect_eq "$(rcat "$S/tasks/$idslow/finished")" "" "finished of a running task"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["tasks"]')" '{"queued": 3, "running": 1}' "info.tasks"
ok "tasks/queue lists the waiting ids in order while a slow task runs"
expect_eq "$(timeout 10 cat "$S/tasks/$q3/result")" "n=3 msg=" "result of the last queued task"
for q in $q1 $q2 $q3; do expect_eq "$(task_state "$S" "$q")" ok "state of $q"; done
fge "$(iso2s "$(rcat "$S/tasks/$q1/started")")" "$(iso2s "$(rcat "$S/tasks/$idslow/finished")")" ||
	fail "a queued task started before the running one finished"
fge "$(iso2s "$(rcat "$S/tasks/$q2/started")")" "$(iso2s "$(rcat "$S/tasks/$q1/finished")")" ||
	fail "tasks overlapped"
expect_eq "$(rcat "$S/tasks/queue")" "" "tasks/queue at the end"
ok "queued tasks ran one at a time in FIFO order after the slow one; the queue is empty"

# Finished tasks are kept up to 100 per service, the oldest dropped.
first=$(task_ids "$S" | head -n 1)
for i in $(seq 105); do
	echo '{"n": 1}' >"$S/actions/echo" || fail "write $i of 105"
done
id=$(last_task "$S")
expect_eq "$(timeout 20 cat "$S/tasks/$id/result")" "n=1 msg=" "result of the 105th quick task"
n=$(task_ids "$S" | wc -l)
expect_eq "$n" 100 "tasks kept after 105 more"
[ -e "$S/tasks/$first" ] && fail "the oldest task $first is still there"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["tasks"]')" '{"queued": 0, "running": 0}' "info.tasks when idle"
ok "finished tasks are kept up to 100 per service (oldest dropped); info.tasks counts queued/running"

# 100 concurrent blocked readers of one result file.
id=$(submit "$S" slow '{"secs": 3, "n": 100}')
t0=$(now)
pids=()
for i in $(seq 100); do
	timeout 20 cat "$S/results/slow" >"$TMP/reader.$i" 2>&1 &
	pids+=($!)
done
sleep 1
# The robot still answers while 100 reads are parked.
t1=$(now)
rcat "$MNT/@robot/info" >/dev/null
rcat "$S/state" >/dev/null
fgt 1 "$(since "$t1")" || fail "the tree is slow with 100 parked readers: $(since "$t1") s"
fail_n=0
for p in "${pids[@]}"; do wait "$p" || fail_n=$((fail_n + 1)); done
dt=$(since "$t0")
expect_eq "$fail_n" 0 "readers that failed"
same=$(cat "$TMP"/reader.* | sort | uniq -c | awk '{print $1" "$2" "$3}')
expect_eq "$same" "100 slept 100" "content of the 100 readers"
fgt 8 "$dt" || fail "100 readers took $dt s"
ok "100 concurrent blocked readers all got the same result ($dt s); the tree answered meanwhile"
submit "$S" slow '{"secs": 2, "n": 50}' >/dev/null
out=$(zrtool readers "$S/results/slow" 50) || fail "zrtool readers: $out"
expect_eq "$out" "$(printf 'answered 50/50 distinct 1\nslept 50')" "zrtool readers"
ok "50 threads reading one result file all answered"

# A blocked reader interrupted by a signal gets EINTR promptly; the task goes on.
id=$(submit "$S" slow '{"secs": 3, "n": 8}')
out=$(zrtool interrupt "$S/results/slow" 1) || fail "zrtool interrupt: $out"
ok "zrtool interrupt: $out"
expect_eq "$(task_state "$S" "$id")" running "state right after the interrupted read"
expect_eq "$(timeout 10 cat "$S/tasks/$id/result")" "slept 8" "result after the interrupt"
expect_eq "$(task_state "$S" "$id")" ok "state after the interrupt"
ok "the task goes on after its reader was interrupted and ends ok"
# Ctrl-C style: SIGINT to a blocked cat ends it at once.
id=$(submit "$S" slow '{"secs": 3}')
timeout 10 cat "$S/results/slow" >/dev/null 2>&1 &
pc=$!
sleep 0.5
t0=$(now)
# bash gives background jobs SIGINT ignored; SIGTERM has the same path in the kernel.
kill -TERM "$pc"
rc=0; wait "$pc" || rc=$?
fgt 1 "$(since "$t0")" || fail "a blocked cat took $(since "$t0") s to die on SIGTERM"
ok "a blocked cat dies at once on a signal"
wait_state "$S" "$id" ok 10

# poll() on a result file: not ready while the task runs, ready within ~1 s of its end.
id=$(submit "$S" slow '{"secs": 2, "n": 2}')
t0=$(now)
out=$(zrtool poll "$S/results/slow" 10) || fail "zrtool poll: $out"
dt=$(since "$t0")
fin=$(iso2s "$(rcat "$S/tasks/$id/finished")")
lag=$(fsub "$(fadd "$t0" "$dt")" "$fin")
expect_eq "$(printf '%s\n' "$out" | sed -n 2p)" "slept 2" "data after poll"
fge "$dt" 1.2 || fail "poll was ready after $dt s, before the task ended"
fgt 1.0 "$lag" || fail "poll woke $lag s after the task ended"
ok "poll on a running task's result: ready $lag s after it ended ($(printf '%s' "$out" | head -1))"
out=$(zrtool poll "$S/results/slow" 1) || fail "zrtool poll on an ended task: $out"
expect_match "$(printf '%s\n' "$out" | head -1)" '^ready 0\.[0-4]' "poll on an ended task"
ok "poll on an ended task's result: ready at once"

zr_stop

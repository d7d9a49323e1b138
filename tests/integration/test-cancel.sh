#!/bin/bash
# Cancel a queued and a running task (tasks/<id>/cancel), a daemonizing action that keeps its
# pipes open (the task ends when the process exits), and the global --jobs limit.
. "$(dirname "$0")/lib.sh"

mk_t
mk_template "$TPL" c '{"name": "c", "version": "1.0.0",
  "actions": {"hang": {}, "daemon": {}, "bgkeep": {}, "quick": {}}}'
mk_action "$TPL/c" hang 'echo $$ >"$MARKS/hang.pid"
sleep 30 &
echo $! >"$MARKS/hang.child"
echo "partial"
wait'
# A daemon in its own session that keeps stdout, stderr and fd 3 open.
mk_action "$TPL/c" daemon 'setsid sh -c '"'"'echo $$ >"$MARKS/daemon.pid"; exec sleep 300'"'"' &
while [ ! -s "$MARKS/daemon.pid" ]; do sleep 0.05; done
echo started'
# A plain background child that keeps the pipes open.
mk_action "$TPL/c" bgkeep 'sleep 300 &
echo $! >"$MARKS/bgkeep.pid"
echo "bg started"'
mk_action "$TPL/c" quick 'echo quick'
zr_start
S=$(svc c a)

gone() { ! pid_alive "$1"; }

# Cancel a queued task: its reader gets "cancelled" then ECANCELED; the queue drops it.
idr=$(submit "$S" hang hang)
wait_state "$S" "$idr" running 5
idq=$(submit "$S" quick quick)
expect_eq "$(rcat "$S/tasks/queue")" "$idq" "queue before cancel"
timeout 10 cat "$S/tasks/$idq/result" >"$TMP/q.out" 2>"$TMP/q.err" &
pq=$!
sleep 0.3
echo cancel >"$S/tasks/$idq/cancel" || fail "write to tasks/$idq/cancel"
rc=0; wait $pq || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "reader of the cancelled queued task: rc=$rc"
expect_in "$(cat "$TMP/q.err")" "Operation canceled" "reader of the cancelled queued task"
expect_eq "$(cat "$TMP/q.out")" cancelled "text for the cancelled queued task"
expect_eq "$(task_state "$S" "$idq")" cancelled "state of the cancelled queued task"
expect_eq "$(rcat "$S/tasks/queue")" "" "queue after cancel"
expect_eq "$(task_state "$S" "$idr")" running "the running task is untouched"
ok "cancel of a queued task: 'cancelled' + ECANCELED to its reader, state cancelled, dequeued"

# Cancel the running task: killed, state cancelled, processes gone.
timeout 10 cat "$S/results/hang" >"$TMP/r.out" 2>"$TMP/r.err" &
pr=$!
sleep 0.3
t0=$(now)
timeout 10 bash -c "echo >'$S/tasks/$idr/cancel'" || fail "cancel of the running task"
rc=0; wait $pr || rc=$?
dt=$(since "$t0")
expect_in "$(cat "$TMP/r.err")" "Operation canceled" "reader of the cancelled running task"
expect_in "$(cat "$TMP/r.out")" cancelled "text for the cancelled running task"
fgt 2 "$dt" || fail "the running task took $dt s to be cancelled"
expect_eq "$(task_state "$S" "$idr")" cancelled "state of the cancelled running task"
wait_for "gone $(cat "$MARKS/hang.pid") && gone $(cat "$MARKS/hang.child")" 3 ||
	fail "processes of the cancelled task still alive"
ok "cancel of a running task: killed within $dt s, state cancelled, its processes gone"
expect_eq "$(zrtool write-read "$S/actions/quick" quick)" quick "the service after cancels"
ok "the service runs the next task normally"

# A daemonizing action: the task ends when its process exits, the daemon lives on.
t0=$(now)
id=$(submit "$S" daemon daemon)
out=$(timeout 10 cat "$S/results/daemon") || fail "cat results/daemon"
dt=$(since "$t0")
dpid=$(cat "$MARKS/daemon.pid")
zr_track_pid "$dpid"
expect_eq "$out" started "result of daemon"
fgt 1.5 "$dt" || fail "a daemonizing task took $dt s to end"
expect_eq "$(task_state "$S" "$id")" ok "state of daemon"
pid_alive "$dpid" || fail "the daemon $dpid died with its task"
ok "a daemonizing action holding stdout/stderr/fd 3 ends in $dt s; the daemon lives on"
t0=$(now)
out=$(zrtool write-read "$S/actions/bgkeep" bgkeep) || fail "bgkeep: $out"
zr_track_pid "$(cat "$MARKS/bgkeep.pid")"
expect_eq "$out" "bg started" "result of bgkeep"
fgt 1.5 "$(since "$t0")" || fail "bgkeep took $(since "$t0") s"
ok "an action leaving a background child with its pipes ends when it exits"
expect_eq "$(zrtool write-read "$S/actions/quick" quick)" quick "the queue after daemons"
ok "the queue moves on after daemonizing tasks"
kill "$dpid" "$(cat "$MARKS/bgkeep.pid")" 2>/dev/null

# Many services in parallel by default...
A=$(svc t ja); B=$(svc t jb)
ia=$(submit "$A" slow '{"secs": 2}'); ib=$(submit "$B" slow '{"secs": 2}')
timeout 10 cat "$A/tasks/$ia/result" "$B/tasks/$ib/result" >/dev/null || fail "ja/jb results"
sa=$(iso2s "$(rcat "$A/tasks/$ia/started")"); fa=$(iso2s "$(rcat "$A/tasks/$ia/finished")")
sb=$(iso2s "$(rcat "$B/tasks/$ib/started")"); fb=$(iso2s "$(rcat "$B/tasks/$ib/finished")")
fgt "$fa" "$sb" && fgt "$fb" "$sa" || fail "tasks of two services did not overlap"
ok "tasks of two services run at the same time by default"
zr_stop

# ...and one after the other with --jobs 1.
zr_start --jobs 1
C=$(svc t jc); D=$(svc t jd)
ic=$(submit "$C" slow '{"secs": 1.5}'); id=$(submit "$D" slow '{"secs": 1.5}')
sleep 0.5
expect_eq "$(task_state "$C" "$ic")/$(task_state "$D" "$id")" running/queued "states with --jobs 1"
timeout 10 cat "$C/tasks/$ic/result" "$D/tasks/$id/result" >/dev/null || fail "jc/jd results"
fc=$(iso2s "$(rcat "$C/tasks/$ic/finished")"); sd=$(iso2s "$(rcat "$D/tasks/$id/started")")
fge "$sd" "$fc" || fail "with --jobs 1, jd started at $sd before jc finished at $fc"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["tasks"]')" '{"queued": 0, "running": 0}' "info.tasks at the end"
ok "with --jobs 1 the tasks of two services run one after the other"
zr_stop

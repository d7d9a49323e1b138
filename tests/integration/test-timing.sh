#!/bin/bash
# Timers: a timeout (SIGTERM to the process group; SIGKILL 5 s later for a process that ignores
# it), retry with backoff succeeding on the 3rd try, retries exhausted, a recurring action
# (first run one period after mkdir, never queued twice, never started more often than its
# period).
. "$(dirname "$0")/lib.sh"

mk_template "$TPL" tm '{"name": "tm", "version": "1.0.0",
  "actions": {
    "hang": {"timeout": 1},
    "stubborn": {"timeout": 1},
    "flaky": {"retry": {"tries": 3, "delay": 0.5, "backoff": 2}},
    "hopeless": {"retry": {"tries": 2, "delay": 0.5}}
  }}'
mk_action "$TPL/tm" hang 'echo $$ >"$MARKS/hang.pid"
sleep 30 &
echo $! >"$MARKS/hang.child"
echo "hanging" >&2
wait'
mk_action "$TPL/tm" stubborn 'trap "" TERM
echo $$ >"$MARKS/stubborn.pid"
sleep 30 &
echo $! >"$MARKS/stubborn.child"
wait'
mk_action "$TPL/tm" flaky 'n=$(cat "$MARKS/flaky.count" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n >"$MARKS/flaky.count"
date +%s.%N >>"$MARKS/flaky.times"
echo "attempt $n" >&2
if [ $n -ge 3 ]; then echo "ok on attempt $n"; exit 0; fi
exit 1'
mk_action "$TPL/tm" hopeless 'echo x >>"$MARKS/hopeless.count"; echo "no luck" >&2; exit 2'
mk_template "$TPL" rec '{"name": "rec", "version": "1.0.0",
  "actions": {"tick": {"every": 1}, "block": {}}}'
mk_action "$TPL/rec" tick 'date +%s.%N >>"$MARKS/ticks.${ZR_SERVICE#*/}"; sleep 0.2; echo tick'
mk_action "$TPL/rec" block 'sleep 3; echo unblocked'
zr_start
S=$(svc tm a)

gone() { ! pid_alive "$1"; }

# Timeout: the reader gets the text and ETIMEDOUT, the task is 'timeout', its group is dead.
id=$(submit "$S" hang hang)
t0=$(now)
rc=0
out=$(timeout 15 cat "$S/results/hang" 2>"$TMP/hang.err") || rc=$?
dt=$(since "$t0")
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "cat results/hang: rc=$rc"
expect_in "$out" "timeout" "text of a timed-out task"
expect_in "$(cat "$TMP/hang.err")" "Connection timed out" "cat stderr of a timed-out task"
fge "$dt" 0.8 || fail "timeout after $dt s, before 1 s"
fgt 3.5 "$dt" || fail "timeout of 1 s took $dt s"
ok "timeout 1 s: reader got '$out' then ETIMEDOUT after $dt s"
expect_eq "$(task_state "$S" "$id")" timeout "state of a timed-out task"
expect_in "$(rcat "$S/tasks/$id/error")" "timeout" "error of a timed-out task"
wait_for "gone $(cat "$MARKS/hang.pid") && gone $(cat "$MARKS/hang.child")" 3 ||
	fail "processes of the timed-out task still alive"
ok "state timeout; the action and its child (process group) are gone"
rc=0
timeout 10 cat "$S/tasks/$id/result" >/dev/null 2>"$TMP/hang.err" || rc=$?
expect_in "$(cat "$TMP/hang.err")" "Connection timed out" "tasks/<id>/result of a timed-out task"
ok "tasks/<id>/result of a timed-out task: ETIMEDOUT"

# A process ignoring SIGTERM is killed 5 s later.
id=$(submit "$S" stubborn stubborn)
t0=$(now)
rc=0
out=$(timeout 20 cat "$S/results/stubborn" 2>"$TMP/stub.err") || rc=$?
dt=$(since "$t0")
expect_in "$(cat "$TMP/stub.err")" "Connection timed out" "reader of a stubborn task"
fge "$dt" 5.5 || fail "a SIGTERM-ignoring task ended after $dt s (SIGKILL comes 5 s after SIGTERM)"
fgt 9 "$dt" || fail "a SIGTERM-ignoring task took $dt s to be killed"
wait_for "gone $(cat "$MARKS/stubborn.pid") && gone $(cat "$MARKS/stubborn.child")" 3 ||
	fail "processes of the stubborn task still alive"
expect_eq "$(task_state "$S" "$id")" timeout "state of the stubborn task"
ok "a task ignoring SIGTERM is SIGKILLed 5 s later ($dt s), its group is gone"

# Retry: fails twice, succeeds on the 3rd attempt; delays 0.5 s then 1 s (backoff 2).
id=$(submit "$S" flaky flaky)
sleep 0.3
expect_eq "$(task_state "$S" "$id")" running "state between attempts"
out=$(timeout 15 cat "$S/results/flaky") || fail "cat results/flaky failed"
expect_eq "$out" "ok on attempt 3" "result of flaky"
expect_eq "$(task_state "$S" "$id")" ok "state of flaky"
expect_eq "$(cat "$MARKS/flaky.count")" 3 "attempts of flaky"
log=$(rcat "$S/tasks/$id/log")
for a in 1 2 3; do expect_in "$log" "attempt $a" "task log of flaky"; done
slog=$(rcat "$S/log")
expect_in "$slog" "attempt 1" "service log of flaky"
expect_in "$slog" "attempt 3" "service log of flaky"
mapfile -t tt <"$MARKS/flaky.times"
d1=$(fsub "${tt[1]}" "${tt[0]}"); d2=$(fsub "${tt[2]}" "${tt[1]}")
fge "$d1" 0.45 || fail "2nd attempt only $d1 s after the 1st (delay 0.5)"
fge "$d2" 0.95 || fail "3rd attempt only $d2 s after the 2nd (delay 0.5 * backoff 2)"
fgt 3 "$d2" || fail "3rd attempt $d2 s after the 2nd"
ok "retry: ok on the 3rd attempt, task running in between, delays $d1 s and $d2 s, log shows attempts"
id=$(submit "$S" hopeless hopeless)
rc=0
out=$(timeout 15 cat "$S/results/hopeless" 2>"$TMP/hopeless.err") || rc=$?
expect_in "$(cat "$TMP/hopeless.err")" "Input/output error" "reader of hopeless"
expect_in "$out" "exit status 2" "text of hopeless"
expect_eq "$(task_state "$S" "$id")" error "state of hopeless"
expect_eq "$(wc -l <"$MARKS/hopeless.count")" 2 "attempts of hopeless"
ok "retries exhausted: 2 attempts, state error, EIO"

# Recurring: every 1 s, never queued twice, never more often than once a second.
t0=$(now)
R=$(svc rec a)
sleep 3.5
id=$(submit "$R" block block)
maxq=0
end=$(fadd "$(now)" 3.2)
while fgt "$end" "$(now)"; do
	n=0
	for q in $(timeout 5 cat "$R/tasks/queue"); do
		[ "$(timeout 5 cat "$R/tasks/$q/action" 2>/dev/null)" = tick ] && n=$((n + 1))
	done
	[ "$n" -gt "$maxq" ] && maxq=$n
	sleep 0.15
done
expect_eq "$(timeout 10 cat "$R/tasks/$id/result")" unblocked "result of block"
sleep 2.5
t1=$(now)
mapfile -t ticks <"$MARKS/ticks.a"
[ "$maxq" -le 1 ] || fail "tick was queued $maxq times at once"
ok "a recurring action is never queued twice (at most $maxq in tasks/queue while blocked)"
fge "$(fsub "${ticks[0]}" "$t0")" 0.9 || fail "first tick $(fsub "${ticks[0]}" "$t0") s after mkdir"
fgt 2 "$(fsub "${ticks[0]}" "$t0")" || fail "first tick only $(fsub "${ticks[0]}" "$t0") s after mkdir"
ok "the first run comes one period after mkdir ($(fsub "${ticks[0]}" "$t0") s)"
min=99
for i in $(seq 1 $((${#ticks[@]} - 1))); do
	d=$(fsub "${ticks[$i]}" "${ticks[$((i - 1))]}")
	fgt "$min" "$d" && min=$d
done
fge "$min" 0.9 || fail "two ticks only $min s apart"
# ~3 ticks before block, 1 right after it (3 s), ~2 more: about 6 in total, never a burst.
n=${#ticks[@]}
[ "$n" -ge 4 ] && [ "$n" -le 9 ] || fail "$n ticks in $(fsub "$t1" "$t0") s"
ok "$n ticks in $(fsub "$t1" "$t0") s, starts at least $min s apart"
ids=$(task_ids "$R")
expect_eq "$(for i in $ids; do timeout 5 cat "$R/tasks/$i/action"; done | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')" \
	"block tick " "actions of rec's tasks"
ok "recurring runs are ordinary tasks (tasks/<id>/action = tick)"

zr_stop

#!/bin/bash
# Journals and attributes: @robot/events (cat ends, tail -f follows, JSON lines with growing
# seq, poll wakes on append), service events and log, @robot/log, a running task's log that
# blocks and follows, ls -l/stat sizes and mtimes, grep -r / find over the tree never hang.
. "$(dirname "$0")/lib.sh"

mk_t
mk_action "$TPL/t" flood 'pad=0123456789012345678901234567890123456789012345678901234567890123456789012345678
i=0
while [ $i -lt 5000 ]; do
	printf "line %05d %s\n" $i "$pad" >&2
	echo "state flood s$i ok" >&3
	i=$((i + 1))
done
echo flooded'
mk_action "$TPL/t" chatty 'for i in 1 2 3; do echo "chat $i" >&2; sleep 0.7; done; echo chatted'
zr_start
S=$(svc t a)
submit "$S" echo '{"n": 1}' >/dev/null
timeout 10 cat "$S/results/echo" >/dev/null || fail "echo task"

# @robot/events: cat ends; JSON lines with growing seq.
t0=$(now)
ev=$(timeout 5 cat "$MNT/@robot/events") || fail "cat @robot/events did not end"
fgt 1 "$(since "$t0")" || fail "cat @robot/events took $(since "$t0") s"
ok "cat @robot/events ends at the current end"
check_events() { # check_events TEXT: every line is a JSON object with seq, time, event; seq grows
	printf '%s\n' "$1" | timeout 10 "$ZR_PY" -c '
import json, sys
prev = None
for n, line in enumerate(sys.stdin, 1):
    line = line.rstrip("\n")
    if line.startswith("lost "):
        continue
    e = json.loads(line)
    assert isinstance(e, dict), f"line {n} is not an object"
    for k in ("seq", "time", "event"):
        assert k in e, f"line {n} lacks {k}: {line}"
    seq = e["seq"]
    assert prev is None or seq > prev, f"seq not increasing at line {n}: {prev} then {seq}"
    prev = seq
print(prev)' || fail "bad events: $1"
}
last=$(check_events "$ev")
for e in service.created task.queued task.started task.finished; do
	printf '%s\n' "$ev" | grep -q "\"event\": *\"$e\"" || fail "@robot/events lacks $e"
done
printf '%s\n' "$ev" | grep '"service.created"' | grep -q '"a"\|t/a' || fail "service.created lacks the service"
ok "@robot/events: JSON lines with seq/time/event, seq increasing (last $last)"

# tail -f follows.
timeout 4 tail -f "$MNT/@robot/events" >"$TMP/tail.out" 2>&1 &
ptail=$!
sleep 1.2
timeout 10 mkdir "$MNT/t/followed" || fail "mkdir t/followed"
rc=0; wait $ptail || rc=$?
expect_eq "$rc" 124 "tail -f (killed by timeout)"
grep '"service.created"' "$TMP/tail.out" | grep -q followed ||
	fail "tail -f did not show the new service: $(tail -n 3 "$TMP/tail.out")"
ok "tail -f @robot/events shows a new event"
ev2=$(timeout 5 cat "$MNT/@robot/events")
check_events "$ev2" >/dev/null
[ "$(printf '%s\n' "$ev2" | wc -l)" -gt "$(printf '%s\n' "$ev" | wc -l)" ] || fail "@robot/events did not grow"
# The same through a pipe, as a user would.
out=$( (sleep 1.2; timeout 5 mkdir "$MNT/t/piped") & timeout 3 tail -f "$MNT/@robot/events" | grep -m1 -o piped)
[ -n "$out" ] || fail "timeout 3 tail -f | grep did not see the event"
ok "timeout 3 tail -f @robot/events | grep finds the new event"

# poll() on a journal wakes on append.
( sleep 1; timeout 5 mkdir "$MNT/t/polled" ) &
pmk=$!
out=$(zrtool poll-tail "$MNT/@robot/events" 5) || fail "poll-tail @robot/events: $out"
expect_match "$(printf '%s\n' "$out" | head -1)" '^ready (0\.[3-9]|1\.[0-9]|2\.[0-4])' "poll on @robot/events"
expect_in "$out" polled "new data after poll"
ok "poll() on @robot/events wakes on append ($(printf '%s\n' "$out" | head -1))"
wait $pmk
out=$(zrtool poll-tail "$MNT/@robot/events" 1) && fail "poll on an idle journal said ready: $out"
ok "poll() on an idle journal read to its end times out"

# Service events hold only this service's events.
sev=$(timeout 5 cat "$S/events") || fail "cat t/a/events"
check_events "$sev" >/dev/null
printf '%s\n' "$sev" | grep -q followed && fail "t/a/events shows another service's event"
ok "service events: JSON lines of this service only"

# Service log: cat ends, tail -f follows a running task's stderr.
t0=$(now)
rcat "$S/log" >/dev/null
fgt 1 "$(since "$t0")" || fail "cat log took $(since "$t0") s"
timeout 4 tail -f "$S/log" >"$TMP/log.out" 2>&1 &
ptail=$!
sleep 1.2
id=$(submit "$S" chatty chatty)
wait $ptail
for i in 1 2; do
	grep -Eq "task $id chatty: chat $i$" "$TMP/log.out" || fail "tail -f log lacks chat $i: $(cat "$TMP/log.out")"
done
ok "tail -f on the service log follows a running task's stderr"
# The task log of a running task blocks and follows; it ends when the task ends.
id=$(submit "$S" chatty chatty)
sleep 0.3
t0=$(now)
out=$(timeout 10 cat "$S/tasks/$id/log") || fail "cat tasks/$id/log"
out=$(printf '%s\n' "$out" | grep -v '^zrobot: ')
dt=$(since "$t0")
expect_eq "$out" "$(printf 'chat 1\nchat 2\nchat 3')" "log of a running task"
fge "$dt" 1.2 || fail "cat of a running task's log ended after $dt s, before the task"
ok "cat tasks/<id>/log of a running task follows it and ends with it ($dt s)"
t0=$(now)
expect_eq "$(task_stderr "$S/tasks/$id/log")" "$(printf 'chat 1\nchat 2\nchat 3')" "log of an ended task"
fgt 1 "$(since "$t0")" || fail "log of an ended task blocked"
ok "the log of an ended task ends at once"

# A journal whose retained window dropped lines starts with "lost N" for a reader that had not
# seen them (5000 lines of ~100 bytes of stderr; 5000 state.changed events).
F=$(svc t flood)
fid=$(submit "$F" flood flood)
expect_eq "$(timeout 20 cat "$F/tasks/$fid/result")" flooded "result of flood"
tlog=$(rcat "$F/tasks/$fid/log")
expect_match "$(printf '%s\n' "$tlog" | head -n 1)" '^lost [1-9][0-9]*$' "first line of a task log that dropped lines"
expect_match "$(printf '%s\n' "$tlog" | grep -v '^zrobot: ' | tail -n 1)" '^line 04999 ' "last line of the flooded task log"
printf '%s\n' "$tlog" | sed 1d | grep '^line ' | awk '{ n = $2 + 0; if (NR > 1 && n != prev + 1) { print "gap after " prev; exit 1 } prev = n }' ||
	fail "the retained lines of the task log are not contiguous"
ok "task log over its window: '$(printf '%s\n' "$tlog" | head -n 1)', then contiguous lines up to the last"
fev=$(timeout 10 cat "$F/events") || fail "cat events of flood"
expect_match "$(printf '%s\n' "$fev" | head -n 1)" '^lost [1-9][0-9]*$' "first line of service events that dropped lines"
check_events "$(printf '%s\n' "$fev" | sed 1d)" >/dev/null
ok "service events over their window start with '$(printf '%s\n' "$fev" | head -n 1)', then JSON lines"
timeout 10 rmdir "$F" || fail "rmdir t/flood"

# @robot/log: the robot's log; cat ends, tail -f follows.
rl=$(timeout 5 cat "$MNT/@robot/log") || fail "cat @robot/log"
expect_in "$rl" "mounted" "@robot/log"
timeout 3 tail -f "$MNT/@robot/log" >"$TMP/rlog.out" 2>&1 &
ptail=$!
sleep 1.2
printf 'x' >"$S/actions/echo" 2>/dev/null
wait $ptail
grep -q "/t/a/actions/echo" "$TMP/rlog.out" || grep -q "EINVAL" "$TMP/rlog.out" ||
	fail "tail -f @robot/log did not show the refused write: $(cat "$TMP/rlog.out")"
ok "@robot/log: cat ends, tail -f shows a new line (the reason of a refused write)"

# Sizes are true and mtimes move.
for f in "$S/state" "$S/data" "$S/info" "$S/lasterror" "$S/log" "$S/events" "$S/tasks/queue" \
	"$MNT/@robot/events" "$S/tasks/$id/result" "$S/tasks/$id/args" "$S/tasks/$id/state" \
	"$MNT/@robot/templates/t/manifest"; do
	expect_eq "$(stat -c %s "$f")" "$(timeout 5 cat "$f" | wc -c)" "st_size of ${f#$MNT}"
done
ok "stat sizes equal the content length (state, data, info, lasterror, log, events, ...)"
lsl=$(timeout 5 ls -l "$S")
expect_match "$(printf '%s\n' "$lsl" | grep ' state$')" "^-r.* $(stat -c %s "$S/state") " "ls -l state"
ok "ls -l shows modes and sizes"
m1=$(stat -c %Y "$S/state"); e1=$(stat -c %Y "$S/events"); s1=$(stat -c %s "$S/events")
sleep 1.1
submit "$S" fail fail >/dev/null
wait_for "grep -q 'actions fail error' '$S/state'" 5 || fail "state after fail"
[ "$(stat -c %Y "$S/state")" -gt "$m1" ] || fail "mtime of state did not move"
[ "$(stat -c %Y "$S/events")" -gt "$e1" ] || fail "mtime of events did not move"
[ "$(stat -c %s "$S/events")" -gt "$s1" ] || fail "size of events did not grow"
ok "mtimes of state and events move on change, events grows"
d1=$(stat -c %Y "$MNT/t")
sleep 1.1
svc t newer >/dev/null
timeout 5 ls "$MNT/t" | grep -qx newer || fail "ls t does not show a new service"
[ "$(stat -c %Y "$MNT/t")" -gt "$d1" ] || fail "mtime of the template dir did not move"
ok "a new service shows in ls at once and moves the template dir's mtime"

# Over an idle tree, grep -r and find end.
rc=0
timeout 10 grep -r x "$MNT/t/a" >/dev/null 2>"$TMP/grep.err" || rc=$?
# Write-only files (tasks/<id>/cancel) may answer a read with an error, as in sysfs.
[ "$rc" -le 2 ] || fail "grep -r over t/a: rc=$rc $(head -3 "$TMP/grep.err")"
[ -s "$TMP/grep.err" ] && echo "# grep -r errors: $(sort -u "$TMP/grep.err" | head -3)"
rc=0
timeout 10 grep -rq "n=1" "$MNT/t/a" || rc=$?
expect_eq "$rc" 0 "grep -rq n=1 over t/a finds the result"
ok "grep -r over an idle service ends (and finds results)"
rc=0
timeout 10 find "$MNT" >"$TMP/find.out" 2>"$TMP/find.err" || rc=$?
expect_eq "$rc" 0 "find $MNT"
grep -qx "$MNT/t/a/tasks/$id/result" "$TMP/find.out" || fail "find does not list task files"
rc=0
timeout 15 grep -r zzz-not-there "$MNT" >/dev/null 2>"$TMP/grep.err" || rc=$?
[ "$rc" -le 2 ] || fail "grep -r over the whole mount: rc=$rc"
ok "find and grep -r over the whole idle mount end"

zr_stop

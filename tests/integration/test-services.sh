#!/bin/bash
# Services: mkdir (defaults, EEXIST, EINVAL, EPERM), the service directory, rmdir (on_delete
# runs after rmdir returned, a failing on_delete is logged and the delete goes on, queued
# tasks are cancelled, the running one finishes, the name is free at once).
. "$(dirname "$0")/lib.sh"

mk_t
# d: two on_delete actions, the first fails.
mk_template "$TPL" d '{"name": "d", "version": "1.0.0",
  "actions": {"badclean": {}, "cleanup": {}}, "on_delete": ["badclean", "cleanup"]}'
mk_action "$TPL/d" badclean 'echo "badclean refuses" >&2; exit 4'
mk_action "$TPL/d" cleanup 'echo "$ZR_SERVICE" >"$MARKS/cleanup.d.${ZR_SERVICE#*/}"'
zr_start

S=$(svc t a)
ok "mkdir t/a"
expect_eq "$(timeout 10 ls "$MNT/t")" a "ls t after mkdir"
for e in actions results tasks state data info log events lasterror; do
	[ -e "$S/$e" ] || fail "service dir lacks $e"
done
ok "service dir has actions results tasks state data info log events lasterror"
acts=$(timeout 10 ls "$S/actions" | tr '\n' ' ')
expect_eq "$acts" "cleanup dump echo fail noisy slow stdin " "ls actions"
ok "actions/ lists the template's actions"
data=$(rcat "$S/data")
expect_eq "$(jsonstr "$data" 'j')" '{"count": 1, "greeting": "hello"}' "data defaults"
ok "data holds the schema defaults"
info=$(rcat "$S/info")
expect_eq "$(jsonstr "$info" 'j["name"]')" a "info.name"
expect_eq "$(jsonstr "$info" 'j["template"]')" t "info.template"
expect_eq "$(jsonstr "$info" 'j["uid"]')" local/t/1.0.0 "info.uid"
expect_eq "$(jsonstr "$info" 'j["version"]')" 1.0.0 "info.version"
expect_eq "$(jsonstr "$info" 'j["producers"]')" '{}' "info.producers"
expect_eq "$(jsonstr "$info" 'j["process"]')" null "info.process"
expect_match "$(jsonstr "$info" 'j["created"]')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$' "info.created"
guid1=$(jsonstr "$info" 'j["guid"]')
[ -n "$guid1" ] || fail "info.guid empty"
ok "info: name, template, uid, version, guid, created, producers, process"
expect_eq "$(rcat "$S/lasterror")" "" "lasterror before any refused write"
expect_eq "$(rcat "$S/tasks/queue")" "" "tasks/queue of a new service"
[ -d "$DATA/work/$guid1" ] || fail "work folder $DATA/work/$guid1 not created"
ok "lasterror and queue empty; work folder $DATA/work/<guid> exists"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["services"]')" 1 "info.services"

expect_errno "mkdir '$MNT/t/a'" "File exists"
ok "mkdir of an existing service: EEXIST"
for bad in Bad -x .x _x 'a b' "$(printf 'a%.0s' $(seq 64))" 'x@y' '@a'; do
	expect_errno "mkdir '$MNT/t/$bad'" "Invalid argument"
	[ -e "$MNT/t/$bad" ] && fail "'$bad' was created"
done
ok "mkdir with bad names (uppercase, leading -._, space, 64 chars, @): EINVAL"
long=$(printf 'b%.0s' $(seq 63))
svc t "$long" >/dev/null
svc t "0a.b_c-1" >/dev/null
ok "mkdir with good edge names (63 chars; 0a.b_c-1)"
expect_errno "mkdir '$MNT/newtpl'" "Operation not permitted"
expect_errno "mkdir '$MNT/@robot/x'" "Operation not permitted"
expect_errno "mkdir '$MNT/t/a/x'" "Operation not permitted"
expect_errno "mkdir '$MNT/t/a/actions/x'" "Operation not permitted"
expect_errno "rmdir '$MNT/t'" "Operation not permitted"
expect_errno "rmdir '$MNT/@robot/templates'" "Operation not permitted"
expect_errno "rmdir '$MNT/t/a/actions'" "Operation not permitted"
ok "mkdir at root/@robot/inside a service and rmdir of non-service dirs: EPERM"
expect_errno "rmdir '$MNT/t/nosuch'" "No such file or directory"
ok "rmdir of a missing service: ENOENT"

# rmdir: returns at once, on_delete runs afterwards and writes its marker.
timeout 10 rmdir "$MNT/t/$long" || fail "rmdir t/<63 chars>"
t0=$(now)
timeout 10 rmdir "$MNT/t/0a.b_c-1" || fail "rmdir t/0a.b_c-1"
fgt 2 "$(since "$t0")" || fail "rmdir took $(since "$t0") s"
[ -e "$MNT/t/0a.b_c-1" ] && fail "service still visible after rmdir"
timeout 10 ls "$MNT/t" | grep -qx '0a.b_c-1' && fail "ls still lists the service after rmdir"
ok "rmdir returns at once and the service is gone from ls and stat"
wait_for "[ -s '$MARKS/cleanup.0a.b_c-1' ]" 10 || fail "on_delete 'cleanup' did not run"
expect_eq "$(cat "$MARKS/cleanup.0a.b_c-1")" "cleanup t/0a.b_c-1" "on_delete marker"
ok "on_delete action ran (marker: $(cat "$MARKS/cleanup.0a.b_c-1"))"

# A failing on_delete is logged and the next one still runs.
svc d x >/dev/null
timeout 10 rmdir "$MNT/d/x" || fail "rmdir d/x"
wait_for "[ -s '$MARKS/cleanup.d.x' ]" 10 || fail "second on_delete did not run after a failing first"
wait_for "grep -q badclean '$TMP/robot.log'" 5 || fail "failing on_delete not logged"
grep badclean "$TMP/robot.log" | grep -Eq 'exit status 4|badclean refuses' ||
	fail "the log line of the failing on_delete lacks its reason: $(grep badclean "$TMP/robot.log")"
[ -e "$MNT/d/x" ] && fail "d/x still there"
ok "a failing on_delete is logged, the delete goes on"

# The name is reusable at once, with fresh defaults and a new guid.
echo '{"greeting": "changed", "count": 9}' >"$S/data" || fail "write data"
timeout 10 rmdir "$S" || fail "rmdir t/a"
timeout 10 mkdir "$S" || fail "mkdir t/a right after rmdir"
guid2=$(json "$S/info" 'j["guid"]')
[ "$guid1" != "$guid2" ] || fail "re-created service has the old guid"
expect_eq "$(json "$S/data" 'j')" '{"count": 1, "greeting": "hello"}' "data of the re-created service"
expect_eq "$(task_ids "$S" | wc -l)" 0 "tasks of the re-created service"
ok "the name is free again at once: new guid, default data, no tasks"
wait_for "[ -s '$MARKS/cleanup.a' ]" 10 || fail "on_delete of the first t/a did not run"

# rmdir while a task runs and another is queued: the queued one is cancelled (its reader gets
# ECANCELED), the running one finishes, then on_delete runs.
rm -f "$MARKS/cleanup.a"
id1=$(submit "$S" slow '{"secs": 2, "n": 1}')
id2=$(submit "$S" echo '{"n": 2}')
wait_for "[ \"\$(cat '$S/tasks/queue')\" = '$id2' ]" 5 || fail "queue before rmdir: $(rcat "$S/tasks/queue")"
timeout 15 cat "$S/tasks/$id1/result" >"$TMP/r1.out" 2>"$TMP/r1.err" &
r1=$!
timeout 15 cat "$S/tasks/$id2/result" >"$TMP/r2.out" 2>"$TMP/r2.err" &
r2=$!
sleep 0.5
t0=$(now)
timeout 10 rmdir "$S" || fail "rmdir with tasks"
fgt 1 "$(since "$t0")" || fail "rmdir with a running task took $(since "$t0") s"
rc=0; wait $r2 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "reader of the queued task: rc=$rc"
grep -q "Operation canceled" "$TMP/r2.err" || fail "reader of the queued task: $(cat "$TMP/r2.err")"
grep -q cancelled "$TMP/r2.out" || fail "reader of the queued task got no 'cancelled' text: $(cat "$TMP/r2.out")"
ok "rmdir cancels the queued task: its reader gets 'cancelled' then ECANCELED"
rc=0; wait $r1 || rc=$?
expect_eq "$rc" 0 "reader of the running task"
expect_eq "$(cat "$TMP/r1.out")" "slept 1" "result of the running task"
ok "the running task finishes and its reader gets the result"
wait_for "[ -s '$MARKS/cleanup.a' ]" 10 || fail "on_delete after the running task did not run"
ok "on_delete ran after the running task ended"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["services"]')" 0 "info.services at the end"

zr_stop

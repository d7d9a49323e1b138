#!/bin/bash
# The action protocol: stdin JSON, environment, cwd, stdout as result, stderr to the task and
# service logs, fd 3 lines (state, data, progress), state after ok/error, an action calling
# other services through $ZR_ROOT.
. "$(dirname "$0")/lib.sh"

mk_t
mk_action "$TPL/t" proto 'echo "state health db ok" >&3
echo "state backup nightly warning" >&3
echo "progress 1 3" >&3
sleep 1.5
echo "progress 2 3" >&3
echo "data {\"greeting\": \"from-fd3\"}" >&3
sleep 1.5
echo "progress 3 3" >&3
echo done'
mk_action "$TPL/t" baddata 'echo "data {\"count\": \"bad\"}" >&3
echo "data [1]" >&3
echo "state health db error" >&3
echo "bogus line for fd 3" >&3
echo fine'
mk_action "$TPL/t" caller 'tr -d "\n" <"$ZR_SERVICE_DIR/data"; echo
echo "{\"n\": 42}" >"$ZR_ROOT/t/other/actions/echo" || exit 1
cat "$ZR_ROOT/t/other/results/echo"'
zr_start
S=$(svc t p)
guid=$(json "$S/info" 'j["guid"]')

# Environment, cwd and stdin.
echo '{"greeting": "env-test", "count": 3}' >"$S/data" || fail "write data"
out=$(zrtool write-read "$S/actions/dump" '{"n": 4, "msg": "hello world"}') || fail "dump: $out"
id=$(last_task "$S")
env_of() { printf '%s\n' "$out" | grep -m1 "^$1=" | cut -d= -f2-; }
expect_eq "$(env_of ZR_ROOT)" "$MNT" ZR_ROOT
expect_eq "$(env_of ZR_SERVICE)" "t/p" ZR_SERVICE
expect_eq "$(env_of ZR_SERVICE_DIR)" "$MNT/t/p" ZR_SERVICE_DIR
expect_eq "$(env_of ZR_TASK)" "$id" ZR_TASK
expect_eq "$(env_of ZR_ACTION)" dump ZR_ACTION
expect_eq "$(env_of DATA_GREETING)" env-test DATA_GREETING
expect_eq "$(env_of DATA_COUNT)" 3 DATA_COUNT
expect_eq "$(env_of ARG_N)" 4 ARG_N
expect_eq "$(env_of ARG_MSG)" "hello world" ARG_MSG
ok "environment: ZR_ROOT ZR_SERVICE ZR_SERVICE_DIR ZR_TASK ZR_ACTION DATA_* ARG_*"
expect_eq "$(env_of cwd)" "$DATA/work/$guid" "cwd"
ok "cwd is the service's work folder $DATA/work/<guid>"
stdin=$(env_of stdin)
expect_eq "$(jsonstr "$stdin" 'j["service"]')" t/p "stdin.service"
expect_eq "$(jsonstr "$stdin" 'j["template"]')" t "stdin.template"
expect_eq "$(jsonstr "$stdin" 'j["action"]')" dump "stdin.action"
expect_eq "$(jsonstr "$stdin" 'str(j["task"])')" "$id" "stdin.task"
expect_eq "$(jsonstr "$stdin" 'j["data"]')" '{"count": 3, "greeting": "env-test"}' "stdin.data"
expect_eq "$(jsonstr "$stdin" 'j["args"]')" '{"msg": "hello world", "n": 4}' "stdin.args"
ok "stdin JSON: service, template, action, task, data, args"

# stderr goes to the task log and the service log; stdout is the result.
id=$(submit "$S" noisy noisy)
expect_eq "$(timeout 10 cat "$S/tasks/$id/result")" quiet "result of noisy"
expect_eq "$(task_stderr "$S/tasks/$id/log")" "$(printf 'noise line 1\nnoise line 2')" "tasks/<id>/log"
ok "stderr is the task log, stdout the result"
slog=$(rcat "$S/log")
printf '%s\n' "$slog" | grep -Eq "^[0-9T:.Z-]+ task $id noisy: noise line 1$" ||
	fail "service log lacks 'task $id noisy: noise line 1': $slog"
printf '%s\n' "$slog" | grep -Eq "^[0-9T:.Z-]+ task $id noisy: noise line 2$" ||
	fail "service log lacks line 2: $slog"
printf '%s\n' "$slog" | grep -Eq "^[0-9T:.Z-]+ task $id noisy: ok" ||
	fail "service log lacks 'task $id noisy: ok': $slog"
ok "the service log has '<time> task $id noisy: <line>' and the end line"
submit "$S" fail fail >/dev/null
wait_for "grep -q 'fail: error' '$S/log'" 10 || fail "service log lacks the failed task's end line"
ok "the service log has 'task <id> fail: error: ...'"

# fd 3: state, progress, data.
id=$(submit "$S" proto proto)
wait_for "[ \"\$(cat '$S/tasks/$id/progress')\" = '1 3' ]" 3 ||
	fail "progress not '1 3' during the task: '$(rcat "$S/tasks/$id/progress")'"
ok "fd 3 'progress 1 3' shows in tasks/<id>/progress while it runs"
wait_for "grep -qx 'health db ok' '$S/state'" 3 || fail "state lacks 'health db ok': $(rcat "$S/state")"
ok "fd 3 'state' lines show in state while the task runs"
wait_for "[ \"\$(cat '$S/tasks/$id/progress')\" = '2 3' ]" 4 ||
	fail "progress not '2 3': '$(rcat "$S/tasks/$id/progress")'"
wait_for "grep -q from-fd3 '$S/data'" 3 || fail "fd 3 'data' line not applied: $(rcat "$S/data")"
expect_eq "$(json "$S/data" 'j')" '{"count": 3, "greeting": "from-fd3"}' "data after a fd 3 data line"
ok "fd 3 'data {...}' is merged into data"
expect_eq "$(timeout 10 cat "$S/results/proto")" done "result of proto"
expect_eq "$(rcat "$S/tasks/$id/progress")" "3 3" "final progress"
expect_eq "$(rcat "$S/state")" "$(printf 'actions dump ok\nactions fail error\nactions noisy ok\nactions proto ok\nbackup nightly warning\nhealth db ok')" "state"
ok "state: sorted CATEGORY TAG VALUE lines, 'actions <a> ok|error' set by the robot"

# Invalid fd 3 lines are ignored (and logged), the task still succeeds.
before=$(rcat "$S/data")
expect_eq "$(zrtool write-read "$S/actions/baddata" baddata)" fine "result of baddata"
expect_eq "$(rcat "$S/data")" "$before" "data after an invalid fd 3 data line"
grep -qx 'health db error' <(rcat "$S/state") || fail "state line not replaced: $(rcat "$S/state")"
grep -qx 'health db ok' <(rcat "$S/state") && fail "old state line kept"
grep -q count "$TMP/robot.log" || grep -q count <(rcat "$S/log") ||
	fail "the invalid data line was not logged"
ok "an invalid fd 3 data line is ignored and logged; a state line replaces its tag's value"

# An action calls another service through the tree and reads its own data.
svc t other >/dev/null
out=$(zrtool write-read "$S/actions/caller" caller) || fail "caller: $out"
expect_eq "$(printf '%s\n' "$out" | tail -n 1)" "n=42 msg=" "caller's result from t/other"
expect_eq "$(jsonstr "$(printf '%s\n' "$out" | head -n 1)" 'j["greeting"]')" from-fd3 "caller read its data"
ok "an action reads its own data and runs another service's action through \$ZR_ROOT"

# Events for the tasks.
ev=$(timeout 5 cat "$S/events") || fail "cat events"
for e in service.created task.queued task.started task.finished state.changed data.changed; do
	printf '%s\n' "$ev" | grep -q "\"event\": *\"$e\"" || fail "service events lack $e"
done
printf '%s\n' "$ev" | grep '"task.finished"' | grep -q '"state": *"error"' ||
	fail "task.finished of the failed task lacks state error"
ok "service events: created, task.queued/started/finished (with state), state.changed, data.changed"

zr_stop

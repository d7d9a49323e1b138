#!/bin/bash
# Template versions side by side and service upgrades: semver order, mkdir takes the highest,
# upgrade waits for the running task (the request itself is durable: kill -9 does not lose
# it), keeps the queue and data, runs the new `upgrade` action, and survives a restart; bad
# versions are refused.
. "$(dirname "$0")/lib.sh"

T1=$TMP/v1 T2=$TMP/v2
mk_template "$T1" up '{"name": "up", "version": "1.9.0",
  "data": {"size": {"type": "integer", "default": 3}},
  "actions": {"hello": {}, "slow": {"args": {"secs": {"type": "number", "default": 2}}}, "old": {}}}'
mk_action "$T1/up" hello 'echo "v1 size=$DATA_SIZE"'
mk_action "$T1/up" slow 'sleep "$ARG_SECS"; echo slow-v1'
mk_action "$T1/up" old 'echo old'
mk_template "$T2" up '{"name": "up", "version": "1.10.0",
  "data": {"size": {"type": "integer", "default": 3}, "color": {"type": "string", "default": "red"}},
  "actions": {"hello": {}, "slow": {"args": {"secs": {"type": "number", "default": 2}}}, "upgrade": {}}}'
mk_action "$T2/up" hello 'echo "v2 size=$DATA_SIZE color=$DATA_COLOR"'
mk_action "$T2/up" slow 'sleep "$ARG_SECS"; echo slow-v2'
mk_action "$T2/up" upgrade 'echo "state upgrade ran ok" >&3; echo "upgrade $ZR_SERVICE" >"$MARKS/upgrade"'
MARKS=$TMP/marks
mkdir -p "$MARKS"
export MARKS

zr_start --templates "$T1" --templates "$T2"

expect_eq "$(rcat "$MNT/@robot/templates/up/versions" | cut -d' ' -f1)" "$(printf '1.9.0\n1.10.0')" "versions in semver order"
expect_eq "$(rcat "$MNT/@robot/templates/up/uid")" "local/up/1.10.0" "uid of the highest version"
ok "two versions side by side; 1.10.0 > 1.9.0"

S=$(svc up a)
expect_eq "$(rcat "$S/upgrade")" "1.10.0" "mkdir takes the highest version"
expect_eq "$(json "$S/info" 'j["uid"]')" "local/up/1.10.0" "info uid"
echo 1.9.0 >"$S/upgrade" || fail "write 1.9.0 to upgrade"
expect_eq "$(rcat "$S/upgrade")" "1.9.0" "moved to 1.9.0 at once when idle"
expect_eq "$(json "$S/info" 'j["uid"]')" "local/up/1.9.0" "info uid after moving"
echo '{"size": 7}' >"$S/data" || fail "write data"
expect_eq "$(zrtool write-read "$S/actions/hello" hello)" "v1 size=7" "v1 runs"
ok "upgrade to an older version of an idle service applies at once"

# Upgrade while a task runs: it waits; the queue survives and runs the new version's actions.
submit "$S" slow '{"secs": 1.5}' >/dev/null
hid=$(submit "$S" hello hello)
echo latest >"$S/upgrade" || fail "write latest to upgrade"
expect_eq "$(rcat "$S/upgrade")" "1.9.0 -> 1.10.0" "pending upgrade shown"
out=$(timeout 20 cat "$S/tasks/$hid/result") || fail "queued hello after the upgrade"
expect_eq "$out" "v2 size=7 color=red" "the queued task ran the new version with the data kept and new defaults"
expect_eq "$(rcat "$S/upgrade")" "1.10.0" "upgraded"
wait_for "[ -s '$MARKS/upgrade' ]" 5 || fail "the upgrade action did not run"
expect_in "$(rcat "$S/state")" "upgrade ran ok" "state line of the upgrade action"
slow=$(task_ids "$S" | head -n 1)
ok "upgrade of a busy service: after its task, queue and data kept, upgrade action ran"

# An upgrade asked for while a task runs is kept: a kill -9 before the task ends does not
# lose it; the restarted robot switches (the task came back interrupted) and runs `upgrade`.
echo 1.9.0 >"$S/upgrade" || fail "back to 1.9.0 (idle)"
rm -f "$MARKS/upgrade"
sid=$(submit "$S" slow '{"secs": 30}')
wait_state "$S" "$sid" running 10
echo latest >"$S/upgrade" || fail "write latest while busy"
expect_eq "$(rcat "$S/upgrade")" "1.9.0 -> 1.10.0" "pending upgrade before the crash"
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID" 10 || fail "kill -9 did not end the robot"
zr_kill_actions
zr_start --templates "$T1" --templates "$T2"
expect_eq "$(task_state "$S" "$sid")" interrupted "the running task after kill -9"
expect_eq "$(rcat "$S/upgrade")" "1.10.0" "the acknowledged upgrade after kill -9 and restart"
wait_for "[ -s '$MARKS/upgrade' ]" 10 || fail "the upgrade action did not run after the restart"
expect_eq "$(zrtool write-read "$S/actions/hello" hello)" "v2 size=7 color=red" "v2 after the restart"
ok "an upgrade acknowledged while busy survives kill -9 and happens at restart"

# Refusals.
expect_errno "echo 2.0.0 >'$S/upgrade'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "no version '2.0.0'" "lasterror of an unknown version"
expect_errno "echo >'$S/actions/old'" "Operation not permitted"
ok "unknown version: EINVAL with a reason; the old version's actions are gone"

# The pin survives a restart.
echo 1.9.0 >"$S/upgrade" || fail "back to 1.9.0"
zr_stop
zr_start --templates "$T1" --templates "$T2"
expect_eq "$(rcat "$S/upgrade")" "1.9.0" "pinned version after restart"
expect_eq "$(zrtool write-read "$S/actions/hello" hello)" "v1 size=7" "v1 after restart"
ok "the pinned version survives a restart"

# A restart without that version: the service stays, marked, and can be upgraded.
zr_stop
zr_start --templates "$T2"
expect_in "$(rcat "$S/state")" "template missing error" "state of a service whose version is gone"
expect_errno "echo >'$S/actions/hello'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "missing" "lasterror of an action of a missing version"
echo latest >"$S/upgrade" || fail "upgrade a service whose version is gone"
expect_eq "$(zrtool write-read "$S/actions/hello" hello)" "v2 size=7 color=red" "after upgrading from a missing version"
expect_not_in "$(rcat "$S/state")" "missing" "state after the upgrade"
ok "a service whose version is gone stays visible, refuses actions, and can be upgraded"
zr_stop

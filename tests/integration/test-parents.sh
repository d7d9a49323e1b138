#!/bin/bash
# Parents and children (AYS; DESIGN §8): ctl "parent T/S" and "parent none", the parent link
# and children/ symlinks, refused parents (missing, itself, a cycle, printed), "recurse ACTION"
# depth first in name order, EBUSY on rmdir of a parent (HTTP DELETE: 409) until force, then
# the children deleted first with their on_delete actions, and all of it across a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

# p: hello appends the service to $MARKS/hello; its on_delete action "gone" takes a while
# (so that a parent's, were it not held, would overtake its children's) and appends the
# service to $MARKS/order. q has neither.
mk_template "$TPL" p '{"name": "p", "version": "1.0.0",
  "actions": {"hello": {}, "gone": {}}, "on_delete": ["gone"]}'
mk_action "$TPL/p" hello 'echo "$ZR_SERVICE" >>"$MARKS/hello"'
mk_action "$TPL/p" gone 'sleep 0.5; echo "$ZR_SERVICE" >>"$MARKS/order"'
mk_template "$TPL" q '{"name": "q", "version": "1.0.0", "actions": {"other": {}}}'
mk_action "$TPL/q" other 'true'
# Four job slots: children's and parent's on_delete actions could run side by side.
zr_start_http --jobs 4

R=$(svc p root)
A=$(svc p a)
A1=$(svc p a1)
B=$(svc p b)
X=$(svc q x)
expect_eq "$(ls "$R/children")" "" "children/ is there and empty"
[ ! -e "$R/parent" ] && [ ! -L "$R/parent" ] || fail "a service without a parent has a parent link"
expect_not_in "$(ls "$R")" "parent" "ls of a service without a parent"
expect_eq "$(json "$R/info" 'j["parent"]')" "null" "info.parent without a parent"
expect_eq "$(json "$R/info" 'j["blueprint"]')" "null" "info.blueprint without one"
ok "a service has children/ (empty) and no parent link at first"

for s in "$A" "$B" "$X"; do
	run_ok "echo 'parent p/root' >'$s/ctl'" >/dev/null
done
run_ok "echo 'parent p/a' >'$A1/ctl'" >/dev/null
expect_eq "$(readlink "$A/parent")" "../../p/root" "parent link of p/a"
expect_eq "$(readlink -f "$A/parent")" "$(readlink -f "$R")" "the parent link resolves"
expect_eq "$(readlink "$X/parent")" "../../p/root" "parent link of q/x"
expect_in "$(ls "$A")" "parent" "ls of a child lists parent"
expect_eq "$(ls "$R/children" | tr '\n' ' ')" "p.a p.b q.x " "children of p/root"
expect_eq "$(ls "$A/children")" "p.a1" "children of p/a"
expect_eq "$(readlink "$R/children/p.a")" "../../../p/a" "children/p.a link"
expect_eq "$(readlink -f "$R/children/q.x")" "$(readlink -f "$X")" "children/q.x resolves"
expect_eq "$(json "$A1/info" 'j["parent"]')" "p/a" "info.parent"
ok "ctl 'parent T/S': parent link, children/<t>.<s> links, info.parent"

expect_errno "echo 'parent p/nope' >'$B/ctl'" "Invalid argument"
expect_in "$(rcat "$B/lasterror")" "no such service: p/nope" "lasterror of a missing parent"
expect_errno "echo 'parent p/b' >'$B/ctl'" "Invalid argument"
expect_in "$(rcat "$B/lasterror")" "own parent" "lasterror of itself as parent"
expect_errno "echo 'parent p/a1' >'$R/ctl'" "Invalid argument"
expect_in "$(rcat "$R/lasterror")" "cycle: p/root -> p/a1 -> p/a -> p/root" "the cycle printed"
[ ! -L "$R/parent" ] || fail "a refused parent was set"
expect_errno "echo 'parent' >'$R/ctl'" "Invalid argument"
expect_in "$(rcat "$R/lasterror")" "'parent TEMPLATE/SERVICE|none'" "unknown command names parent"
expect_in "$(rcat "$R/lasterror")" "'recurse ACTION'" "unknown command names recurse"
ok "a missing parent, itself and a cycle are refused with EINVAL and said in lasterror"

# parent none: the link and the children/ entry go at once (the kernel's cache too).
run_ok "echo 'parent none' >'$B/ctl'" >/dev/null
[ ! -L "$B/parent" ] || fail "the parent link stayed after 'parent none'"
[ ! -L "$R/children/p.b" ] || fail "children/p.b stayed after 'parent none'"
expect_eq "$(ls "$R/children" | tr '\n' ' ')" "p.a q.x " "children after 'parent none'"
expect_eq "$(json "$B/info" 'j["parent"]')" "null" "info.parent after 'parent none'"
run_ok "echo 'parent p/root' >'$B/ctl'" >/dev/null
# A child deleted on its own needs no force, and leaves children/ at once.
C=$(svc p c)
run_ok "echo 'parent p/root' >'$C/ctl'" >/dev/null
[ -L "$R/children/p.c" ] || fail "children/p.c missing"
timeout 10 rmdir "$C" || fail "rmdir of a child"
[ ! -L "$R/children/p.c" ] || fail "children/p.c stayed after the child's rmdir"
wait_for "grep -qx p/c '$MARKS/order'" 10 || fail "the child's on_delete action did not run"
rm -f "$MARKS/order"
ok "'parent none' and a child's rmdir drop the links at once"

expect_errno "echo 'recurse nope' >'$R/ctl'" "Invalid argument"
expect_in "$(rcat "$R/lasterror")" "no action 'nope'" "recurse of an unknown action"
run_ok "echo 'recurse hello' >'$R/ctl'" >/dev/null
# Queued durably before the write returned: each has its task, in depth-first name order.
ids=
for s in "$R" "$A" "$A1" "$B"; do
	id=$(last_task "$s")
	[ -n "$id" ] || fail "recurse queued no task on $s"
	expect_eq "$(rcat "$s/tasks/$id/action")" "hello" "the task recurse queued on $s"
	ids="$ids $id"
done
expect_eq "$(echo $ids | tr ' ' '\n' | sort -n | tr '\n' ' ')" "$(echo $ids) " \
	"task ids in the order p/root, p/a, p/a1, p/b"
expect_eq "$(task_ids "$X")" "" "q/x lacks the action: skipped"
grep -q "recurse hello: q/x has no such action, skipped" "$TMP/robot.log" ||
	fail "no log line for the skipped child"
wait_for "[ \$(wc -l <'$MARKS/hello') -eq 4 ]" 10 || fail "the recursed tasks did not all run"
ok "recurse ACTION: the parent then each descendant, depth first, the one lacking it skipped"

zr_stop
zr_start_http --jobs 4
expect_eq "$(readlink "$A1/parent")" "../../p/a" "parent link after a restart"
expect_eq "$(ls "$R/children" | tr '\n' ' ')" "p.a p.b q.x " "children after a restart"
expect_eq "$(json "$X/info" 'j["parent"]')" "p/root" "info.parent after a restart"
ok "parents survive a restart"

expect_errno "rmdir '$R'" "Device or resource busy"
expect_in "$(rcat "$R/lasterror")" "has children: p/a, p/b, q/x; write force to ctl first" \
	"lasterror of rmdir of a parent"
expect_http 409 "$ADMIN" DELETE /v1/p/root
expect_errno "rmdir '$A'" "Device or resource busy"
[ -d "$R" ] && [ -d "$A" ] || fail "a refused rmdir deleted something"
ok "rmdir (and HTTP DELETE: 409) of a parent is EBUSY, lasterror names the children"

run_ok "echo force >'$R/ctl'" >/dev/null
timeout 10 rmdir "$R" || fail "rmdir after force"
for s in "$R" "$A" "$A1" "$B" "$X"; do
	[ ! -e "$s" ] || fail "$s is still there after the cascade returned"
done
wait_for "grep -qx p/root '$MARKS/order'" 15 || fail "the parent's on_delete action did not run"
order=$(cat "$MARKS/order")
expect_eq "$(echo "$order" | tail -n 1)" "p/root" "the parent's on_delete action ran last"
expect_eq "$(echo "$order" | grep -n . | grep -E ':p/a1?$' | cut -d: -f2 | tr '\n' ' ')" \
	"p/a1 p/a " "p/a1's on_delete action ran before its parent p/a's"
expect_eq "$(echo "$order" | wc -l)" 4 "one on_delete action per p service"
grep -q "Deleting p/a1 with its parent p/root" "$TMP/robot.log" || fail "no log of the cascade"
ok "force + rmdir: the children go first, deepest first, each with its on_delete actions"
zr_stop

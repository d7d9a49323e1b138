#!/bin/bash
# Blueprints in ZeroRobot's own format, unchanged (issue 14): services as
# {"<uid-or-name>__<name>": data} in YAML and in JSON, template uids
# (github.com/zero-os/0-templates/<name>/<version>) resolving by name and version to the
# loaded versions, actions blocks with template, service, actions (a string or a list) and args;
# producers created first; a second apply changes nothing; an update gets the new data and runs
# update_data; the stored apply (content, outcome, applied) and the services survive a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-blueprint.sh"

# zt in two versions side by side; hello says which one runs.
T1=$TMP/v1 T2=$TMP/v2
for v in 1.0.0 1.1.0; do
	d=$T1
	[ "$v" = 1.0.0 ] || d=$T2
	mk_template "$d" zt '{"name": "zt", "version": "'"$v"'",
  "data": {"size": {"type": "integer", "default": 1, "minimum": 0}},
  "actions": {"hello": {}, "update_data": {},
    "echo": {"args": {"n": {"type": "integer", "default": 0}, "msg": {"type": "string", "default": ""}}}}}'
	mk_action "$d/zt" hello 'echo "'"$v"' size=$DATA_SIZE"'
	mk_action "$d/zt" echo 'echo "n=$ARG_N msg=$ARG_MSG"'
	mk_action "$d/zt" update_data 'echo "$ZR_SERVICE size=$DATA_SIZE" >>"$MARKS/update_data"'
done
mk_app
zr_start --templates "$T1" --templates "$T2"
expect_eq "$(rcat "$MNT/@robot/templates/zt/versions" | cut -d' ' -f1 | tr '\n' ' ')" "1.0.0 1.1.0 " \
	"versions of zt"

# result_of T/S ID: the result of task ID (waits for its end, bounded).
result_of() {
	local out
	out=$(timeout 30 cat "$MNT/$1/tasks/$2/result") || fail "result of task $2 of $1"
	printf '%s\n' "$out"
}

# ---- YAML, ZeroRobot's format as its users write it ----
ZR_YAML='services:
    - github.com/zero-os/0-templates/zt/1.1.0__old:
        size: 2
    - github.com/zero-os/0-templates/zt/1.1.0__new: {size: 3}
    - zt__plain: {}
    - app__a:
        host: node/n1
    - github.com/zero-os/0-templates/node/1.0.0__n1: {}

actions:
    - template: github.com/zero-os/0-templates/zt/1.1.0
      service: new
      actions: echo
      args:
        n: 4
        msg: hi
    - template: zt
      actions: ["hello", "echo"]
    - actions: hello
      service: old
'
bp_ok "$ZR_YAML" "ZeroRobot's YAML blueprint"
for s in zt/old zt/new zt/plain node/n1 app/a; do
	bp_line created "$s"
done
expect_eq "$(bp_count created)" 5 "created lines"
ok "ZeroRobot's YAML: every <uid-or-name>__<name> entry created"

n_line=$(printf '%s\n' "$BP_OUT" | grep -nxF 'created node/n1' | cut -d: -f1)
a_line=$(printf '%s\n' "$BP_OUT" | grep -nxF 'created app/a' | cut -d: -f1)
[ "$n_line" -lt "$a_line" ] || fail "app/a was created before its producer node/n1: $BP_OUT"
expect_eq "$(readlink -f "$MNT/app/a/producers/host")" "$(readlink -f "$MNT/node/n1")" "producers/host of app/a"
ok "the producer listed after its consumer is created first"

expect_eq "$(json "$MNT/zt/old/info" 'j["uid"]')" local/zt/1.1.0 "uid of zt/old (uid .../zt/1.1.0)"
expect_eq "$(json "$MNT/zt/new/info" 'j["uid"]')" local/zt/1.1.0 "uid of zt/new (uid .../zt/1.1.0)"
expect_eq "$(json "$MNT/zt/plain/info" 'j["uid"]')" local/zt/1.1.0 "uid of zt/plain (a bare name: the highest)"
expect_eq "$(json "$MNT/zt/old/data" 'j["size"]')" 2 "data of zt/old"
expect_eq "$(json "$MNT/zt/new/data" 'j["size"]')" 3 "data of zt/new"
expect_eq "$(json "$MNT/zt/plain/data" 'j["size"]')" 1 "data of zt/plain (defaults)"
ok "template uids resolve by name and version; data as written"

# Actions: the block with a uid, one action as a string, args; the block with a list on every
# zt service; the block with a string on one service.
id=$(bp_task zt/new echo)
expect_eq "$(result_of zt/new "$id")" "n=4 msg=hi" "echo of zt/new with the block's args"
for s in old new plain; do
	h=$(bp_task "zt/$s" hello)
	expect_eq "$(result_of "zt/$s" "$h")" "$(json "$MNT/zt/$s/info" 'j["version"]') size=$(json "$MNT/zt/$s/data" 'j["size"]')" \
		"hello of zt/$s ran its own version with its data"
done
expect_eq "$(printf '%s\n' "$BP_OUT" | grep -c '^queued zt/old hello task ')" 2 "hello queued twice on zt/old"
expect_eq "$(printf '%s\n' "$BP_OUT" | grep -c '^queued zt/new echo task ')" 2 "echo queued twice on zt/new"
expect_eq "$(printf '%s\n' "$BP_OUT" | grep -c '^queued zt/plain ')" 2 "actions queued on zt/plain"
expect_eq "$(bp_count queued)" 8 "queued lines (1 + 3 x 2 + 1)"
expect_not_in "$BP_OUT" "queued app/" "actions of blocks filtered on zt"
expect_not_in "$BP_OUT" "queued node/" "actions of blocks filtered on zt"
# In listed order: on each service, hello before echo (the list's order), the second block's
# tasks after the first's, the third's last.
first=$(bp_task zt/new echo)
for s in old new plain; do
	h=$(printf '%s\n' "$BP_OUT" | awk -v p="zt/$s" '$1 == "queued" && $2 == p && $3 == "hello" { print $5; exit }')
	e=$(printf '%s\n' "$BP_OUT" | awk -v p="zt/$s" '$1 == "queued" && $2 == p && $3 == "echo" { print $5 }' | tail -n 1)
	[ "$h" -lt "$e" ] || fail "zt/$s: hello (task $h) was not queued before echo (task $e): $BP_OUT"
	[ "$first" -lt "$h" ] || fail "zt/$s: the second block's hello ($h) before the first block ($first)"
done
last=$(printf '%s\n' "$BP_OUT" | awk '$1 == "queued" && $2 == "zt/old" && $3 == "hello" { print $5 }' | tail -n 1)
expect_eq "$(printf '%s\n' "$BP_OUT" | awk '$1 == "queued" { print $5 }' | sort -n | tail -n 1)" "$last" \
	"the third block's task is the last one queued"
n_tasks=$(printf '%s\n' "$BP_OUT" | awk '$1 == "queued" { print $5 }' | sort -u | wc -l)
expect_eq "$n_tasks" 8 "eight different task ids"
ok "actions blocks: uid filter, string and list actions, args; queued in listed order"

# Wait for every task to end (the second apply must not see them run).
for s in old new plain; do
	for id in $(task_ids "$MNT/zt/$s"); do
		wait_state "$MNT/zt/$s" "$id" ok 30
	done
done

# ---- JSON, the same format ----
ZR_JSON='{"services": [
  {"zt__j1": {"size": 5}},
  {"github.com/zero-os/0-templates/zt/1.1.0__j2": null}
 ],
 "actions": [{"template": "zt", "service": "j1", "actions": ["echo"], "args": {"n": 7}}]}
'
bp_ok "$ZR_JSON" "ZeroRobot's JSON blueprint"
bp_line created zt/j1
bp_line created zt/j2
expect_eq "$(json "$MNT/zt/j1/data" 'j["size"]')" 5 "data of zt/j1"
expect_eq "$(json "$MNT/zt/j2/data" 'j')" '{"size": 1}' "data of zt/j2 (null: the defaults)"
expect_eq "$(json "$MNT/zt/j2/info" 'j["version"]')" 1.1.0 "version of zt/j2"
expect_eq "$(result_of zt/j1 "$(bp_task zt/j1 echo)")" "n=7 msg=" "echo of zt/j1"
expect_eq "$(bp_count queued)" 1 "queued lines of the JSON blueprint"
ok "ZeroRobot's JSON: services, null data, a uid, an actions block with a list and args"

# ---- a second apply changes nothing ----
ZR_SVCS=$(printf '%s\n' "$ZR_YAML" | sed '/^actions:/,$d')
before=$(for s in old new plain; do task_ids "$MNT/zt/$s"; done | wc -l)
bp_ok "$ZR_SVCS" "the services again"
for s in zt/old zt/new zt/plain node/n1 app/a; do
	bp_line unchanged "$s"
done
expect_eq "$(printf '%s\n' "$BP_OUT" | grep -c .)" 5 "lines of the second apply (all unchanged)"
after=$(for s in old new plain; do task_ids "$MNT/zt/$s"; done | wc -l)
expect_eq "$after" "$before" "tasks after an unchanged apply"
bp_ok "$ZR_JSON" "the JSON blueprint again"
bp_line unchanged zt/j1
bp_line unchanged zt/j2
expect_eq "$(bp_count queued)" 1 "the listed action is queued again"
ok "applying the same blueprint twice: every line unchanged, a task only where one is listed"

# ---- an update: new data, update_data run with it ----
rm -f "$MARKS/update_data"
bp_ok $'services:\n  - zt__plain: {size: 9}\n  - github.com/zero-os/0-templates/zt/1.1.0__old: {size: 2}\n' \
	"an update"
bp_line updated zt/plain
bp_line unchanged zt/old
expect_eq "$(json "$MNT/zt/plain/data" 'j["size"]')" 9 "data of zt/plain after the update"
wait_for "grep -qx 'zt/plain size=9' '$MARKS/update_data'" 20 ||
	fail "update_data did not run on zt/plain with the new data: $(cat "$MARKS/update_data" 2>&1)"
sleep 0.5
expect_eq "$(cat "$MARKS/update_data")" "zt/plain size=9" "update_data runs (only on the updated service)"
bp_refused $'services:\n  - zt__plain: {size: -1}\n' "an update with bad data"
expect_match "$BP_OUT" '^failed zt/plain line 2, column 5: ' "the failed line"
expect_eq "$(json "$MNT/zt/plain/data" 'j["size"]')" 9 "data of zt/plain after a refused update"
ok "an update gets the new data and runs update_data; bad data refused by the model's check"

# ---- @robot/graph: Graphviz dot that dot draws, nodes named t/s, the relation an edge ----
graph=$(rcat "$MNT/@robot/graph")
expect_match "$(printf '%s\n' "$graph" | grep -v '^ *//' | grep -m1 .)" '^(strict +)?digraph\b' \
	"first line of @robot/graph"
if command -v dot >/dev/null 2>&1; then
	svg=$(printf '%s\n' "$graph" | timeout 30 dot -Tsvg 2>"$TMP/dot.err") ||
		fail "dot -Tsvg refused @robot/graph: $(cat "$TMP/dot.err"); graph: $graph"
	for s in zt/old zt/new zt/plain zt/j1 zt/j2 node/n1 app/a; do
		expect_in "$svg" "<title>$s</title>" "node $s in the drawn graph"
	done
	printf '%s\n' "$svg" | grep -Eq '<title>(app/a&#45;&gt;node/n1|node/n1&#45;&gt;app/a)</title>' ||
		fail "no edge between app/a and node/n1 in the drawn graph: $graph"
	ok "@robot/graph draws with dot -Tsvg: every service a node t/s, the relation an edge"
elif [ "${CI:-}" = true ]; then
	fail "dot is missing (tests/deps.sh installs graphviz)"
else
	echo "# dot is missing: @robot/graph not drawn (tests/deps.sh installs graphviz)"
fi

# ---- the stored apply, and a restart ----
NAMED="# zrobot: name=zr1
$ZR_SVCS
    - zt__named: {size: 4}
"
bp_ok "$NAMED" "a named blueprint"
bp_line created zt/named
OUT1=$BP_OUT
B=$MNT/@robot/blueprints/zr1
expect_eq "$(rcat "$B/content")" "$(printf '%s' "$NAMED")" "@robot/blueprints/zr1/content"
expect_eq "$(rcat "$B/outcome")" "$OUT1" "@robot/blueprints/zr1/outcome"
applied=$(rcat "$B/applied")
[ -n "$applied" ] || fail "@robot/blueprints/zr1/applied is empty"
expect_eq "$(json "$MNT/zt/named/info" 'j["blueprint"]')" zr1 "info blueprint of zt/named"
ok "the stored apply zr1: content and outcome as applied, applied $applied"

zr_stop
zr_start --templates "$T1" --templates "$T2"
expect_eq "$(rcat "$B/content")" "$(printf '%s' "$NAMED")" "content after a restart"
expect_eq "$(rcat "$B/outcome")" "$OUT1" "outcome after a restart"
expect_eq "$(rcat "$B/applied")" "$applied" "applied after a restart"
expect_eq "$(json "$MNT/zt/old/info" 'j["version"]')" 1.1.0 "version of zt/old after a restart"
bp_ok "$NAMED" "the named blueprint after a restart"
expect_eq "$(bp_count unchanged)" 6 "unchanged lines after a restart"
expect_eq "$(printf '%s\n' "$BP_OUT" | grep -c .)" 6 "lines after a restart"
ok "the stored apply and the services survive a restart; applying again changes nothing"

# ---- a uid or a version naming the older of the loaded versions: that version ----
# The issue: "template uids ... resolve by name and version to what is loaded"; mkdir takes
# the newest, a blueprint that names a loaded version gets that one (the README's upgrade moves
# a service to any loaded version; a blueprint names it at once). An unloaded one is refused.
bp_refused $'services:\n  - zt__v0: {}\n  - github.com/zero-os/0-templates/zt/9.9.9__v9: {}\n' \
	"a uid naming a version that is not loaded"
expect_match "$BP_OUT" '^failed zt/v9 line 3, column [0-9]+: ' "the failed line of zt/v9"
[ ! -e "$MNT/zt/v0" ] || fail "zt/v0 exists after a refused blueprint"
bp_ok 'services:
  - github.com/zero-os/0-templates/zt/1.0.0__v1: {size: 2}
  - {template: zt, name: v2, version: 1.0.0}
  - {template: github.com/zero-os/0-templates/zt/1.0.0, name: v3}
actions:
  - {template: github.com/zero-os/0-templates/zt/1.0.0, service: v1, actions: hello}
' "uids and a version naming zt 1.0.0"
for s in v1 v2 v3; do
	bp_line created "zt/$s"
	expect_eq "$(json "$MNT/zt/$s/info" 'j["uid"]')" local/zt/1.0.0 "uid of zt/$s"
done
expect_eq "$(result_of zt/v1 "$(bp_task zt/v1 hello)")" "1.0.0 size=2" "hello of zt/v1 runs 1.0.0"
ok "a uid and a long-form version naming the older loaded version create the service at it"

zr_stop

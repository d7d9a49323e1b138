#!/bin/bash
# Blueprints: the issue's "Bad input" list, each refused as its Decisions say (the write
# returns, the outcome ends with "error: <reason>", the read then fails with EINVAL, the entry
# at fault named with "line L, column C") and nothing of the blueprint applied: a YAML or JSON
# syntax error, unknown keys, bad names, two entries with one name, a producer cycle and a
# parent cycle (the cycle printed), an unknown template, a missing producer, bad data in the
# 5th entry (none of 1-4 left, an update among them undone, no on_delete run), an alias bomb,
# 10 MiB and 10,001 services refused fast, 10,000 services bounded; and over HTTP a user token
# naming services it may not touch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-blueprint.sh"

mk_t
mk_app
# ring: a producer of its own kind, for a producer cycle.
mk_template "$TPL" ring '{"name": "ring", "version": "1.0.0",
  "consumes": {"next": {"template": "ring"}}, "actions": {"noop": {}}}'
mk_action "$TPL/ring" noop 'echo ok'
# o: a field that takes any object, for the alias bomb.
mk_template "$TPL" o '{"name": "o", "version": "1.0.0",
  "data": {"blob": {"type": "object", "default": {}}}, "actions": {"noop": {}}}'
mk_action "$TPL/o" noop 'echo ok'
# u: offered to user tokens.
mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "data": {"size": {"type": "integer", "default": 1}}, "actions": {"noop": {}}}'
mk_action "$TPL/u" noop 'echo ok'
USER1=user-token-0123456789abcdef
printf '%s\n' "$USER1" >"$TMP/tokens"
zr_start_http --token-file "$TMP/tokens"

# A service that exists before: a refused blueprint that updates it must leave it as it was.
K=$(svc t keep)
echo '{"greeting": "before", "count": 3}' >"$K/data" || fail "data of t/keep"
KEEP='{"count": 3, "greeting": "before"}'
expect_eq "$(json "$K/data" 'j')" "$KEEP" "data of t/keep"
keep_same() {
	expect_eq "$(json "$K/data" 'j')" "$KEEP" "t/keep's data after $1"
}

# ---- syntax errors: libyaml's own message with its line:column ----
bp_refused $'services:\n  - t/a: {}\n\t- t/b: {}\n' "a tab as indentation"
expect_match "$BP_ERROR" 'line 3, column 1\b' "position of the tab"
no_service t a b
bp_refused $'services:\n  - t/a: {}\n  - t/b: {}\n   - t/c: {}\n' "a bad indentation"
expect_match "$BP_ERROR" 'line 4, column 4\b' "position of the bad indentation"
no_service t a b c
ok "YAML syntax errors are refused with libyaml's line:column; nothing created"
bp_refused $'{"services": [\n  {"t__a": {}},\n  {"t__b": {"count": 2]}\n]}\n' "a JSON syntax error"
expect_match "$BP_ERROR" 'line 3, column [0-9]+' "position of the JSON error"
no_service t a b
ok "a JSON syntax error is refused with its line:column"

# ---- unknown keys ----
bp_refused $'services:\n  - t/a: {}\nservise:\n  - t/b: {}\n' "an unknown top-level key"
expect_match "$BP_ERROR" 'line 3, column 1\b' "position of the unknown top-level key"
expect_in "$BP_ERROR" servise "the unknown key named"
no_service t a b
bp_refused $'services:\n  - t/a: {}\n  - {template: t, name: b, colour: red}\n' \
	"an unknown key in a long-form entry"
expect_match "$BP_ERROR" 'line 3, column [0-9]+' "position of the long-form entry"
expect_in "$BP_ERROR" colour "the unknown key named"
no_service t a b
bp_refused $'services:\n  - t/a: {}\nactions:\n  - {actions: [echo]}\n  - {actions: [echo], servce: a}\n' \
	"an unknown key in an actions block"
expect_match "$BP_ERROR" 'line 5, column [0-9]+' "position of the actions block"
expect_in "$BP_ERROR" servce "the unknown key named"
no_service t a
ok "unknown keys (top level, long form, actions block) are refused, named, with their line"

# ---- names against the name rule ----
for bad in 't/Bad' 't/-x' 't/a b' 't/' 'T/a' 't__Bad' "t/$(printf 'x%.0s' $(seq 64))"; do
	bp_refused "services:
  - t/a: {}
  - \"$bad\": {}
" "the bad name '$bad'"
	expect_match "$BP_ERROR" 'line 3, column [0-9]+' "position of the bad name '$bad'"
	no_service t a
done
bp_refused $'services:\n  - t/a: {}\nactions:\n  - {actions: ["bad action"]}\n' "a bad action name"
expect_match "$BP_ERROR" 'line 4, column [0-9]+' "position of the bad action name"
no_service t a
ok "names that break the name rule (service, template, ZeroRobot form, action) are refused"

# ---- two entries with one name ----
bp_refused $'services:\n  - t/a: {}\n  - t/b: {}\n  - t/a: {count: 2}\n' "t/a twice"
expect_match "$BP_ERROR" 'line 4, column 5\b' "position of the second t/a"
no_service t a b
bp_refused $'services:\n  - t/a: {}\n  - t__a: {}\n' "t/a twice, in two forms"
expect_match "$BP_ERROR" 'line 3, column 5\b' "position of t__a"
no_service t a
bp_refused $'services:\n  - t/a: {count: 1, count: 2}\n' "a key twice in one mapping"
expect_match "$BP_ERROR" 'line 2, column [0-9]+' "position of the key twice"
no_service t a
ok "two entries with one TEMPLATE/NAME (also across forms) and a key twice are refused"

# ---- cycles: refused, the cycle printed ----
bp_refused $'services:\n  - ring/a: {next: ring/b}\n  - ring/b: {next: ring/c}\n  - ring/c: {next: ring/a}\n' \
	"a producer cycle"
expect_match "$BP_ERROR" 'cycle: ring/[abc] -> ring/[abc] -> ring/[abc] -> ring/[abc]' \
	"the producer cycle printed"
no_service ring a b c
bp_refused $'services:\n  - t/p: {}\n  - t/q: {}\n  - t/r: {}\nchildren:\n  t/p: [t/q]\n  t/q: [t/r]\n  t/r: [t/p]\n' \
	"a parent cycle in children"
expect_match "$BP_ERROR" 'cycle: t/[pqr] -> t/[pqr] -> t/[pqr] -> t/[pqr]' "the parent cycle printed"
no_service t p q r
bp_refused $'services:\n  - {template: t, name: p, parent: t/q}\n  - {template: t, name: q, parent: t/p}\n' \
	"a parent cycle in the long form"
expect_match "$BP_ERROR" 'cycle: t/[pq] -> t/[pq] -> t/[pq]' "the parent cycle printed"
no_service t p q
bp_refused $'services:\n  - {template: t, name: p, parent: t/p}\n' "its own parent"
no_service t p
ok "producer and parent cycles are refused with the cycle printed; nothing created"

# ---- what the parser cannot see: unknown template, missing producer, bad data ----
bp_refused $'services:\n  - t/a: {}\n  - nosuch/b: {}\n' "an unknown template"
expect_match "$BP_OUT" '^failed nosuch/b line 3, column 5: ' "the failed line of nosuch/b"
no_service t a
bp_refused $'services:\n  - node/n1: {}\n  - app/a: {host: node/nope}\n' "a missing producer"
expect_match "$BP_OUT" '^failed app/a line 3, column 5: ' "the failed line of app/a"
no_service node n1
no_service app a
bp_refused $'services:\n  - app/a: {host: t/keep}\n' "a producer of the wrong template"
no_service app a
ok "an unknown template, a missing producer, one of the wrong template: refused, entry named"

# ---- all or nothing: the 5th entry is bad; 1-4 (an update among them) are not applied ----
rm -f "$MARKS"/cleanup.*
bp_refused 'services:
  - t/one: {}
  - t/keep: {greeting: after, count: 9}
  - t/two: {count: 2}
  - node/three: {}
  - t/five: {count: -1}
actions:
  - {template: t, actions: [echo]}
' "a bad 5th entry"
expect_match "$BP_OUT" '^failed t/five line 6, column 5: ' "the failed line of t/five"
no_service t one two five
no_service node three
keep_same "a refused blueprint that updated it"
expect_not_in "$BP_OUT" "queued " "a refused blueprint's outcome"
sleep 1
expect_eq "$(compgen -G "$MARKS/cleanup.*" | wc -l)" 0 \
	"on_delete runs of the services a refused blueprint created"
expect_eq "$(task_ids "$K" | wc -l)" 0 "tasks of t/keep after a refused blueprint with actions"
ok "all or nothing: the 5th entry bad leaves none of 1-4, t/keep unchanged, no on_delete, no task"
# The same blueprint corrected applies whole (the refusals left nothing that stands in its way).
bp_ok 'services:
  - t/one: {}
  - t/two: {count: 2}
  - node/three: {}
  - t/five: {count: 5}
' "the corrected blueprint"
bp_line created t/one
bp_line created t/five
expect_eq "$(json "$MNT/t/five/data" 'j["count"]')" 5 "data of t/five"
ok "the corrected blueprint applies"

# ---- the alias bomb: refused at once, no memory blown ----
{
	echo 'services:'
	echo '  - o/bomb:'
	echo '      blob:'
	echo '        l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'
	for i in $(seq 1 9); do
		p=$((i - 1))
		echo "        l$i: &l$i [*l$p, *l$p, *l$p, *l$p, *l$p, *l$p, *l$p, *l$p, *l$p, *l$p]"
	done
} >"$TMP/bomb.yaml"
rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$ZR_PID/status")
BP_TIMEOUT=20 bp_apply_file "$TMP/bomb.yaml"
bp_expect_refused "the alias bomb"
fgt "$BP_S" 5 && fail "the alias bomb took $BP_S s to refuse"
rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$ZR_PID/status")
[ $((rss1 - rss0)) -lt 65536 ] || fail "the robot's RSS grew by $((rss1 - rss0)) KiB on the alias bomb"
no_service o bomb
ok "an alias bomb is refused in $BP_S s, RSS +$((rss1 - rss0)) KiB, nothing created"

# ---- bounds: 10 MiB and 10,001 services refused fast; 10,000 services bounded ----
# 10 MiB + 1 byte: a valid blueprint padded with comments, so a robot that did not bound the
# size would create t/big.
"$ZR_PY" - "$TMP/big.yaml" <<'PY'
import sys
head = b"services:\n  - t/big: {}\n"
pad = b"#" + b"x" * 1022 + b"\n"
size = 10 * 1024 * 1024 + 1
body = head + pad * ((size - len(head)) // len(pad))
body += b"#" * (size - len(body) - 1) + b"\n"
assert len(body) == size
open(sys.argv[1], "wb").write(body)
PY
BP_TIMEOUT=30 bp_apply_file "$TMP/big.yaml"
[ "$BP_RC" -ne 0 ] || fail "a 10 MiB + 1 blueprint was accepted: $BP_OUT"
# Refused either by the write (the text was not received whole) or as any refused blueprint.
expect_match "$BP_ERR" '^(EFBIG|E2BIG) \(write|^short write|^EINVAL \(read' "the refusal of 10 MiB + 1"
if [ "$BP_RC" -eq 2 ] && [ "${BP_ERR#EINVAL (read}" != "$BP_ERR" ]; then
	bp_expect_refused "10 MiB + 1"
fi
fgt "$BP_S" 10 && fail "refusing 10 MiB + 1 took $BP_S s"
no_service t big
ok "a blueprint of 10 MiB + 1 byte is refused in $BP_S s ($(echo "$BP_ERR" | head -n 1))"

# A writer that goes on after the E2BIG: the tail it writes is never applied on its own.
"$ZR_PY" - "$MNT/@robot/blueprint" <<'PY' || fail "a write after E2BIG"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
chunk = b"#" + b"x" * (128 * 1024 - 2) + b"\n"
try:
    for _ in range(81):
        os.write(fd, chunk)
    sys.exit("10 MiB + 128 KiB written without E2BIG")
except OSError as e:
    assert e.errno == errno.E2BIG, e
for text in (b"services:\n  - t/tail: {}\n", b"x"):
    try:
        os.write(fd, text)
        sys.exit("a write after E2BIG was taken")
    except OSError as e:
        assert e.errno == errno.E2BIG, e
try:
    os.close(fd)
    sys.exit("the close after E2BIG succeeded")
except OSError as e:
    assert e.errno == errno.EINVAL, e
PY
no_service t tail
ok "writes after an E2BIG keep failing E2BIG, the close fails EINVAL, nothing applied"

gen_services() { # gen_services N FILE: N services of t, s00001...
	awk -v n="$1" 'BEGIN { print "services:"; for (i = 1; i <= n; i++) printf "  - t/s%05d: {}\n", i }' >"$2"
}
gen_services 10001 "$TMP/10001.yaml"
BP_TIMEOUT=30 bp_apply_file "$TMP/10001.yaml"
# A bound's refusal is a refused blueprint too: the read fails with EINVAL (Decisions).
bp_expect_refused "10,001 services"
fgt "$BP_S" 10 && fail "refusing 10,001 services took $BP_S s"
no_service t s00001 s10001
expect_eq "$(n_services t)" 4 "services of t after 10,001 refused (keep, one, two, five)"
ok "a blueprint of 10,001 services is refused in $BP_S s: $BP_ERROR"

gen_services 10000 "$TMP/10000.yaml"
BP_TIMEOUT=170 bp_apply_file "$TMP/10000.yaml"
if [ "$BP_RC" -eq 0 ]; then
	expect_eq "$(bp_count created)" 10000 "created lines for 10,000 services"
	expect_eq "$(n_services t)" 10004 "services of t after applying 10,000"
	how="applied"
else
	bp_expect_refused "10,000 services"
	no_service t s00001 s10000
	how="refused ($BP_ERROR)"
fi
rcat "$MNT/@robot/info" >/dev/null
ok "a blueprint of 10,000 services is bounded: $how in $BP_S s; the robot answers"

# ---- HTTP: a user token naming services it may not touch: nothing applied ----
json_post "$USER1" /v1/@robot/blueprint '{"services": [{"u/mine": {}}]}'
expect_eq "$HS" 200 "a user token's blueprint of a template offered to users: status ($HB)"
expect_eq "$(json "$MNT/u/mine/info" 'j["creator"]')" "user:$(printf '%s' "$USER1" | sha256sum | cut -c1-16)" \
	"creator of u/mine"
echo '{"size": 4}' >"$MNT/u/mine/data" || fail "admin writes u/mine's data"
json_post "$ADMIN" /v1/@robot/blueprint '{"services": [{"u/admins": {"size": 2}}]}'
expect_eq "$HS" 200 "the admin's blueprint ($HB)"
for bp in '{"services": [{"u/x1": {}}, {"t/x2": {}}]}' \
	'{"services": [{"u/x1": {}}, {"u/admins": {"size": 3}}]}' \
	'{"services": [{"u/x1": {}}, {"u/mine": {"size": 5}}, {"node/x3": {}}]}' \
	'{"services": [{"u/x1": {}}], "children": {"u/x1": ["u/admins"]}}'; do
	json_post "$USER1" /v1/@robot/blueprint "$bp"
	expect_eq "$HS" 422 "a user token's blueprint naming what it may not touch: status ($HB)"
	expect_match "$(jbody 'j["error"]')" '.+' "the error of the refused blueprint"
	no_service u x1
	no_service t x2
	no_service node x3
	expect_eq "$(json "$MNT/u/admins/data" 'j["size"]')" 2 "u/admins' size after $bp"
	expect_eq "$(json "$MNT/u/mine/data" 'j["size"]')" 4 "u/mine's size after $bp"
done
ok "a user token's blueprint that names a template not offered, another's service or node: 422, nothing applied"

zr_stop

#!/bin/bash
# @robot/blueprint through the mount (DESIGN §8): a blueprint written to the file and read back
# on the same descriptor gives the outcome; a close without a read applies it too and fails
# when it is refused; a refused blueprint's read shows the failed lines and "error:", then
# fails EINVAL; stored applies under @robot/blueprints/; @robot/graph accepted by dot; all of it
# the same after a restart.
. "$(dirname "$0")/lib.sh"

command -v dot >/dev/null 2>&1 || skip "graphviz's dot is missing"

mk_t
mk_template "$TPL" db '{"name": "db", "version": "1.0.0",
  "data": {"port": {"type": "integer", "default": 5432}}}'
mk_template "$TPL" web '{"name": "web", "version": "1.0.0",
  "data": {"port": {"type": "integer", "default": 80}},
  "consumes": {"db": {"template": "db"}}}'
zr_start
BP=$MNT/@robot/blueprint

expect_eq "$(stat -c %a "$BP")" 600 "mode of @robot/blueprint"
expect_eq "$(rcat "$BP")" "" "a read before any write"
ok "@robot/blueprint: mode 0600, empty when nothing was written"

# Write, then read the same descriptor: the outcome, one line per service.
cat >"$TMP/one.yaml" <<'EOF'
# zrobot: name=one
services:
  - t/a: {greeting: hi, count: 2}
  - t/b: {}
EOF
out=$(timeout 20 bash -c 'exec 3<>"$1"; printf "%s" "$(cat "$2")" >&3; cat <&3' _ "$BP" "$TMP/one.yaml") ||
	fail "write then read of $BP failed: $out"
expect_eq "$out" "$(printf 'created t/a\ncreated t/b')" "outcome of the first apply"
expect_eq "$(json "$MNT/t/a/data" 'j')" '{"count": 2, "greeting": "hi"}' "data of t/a"
expect_eq "$(json "$MNT/t/b/data" 'j')" '{"count": 1, "greeting": "hello"}' "data of t/b"
ok "write + read on one descriptor (printf >&3; cat <&3): created t/a, created t/b"

# cat FILE >&3 closes a duplicate of the descriptor: that close applies the text, and the read
# that follows on the same descriptor still gets the outcome.
sed 's/count: 2/count: 3/' "$TMP/one.yaml" >"$TMP/one-b.yaml"
out=$(timeout 20 bash -c 'exec 3<>"$1"; cat "$2" >&3; cat <&3' _ "$BP" "$TMP/one-b.yaml") ||
	fail "cat >&3 then cat <&3 failed: $out"
expect_eq "$out" "$(printf 'updated t/a\nunchanged t/b')" "outcome of the second apply"
expect_eq "$(json "$MNT/t/a/data" 'j["count"]')" 3 "count of t/a after the update"
ok "cat FILE >&3; cat <&3 on one descriptor: updated t/a, unchanged t/b"

# A plain redirection: the close applies it.
cat >"$TMP/two.yaml" <<'EOF'
# zrobot: name=two
services:
  - db/main: {port: 6543}
  - web/shop: {port: 8080, db: db/main}
EOF
timeout 20 cp "$TMP/two.yaml" "$BP" || fail "cp two.yaml to $BP"
expect_eq "$(json "$MNT/web/shop/data" 'j["db"]')" db/main "web/shop's producer"
expect_eq "$(readlink "$MNT/web/shop/producers/db")" ../../../db/main "producers/db link"
ok "cp FILE @robot/blueprint: applied on close (db/main, web/shop consuming it)"

# A dry run changes nothing and is not stored.
printf '# zrobot: dry-run name=dry\nservices:\n  - t/c: {}\n  - t/a: {count: 9}\n' >"$TMP/dry.yaml"
out=$(timeout 20 bash -c 'exec 3<>"$1"; cat "$2" >&3; cat <&3' _ "$BP" "$TMP/dry.yaml") ||
	fail "dry run failed: $out"
expect_in "$out" "create t/c" "dry-run outcome"
expect_in "$out" "update t/a" "dry-run outcome"
[ ! -e "$MNT/t/c" ] || fail "a dry run created t/c"
expect_eq "$(json "$MNT/t/a/data" 'j["count"]')" 3 "count of t/a after a dry run"
[ ! -e "$MNT/@robot/blueprints/dry" ] || fail "a dry run was stored"
ok "dry run: plan only ($(echo "$out" | tr '\n' ';')), nothing changed or stored"

# Refused: write(2) succeeds, the read shows the failed line and the error, then fails EINVAL;
# nothing of it is applied.
cat >"$TMP/bad.yaml" <<'EOF'
# zrobot: name=bad
services:
  - t/new1: {}
  - nosuch/x: {}
EOF
rc=0
timeout 20 bash -c 'exec 3<>"$1"; printf "%s\n" "$(cat "$2")" >&3 || exit 9; cat <&3' _ "$BP" \
	"$TMP/bad.yaml" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
[ "$rc" -ne 9 ] || fail "the write of a refused blueprint failed: $(cat "$TMP/bad.err")"
[ "$rc" -ne 0 ] || fail "the read of a refused blueprint's outcome succeeded: $(cat "$TMP/bad.out")"
grep -Eq '^failed nosuch/x line 4, column [0-9]+: ' "$TMP/bad.out" ||
	fail "no 'failed nosuch/x line 4, column C: ...' line: $(cat "$TMP/bad.out")"
grep -q '^error: ' "$TMP/bad.out" || fail "no 'error:' line: $(cat "$TMP/bad.out")"
grep -qF 'Invalid argument' "$TMP/bad.err" || fail "the read after the outcome: $(cat "$TMP/bad.err")"
[ ! -e "$MNT/t/new1" ] || fail "t/new1 of a refused blueprint exists"
ok "refused: write ok, read gives '$(grep '^failed' "$TMP/bad.out")' + error:, then EINVAL; nothing applied"

expect_errno "cat '$TMP/bad.yaml' >'$BP'" "Invalid argument"
[ ! -e "$MNT/t/new1" ] || fail "t/new1 of a refused blueprint exists"
ok "cat bad.yaml > @robot/blueprint fails with EINVAL (the close)"

printf 'services: [\n' >"$TMP/syntax.yaml"
expect_errno "cat '$TMP/syntax.yaml' >'$BP'" "Invalid argument"
ok "a YAML syntax error fails the close with EINVAL"

# Stored applies.
BPS=$MNT/@robot/blueprints
expect_eq "$(ls "$BPS" | tr '\n' ' ')" "one two " "stored applies (sorted; the refused and dry ones not kept)"
expect_eq "$(ls "$BPS/one" | tr '\n' ' ')" "applied content outcome " "a stored apply's files"
expect_eq "$(rcat "$BPS/one/content")" "$(cat "$TMP/one-b.yaml")" "content of 'one'"
expect_eq "$(rcat "$BPS/one/outcome")" "$(printf 'updated t/a\nunchanged t/b')" "outcome of 'one'"
applied=$(rcat "$BPS/one/applied")
expect_match "$applied" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "applied of 'one'"
expect_eq "$(stat -c %a "$BPS/one/content")" 400 "mode of content"
expect_eq "$(stat -c %a "$BPS/one/outcome")" 444 "mode of outcome"
expect_errno "cat '$BPS/nosuch/content'" "No such file"
expect_errno "echo x >'$BPS/one/outcome'" "denied"
ok "@robot/blueprints/: one two; content, outcome, applied ($applied); read-only; a name gone is ENOENT"

# The graph.
rcat "$MNT/@robot/graph" >"$TMP/graph.dot"
grep -qF '"web/shop" -> "db/main" [label="db"]' "$TMP/graph.dot" ||
	fail "no web/shop -> db/main edge: $(cat "$TMP/graph.dot")"
for n in t/a t/b db/main web/shop; do
	grep -qF "\"$n\";" "$TMP/graph.dot" || fail "no node $n: $(cat "$TMP/graph.dot")"
done
timeout 20 dot -Tsvg "$TMP/graph.dot" >"$TMP/graph.svg" 2>"$TMP/dot.err" || fail "dot: $(cat "$TMP/dot.err")"
grep -q '<svg' "$TMP/graph.svg" || fail "dot wrote no svg"
ok "@robot/graph: nodes and the consumer -> producer edge; dot -Tsvg accepts it"

# A restart keeps the stored applies and their files as they were.
content=$(rcat "$BPS/two/content")
graph=$(rcat "$MNT/@robot/graph")
zr_stop
zr_start
expect_eq "$(ls "$BPS" | tr '\n' ' ')" "one two " "stored applies after a restart"
expect_eq "$(rcat "$BPS/two/content")" "$content" "content of 'two' after a restart"
expect_eq "$(rcat "$BPS/one/applied")" "$applied" "applied of 'one' after a restart"
expect_eq "$(rcat "$MNT/@robot/graph")" "$graph" "the graph after a restart"
out=$(timeout 20 bash -c 'exec 3<>"$1"; cat "$2" >&3; cat <&3' _ "$BP" "$TMP/two.yaml") ||
	fail "re-apply after restart failed: $out"
expect_eq "$out" "$(printf 'unchanged db/main\nunchanged web/shop')" "re-apply after a restart"
ok "after a restart: stored applies, their time and the graph unchanged; re-apply all unchanged"

zr_stop

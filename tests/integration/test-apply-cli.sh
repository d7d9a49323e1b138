#!/bin/bash
# zrobot apply, export and graph (DESIGN §8), and POST /v1/@robot/blueprint: the plan lines,
# --dry-run changes nothing, a second apply is all unchanged, --prune deletes what the named
# blueprint no longer lists, exit codes; export applied onto a second, empty robot gives every
# service's data, parent and template version back; HTTP 200, 422, 403 (content) and 413.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
# "any": a field of every type, and a secret.
mk_template "$TPL" any '{"name": "any", "version": "1.0.0",
  "data": {"s": {"type": "string", "default": ""}, "n": {"type": "number", "default": 0},
           "i": {"type": "integer", "default": 0}, "b": {"type": "boolean", "default": false},
           "o": {"type": "object", "default": {}}, "a": {"type": "array", "default": []},
           "password": {"type": "string", "default": "", "secret": true}}}'
# v: version 1.0.0 here, 1.1.0 in a second folder: a new service gets 1.1.0, and so does its
# copy on the second robot.
mk_template "$TPL" v '{"name": "v", "version": "1.0.0", "data": {"x": {"type": "integer", "default": 1}}}'
TPL2=$TMP/templates2
mk_template "$TPL2" v '{"name": "v", "version": "1.1.0", "data": {"x": {"type": "integer", "default": 1}}}'
USER1=user-token-0123456789abcdef
printf '%s\n' "$USER1" >"$TMP/tokens"
zr_start_http --templates "$TPL2" --token-file "$TMP/tokens"

apply() { # apply ARGS...: zrobot apply, output in $TMP/apply.out/.err, status in $AS
	AS=0
	timeout -k 2 60 "$ZROBOT" apply "$@" >"$TMP/apply.out" 2>"$TMP/apply.err" || AS=$?
	[ "$AS" -ne 124 ] || fail "zrobot apply $* hung"
}

cat >"$TMP/shop.yaml" <<'EOF'
services:
  - t/a: {greeting: hi}
  - t/b: {}
  - t/c: {count: 4}
EOF
apply "$TMP/shop.yaml" --mount "$MNT"
expect_eq "$AS" 0 "exit status of the first apply ($(cat "$TMP/apply.err"))"
expect_eq "$(cat "$TMP/apply.out")" "$(printf '+ create t/a\n+ create t/b\n+ create t/c')" "plan of the first apply"
grep -q $'\033' "$TMP/apply.out" && fail "colours in output that is not a terminal"
expect_eq "$(ls "$MNT/@robot/blueprints")" shop "stored apply named after the file"
ok "zrobot apply shop.yaml: + create t/a, t/b, t/c; no colour off a terminal; stored as 'shop'"

apply "$TMP/shop.yaml" --mount "$MNT"
expect_eq "$AS" 0 "exit status of the second apply"
expect_eq "$(cat "$TMP/apply.out")" "$(printf '= unchanged t/a\n= unchanged t/b\n= unchanged t/c')" "second apply"
ok "a second apply: every line = unchanged"

sed 's/greeting: hi/greeting: yo/' "$TMP/shop.yaml" >"$TMP/shop2.yaml"
apply "$TMP/shop2.yaml" --name shop --dry-run --mount "$MNT"
expect_eq "$AS" 0 "exit status of a dry run"
expect_in "$(cat "$TMP/apply.out")" "~ update t/a" "dry-run plan"
expect_in "$(cat "$TMP/apply.out")" "= unchanged t/b" "dry-run plan"
expect_eq "$(json "$MNT/t/a/data" 'j["greeting"]')" hi "t/a after a dry run"
ok "--dry-run: ~ update t/a shown, nothing changed"

# On a terminal the plan is coloured: yellow for an update, dim for unchanged.
if command -v script >/dev/null 2>&1; then
	tty_out=$(timeout 30 script -qec "'$ZROBOT' apply '$TMP/shop2.yaml' --name shop --dry-run --mount '$MNT'" /dev/null) ||
		fail "zrobot apply on a terminal (script) failed: $tty_out"
	expect_in "$tty_out" $'\033[33m~ update t/a\033[0m' "plan on a terminal"
	expect_in "$tty_out" $'\033[2m= unchanged t/b\033[0m' "plan on a terminal"
	ok "on a terminal (script): ~ update in yellow, = unchanged dim"
fi

# --prune: t/c is no longer listed by 'shop'; t/x, made by another blueprint, stays.
printf 'services:\n  - t/x: {}\n' | timeout 20 "$ZROBOT" apply - --name other --mount "$MNT" >/dev/null ||
	fail "apply - (stdin) failed"
[ -d "$MNT/t/x" ] || fail "apply from stdin did not create t/x"
grep -v 't/c' "$TMP/shop2.yaml" >"$TMP/shop3.yaml"
apply "$TMP/shop3.yaml" --name shop --prune --mount "$MNT"
expect_eq "$AS" 0 "exit status of --prune ($(cat "$TMP/apply.err"))"
expect_in "$(cat "$TMP/apply.out")" "- delete t/c" "prune plan"
expect_in "$(cat "$TMP/apply.out")" "~ update t/a" "prune plan"
[ ! -e "$MNT/t/c" ] || fail "t/c still there after --prune"
[ -d "$MNT/t/x" ] || fail "--prune of 'shop' deleted t/x of 'other'"
expect_eq "$(json "$MNT/t/a/data" 'j["greeting"]')" yo "t/a after the update"
ok "apply - (stdin); --prune: - delete t/c, ~ update t/a; another blueprint's t/x kept"

# Refused: exit 1, the error on stderr, the failed line in the plan.
printf 'services:\n  - t/y: {}\n  - t/z: {count: -5}\n' >"$TMP/bad.yaml"
apply "$TMP/bad.yaml" --mount "$MNT"
expect_eq "$AS" 1 "exit status of a refused blueprint"
expect_match "$(cat "$TMP/apply.out")" '^! failed t/z line 3' "plan of a refused blueprint"
expect_in "$(cat "$TMP/apply.err")" "blueprint refused: " "stderr of a refused blueprint"
[ ! -e "$MNT/t/y" ] || fail "t/y of a refused blueprint exists"
apply --mount "$MNT"
expect_eq "$AS" 2 "exit status without a FILE"
apply "$TMP/nosuch.yaml" --mount "$MNT"
expect_eq "$AS" 1 "exit status for a missing file"
apply "$TMP/Bad Name.yaml" --mount "$MNT"
expect_eq "$AS" 2 "exit status for a file name that is no blueprint name"
ok "refused: exit 1, '! failed t/z line 3...' and 'blueprint refused:' on stderr; usage 2; missing file 1"

# ---- export, applied onto a second, empty robot ----
cat >"$TMP/rich.yaml" <<'EOF'
services:
  - any/one: {s: "yes", n: 1.5, i: -3, b: true, o: {k: [1, "2", null]}, a: ["x: y # z", "", "null"], password: "p@ss: 'w\"rd"}
  - any/two: {s: "line1\nline2 é", n: 100000000000, i: 0, b: false, o: {}, a: [], password: ""}
  - v/new: {x: 8}
  - {template: t, name: kid, parent: any/one, data: {greeting: "'quoted'"}}
EOF
apply "$TMP/rich.yaml" --mount "$MNT"
expect_eq "$AS" 0 "apply rich.yaml ($(cat "$TMP/apply.out") $(cat "$TMP/apply.err"))"
expect_eq "$(json "$MNT/v/new/info" 'j["version"]')" 1.1.0 "version of v/new"

timeout 30 "$ZROBOT" export --mount "$MNT" --output "$TMP/export.yaml" 2>"$TMP/export.err" ||
	fail "zrobot export failed: $(cat "$TMP/export.err")"
expect_eq "$(stat -c %a "$TMP/export.yaml")" 600 "mode of the --output file"
expect_not_in "$(cat "$TMP/export.err")" '***' "stderr of an admin export"
grep -qF '"p@ss: '"'"'w\"rd"' "$TMP/export.yaml" || fail "the secret value is not in the admin export"
ok "zrobot export --output: mode 0600, secret values as they are (root)"

part=$(timeout 30 "$ZROBOT" export t/kid v/new --mount "$MNT") || fail "zrobot export t/kid v/new"
expect_in "$part" 'name: "kid"' "export of two services"
expect_in "$part" 'parent: "any/one"' "export of t/kid"
expect_in "$part" 'version: "1.1.0"' "export of v/new"
expect_not_in "$part" '"one"' "export of two services"
ok "zrobot export T/S...: only those services, parent included"

MNT2=$TMP/mnt2
mkdir -p "$MNT2" "$TMP/data2"
ZR_MOUNTS+=("$MNT2")
R1=$ZR_PID
ZR_LOG=$TMP/robot2.log zr_launch --mount "$MNT2" --data "$TMP/data2" --templates "$TPL" --templates "$TPL2"
wait_for "cat '$MNT2/@robot/info'" 10 || fail "the second robot did not start"
apply "$TMP/export.yaml" --mount "$MNT2"
expect_eq "$AS" 0 "apply of the export on the second robot ($(cat "$TMP/apply.out") $(cat "$TMP/apply.err"))"
list() { (cd "$1" && ls -d */* | grep -v '^@' | sort); }
expect_eq "$(list "$MNT2" | tr '\n' ' ')" "$(list "$MNT" | tr '\n' ' ')" "services on the second robot"
for s in $(list "$MNT"); do
	expect_eq "$(json "$MNT2/$s/data" 'j')" "$(json "$MNT/$s/data" 'j')" "data of $s"
	expect_eq "$(json "$MNT2/$s/info" 'j["version"]')" "$(json "$MNT/$s/info" 'j["version"]')" "version of $s"
	expect_eq "$(readlink "$MNT2/$s/parent" || true)" "$(readlink "$MNT/$s/parent" || true)" "parent of $s"
done
expect_eq "$(readlink "$MNT2/t/kid/parent")" "$(readlink "$MNT/t/kid/parent")" "parent of t/kid"
[ -n "$(readlink "$MNT2/t/kid/parent")" ] || fail "t/kid has no parent on the second robot"
ok "export applied on an empty robot: $(list "$MNT" | wc -l) services with the same data, version and parent"
kill -TERM "$ZR_PID"
zr_reap "$ZR_PID" 10 || fail "the second robot did not stop"
ZR_PID=$R1

# ---- zrobot graph ----
graph=$(timeout 20 "$ZROBOT" graph --mount "$MNT") || fail "zrobot graph"
expect_eq "$graph" "$(rcat "$MNT/@robot/graph")" "zrobot graph"
expect_in "$graph" '"any/one" -> "t/kid"' "parent edge"
ok "zrobot graph prints @robot/graph (parent edge any/one -> t/kid)"

# ---- HTTP ----
printf 'services:\n  - t/h1: {count: 2}\n' >"$TMP/h.yaml"
expect_http 200 "$ADMIN" POST '/v1/@robot/blueprint?name=web' --data-binary "@$TMP/h.yaml"
expect_eq "$(jbody '[(i["verb"], i["path"]) for i in j["items"]]')" '[["created", "t/h1"]]' "items of a POST"
expect_eq "$(jbody 'j["name"]')" web "name of a POST"
[ -d "$MNT/t/h1" ] || fail "POST did not create t/h1"
expect_http 200 "$ADMIN" POST '/v1/@robot/blueprint?name=web&dry_run=1' --data-binary 'services: [{t/h2: {}}]'
expect_eq "$(jbody 'j["dry_run"]')" true "dry_run of a POST with dry_run=1"
[ ! -e "$MNT/t/h2" ] || fail "a dry-run POST created t/h2"
expect_http 422 "$ADMIN" POST '/v1/@robot/blueprint' --data-binary 'services: [{nosuch/x: {}}]'
expect_eq "$(jbody '[i["verb"] for i in j["items"]]')" '["failed"]' "items of a refused POST"
[ -n "$(jbody 'j["error"]')" ] || fail "no error in a refused POST's answer: $HB"
expect_http 400 "$ADMIN" POST '/v1/@robot/blueprint?dry_run=maybe' --data-binary 'services: []'
ok "POST /v1/@robot/blueprint: 200 with the outcome, dry_run=1, 422 with the outcome when refused, 400"

expect_http 422 "$USER1" POST '/v1/@robot/blueprint' --data-binary 'services: [{t/u1: {}}]'
[ ! -e "$MNT/t/u1" ] || fail "a user token created t/u1 of a template not offered to users"
expect_http 403 "$USER1" GET '/v1/@robot/blueprints/shop/content'
expect_http 200 "$USER1" GET '/v1/@robot/blueprints/shop/outcome'
expect_http 200 "$USER1" GET '/v1/@robot/graph'
expect_in "$HB" '"t/h1";' "GET /v1/@robot/graph"
ok "a user token: POST reaches the model (422 for a template not offered: a refused blueprint), content 403, graph 200"

head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP/huge.yaml"
expect_http 413 "$ADMIN" POST '/v1/@robot/blueprint' --data-binary "@$TMP/huge.yaml"
{ printf '# '; head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' x; printf '\nservices: [{t/big: {}}]\n'; } >"$TMP/big.yaml"
expect_http 200 "$ADMIN" POST '/v1/@robot/blueprint?name=big' --data-binary "@$TMP/big.yaml"
[ -d "$MNT/t/big" ] || fail "a 2 MiB blueprint (over --http-max-body) was not applied"
ok "413 past 10 MiB; a 2 MiB blueprint is taken although --http-max-body is 1 MiB"

printf '%s\n' "$ADMIN" >"$TMP/admin.token"
printf 'services:\n  - t/h3: {}\n' >"$TMP/h3.yaml"
apply "$TMP/h3.yaml" --url "$URL" --token-file "$TMP/admin.token"
expect_eq "$AS" 0 "apply --url ($(cat "$TMP/apply.err"))"
expect_eq "$(cat "$TMP/apply.out")" "+ create t/h3" "apply --url output"
apply "$TMP/bad.yaml" --url "$URL" --token-file "$TMP/admin.token"
expect_eq "$AS" 1 "apply --url of a refused blueprint"
expect_match "$(cat "$TMP/apply.out")" '^! failed t/z' "apply --url of a refused blueprint"
ok "zrobot apply --url --token-file: + create t/h3; refused: exit 1"

zr_stop

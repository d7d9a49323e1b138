#!/bin/bash
# Attacks on blueprints (issue 14, README "Blueprints" and "Security"): a user token applying a
# blueprint that updates, acts on, prunes, reparents or names as producer another token's
# service is refused (422) and changes nothing; another token's stored blueprint text (it may
# hold secrets) is not readable by a user token; a refused entry's error never quotes a secret
# value; hostile texts (deep nesting, NUL bytes, invalid UTF-8, odd names) are refused without
# a crash.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

UA=bp-attacker-a-token-0123456789
UB=bp-attacker-b-token-9876543210
printf '%s\n%s\n' "$UA" "$UB" >"$TMP/tokens"
PW=BpSeCrEt-pw-4711-xyzzy
mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "data": {"note": {"type": "string", "default": "none"},
           "password": {"type": "string", "secret": true, "default": ""},
           "pin": {"type": "integer", "secret": true, "default": 0}},
  "actions": {"hello": {}}}'
mk_action "$TPL/u" hello 'echo hi'
mk_template "$TPL" uapp '{"name": "uapp", "version": "1.0.0", "users": true,
  "consumes": {"host": {"template": "u"}}, "actions": {"hello": {}}}'
mk_action "$TPL/uapp" hello 'echo hi'
# sapp: its producer role is a secret field (which service it uses is the secret).
mk_template "$TPL" sapp '{"name": "sapp", "version": "1.0.0", "users": true,
  "data": {"vault": {"type": "string", "secret": true, "default": ""}},
  "consumes": {"vault": {"template": "u"}}}'
zr_start_http --token-file "$TMP/tokens" --allow-other
P=/v1/@robot/blueprint

# state: what must not change when a blueprint is refused.
state() {
	(cd "$MNT" && ls -d */*/ 2>/dev/null | grep -v '^@') | sort
	for s in u/a1 u/b1; do
		cat "$MNT/$s/data" "$MNT/$s/info" 2>/dev/null | grep -v '"last' ; echo
		ls "$MNT/$s/tasks" "$MNT/$s/children" 2>/dev/null
	done
}

# ---- A's services, applied as a stored blueprint named "shared" ----
json_post "$UA" "$P?name=shared" "{\"services\": [{\"u/a1\": {\"password\": \"$PW\"}}]}"
expect_eq "$HS" 200 "A applies its blueprint ($HB)"
json_post "$UB" "$P?name=bee" '{"services": [{"u/b1": {}}]}'
expect_eq "$HS" 200 "B applies its blueprint ($HB)"
before=$(state)

refused() { # refused MSG BLUEPRINT [QUERY]: B's blueprint is 422 and nothing changed.
	json_post "$UB" "$P${3:-}" "$2"
	expect_eq "$HS" 422 "$1: status ($HB)"
	expect_eq "$(state)" "$before" "$1: the tree after the refusal"
	expect_not_in "$HB" "$PW" "$1: the answer"
}
refused "B updates A's service" '{"services": [{"u/a1": {"note": "pwned"}}]}'
refused "B queues an action on A's service" \
	'{"actions": [{"template": "u", "service": "a1", "actions": ["hello"]}]}'
refused "B lists its own service and A's in one action block" \
	'{"services": [{"u/b1": {}}, {"u/a1": {"password": "'"$PW"'"}}], "actions": [{"actions": ["hello"]}]}'
refused "B makes A's service its own's parent" \
	'{"services": [{"template": "u", "name": "b1", "parent": "u/a1", "data": {}}]}'
refused "B makes A's service a child of its own" '{"services": [{"u/b1": {}}], "children": {"u/b1": ["u/a1"]}}'
refused "B makes its service a child of A's" '{"services": [{"u/b1": {}}], "children": {"u/a1": ["u/b1"]}}'
refused "B names A's service as a producer" '{"services": [{"uapp/b2": {"host": "u/a1"}}]}'
refused "B names A's service as the parent of a new one" \
	'{"services": [{"template": "u", "name": "b3", "parent": "u/a1", "data": {}}]}'
ok "a user token's blueprint may not update, act on, reparent or consume another's service (422)"

# A's blueprint name: B may neither take over its stored apply nor mark its own services with
# it (A's next prune would then be refused), with or without prune.
content_a=$(cat "$MNT/@robot/blueprints/shared/content")
refused "B applies under A's blueprint name" '{"services": [{"u/b1": {}}]}' '?name=shared'
refused "B prunes under A's blueprint name" '{"services": [{"u/b1": {}}]}' '?name=shared&prune=1'
expect_in "$HB" "apply name 'shared' is carried by u/a1" "the reason"
expect_eq "$(cat "$MNT/@robot/blueprints/shared/content")" "$content_a" "A's stored apply after B's"
expect_eq "$(json "$MNT/u/b1/info" 'j["blueprint"]')" bee "the name u/b1 carries"
# Unnamed applies are each principal's own: the admin's "default", a user's "user-<id>".
json_post "$ADMIN" "$P" '{"services": [{"u/adm1": {}}]}'
expect_eq "$HS" 200 "the admin's unnamed apply ($HB)"
json_post "$UB" "$P" '{"services": [{"u/b1": {}}]}'
expect_eq "$HS" 200 "B's unnamed apply after the admin's ($HB)"
expect_eq "$(json "$MNT/u/b1/info" 'j["blueprint"]')" "user-$(printf '%s' "$UB" | sha256sum | cut -c1-16)" \
	"the name of B's unnamed apply"
expect_eq "$(json "$MNT/u/adm1/info" 'j["blueprint"]')" default "the name of the admin's unnamed apply"
before=$(state)
ok "another token's blueprint name is refused (422, its stored apply kept); unnamed applies are each principal's"

# ---- stored blueprint texts hold data: a user token reads only its own ----
http "$UB" GET /v1/@robot/blueprints/shared/content
[ "$HS" = 403 ] || [ "$HS" = 404 ] || fail "B reads A's stored blueprint: status $HS"
expect_not_in "$HB" "$PW" "A's stored blueprint read by B"
http "$ADMIN" GET /v1/@robot/blueprints/shared/content
expect_eq "$HS" 200 "the admin reads the stored blueprint"
expect_in "$HB" "$PW" "the admin reads the stored text as it was"
st=$(stat -c %a "$MNT/@robot/blueprints/shared/content")
expect_eq "$st" 400 "mode of a stored blueprint's content"
ok "another token's stored blueprint is not readable by a user token; 0400 on the mount"

# ---- errors never quote a secret value ----
json_post "$ADMIN" "$P" "{\"services\": [{\"u/x\": {\"pin\": \"$PW\"}}]}"
expect_eq "$HS" 422 "a secret field of the wrong type"
expect_not_in "$HB" "$PW" "the schema error of a secret field"
for bad in "{\"u/x\": {\"note\": {\"k\": \"$PW\"}}}" "{\"u/x\": \"$PW\"}" \
	"{\"u/x\": {\"note\": [\"$PW\"]}}" "{\"u/x\": {\"password\": [\"$PW\"]}}" \
	"{\"u/x\": {\"pin\": 1.5$PW}}" "{\"u/x\": {\"pin\": \"$PW\"}, \"u/x\": {}}" \
	"{\"template\": \"u\", \"name\": \"x\", \"data\": \"$PW\"}" \
	"{\"template\": \"u\", \"name\": \"x\", \"data\": {\"password\": \"$PW\"}, \"nope\": \"$PW\"}"; do
	json_post "$ADMIN" "$P" "{\"services\": [$bad]}"
	expect_eq "$HS" 422 "entry $bad"
	expect_not_in "$HB" "$PW" "the error of entry $bad"
	printf 'services:\n  - %s\n' "$bad" >"$TMP/bad.yaml"
	bp_out=$("$ZR_PY" "$ZRTOOL" write-read "$MNT/@robot/blueprint" - <"$TMP/bad.yaml" 2>&1) || true
	expect_in "$bp_out" "error: " "the mount's outcome of entry $bad"
	expect_not_in "$bp_out" "$PW" "the mount's outcome of entry $bad"
done
printf 'services:\n  - u/y: {password: "%s", pin: [%s\n' "$PW" "$PW" >"$TMP/bad.yaml"
http "$ADMIN" POST "$P" -H 'Content-Type: application/yaml' --data-binary @"$TMP/bad.yaml"
expect_eq "$HS" 422 "a YAML syntax error beside a secret ($HB)"
expect_not_in "$HB" "$PW" "the YAML syntax error beside a secret"
expect_not_in "$(cat "$TMP/robot.log")" "$PW" "the robot's log"
ok "schema and syntax errors of a blueprint never quote a secret value (answer, log)"

# ---- hostile texts: refused, no crash, nothing applied ----
before=$(state)
deep=$(printf '%.0s[' $(seq 1 100000))
printf 'services: %s\n' "$deep" >"$TMP/deep.yaml"
http "$ADMIN" POST "$P" -H 'Content-Type: application/yaml' --data-binary @"$TMP/deep.yaml"
expect_eq "$HS" 422 "100,000 nested lists"
printf '{"services": [{"u/n\0ul": {}}]}' >"$TMP/nul.json"
http "$ADMIN" POST "$P" -H 'Content-Type: application/json' --data-binary @"$TMP/nul.json"
expect_eq "$HS" 422 "a NUL byte in a name"
printf '{"services": [{"u/\xff\xfe": {"note": "\xc3\x28"}}]}' >"$TMP/utf.json"
http "$ADMIN" POST "$P" -H 'Content-Type: application/json' --data-binary @"$TMP/utf.json"
expect_eq "$HS" 422 "invalid UTF-8"
# ZeroRobot keys split oddly: refused, or the one service their split names (dry run).
for n in '__' 'u__' '__a' 'u____a' '..__a' 'u__..' 'u__a/b' 'x/y__a'; do
	json_post "$ADMIN" "$P?dry_run=1" "{\"services\": [{\"$n\": {}}]}"
	case $HS in
	422) ;;
	200) expect_match "$(jbody '[i["path"] for i in j["items"]]')" '^\["[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*"\]$' "key '$n'" ;;
	*) fail "entry key '$n': status $HS ($HB)" ;;
	esac
done
for n in '../a' 'u/../../x' '@robot/x' 'u/@x' 'u/a/b' '__a' '/u/a' 'u/.' '.' '..' '@x'; do
	json_post "$ADMIN" "$P" "{\"services\": [{\"$n\": {}}]}"
	expect_eq "$HS" 422 "entry key '$n' ($HB)"
	json_post "$ADMIN" "$P" "{\"services\": [{\"template\": \"u\", \"name\": \"$n\", \"data\": {}}]}"
	expect_eq "$HS" 422 "name '$n' ($HB)"
	json_post "$ADMIN" "$P" "{\"services\": [{\"template\": \"$n\", \"name\": \"ok\", \"data\": {}}]}"
	expect_eq "$HS" 422 "template '$n' ($HB)"
	json_post "$ADMIN" "$P" "{\"services\": [{\"template\": \"u\", \"name\": \"ok\", \"parent\": \"$n\"}]}"
	expect_eq "$HS" 422 "parent '$n' ($HB)"
	json_post "$ADMIN" "$P" "{\"services\": [{\"u/ok\": {}}], \"children\": {\"u/ok\": [\"$n\"]}}"
	expect_eq "$HS" 422 "child '$n' ($HB)"
	json_post "$ADMIN" "$P" "{\"actions\": [{\"template\": \"$n\", \"actions\": [\"hello\"]}]}"
	[ "$HS" = 422 ] || [ "$HS" = 200 ] || fail "action filter '$n': $HS"
done
json_post "$ADMIN" "$P" '{"services": [{"uapp/r": {"host": "@remote/x/u/a"}}]}'
expect_eq "$HS" 422 "a producer on an unknown remote ($HB)"
json_post "$ADMIN" "$P" '{"services": [{"template": "u", "name": "r", "parent": "@remote/x/u/a"}]}'
expect_eq "$HS" 422 "a parent on a remote ($HB)"
printf '# zrobot: name=../../etc prune dry-run\nservices: [{u/ok: {}}]\n' >"$TMP/dir.yaml"
bp_out=$(printf '%s' "$(cat "$TMP/dir.yaml")" | "$ZR_PY" "$ZRTOOL" write-read "$MNT/@robot/blueprint" - 2>&1) || true
expect_in "$bp_out" "error:" "a directive naming ../../etc ($bp_out)"
expect_eq "$(state)" "$before" "the tree after hostile texts"
pid_alive "$ZR_PID" || fail "the robot died"
ok "hostile texts and odd names are refused (422), nothing applied, the robot lives"

# ---- ctl parent and recurse across owners ----
json_post "$UB" /v1/u '{"name": "b4"}'
expect_eq "$HS" 201 "B creates u/b4"
SB4=$(jbody 'j["secret"]')
before=$(state)
http "$SB4" PUT /v1/u/b4/ctl --data-binary 'parent u/a1'
expect_eq "$HS" 403 "b4's secret sets A's service as b4's parent ($HB)"
http "$SB4" PUT /v1/u/b4/ctl --data-binary 'parent u/b1'
expect_eq "$HS" 403 "b4's secret sets another service of B as b4's parent ($HB)"
expect_eq "$(json "$MNT/u/b4/info" 'j["parent"]')" null "b4's parent after the refusals"
http "$UB" PUT /v1/u/a1/ctl --data-binary 'parent u/b1'
expect_eq "$HS" 403 "B sets a parent on A's service ($HB)"
expect_eq "$(state)" "$before" "the tree after refused parents"
# The admin hangs A's service under B's; B's recurse may not queue on A's.
run_ok "echo 'parent u/b1' >'$MNT/u/a1/ctl'" >/dev/null
t0=$(ls "$MNT/u/a1/tasks" | tr '\n' ' ')
http "$UB" PUT /v1/u/b1/ctl --data-binary 'recurse hello'
expect_eq "$HS" 403 "B's recurse over A's child ($HB)"
expect_eq "$(ls "$MNT/u/a1/tasks" | tr '\n' ' ')" "$t0" "A's tasks after B's recurse"
ok "ctl parent and recurse need the right on each side (secret, user token: 403)"

# ---- what a non-admin sees: graph, export, the mount's modes ----
json_post "$ADMIN" "$P?name=hid" '{"services": [{"u/hidden-vault": {}}, {"sapp/s1": {"vault": "u/hidden-vault"}}]}'
expect_eq "$HS" 200 "the admin applies a consumer with a secret role ($HB)"
http "$UB" GET /v1/@robot/graph
expect_not_in "$HB" '"sapp/s1" ->' "the graph's edges of a secret role, read by B"
expect_eq "$HS" 200 "B reads the graph"
expect_not_in "$HB" "$PW" "the graph read by B"
expect_eq "$(stat -c %a "$MNT/@robot/blueprint")" 600 "mode of @robot/blueprint"
chmod 711 "$TMP"   # another uid reaches the mount point, nothing else of $TMP
NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
# Whether it may export at all (data is 0600 on the mount), no secret value comes out.
out=$($NB "$ZROBOT" export --mount "$MNT" 2>&1) || true
expect_not_in "$out" "$PW" "export as another local user"
expect_errno "$NB cat '$MNT/@robot/blueprints/shared/content'" "Permission denied"
expect_errno "$NB bash -c 'echo services: [{u/a1: {note: x}}] >$MNT/@robot/blueprint'" "Permission denied"
ok "a non-admin's graph and export hold no secret; stored texts 0400, @robot/blueprint 0600"

# ---- 10,000 services x 10,000 action blocks: the task cap, the loop stays responsive ----
python3 - "$TMP/big.json" <<'PY'
import json, sys
svcs = [{"u/big%05d" % i: {}} for i in range(10000)]
acts = [{"actions": ["hello"]} for _ in range(10000)]
json.dump({"services": svcs, "actions": acts}, open(sys.argv[1], "w"))
PY
before=$(state)
t0=$(now)
curl -sS -m 120 -o "$TMP/big.out" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' --data-binary @"$TMP/big.json" "$URL$P" >"$TMP/big.code" &
cpid=$!
sleep 0.3
worst=0
while kill -0 "$cpid" 2>/dev/null; do
	t1=$(now)
	timeout 30 cat "$MNT/@robot/info" >/dev/null || fail "@robot/info during a big apply"
	d=$(since "$t1")
	fgt "$d" "$worst" && worst=$d
	sleep 0.2
done
wait "$cpid" || fail "curl of the big blueprint"
s=$(since "$t0")
echo "big blueprint: answered $(cat "$TMP/big.code") in $s s; worst @robot/info ${worst} s" >&2
expect_eq "$(cat "$TMP/big.code")" 422 "10,000 services x 10,000 action blocks ($(head -c 300 "$TMP/big.out"))"
expect_in "$(cat "$TMP/big.out")" "tasks" "the reason names the task cap"
expect_eq "$(state)" "$before" "the tree after the refused big blueprint"
[ ! -e "$MNT/u/big00000" ] || fail "the refused big blueprint created services"
fgt 2 "$worst" || fail "@robot/info took $worst s while a big blueprint was checked"
ok "10,000 x 10,000 tasks: refused (422, E2BIG) in $s s, nothing applied; @robot/info ≤ $worst s meanwhile"

# A dry run of 10,000 new services with one task each plans everything: the loop still answers.
python3 - "$TMP/big.json" <<'PY'
import json, sys
svcs = [{"u/big%05d" % i: {"note": "x" * 100}} for i in range(10000)]
json.dump({"services": svcs, "actions": [{"actions": ["hello"]}]}, open(sys.argv[1], "w"))
PY
t0=$(now)
curl -sS -m 170 -o "$TMP/big.out" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' --data-binary @"$TMP/big.json" "$URL$P?dry_run=1" \
	>"$TMP/big.code" &
cpid=$!
worst=0
while kill -0 "$cpid" 2>/dev/null; do
	t1=$(now)
	timeout 30 cat "$MNT/@robot/info" >/dev/null || fail "@robot/info during a big dry run"
	d=$(since "$t1")
	fgt "$d" "$worst" && worst=$d
	sleep 0.1
done
wait "$cpid" || fail "curl of the big dry run"
s=$(since "$t0")
echo "big dry run: answered $(cat "$TMP/big.code") in $s s; worst @robot/info ${worst} s" >&2
expect_eq "$(cat "$TMP/big.code")" 200 "a dry run of 10,000 services ($(head -c 300 "$TMP/big.out"))"
expect_eq "$(jsonstr "$(cat "$TMP/big.out")" 'len(j["items"])')" 20000 "items of the big dry run"
[ ! -e "$MNT/u/big00000" ] || fail "a dry run created services"
fgt 2 "$worst" || fail "@robot/info took $worst s while a big dry run was planned"
ok "a dry run of 10,000 services and tasks: 200 in $s s; @robot/info ≤ $worst s meanwhile"

# ---- hostile texts through the mount: refused with an error line, nothing stored ----
before=$(state)
stored=$(ls "$MNT/@robot/blueprints" | tr '\n' ' ')
mount_refused() { # mount_refused FILE MSG
	local o
	o=$(timeout 60 "$ZR_PY" "$ZRTOOL" write-read "$MNT/@robot/blueprint" - <"$1" 2>&1) || true
	case $o in
	error:* | *$'\n'error:*) ;;
	*) fail "$2: not refused: $(printf '%s' "$o" | head -c 300)" ;;
	esac
}
printf 'services: %s\n' "$(printf '%.0s{a: ' $(seq 1 5000))" >"$TMP/m1"
mount_refused "$TMP/m1" "5,000 nested mappings"
printf 'services:\n  - u/n\0ul: {}\n' >"$TMP/m2"
mount_refused "$TMP/m2" "a NUL byte"
printf 'services:\n  - u/ok: {note: "\xc3\x28\xff"}\n' >"$TMP/m3"
mount_refused "$TMP/m3" "invalid UTF-8 in a value"
python3 -c 'import sys; sys.stdout.write("services:\n  - u/ok: {%s: 1}\n" % ("k" * 9000000))' >"$TMP/m4"
mount_refused "$TMP/m4" "a 9 MB key"
for d in 'name=../../etc' 'name=a/b' 'name=@robot' 'name=' "name=$(printf 'n%.0s' $(seq 1 300))" \
	'name=.' 'name=..' 'nope=1' 'dry-run=please' 'prune prune name=a name=b'; do
	printf '# zrobot: %s\nservices: [{u/ok: {}}, {u/: {}}]\n' "$d" >"$TMP/m5"
	mount_refused "$TMP/m5" "directive '$d'"
done
expect_eq "$(state)" "$before" "the tree after hostile texts on the mount"
expect_eq "$(ls "$MNT/@robot/blueprints" | tr '\n' ' ')" "$stored" "stored applies after them"
ok "hostile texts on the mount (nesting, NUL, invalid UTF-8, a 9 MB key, odd directives): refused"

# A directive's odd name in an otherwise good blueprint never names a path outside the store.
for d in '../../etc' 'a/b' '@robot' '.' '..'; do
	printf '# zrobot: name=%s\nservices: [{u/dirn: {}}]\n' "$d" >"$TMP/m6"
	o=$(timeout 60 "$ZR_PY" "$ZRTOOL" write-read "$MNT/@robot/blueprint" - <"$TMP/m6" 2>&1) || true
	case $o in
	*error:*) ;;
	*) fail "directive name '$d' was accepted: $o" ;;
	esac
done
[ ! -e "$DATA/etc" ] && [ ! -e "$(dirname "$DATA")/etc" ] || fail "a blueprint name escaped the store"
[ ! -e "$MNT/u/dirn" ] || fail "a blueprint with a bad name was applied"
ok "a directive naming '..', '/', '@' is refused, nothing applied or stored outside"

#!/bin/bash
# Issue 12, attacks on secrets and sizes: secret data fields and secret action arguments never
# show outside data and the action's own input (tasks/<id>/args, info, logs, events,
# lasterror, HTTP answers, the robot's log); error texts about a bad value never quote it; one
# task's arguments are bounded (413 over HTTP, EFBIG over FUSE, nothing queued, no memory
# kept); a data write past --http-max-body (offset 1 GiB included) is EFBIG with nothing
# allocated and data unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

PW=SeCrEt-pw-4711-xyzzy       # a secret data field
TOK=ToKeN-arg-0815-plugh      # a secret action argument
BAD=hunterPoRtquux            # a bad value for a secret field: letters only, so that jansson
                              # reads it as one token and would quote it ("near '...'")

mk_template "$TPL" vault '{
  "name": "vault", "version": "1.0.0",
  "data": {
    "user": {"type": "string", "default": "u"},
    "password": {"type": "string", "secret": true, "default": ""},
    "port": {"type": "integer", "secret": true, "default": 1}
  },
  "actions": {
    "login": {"args": {"token": {"type": "string", "secret": true, "default": ""},
                       "who": {"type": "string", "default": ""}}},
    "leak": {}
  }
}'
mk_action "$TPL/vault" login 'printf "token=%s\npassword=%s\n" "$ARG_TOKEN" "$DATA_PASSWORD" >"$MARKS/env.$ZR_TASK"
cat >"$MARKS/stdin.$ZR_TASK"
echo ok'
# An fd 3 data line the robot refuses (port must be an integer): refused lines are logged.
mk_action "$TPL/vault" leak "echo 'data {\"port\": \"$BAD\"}' >&3
echo leaked"

# A consumer whose producer role is a secret field.
mk_template "$TPL" client '{"name": "client", "version": "1.0.0",
  "data": {"vault": {"type": "string", "secret": true, "default": ""}},
  "consumes": {"vault": {"template": "vault"}}}'

# The default bounds: 64 KiB of arguments, 1 MiB of HTTP body and of data.
BODY_MAX=$((1024 * 1024))
# The memory checks below need freed memory to be reused: a sanitizer build would otherwise
# hold every freed body in its quarantine (no effect on other builds).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
zr_start_http
S=$MNT/vault/a
json_post "$ADMIN" /v1/vault "{\"name\": \"a\", \"data\": {\"password\": \"$PW\"}}"
expect_eq "$HS" 201 "create vault/a with a secret"
expect_not_in "$HB" "$PW" "the creation's answer"

# ---- the secrets reach the action, and only data and the action ----
printf '%s' "{\"token\": \"$TOK\", \"who\": \"fuse\"}" >"$S/actions/login" ||
	fail "write to actions/login failed"
T1=$(last_task "$S")
json_post "$ADMIN" /v1/vault/a/actions/login "{\"token\": \"$TOK\", \"who\": \"http\"}"
expect_eq "$HS" 201 "POST login"
expect_not_in "$HB" "$TOK" "the task created over HTTP"
expect_eq "$(jbody 'j["args"]["token"]')" "***" "args.token in the 201 answer"
expect_eq "$(jbody 'j["args"]["who"]')" "http" "args.who in the 201 answer"
T2=$(jbody 'j["id"]')
printf 'leak\n' >"$S/actions/leak" || fail "write to actions/leak failed"
T3=$(last_task "$S")
for t in "$T1" "$T2" "$T3"; do
	wait_state "$S" "$t" ok 20
done
for t in "$T1" "$T2"; do
	expect_eq "$(cat "$MARKS/env.$t")" "token=$TOK
password=$PW" "ARG_TOKEN and DATA_PASSWORD of task $t"
	expect_in "$(cat "$MARKS/stdin.$t")" "\"token\":\"$TOK\"" "the args on task $t's stdin"
	expect_in "$(cat "$MARKS/stdin.$t")" "\"password\":\"$PW\"" "the data on task $t's stdin"
done
expect_eq "$(rcat "$S/tasks/$T1/args")" '{"token":"***","who":"fuse"}' "tasks/$T1/args"
expect_eq "$(rcat "$S/tasks/$T2/args")" '{"token":"***","who":"http"}' "tasks/$T2/args"
expect_http 200 "$ADMIN" GET "/v1/vault/a/tasks/$T1/args"
expect_eq "$HB" '{"token":"***","who":"fuse"}' "GET tasks/$T1/args"
expect_eq "$(json "$S/data" 'j["password"]')" "$PW" "data keeps the real value"
ok "secret data and arguments reach the action (env, stdin) and data; args show ***"

# ---- a bad value for a secret field is refused without being quoted ----
before=$(rcat "$S/data")
refused() { # WHAT ERRNO-TEXT: the last write failed with ERRNO-TEXT; lasterror lacks $BAD
	grep -qF -- "$2" "$TMP/w.err" || fail "$1: not refused with '$2': $(cat "$TMP/w.err")"
	local le
	le=$(rcat "$S/lasterror")
	expect_not_in "$le" "$BAD" "lasterror after $1"
	expect_in "$le" EINVAL "lasterror after $1"
	expect_eq "$(rcat "$S/data")" "$before" "data after $1"
}
n_before=$(task_ids "$S" | wc -l)
printf '{"port": "%s"}' "$BAD" >"$S/data" 2>"$TMP/w.err" && fail "a string for port was accepted"
refused "a string for the secret port" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "got a string of ${#BAD} bytes" "the reason of the refusal"
printf '{"port": %s}' "$BAD" >"$S/data" 2>"$TMP/w.err" && fail "an invalid token was accepted"
refused "an invalid token in data" "Invalid argument"
printf '{"token": %s}' "$BAD" >"$S/actions/login" 2>"$TMP/w.err" &&
	fail "an invalid token was queued"
refused "an invalid token in args" "Invalid argument"
printf '%s\n' "$BAD" >"$S/actions/login" 2>"$TMP/w.err" && fail "a bare word was queued"
refused "a bare word as args" "Invalid argument"
printf '%s=1\n' "$BAD-x" >"$S/actions/login" 2>"$TMP/w.err" && fail "a bad key was queued"
refused "a bad key" "Invalid argument"
http "$ADMIN" PUT /v1/vault/a/data -H 'Content-Type: application/json' \
	--data-binary "{\"port\": $BAD}"
expect_eq "$HS" 400 "PUT of an invalid token"
expect_not_in "$HB" "$BAD" "the 400 of a PUT"
http "$ADMIN" PUT /v1/vault/a/data -H 'Content-Type: application/json' \
	--data-binary "{\"port\": \"$BAD\"}"
expect_eq "$HS" 400 "PUT of a string for port"
expect_not_in "$HB" "$BAD" "the 400 of a PUT"
json_post "$ADMIN" /v1/vault/a/actions/login "{\"token\": $BAD}"
expect_eq "$HS" 400 "POST of an invalid token"
expect_not_in "$HB" "$BAD" "the 400 of a POST"
http "$ADMIN" POST /v1/vault/a/actions/login -H 'Content-Type: text/plain' --data-binary "$BAD"
expect_eq "$HS" 400 "POST of a bare word"
expect_not_in "$HB" "$BAD" "the 400 of a POST"
json_post "$ADMIN" /v1/vault "{\"name\": \"b\", \"data\": {\"port\": \"$BAD\"}}"
expect_eq "$HS" 400 "creation with a string for port"
expect_not_in "$HB" "$BAD" "the 400 of a creation"
[ ! -e "$MNT/vault/b" ] || fail "vault/b was created"
expect_eq "$(task_ids "$S" | wc -l)" "$n_before" "tasks after the refused writes"
expect_eq "$(rcat "$S/data")" "$before" "data after the refused PUTs"
ok "bad values for secret fields are refused (EINVAL, 400) without quoting them"

# ---- a producer role that is a secret field ----
mkdir "$MNT/client/c" || fail "mkdir client/c"
printf '{"vault": "vault/%s"}' "$BAD" >"$MNT/client/c/data" 2>"$TMP/w.err" &&
	fail "a producer that does not exist was accepted"
grep -qF "Invalid argument" "$TMP/w.err" || fail "a bad producer: $(cat "$TMP/w.err")"
expect_not_in "$(rcat "$MNT/client/c/lasterror")" "$BAD" "lasterror after a bad producer"
expect_in "$(rcat "$MNT/client/c/lasterror")" "no service '***'" "lasterror after a bad producer"
printf '{"vault": "vault/a"}' >"$MNT/client/c/data" || fail "naming vault/a as the producer"
expect_eq "$(json "$MNT/client/c/info" 'j["producers"]')" '{"vault": "***"}' "info's producers"
expect_eq "$(json "$MNT/client/c/data" 'j["vault"]')" "vault/a" "data of client/c"
ok "a secret producer role: *** in info and errors, the path in data"

# ---- nothing the robot shows holds a secret ----
# Every readable file of the service and of @robot but data (write-only files, actions and
# the blueprint are left out: reading them alone means nothing), and the robot's log.
files=$(timeout 30 find "$S" "$MNT/client/c" "$MNT/@robot" -type f -perm -u=r ! -name data ! -name blueprint \
	! -path '*/actions/*') || fail "find over the mount failed"
n=0
for f in $files; do
	c=$(timeout 10 cat "$f" 2>/dev/null) || true
	for v in "$PW" "$TOK" "$BAD"; do
		expect_not_in "$c" "$v" "$f"
	done
	n=$((n + 1))
done
[ "$n" -gt 20 ] || fail "only $n files read under the mount"
for v in "$PW" "$TOK" "$BAD"; do
	! grep -qF -- "$v" "$TMP/robot.log" || fail "the robot's log holds '$v': $(grep -F -- "$v" "$TMP/robot.log")"
done
expect_in "$(rcat "$S/tasks/$T3/log")" "ignored fd 3 line 'data ..." "the refused fd 3 line in the task log"
expect_in "$(cat "$TMP/robot.log")" "ignoring fd 3 line 'data ..." "the refused fd 3 line in the robot's log"
for t in "$T1" "$T2" "$T3"; do
	expect_http 200 "$ADMIN" GET "/v1/vault/a/tasks/$t"
	for f in $(jbody '" ".join(e["name"] for e in j["entries"] if e["name"] not in ("cancel", "result"))'); do
		expect_http 200 "$ADMIN" GET "/v1/vault/a/tasks/$t/$f"
		expect_not_in "$HB" "$TOK" "GET tasks/$t/$f"
	done
done
for f in info log events lasterror state; do
	expect_http 200 "$ADMIN" GET "/v1/vault/a/$f"
	for v in "$PW" "$TOK" "$BAD"; do
		expect_not_in "$HB" "$v" "GET $f"
	done
done
ok "no secret in $n files under the mount, the HTTP views or the robot's log"

# ---- one task's arguments are bounded ----
rss() { awk '/^VmRSS/ {print $2}' "/proc/$ZR_PID/status"; }
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' x | sed 's/^/who=/' >"$TMP/big"
head -c $((100 * 1024)) /dev/zero | tr '\0' w | sed 's/^/who=/' >"$TMP/100k"
head -c $((64 * 1024 - 3)) /dev/zero | tr '\0' y | sed 's/^/who=/' >"$TMP/over" # 64 KiB + 1
head -c $((60 * 1024)) /dev/zero | tr '\0' z | sed 's/^/who=/' >"$TMP/fits"
n_before=$(task_ids "$S" | wc -l)
rss0=
for i in 0 1 2 3; do
	# Round 0 warms the allocator up: what it keeps for reuse is not growth.
	[ "$i" != 1 ] || rss0=$(rss)
	# Past --http-max-body the server refuses the body itself; below it, the robot does.
	http "$ADMIN" POST /v1/vault/a/actions/login -H 'Content-Type: text/plain' \
		--data-binary "@$TMP/big"
	expect_eq "$HS" 413 "10 MiB of arguments over HTTP"
	expect_eq "$(jbody 'j["error"]')" EFBIG "the error of 10 MiB of arguments"
	http "$ADMIN" POST /v1/vault/a/actions/login -H 'Content-Type: text/plain' \
		--data-binary "@$TMP/100k"
	expect_eq "$HS" 413 "100 KiB of arguments over HTTP"
	expect_eq "$(jbody 'j["error"]')" EFBIG "the error of 100 KiB of arguments"
	expect_in "$HB" "arguments of 102404 bytes, more than 65536 (--max-args-bytes)" \
		"the reason of the 413"
	expect_errno "dd if='$TMP/big' of='$S/actions/login' bs=10M status=none" "File too large"
done
expect_in "$(rcat "$S/lasterror")" "EFBIG" "lasterror after 10 MiB of arguments"
expect_in "$(rcat "$S/lasterror")" "more than 65536 (--max-args-bytes)" "lasterror's reason"
grep -q "EFBIG: arguments of .* (--max-args-bytes)" "$TMP/robot.log" ||
	fail "the refusal is not in the robot's log"
[ "$(wc -c <"$TMP/over")" = $((64 * 1024 + 1)) ] || fail "the test's 64 KiB + 1 is off"
http "$ADMIN" POST /v1/vault/a/actions/login -H 'Content-Type: text/plain' --data-binary "@$TMP/over"
expect_eq "$HS" 413 "64 KiB + 1 of arguments over HTTP"
expect_errno "cat '$TMP/over' >'$S/actions/login'" "File too large"
expect_eq "$(task_ids "$S" | wc -l)" "$n_before" "tasks after the oversized arguments"
rss1=$(rss)
# 3 x 10 MiB more went through each door: at most one 1 MiB body at a time was held.
[ $((rss1 - rss0)) -lt 4096 ] || fail "the robot grew from $rss0 kB to $rss1 kB"
http "$ADMIN" POST /v1/vault/a/actions/login -H 'Content-Type: text/plain' --data-binary "@$TMP/fits"
expect_eq "$HS" 201 "60 KiB of arguments over HTTP"
T4=$(jbody 'j["id"]')
wait_state "$S" "$T4" ok 20
ok "arguments over 64 KiB: 413 over HTTP, EFBIG over FUSE, nothing queued, memory flat ($rss0 -> $rss1 kB)"

# ---- data writes are bounded over FUSE too ----
before=$(rcat "$S/data")
rss0=$(rss)
expect_errno "dd if=/dev/zero of='$S/data' bs=1 count=1 seek=1073741824 oflag=seek_bytes conv=notrunc" \
	"File too large"
expect_eq "$(rcat "$S/data")" "$before" "data after a write at offset 1 GiB"
expect_in "$(rcat "$S/lasterror")" "EFBIG" "lasterror after a write at offset 1 GiB"
# A body that grows past the bound in many writes: refused at the write that crosses it, and
# the close applies nothing.
expect_errno "{ printf '{'; head -c $BODY_MAX /dev/zero | tr '\\0' ' '; } |
	dd of='$S/data' bs=64k iflag=fullblock conv=notrunc status=none" "File too large"
expect_eq "$(rcat "$S/data")" "$before" "data after a body past --http-max-body"
rss1=$(rss)
[ $((rss1 - rss0)) -lt 8192 ] || fail "the robot grew from $rss0 kB to $rss1 kB"
ok "data past --http-max-body over FUSE (offset 1 GiB, many writes): EFBIG, data unchanged"

zr_stop

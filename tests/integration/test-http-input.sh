#!/bin/bash
# Bad input over HTTP, each answered with its status while other clients are served: malformed
# JSON, wrong content types, oversized bodies and headers, path traversal (.., %2e%2e), @robot
# from a secret, invalid names, slow-loris clients (headers and bodies), idle connections,
# clients that leave in the middle of a long poll, and a connection limit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
zr_start_http --http-timeout 2 --http-max-body 4096 --http-max-connections 200 --http-max-conns-per-ip 1000
json_post "$ADMIN" /v1/t '{"name": "a"}'
SA=$(jbody 'j["secret"]')

# A client that must be served quickly while the bad ones are at work.
served() {
	local t0
	t0=$(now)
	expect_http 200 "$ADMIN" GET /v1/t/a/state
	fgt 1 "$(since "$t0")" || fail "a good request took $(since "$t0") s $1"
}

# ---- bodies ----
json_post "$ADMIN" /v1/t '{"name": '
expect_eq "$HS" 400 "malformed JSON"
expect_in "$(jbody 'j["detail"]')" "malformed JSON" "malformed JSON detail"
json_post "$ADMIN" /v1/t '["a"]'
expect_eq "$HS" 400 "a JSON array"
json_post "$ADMIN" /v1/t '{"name": 5}'
expect_eq "$HS" 400 "a name that is not a string"
json_post "$ADMIN" /v1/t/a/actions/echo '{"n": "five"}'
expect_eq "$HS" 400 "an argument of the wrong type"
json_post "$ADMIN" /v1/t/a/actions/echo 'n=1'
expect_eq "$HS" 400 "key=value sent as JSON"
http "$ADMIN" POST /v1/t -H 'Content-Type: text/plain' --data-binary '{"name": "x"}'
expect_eq "$HS" 415 "a service as text/plain"
http "$ADMIN" POST /v1/t --data-binary '{"name": "x"}'
expect_eq "$HS" 415 "a service as a form"
http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: application/xml' --data-binary '<n>1</n>'
expect_eq "$HS" 415 "an action as XML"
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'count=1'
expect_eq "$HS" 415 "data as a form"
http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary 'not a payload'
expect_eq "$HS" 400 "a text payload that is neither key=value nor the action's name"
served "after bad bodies"
ok "malformed JSON and wrong types are 400, wrong content types 415"

head -c 4097 /dev/zero | tr '\0' x >"$TMP/big"
head -c 4000 /dev/zero | tr '\0' x >"$TMP/fits"
http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary "@$TMP/big"
expect_eq "$HS" 413 "a body over --http-max-body"
expect_eq "$(jbody 'j["error"]')" EFBIG "413 error"
http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/big"
expect_eq "$HS" 413 "a chunked body over --http-max-body"
http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary "@$TMP/fits"
expect_eq "$HS" 400 "a body that fits (and is no payload)"
http - POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary "@$TMP/big"
expect_eq "$HS" 401 "an oversized body without a token"
http "$ADMIN" GET /v1/ -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
expect_eq "$HS" 431 "20 KB of headers"
served "after oversized requests"
ok "oversized bodies (with and without Content-Length) 413, oversized headers 431"

# ---- paths ----
for p in /v1/.. /v1/../v1/ /v1/t/../t/a/state /v1/t/a/%2e%2e/a/state /v1/t/a/%2E%2E/%2e%2e/etc/passwd \
	/v1/./t /v1/t//a /v1/t/a/.%2e/b; do
	expect_http 400 "$ADMIN" GET "$p"
	expect_eq "$(jbody 'j["error"]')" EINVAL "error for $p"
done
expect_http 404 "$ADMIN" GET /v1/t/a%2Fstate/x
expect_http 404 "$ADMIN" GET "/v1/t/$(head -c 200 /dev/zero | tr '\0' a)"
expect_http 400 "$ADMIN" GET "/v1/t/$(head -c 300 /dev/zero | tr '\0' a)"
expect_http 404 "$ADMIN" GET /v1/t/A
expect_http 404 "$ADMIN" GET /v1/t/a%00/state
expect_http 403 "$SA" GET /v1/@robot
expect_http 403 "$SA" GET /v1/@robot/info
expect_http 403 "$SA" GET /v1/%40robot/info
expect_http 400 "$SA" GET /v1/t/a/../../@robot/info
expect_http 200 "$SA" GET /v1/t/a/state
served "after path tricks"
ok "path traversal (.., %2e%2e, ., //) 400, @robot from a secret 403, long and odd names"

for name in "Bad Name" "-x" "" ".x" "a/b" "$(head -c 64 /dev/zero | tr '\0' a)" "ok@x" "x
y"; do
	json_post "$ADMIN" /v1/t "$("$ZR_PY" -c 'import json, sys; print(json.dumps({"name": sys.argv[1]}))' "$name")"
	[ "$HS" = 400 ] || fail "name '$name': status $HS, want 400; body $HB"
done
json_post "$ADMIN" /v1/t "{\"name\": \"$(head -c 63 /dev/zero | tr '\0' a)\"}"
expect_eq "$HS" 201 "a 63-character name"
ok "invalid service names are 400"

# ---- slow and idle clients ----
httptool slow "$URL" "$ADMIN" headers 0.5 15 >"$TMP/slow-h" &
slow_h=$!
httptool slow "$URL" "$ADMIN" body 0.5 15 >"$TMP/slow-b" &
slow_b=$!
httptool idle "$URL" 50 6 >"$TMP/idle" &
idle=$!
sleep 0.5
for i in $(seq 10); do
	served "with slow clients connected"
	sleep 0.2
done
wait "$slow_h" || fail "the slow-header client was not dropped: $(cat "$TMP/slow-h")"
wait "$slow_b" || fail "the slow-body client was not dropped: $(cat "$TMP/slow-b")"
for f in slow-h slow-b; do
	dt=$(awk '{print $2}' "$TMP/$f")
	fgt 5 "$dt" || fail "$f dropped after $dt s with --http-timeout 2"
	fge "$dt" 1.5 || fail "$f dropped after $dt s, before its time"
done
wait "$idle"
expect_eq "$(cat "$TMP/idle")" "open 50" "idle connections"
wait_for "[ \"\$(metric zrobot_http_connections)\" -le 2 ]" 5 || fail "idle connections not closed: $(metric zrobot_http_connections)"
ok "slow-loris clients (headers $(awk '{print $2}' "$TMP/slow-h") s, body $(awk '{print $2}' "$TMP/slow-b") s) dropped; 50 idle ones closed; others served meanwhile"

# More connections than --http-max-connections: the excess is refused, then all is well.
httptool idle "$URL" 250 3 >"$TMP/idle" 2>&1 &
idle=$!
wait_for "[ \"\$(metric zrobot_http_connections)\" -ge 190 ]" 5 || true
HS=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/v1/" 2>/dev/null) || true
wait "$idle"
wait_for "[ \"\$(metric zrobot_http_connections)\" -le 2 ]" 6 || fail "connections not closed: $(metric zrobot_http_connections)"
served "after the connection limit"
ok "at the connection limit (request then: ${HS:-refused}), served again once it frees"

# A long poll whose client leaves: its parked read is cancelled within a second or so.
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
sid=$(jbody 'j["id"]')
for i in 1 2 3; do
	curl -sS -m 60 -H "Authorization: Bearer $ADMIN" "$URL/v1/t/a/tasks/$sid/result?wait=60" >/dev/null 2>&1 &
	eval "lp$i=\$!"
done
wait_for "[ \"\$(metric zrobot_parked_reads)\" = 3 ]" 5 || fail "long polls not parked: $(metric zrobot_parked_reads)"
expect_eq "$(metric zrobot_http_waiting)" 3 "waiting requests"
kill "$lp1" "$lp2" "$lp3" 2>/dev/null
wait "$lp1" "$lp2" "$lp3" 2>/dev/null
wait_for "[ \"\$(metric zrobot_parked_reads)\" = 0 ]" 5 || fail "reads of gone clients still parked: $(metric zrobot_parked_reads)"
expect_eq "$(metric zrobot_http_waiting)" 0 "waiting requests after the clients left"
expect_eq "$(task_state "$MNT/t/a" "$sid")" running "the task goes on"
served "after clients left"
ok "clients that leave a long poll free their parked reads; the task goes on"

zr_stop

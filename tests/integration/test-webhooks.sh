#!/bin/bash
# Webhooks (issue 15 item 5, README "Webhooks") against real receivers on 127.0.0.1
# (webhook-receiver.py): add, the files and their modes, a task's events signed and in order,
# a type filter, a receiver down (retrying, then failing, pending growing) across a kill -9
# and a restart of the robot, then back: every event delivered once, in order; a receiver that
# never answers and a closed port slow neither reads nor tasks; both remove forms; the rights
# of a user token and a local user; bad lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (setpriv to another uid)"
RECV="$ZR_SRC/tests/integration/webhook-receiver.py"
WH=$MNT/@robot/webhooks
mk_t
USER1=user-token-webhooks-0123456789
printf '%s\n' "$USER1" >"$TMP/tokens"
# A local user must reach the mount point (mktemp made $TMP 0700).
chmod 711 "$TMP"
zr_start_http --token-file "$TMP/tokens" --allow-other

# recv_start NAME [ARGS...]: a receiver writing $TMP/NAME.jsonl, its port in $TMP/NAME.port
# (sets RPORT); it is a job of this shell: the cleanup kills it. recv_stop NAME stops it.
declare -A RPID
recv_start() {
	local name=$1
	shift
	rm -f "$TMP/$name.port"
	"$ZR_PY" "$RECV" "$TMP/$name.jsonl" "$TMP/$name.port" "$@" 2>>"$TMP/recv.log" &
	RPID[$name]=$!
	wait_for "[ -s '$TMP/$name.port' ]" 10 || fail "receiver $name did not start"
	RPORT=$(cat "$TMP/$name.port")
}
recv_stop() {
	kill -TERM "${RPID[$1]}" 2>/dev/null
	wait "${RPID[$1]}" 2>/dev/null
}
# deliveries NAME [HOOK]: "<delivery id> <event type>" per request NAME received (of HOOK).
deliveries() {
	[ -f "$TMP/$1.jsonl" ] || return 0
	"$ZR_PY" -c 'import json, sys
for l in open(sys.argv[1]):
    h = json.loads(l)["headers"]
    if len(sys.argv) < 3 or h["x-zrobot-delivery"].split(".")[0] == sys.argv[2]:
        print(h["x-zrobot-delivery"], h["x-zrobot-event"])' "$TMP/$1.jsonl" ${2:+"$2"}
}
# verify NAME HOOK SECRET-FILE: every request of HOOK that NAME received is a POST of JSON whose
# signature is the HMAC-SHA256 of its exact body with the secret, whose event header is the
# body's event.
verify() {
	"$ZR_PY" -c 'import hashlib, hmac, json, sys
key = open(sys.argv[3]).read().strip().encode()
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    h = r["headers"]
    if h["x-zrobot-delivery"].split(".")[0] != sys.argv[2]:
        continue
    want = "sha256=" + hmac.new(key, r["body"].encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h["x-zrobot-signature"], want), ("bad signature", h)
    assert r["method"] == "POST" and h["content-type"] == "application/json", h
    assert h["user-agent"].startswith("zrobot/"), h
    assert json.loads(r["body"])["event"] == h["x-zrobot-event"], r
    n += 1
assert n > 0, "no request"
print(n)' "$TMP/$1.jsonl" "$2" "$3" || fail "receiver $1: a request is not signed right"
}
status_of() { grep "^$2 " "$WH/$1/status" | cut -d' ' -f2-; }
newest() { ls "$WH" | grep -E '^[0-9]+$' | sort -n | tail -n 1; }
# reads N: seconds that N reads of @robot/info take.
reads() {
	local t0 i
	t0=$(now)
	for i in $(seq "$1"); do
		rcat "$MNT/@robot/info" >/dev/null
	done
	since "$t0"
}
# task_time SVC: seconds that three echo tasks take, each from queuing to its end.
task_time() {
	local t0 id i
	t0=$(now)
	for i in 1 2 3; do
		id=$(submit "$1" echo "n=$i")
		wait_state "$1" "$id" ok 20
	done
	since "$t0"
}

S=$(svc t a)
base_reads=$(reads 20)
base_task=$(task_time "$S")

# ---- add: the listing, the files, their modes ----
expect_eq "$(ls "$WH" | tr '\n' ' ')" "add ctl " "webhooks/ before any hook"
recv_start r1
P1=$RPORT
echo "http://127.0.0.1:$P1/hook" >"$WH/add" || fail "add hook 1"
expect_match "$(cat "$WH/1/status")" '^state ok
pending [01]
delivered [0-9]+
failures 0
last_status (none|200)
last_error none
last_delivery (never|[0-9T:.Z-]+)
next_attempt none
dropped 0$' "status of a new hook"
recv_start r2
echo "http://127.0.0.1:$RPORT/only task.finished" >"$WH/add" || fail "add hook 2"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 2 add ctl " "webhooks/ with two hooks"
expect_eq "$(cd "$WH" && stat -c '%n %a' add ctl 1 1/* | tr '\n' ',')" \
	"add 200,ctl 200,1 555,1/ctl 200,1/events 444,1/secret 400,1/status 444,1/url 444," "modes"
expect_eq "$(cat "$WH/1/url")" "http://127.0.0.1:$P1/hook" "url"
expect_eq "$(cat "$WH/1/events")" "*" "events of hook 1"
expect_eq "$(cat "$WH/2/events")" "task.finished" "events of hook 2"
expect_match "$(cat "$WH/1/secret")" '^[0-9a-f]{64}$' "secret: 64 hex digits"
[ "$(cat "$WH/1/secret")" != "$(cat "$WH/2/secret")" ] || fail "two hooks share a secret"
# The same URL twice makes two hooks.
echo "http://127.0.0.1:$P1/hook" >"$WH/add" || fail "add the same URL again"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 2 3 add ctl " "the same URL twice: two hooks"
grep -q '"event":"webhook.added","id":3}' "$MNT/@robot/events" || fail "no webhook.added event"
grep -qF "$(cat "$WH/3/secret")" "$MNT/@robot/events" "$TMP/robot.log" && fail "a secret in events or log"
ok "add: ids 1, 2, 3 (the same URL twice: two hooks), url/events/status/secret/ctl with their modes"

# ---- a task's events, signed, in order; the filter ----
id=$(submit "$S" echo 'n=2 msg=hook')
wait_state "$S" "$id" ok 20
wait_for "deliveries r1 1 | grep -q task.finished" 10 || fail "task.finished not delivered to hook 1"
wait_for "deliveries r2 | grep -q task.finished" 10 || fail "task.finished not delivered to hook 2"
got=$(deliveries r1 1 | awk '{print $2}' | grep '^task\.' | tr '\n' ' ')
expect_eq "$got" "task.queued task.started task.finished " "hook 1: the task's events in order"
expect_eq "$(deliveries r1 1 | head -n 1)" "1.1 webhook.added" "hook 1's first delivery"
ids=$(deliveries r1 1 | awk '{print $1}' | cut -d. -f2 | tr '\n' ' ')
expect_eq "$ids" "$(seq -s ' ' 1 "$(deliveries r1 1 | wc -l)") " "hook 1: delivery numbers in order"
verify r1 1 "$WH/1/secret" >/dev/null
expect_eq "$(deliveries r2 | awk '{print $2}' | sort -u)" "task.finished" "hook 2 gets task.finished only"
verify r2 2 "$WH/2/secret" >/dev/null
body=$("$ZR_PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["headers"]["x-zrobot-event"] == "task.finished": print(r["body"])' "$TMP/r2.jsonl")
expect_eq "$body" "$(grep '"event":"task.finished"' "$MNT/@robot/events" | tail -n 1)" \
	"the body is the events line"
expect_in "$(cat "$MNT/@robot/metrics")" 'zrobot_webhook_deliveries_total{hook="1",result="ok"}' "metrics"
expect_in "$(cat "$MNT/@robot/metrics")" 'zrobot_webhook_pending{hook="2"} 0' "metrics"
ok "a task's events reach the hooks in order, signed (HMAC-SHA256 of the body), filtered"

# ---- rights: a user token, a local user ----
expect_http 403 "$USER1" POST /v1/@robot/webhooks/add -H 'Content-Type: text/plain' \
	--data-binary "http://127.0.0.1:1/x"
expect_http 403 "$USER1" POST /v1/@robot/webhooks/ctl -H 'Content-Type: text/plain' --data-binary "remove 1"
expect_http 403 "$USER1" GET /v1/@robot/webhooks/1/secret
expect_http 200 "$USER1" GET /v1/@robot/webhooks/1/status
expect_http 200 "$USER1" GET /v1/@robot/webhooks/1/url
expect_http 200 "$ADMIN" GET /v1/@robot/webhooks/1/secret
expect_eq "$HB" "$(cat "$WH/1/secret")" "the secret over HTTP (admin)"
expect_http 204 "$ADMIN" POST /v1/@robot/webhooks/add -H 'Content-Type: text/plain' \
	--data-binary "http://127.0.0.1:1/over-http x.y"
expect_eq "$(newest)" 4 "the hook added over HTTP"
expect_eq "$(cat "$WH/4/events")" "x.y" "its events"
expect_http 400 "$ADMIN" POST /v1/@robot/webhooks/add -H 'Content-Type: text/plain' --data-binary "gopher://x"
expect_http 404 "$ADMIN" POST /v1/@robot/webhooks/ctl -H 'Content-Type: text/plain' --data-binary "remove 99"
expect_http 204 "$ADMIN" POST /v1/@robot/webhooks/ctl -H 'Content-Type: text/plain' --data-binary "remove 4"
nobody() { printf "setpriv --reuid=65534 --regid=65534 --clear-groups bash -c '%s'" "$1"; }
expect_errno "$(nobody "echo http://127.0.0.1:1/x > $WH/add")" "Permission denied"
expect_errno "$(nobody "echo remove > $WH/1/ctl")" "Permission denied"
expect_errno "$(nobody "cat $WH/1/secret")" "Permission denied"
run_ok "$(nobody "cat $WH/1/status $WH/1/url")" >/dev/null
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 2 3 add ctl " "hooks after the refused attempts"
ok "the admin token adds and removes over HTTP; a user token and a local user may not, nor read a secret; status and url they may"

# ---- bad lines, the limit ----
for bad in "ftp://h/x" "h/x" "http://127.0.0.1:1/x Task.Finished" "http://127.0.0.1:1/x a/b" \
	"http://127.0.0.1:1/$(head -c 2100 /dev/zero | tr '\0' a)"; do
	expect_errno "echo '$bad' >'$WH/add'" "Invalid argument"
done
expect_errno "echo frob 1 >'$WH/ctl'" "Invalid argument"
expect_errno "echo 'remove 99' >'$WH/ctl'" "No such file or directory"
expect_errno "echo frob >'$WH/1/ctl'" "Invalid argument"
expect_in "$(cat "$TMP/robot.log")" "http:// or https://" "the reason in the log"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 2 3 add ctl " "hooks after bad lines"
for i in $(seq 4 64); do
	echo "http://127.0.0.1:1/n$i nothing.matches" >"$WH/add" || fail "add hook $i"
done
expect_eq "$(newest)" 65 "ids go on after a removed one (4)"
expect_errno "echo http://127.0.0.1:1/x >'$WH/add'" "Disk quota exceeded"
for i in $(seq 5 65); do
	echo "remove $i" >"$WH/ctl" || fail "remove hook $i"
done
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 2 3 add ctl " "hooks after the limit"
ok "bad lines: EINVAL (reason logged); unknown id: ENOENT; a 65th hook: EDQUOT"

# ---- remove: both forms ----
echo remove >"$WH/3/ctl" || fail "remove through 3/ctl"
echo "remove 2" >"$WH/ctl" || fail "remove 2 through ctl"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 add ctl " "after both removes"
[ ! -e "$WH/2" ] || fail "webhooks/2 still there"
grep -q '"event":"webhook.removed","id":2}' "$MNT/@robot/events" || fail "no webhook.removed event"
n2=$(deliveries r2 | wc -l)
recv_stop r2
ok "remove through <id>/ctl and through ctl 'remove ID'"

# ---- a receiver that never answers and a closed port slow nothing ----
recv_start hang --hang
echo "http://127.0.0.1:$RPORT/never" >"$WH/add" || fail "add the hanging hook"
H5=$(newest)
"$ZR_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
	>"$TMP/closed.port"
echo "http://127.0.0.1:$(cat "$TMP/closed.port")/x" >"$WH/add" || fail "add the closed-port hook"
H6=$(newest)
expect_eq "$H6" 67 "ids go on after removed ones (65 were given)"
for i in 1 2 3; do
	id=$(submit "$S" echo "n=$i")
	wait_state "$S" "$id" ok 20
done
wait_for "[ \"\$(status_of $H6 failures)\" -ge 1 ]" 10 || fail "closed port: no failure counted"
hang_reads=$(reads 20)
hang_task=$(task_time "$S")
fgt "$hang_reads" "$(awk -v b="$base_reads" 'BEGIN { print b * 10 }')" &&
	fail "20 reads of @robot/info took $hang_reads s with a dead receiver, $base_reads s before"
fgt "$hang_task" "$(awk -v b="$base_task" 'BEGIN { print b * 10 }')" &&
	fail "3 tasks took $hang_task s with a dead receiver, $base_task s before"
expect_match "$(status_of $H5 pending)" '^[1-9][0-9]*$' "the hanging hook's pending"
expect_eq "$(status_of 1 state)" ok "hook 1 (its receiver up) meanwhile"
echo "remove $H5" >"$WH/ctl" || fail "remove the hanging hook"
echo "remove $H6" >"$WH/ctl" || fail "remove the closed-port hook"
recv_stop hang
ok "a receiver that never answers, a closed port: reads ${hang_reads}s (before ${base_reads}s), 3 tasks ${hang_task}s (before ${base_task}s)"

# ---- receiver down: retrying, failing, pending grows; kill -9 and restart; back ----
recv_stop r1
n1=$(deliveries r1 1 | wc -l)
id=$(submit "$S" echo 'n=7')
wait_state "$S" "$id" ok 20
wait_for "[ \"\$(status_of 1 state)\" = retrying ]" 10 || fail "hook 1 not retrying: $(cat "$WH/1/status")"
expect_eq "$(status_of 1 last_status)" none "last_status with nobody listening"
[ "$(status_of 1 last_error)" != none ] || fail "no last_error"
[ "$(status_of 1 next_attempt)" != none ] || fail "no next_attempt"
p0=$(status_of 1 pending)
id=$(submit "$S" echo 'n=8')
wait_state "$S" "$id" ok 20
p1=$(status_of 1 pending)
[ "$p1" -gt "$p0" ] || fail "pending did not grow: $p0 then $p1"
# Five failures in a row: 1 + 2 + 4 + 8 s of backoff after the first.
wait_for "[ \"\$(status_of 1 state)\" = failing ]" 40 || fail "hook 1 not failing: $(cat "$WH/1/status")"
ok "receiver down: retrying, pending $p0 then $p1, then failing"

pending=$(status_of 1 pending)
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID"
wait_for "! mounted" 10 || fusermount3 -u "$MNT" 2>/dev/null
mounted && fusermount3 -u "$MNT"
zr_start_http --token-file "$TMP/tokens" --allow-other
expect_eq "$(ls "$WH" | tr '\n' ' ')" "1 add ctl " "hooks after kill -9"
# At least what was pending (a start adds its own events).
[ "$(status_of 1 pending)" -ge "$pending" ] || fail "pending after kill -9: $(status_of 1 pending), was $pending"
zr_stop
zr_start_http --token-file "$TMP/tokens" --allow-other
[ "$(status_of 1 pending)" -ge "$pending" ] || fail "pending after a restart: $(status_of 1 pending), was $pending"
expect_eq "$(deliveries r1 1 | wc -l)" "$n1" "nothing delivered while the receiver was down"
recv_start r1 --port "$P1"
wait_for "[ \"\$(status_of 1 pending)\" = 0 ]" 90 || fail "hook 1 still owes: $(cat "$WH/1/status")"
expect_eq "$(status_of 1 state)" ok "state once delivered"
verify r1 1 "$WH/1/secret" >/dev/null
ids=$(deliveries r1 1 | awk '{print $1}' | cut -d. -f2)
expect_eq "$(printf '%s\n' "$ids" | sort -n | uniq -d)" "" "a delivery number twice"
expect_eq "$(printf '%s\n' "$ids" | tr '\n' ' ')" "$(seq -s ' ' 1 "$(printf '%s\n' "$ids" | wc -l)") " \
	"hook 1: every number once, in order"
after=$(deliveries r1 1 | tail -n +"$((n1 + 1))" | awk '{print $2}' | tr '\n' ' ')
expect_in "$after" "task.queued task.started task.finished task.queued task.started task.finished" \
	"the two tasks' events after the receiver came back"
expect_eq "$(deliveries r2 | wc -l)" "$n2" "a removed hook gets nothing"
ok "kill -9 and a restart with the receiver down: every event delivered once, in order, once it is back"

zr_stop

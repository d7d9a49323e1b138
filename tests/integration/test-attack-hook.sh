#!/bin/bash
# Red team of webhooks (issue 15 item 5, README "Webhooks"): receivers that misbehave (a 2xx
# with a 1 GiB body, a redirect, a reset, a trickle, a self-signed TLS certificate), odd add
# lines, and a robot stopped while a request is in flight.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

RECV="$ZR_SRC/tests/integration/webhook-receiver.py"
WH=$MNT/@robot/webhooks
# A template with secret fields: their values never reach a receiver.
mk_template "$TPL" vault '{
  "name": "vault", "version": "1.0.0",
  "data": {"password": {"type": "string", "secret": true, "default": ""}},
  "actions": {"login": {"args": {"token": {"type": "string", "secret": true, "default": ""}}}}
}'
mk_action "$TPL/vault" login 'echo ok'
# The RSS checks below need freed memory to be reused: a sanitizer build would otherwise hold
# every freed block in its quarantine (no effect on other builds).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
USER1=user-token-attack-hook-0123456789
printf '%s\n' "$USER1" >"$TMP/tokens"
zr_start_http --token-file "$TMP/tokens"

declare -A RPID
# recv_start NAME [ARGS...]: a receiver writing $TMP/NAME.jsonl, its port in RPORT.
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
# got NAME: how many requests NAME received.
got() { [ -f "$TMP/$1.jsonl" ] && wc -l <"$TMP/$1.jsonl" || echo 0; }
status_of() { grep "^$2 " "$WH/$1/status" | cut -d' ' -f2-; }
newest() { ls "$WH" | grep -E '^[0-9]+$' | sort -n | tail -n 1; }
# add LINE: adds a hook, sets H to its id.
add() {
	echo "$1" >"$WH/add" || fail "add '$1'"
	H=$(newest)
}
# rss_kib: the robot's peak resident set, in KiB.
rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$ZR_PID/status"; }

# ---- a 2xx with a 1 GiB body: delivered once, the body never held ----
rss0=$(rss_kib)
recv_start big --body-bytes $((1 << 30))
add "http://127.0.0.1:$RPORT/big webhook.added"
wait_for "[ \"\$(status_of $H delivered)\" = 1 ]" 20 ||
	fail "a 200 with a 1 GiB body did not deliver: $(cat "$WH/$H/status")"
expect_eq "$(status_of "$H" failures)" 0 "failures of the hook whose receiver answers 1 GiB"
expect_eq "$(status_of "$H" pending)" 0 "pending of the hook whose receiver answers 1 GiB"
sleep 2
expect_eq "$(got big)" 1 "requests the 1 GiB receiver got (a 2xx delivers: never again)"
rss1=$(rss_kib)
[ "$((rss1 - rss0))" -lt $((64 * 1024)) ] || fail "the robot's peak RSS grew from $rss0 to $rss1 KiB"
echo "remove $H" >"$WH/ctl" || fail "remove the 1 GiB hook"
recv_stop big
ok "a 200 with a 1 GiB body delivers the event once; peak RSS $rss0 -> $rss1 KiB"

# ---- a redirect is not followed; a reset and a self-signed certificate fail, retried ----
recv_start target
recv_start moved --status 301 --location "http://127.0.0.1:$RPORT/stolen"
add "http://127.0.0.1:$(cat "$TMP/moved.port")/x webhook.added"
HM=$H
wait_for "[ \"\$(status_of $HM failures)\" -ge 2 ]" 15 || fail "a 301 is no failure: $(cat "$WH/$HM/status")"
expect_eq "$(status_of "$HM" last_status)" 301 "last_status of the redirected hook"
expect_eq "$(status_of "$HM" delivered)" 0 "delivered by a 301"
expect_eq "$(got target)" 0 "requests the redirect's target got"
echo "remove $HM" >"$WH/ctl" || fail "remove the redirected hook"
recv_start reset --reset
add "http://127.0.0.1:$RPORT/x webhook.added"
HR=$H
wait_for "[ \"\$(status_of $HR failures)\" -ge 2 ]" 15 || fail "a reset is no failure: $(cat "$WH/$HR/status")"
expect_eq "$(status_of "$HR" last_status)" none "last_status after a reset"
expect_eq "$(status_of "$HR" state)" retrying "state after resets"
echo "remove $HR" >"$WH/ctl" || fail "remove the reset hook"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls.key" -out "$TMP/tls.crt" \
	>/dev/null 2>&1 || fail "openssl could not make a certificate"
recv_start tls --tls "$TMP/tls.crt" "$TMP/tls.key"
add "https://127.0.0.1:$RPORT/x webhook.added"
HT=$H
wait_for "[ \"\$(status_of $HT failures)\" -ge 2 ]" 15 || fail "a self-signed certificate is accepted: $(cat "$WH/$HT/status")"
expect_eq "$(got tls)" 0 "requests the self-signed receiver got"
expect_match "$(status_of "$HT" last_error)" "[Cc]ertificate|SSL|TLS" "last_error with a self-signed certificate"
echo "remove $HT" >"$WH/ctl" || fail "remove the TLS hook"
recv_stop moved; recv_stop target; recv_stop reset; recv_stop tls
ok "a 301 is a failure, not followed; a reset and a self-signed certificate fail and are retried"

# ---- a receiver that trickles its answer: cut at 10 s ----
recv_start trickle --trickle
add "http://127.0.0.1:$RPORT/x webhook.added"
HK=$H
t0=$(now)
wait_for "[ \"\$(status_of $HK failures)\" -ge 1 ]" 20 || fail "a trickling answer is never cut: $(cat "$WH/$HK/status")"
took=$(since "$t0")
fgt "$took" 14 && fail "a trickling answer was cut after $took s, want 10"
expect_eq "$(status_of "$HK" delivered)" 0 "delivered by a trickle"
echo "remove $HK" >"$WH/ctl" || fail "remove the trickling hook"
recv_stop trickle
ok "a receiver trickling its answer: cut after $took s"

# ---- add lines: credentials masked everywhere; bad patterns, lines, sizes ----
PW=pa55w0rd-never-shown
recv_start cred
add "http://alice:$PW@127.0.0.1:$RPORT/c?x=1 webhook.*"
HC=$H
expect_eq "$(cat "$WH/$HC/url")" "http://alice:***@127.0.0.1:$RPORT/c?x=1" "url with credentials"
echo "http://bob:$PW@127.0.0.1:1/c Bad.Type" >"$WH/add" 2>/dev/null && fail "a bad type accepted"
echo "http://bob:$PW@127.0.0.1:1/c" >"$WH/add" || fail "add a dead hook with credentials"
HD=$(newest)
wait_for "[ \"\$(status_of $HD failures)\" -ge 1 ]" 10 || fail "the dead hook never failed"
wait_for "[ \"\$(got cred)\" -ge 1 ]" 10 || fail "the hook with credentials delivered nothing"
expect_in "$(head -n 1 "$TMP/cred.jsonl")" '"authorization": "Basic ' "the receiver gets the credentials"
for f in "$WH/$HC/url" "$WH/$HC/status" "$WH/$HD/url" "$WH/$HD/status" "$MNT/@robot/events" \
	"$MNT/@robot/metrics" "$MNT/@robot/log" "$TMP/robot.log"; do
	grep -qF "$PW" "$f" && fail "the password in $f"
done
echo "remove $HC" >"$WH/ctl" && echo "remove $HD" >"$WH/ctl" || fail "remove the hooks with credentials"
recv_stop cred
ok "credentials: masked in url, status, events, metrics and logs; sent to the receiver"

for bad in "" " " "http://127.0.0.1:1/x task*" "http://127.0.0.1:1/x *.finished" \
	"http://127.0.0.1:1/x a*b" "http://127.0.0.1:1/x **" "file:///etc/passwd" "gopher://127.0.0.1/x" \
	"http://127.0.0.1:1/x $(printf 'a%.0s' $(seq 65))" \
	"http://127.0.0.1:1/x $(seq -s ' ' -f 't%g' 33)" "http://127.0.0.1:1/$(printf 'a%.0s' $(seq 2030))"; do
	expect_errno "printf '%s\n' '$bad' >'$WH/add'" "Invalid argument"
done
# A header forged through the URL: one line per write, no control byte (one write(2) each:
# bash's printf writes line by line).
cat >"$TMP/write1.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
PY
for bad in 'http://127.0.0.1:1/x\r\nX-Evil: 1\n' 'http://127.0.0.1:1/x\n\nhttp://127.0.0.1:2/y\n' \
	'http://127.0.0.1:1/x\x00y\n' 'http://127.0.0.1:1/x\x00\n' '\n'; do
	expect_errno "$ZR_PY $TMP/write1.py '$WH/add' '$bad'" "Invalid argument"
done
expect_eq "$(ls "$WH" | tr '\n' ' ')" "add ctl " "hooks after bad lines"
# The limits themselves are fine: 2048 bytes, 32 types of 64 bytes, trailing blanks.
u="http://127.0.0.1:1/$(printf 'a%.0s' $(seq 2029))"
expect_eq "${#u}" 2048 "the longest URL's length"
# One write (bash's echo splits its output at 4096 bytes: this line has 4 KiB more).
"$ZR_PY" "$TMP/write1.py" "$WH/add" "$u $(seq -s ' ' -f "%g$(printf 'b%.0s' $(seq 62))" 10 41)   \n" ||
	fail "add the longest line"
H=$(newest)
expect_eq "$(cat "$WH/$H/url")" "$u" "the longest URL"
expect_eq "$(wc -l <"$WH/$H/events")" 32 "32 types"
echo "remove $H" >"$WH/ctl" || fail "remove the longest hook"
ok "bad add lines: EINVAL (patterns other than * and P.*, schemes, control bytes, sizes, two lines)"

# ---- the secret: a user token reaches it by no spelling of its path ----
add "http://127.0.0.1:1/x nothing.matches"
for p in "/v1/@robot/webhooks/$H/secret" "/v1/@robot/webhooks/$H/secret/" "/v1/@robot/webhooks/$H//secret" \
	"/v1/@robot/webhooks/$H/./secret" "/v1/@robot/webhooks/./$H/secret" "/v1/@robot//webhooks/$H/secret" \
	"/v1/%40robot/webhooks/$H/secret" "/v1/@robot/webhooks/$H/%73ecret" "/v1/@robot/webhooks/0$H/secret" \
	"/v1/@robot/webhooks/$H/x/../secret" "/v1//@robot/webhooks/$H/secret" "/v1/@robot/webhooks/$H/secret?lines=1" \
	"/v1/@robot/webhooks/$H/secret?follow=1" "/v1/./@robot/webhooks/$H/secret"; do
	http "$USER1" GET "$p"
	case $HS in 200|206) fail "a user token read the secret at $p: $HS $HB" ;; esac
	grep -qF "$(cat "$WH/$H/secret")" "$TMP/http.body" && fail "the secret in the answer to $p ($HS)"
done
http "$USER1" GET "/v1/@robot/webhooks/$H"
grep -qF "$(cat "$WH/$H/secret")" "$TMP/http.body" && fail "the secret in the listing"
echo "remove $H" >"$WH/ctl" || fail "remove the secret's hook"
ok "the secret: no spelling of its path gives it to a user token"

# ---- secret fields: masked in what a receiver gets ----
PW=hunter2-data-secret TK=hunter2-arg-secret
recv_start sec
add "http://127.0.0.1:$RPORT/s data.* task.* service.*"
HS_=$H
V=$(svc vault a)
echo "{\"password\": \"$PW\"}" >"$V/data" || fail "write the vault's data"
id=$(submit "$V" login "token=$TK")
wait_state "$V" "$id" ok 20
wait_for "[ \"\$(status_of $HS_ pending)\" = 0 ] && grep -q task.finished '$TMP/sec.jsonl'" 15 ||
	fail "the vault's events not delivered: $(cat "$WH/$HS_/status")"
expect_in "$(cat "$TMP/sec.jsonl")" '"x-zrobot-event": "data.changed"' "the vault's data.changed delivered"
grep -qF -e "$PW" -e "$TK" "$TMP/sec.jsonl" && fail "a secret field's value POSTed to a receiver"
echo "remove $HS_" >"$WH/ctl" || fail "remove the vault's hook"
recv_stop sec
ok "the values of secret fields and arguments are in no body POSTed"

# ---- 64 dead hooks, 1,000 events each: writes barely slower, memory and store bounded ----
cat >"$TMP/writes.py" <<'PY'
import os, sys, time
path, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.monotonic()
for i in range(n):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, ('{"password": "%s-%d"}\n' % (tag, i)).encode())
    os.close(fd)
print("%.6f" % ((time.monotonic() - t0) / n))
PY
base=$("$ZR_PY" "$TMP/writes.py" "$V/data" 200 base) || fail "200 data writes"
recv_start hang64 --hang
closed=$("$ZR_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
first=
for i in $(seq 64); do
	if [ $((i % 2)) = 0 ]; then add "http://127.0.0.1:$RPORT/h$i data.changed"
	else add "http://127.0.0.1:$closed/c$i data.changed"; fi
	first=${first:-$H}
done
expect_errno "echo http://127.0.0.1:1/x >'$WH/add'" "Disk quota exceeded"
expect_http 429 "$ADMIN" POST /v1/@robot/webhooks/add -H 'Content-Type: text/plain' \
	--data-binary "http://127.0.0.1:1/x"
rss0=$(rss_kib)
dead=$("$ZR_PY" "$TMP/writes.py" "$V/data" 1000 dead) || fail "1000 data writes with 64 dead hooks"
expect_eq "$(status_of "$first" pending)" 1000 "pending of a dead hook after 1,000 events"
rss1=$(rss_kib)
fgt "$dead" "$(awk -v b="$base" 'BEGIN { print b * 5 + 0.002 }')" &&
	fail "a data write took $dead s with 64 dead hooks, $base s before"
[ "$((rss1 - rss0))" -lt $((256 * 1024)) ] || fail "64,000 pending events took $((rss1 - rss0)) KiB"
rows=$(sqlite3 "$DATA/zrobot.db" 'SELECT COUNT(*) FROM webhook_deliveries' 2>/dev/null)
[ -z "$rows" ] || [ "$rows" -le 64000 ] || fail "$rows delivery rows for 64,000 pending"
for i in $(seq "$first" "$H"); do echo "remove $i" >"$WH/ctl" || fail "remove dead hook $i"; done
rows2=$(sqlite3 "$DATA/zrobot.db" 'SELECT COUNT(*) FROM webhook_deliveries' 2>/dev/null)
[ -z "$rows2" ] || expect_eq "$rows2" 0 "delivery rows once the hooks are removed"
recv_stop hang64
ok "64 dead hooks, 1,000 events each: a data write ${dead}s (before ${base}s), RSS +$((rss1 - rss0)) KiB, rows ${rows:-?}"

# ---- a burst of 10,010 events with the receiver down: 10,000 kept, in order, then delivered ----
port=$("$ZR_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
add "http://127.0.0.1:$port/burst data.changed"
HB_=$H
rss0=$(rss_kib)
"$ZR_PY" "$TMP/writes.py" "$V/data" 10010 burst >/dev/null || fail "10,010 data writes"
expect_eq "$(status_of "$HB_" pending)" 10000 "pending after 10,010 events"
expect_eq "$(status_of "$HB_" dropped)" 10 "dropped after 10,010 events"
expect_eq "$(grep -c "Webhook $HB_: 10000 deliveries pending, dropping" "$TMP/robot.log")" 1 \
	"the drop logged once for the burst"
rows=$(sqlite3 "$DATA/zrobot.db" "SELECT COUNT(*) FROM webhook_deliveries WHERE hook = $HB_" 2>/dev/null)
[ -z "$rows" ] || expect_eq "$rows" 10000 "rows of the burst's hook"
recv_start burst --port "$port"
wait_for "[ \"\$(status_of $HB_ pending)\" = 0 ]" 150 || fail "the burst not delivered: $(cat "$WH/$HB_/status")"
"$ZR_PY" -c 'import json, sys
seqs, ids = [], []
for l in open(sys.argv[1]):
    r = json.loads(l)
    seqs.append(json.loads(r["body"])["seq"])
    ids.append(int(r["headers"]["x-zrobot-delivery"].split(".")[1]))
assert len(seqs) == 10000, len(seqs)
assert seqs == sorted(seqs) and len(set(seqs)) == 10000, "events out of order or twice"
assert ids == list(range(11, 10011)), (ids[:3], ids[-3:])
# Short answers are read to their end: the connection carries the next request.
peers = {json.loads(l)["peer"] for l in open(sys.argv[1])}
assert len(peers) < 100, ("connections for 10,000 deliveries", len(peers))' "$TMP/burst.jsonl" ||
	fail "the burst's deliveries: not the 10,000 newest in order, or a connection each"
rows=$(sqlite3 "$DATA/zrobot.db" "SELECT COUNT(*) FROM webhook_deliveries WHERE hook = $HB_" 2>/dev/null)
[ -z "$rows" ] || expect_eq "$rows" 0 "rows of the burst's hook once delivered"
rss1=$(rss_kib)
echo "remove $HB_" >"$WH/ctl" || fail "remove the burst's hook"
recv_stop burst
ok "10,010 events with the receiver down: the newest 10,000 kept (10 dropped, logged once), then delivered in order; RSS +$((rss1 - rss0)) KiB"

# ---- removed while a request is in flight, or while its answer comes (run under ASan too) ----
recv_start hang1 --hang
recv_start slow --trickle
for i in 1 2 3; do
	add "http://127.0.0.1:$(cat "$TMP/hang1.port")/x"
	echo remove >"$WH/$H/ctl" || fail "remove hook $H at once"
	add "http://127.0.0.1:$(cat "$TMP/slow.port")/x"
	sleep 0.$((i * 3))
	echo "remove $H" >"$WH/ctl" || fail "remove hook $H while its answer trickles"
done
recv_stop slow
recv_stop hang1
pid_alive "$ZR_PID" || fail "the robot died"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "add ctl " "hooks after removals in flight"
ok "hooks removed while their requests are in flight"

# ---- kill -9 while delivering, a restart: every event once (the one in flight at most twice,
# with its delivery id), in order; ids of removed hooks not given again ----
recv_start slow9 --delay 0.05
add "http://127.0.0.1:$RPORT/k data.changed"
HK9=$H
"$ZR_PY" "$TMP/writes.py" "$V/data" 200 k9 >/dev/null || fail "200 data writes"
wait_for "[ \"\$(got slow9)\" -ge 20 ]" 20 || fail "the slow receiver got nothing"
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID"
wait_for "! mounted" 10 || fusermount3 -u "$MNT" 2>/dev/null
mounted && fusermount3 -u "$MNT"
n_at_kill=$(got slow9)
zr_start_http --token-file "$TMP/tokens"
wait_for "[ \"\$(status_of $HK9 pending)\" = 0 ]" 60 || fail "not delivered after kill -9: $(cat "$WH/$HK9/status")"
"$ZR_PY" -c 'import json, sys
ids, seen = [], {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = r["headers"]["x-zrobot-delivery"]
    if d in seen:
        assert seen[d] == r["body"], ("a delivery id with another body", d)
    seen[d] = r["body"]
    ids.append(int(d.split(".")[1]))
firsts = sorted(set(ids))
assert firsts == list(range(1, 201)), (firsts[:3], firsts[-3:], len(firsts))
again = len(ids) - len(firsts)
assert again <= 1, ("sent again", again)
assert [i for k, i in enumerate(ids) if i not in ids[:k]] == firsts, "out of order"' "$TMP/slow9.jsonl" ||
	fail "after kill -9 at $n_at_kill deliveries: not every event once, in order"
echo "remove $HK9" >"$WH/ctl" || fail "remove the killed hook"
recv_stop slow9
zr_stop
zr_start_http --token-file "$TMP/tokens"
expect_eq "$(ls "$WH" | tr '\n' ' ')" "add ctl " "hooks after remove and restart"
rows=$(sqlite3 "$DATA/zrobot.db" "SELECT COUNT(*) FROM webhook_deliveries" 2>/dev/null)
[ -z "$rows" ] || expect_eq "$rows" 0 "delivery rows after remove and restart"
add "http://127.0.0.1:1/next"
expect_eq "$H" "$((HK9 + 1))" "the id after a restart (the highest was removed)"
echo "remove $H" >"$WH/ctl" || fail "remove the last hook"
ok "kill -9 at $n_at_kill of 200 deliveries, a restart: each once, in order; ids not given again"

# ---- the same MAX for task ids: none given again once every task is gone, after a restart ----
id=$(submit "$V" login "token=x")
wait_state "$V" "$id" ok 20
last=$(ls "$V/tasks" | grep -E '^[0-9]+$' | sort -n | tail -n 1)
rmdir "$V" || fail "delete the vault"
zr_stop
zr_start_http --token-file "$TMP/tokens"
V=$(svc vault b)
id=$(submit "$V" login "token=y")
[ "$id" -gt "$last" ] || fail "task id $id after a restart with no task left; the last was $last"
wait_state "$V" "$id" ok 20
ok "task ids after a restart with no task left: $id (the last was $last)"

# ---- SIGTERM while a request is in flight: the robot exits at once ----
recv_start hang --hang
add "http://127.0.0.1:$RPORT/x"
sleep 1
t0=$(now)
zr_stop 5
took=$(since "$t0")
recv_stop hang
ok "SIGTERM with a request in flight: exited in $took s"
